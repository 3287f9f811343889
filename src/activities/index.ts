/**
 * All activities, assembled over injected clients: one module per external system. The worker registers
 * `createActivities()`; tests pass deps (a transport that trusts the sandbox CA, faster polling, …).
 */
import { createCloudActivities, createEchEndpointLookup, type CloudActivityDeps } from './cloud';
import { createElasticsearchActivities, type ElasticsearchActivityDeps } from './elasticsearch';
import { createPlanTurnActivities } from './planTurns';
import { checkSecrets } from './secrets';
import { createTlsActivities, type TlsActivityDeps } from './tls';
import type { Activities } from './types';

export interface ActivityDeps {
  cloud?: CloudActivityDeps;
  elasticsearch?: ElasticsearchActivityDeps;
  tls?: TlsActivityDeps;
}

export function createActivities(deps: ActivityDeps = {}): Activities {
  return {
    ...createCloudActivities(deps.cloud),
    ...createElasticsearchActivities({
      echEndpoint: createEchEndpointLookup(deps.cloud),
      // verifyRemoteConnection re-runs the TLS probe with the same options as the probe activity.
      tls: deps.tls,
      ...deps.elasticsearch,
    }),
    ...createTlsActivities(deps.tls),
    ...createPlanTurnActivities(),
    checkSecrets,
  };
}

export type { Activities } from './types';
