/** Every workflow type the worker registers (the bundle's entry point). */
export { connectRemoteCluster } from './connect';
export { connectionLease } from './connectionLease';
export { deploymentPlanCoordinator } from './deploymentPlans';
export { disconnectRemoteCluster } from './disconnect';
export { rotateRemoteClusterKey } from './rotate';
export { updateRemoteClusterAccess } from './updateAccess';
export { auditDeploymentRemoteClusters, auditRemoteClusters } from './audit';
export { connectRemoteClusters } from './fleet';
export { migrateRemoteClusterToApiKey } from './migrate';
