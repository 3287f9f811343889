/**
 * Every workflow type the worker registers (the bundle's entry point).
 *
 * Each type's module is required when a run of that type starts, not here: the SDK evaluates this entry point and
 * everything it imports once per run (each run has its own module instances), so a connection lease or a plan
 * coordinator that imported every workflow would build the whole contract's schemas for nothing — CPU on the one
 * workflow thread, on the critical path of the connect that starts them, and memory for as long as it is cached
 * (docs/benchmarks.md). The bundler still includes every module; `require` here only defers evaluating it.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- deferred evaluation, see above */
import type * as Audit from './audit';
import type * as Connect from './connect';
import type * as ConnectionLease from './connectionLease';
import type * as DeploymentPlans from './deploymentPlans';
import type * as Disconnect from './disconnect';
import type * as Fleet from './fleet';
import type * as Migrate from './migrate';
import type * as Rotate from './rotate';
import type * as UpdateAccess from './updateAccess';

export function connectRemoteCluster(...args: Parameters<typeof Connect.connectRemoteCluster>) {
  return (require('./connect') as typeof Connect).connectRemoteCluster(...args);
}
export function connectionLease(...args: Parameters<typeof ConnectionLease.connectionLease>) {
  return (require('./connectionLease') as typeof ConnectionLease).connectionLease(...args);
}
export function deploymentPlanCoordinator(...args: Parameters<typeof DeploymentPlans.deploymentPlanCoordinator>) {
  return (require('./deploymentPlans') as typeof DeploymentPlans).deploymentPlanCoordinator(...args);
}
export function disconnectRemoteCluster(...args: Parameters<typeof Disconnect.disconnectRemoteCluster>) {
  return (require('./disconnect') as typeof Disconnect).disconnectRemoteCluster(...args);
}
export function rotateRemoteClusterKey(...args: Parameters<typeof Rotate.rotateRemoteClusterKey>) {
  return (require('./rotate') as typeof Rotate).rotateRemoteClusterKey(...args);
}
export function updateRemoteClusterAccess(...args: Parameters<typeof UpdateAccess.updateRemoteClusterAccess>) {
  return (require('./updateAccess') as typeof UpdateAccess).updateRemoteClusterAccess(...args);
}
export function auditRemoteClusters(...args: Parameters<typeof Audit.auditRemoteClusters>) {
  return (require('./audit') as typeof Audit).auditRemoteClusters(...args);
}
export function auditDeploymentRemoteClusters(...args: Parameters<typeof Audit.auditDeploymentRemoteClusters>) {
  return (require('./audit') as typeof Audit).auditDeploymentRemoteClusters(...args);
}
export function connectRemoteClusters(...args: Parameters<typeof Fleet.connectRemoteClusters>) {
  return (require('./fleet') as typeof Fleet).connectRemoteClusters(...args);
}
export function migrateRemoteClusterToApiKey(...args: Parameters<typeof Migrate.migrateRemoteClusterToApiKey>) {
  return (require('./migrate') as typeof Migrate).migrateRemoteClusterToApiKey(...args);
}
