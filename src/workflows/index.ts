/** Every workflow type the worker registers (the bundle's entry point). */
export { connectRemoteCluster } from './connect';
export { connectionLease } from './connectionLease';
