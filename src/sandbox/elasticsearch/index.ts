/** Simulated Elasticsearch clusters of the sandbox (ECH deployment and self-managed cluster). */
export { SimulatedCluster, randomClusterUuid } from './cluster';
export type { ClusterConfig, TrustConfig } from './cluster';
export { NodeStartupError, SETTING as NODE_SETTING, FILE as NODE_FILE, parseTrustRestrictions } from './nodeConfig';
export { failures as remoteFailures, licenseAllowsApiKeyModel } from './remote';
export type { License, RemoteFailure } from './remote';
export { EsError } from './errors';
