/** The simulated Elastic Cloud API: deployments, trust settings, keystore, certificate authority, restart, plans. */
export { CloudApi, CLOUD_API_BASE, CONTROL_BASE, type CloudApiOptions } from './api';
export {
  CloudDeployment,
  cloudId,
  keystoreReloadsWithoutRestart,
  versionAtLeast,
  type DeploymentConfig,
  type EchClusterPort,
  type PlanSettings,
} from './deployment';
export { CloudErrorCodes } from './errors';
export { nodeNamePattern, trustForCluster, type TrustSettings, type DirectTrust } from './trust';
export { certificateMetadata } from './certs';
