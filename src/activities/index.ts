/**
 * All activities, assembled over injected clients: one module per external system. The worker registers
 * `createActivities()`; tests pass deps (a transport that trusts the sandbox CA, faster polling, …).
 *
 * Each system's module loads at the first activity that needs it, not when the worker starts: the official
 * Elasticsearch client, @peculiar/x509 and the Cloud API client are about a third of a worker's start-up
 * (docs/benchmarks.md), and a worker polls sooner without them. Temporal registers activities by name, so the names
 * are listed here (the return type, Activities, fails the type check when one is missing).
 */
import type { CloudActivities, CloudActivityDeps } from './cloud';
import type { ElasticsearchActivities, ElasticsearchActivityDeps } from './elasticsearch';
import { createPlanTurnActivities } from './planTurns';
import { checkSecrets } from './secrets';
import type { TlsActivities, TlsActivityDeps } from './tls';
import type { Activities } from './types';

export interface ActivityDeps {
  cloud?: CloudActivityDeps;
  elasticsearch?: ElasticsearchActivityDeps;
  tls?: TlsActivityDeps;
}

const CLOUD_ACTIVITIES = [
  'describeDeployment',
  'listKeystoreKeys',
  'putRemoteClusterCredentials',
  'removeRemoteClusterCredentials',
  'ensureDirectTrust',
  'removeDirectTrust',
  'waitForPlan',
  'restartElasticsearch',
  'getCertificateAuthority',
] as const satisfies readonly (keyof CloudActivities)[];

const ELASTICSEARCH_ACTIVITIES = [
  'inspectCluster',
  'inspectEchCluster',
  'findOrCreateCrossClusterApiKey',
  'invalidateCrossClusterApiKey',
  'putRemoteCluster',
  'removeRemoteCluster',
  'verifyRemoteConnection',
  'ensureRole',
  'removeRole',
  'ensureUser',
  'removeUser',
  'readConnection',
  'findCrossClusterApiKeys',
  'updateCrossClusterApiKey',
  'putOwnershipRecord',
  'listRemoteClusters',
  'checkRemoteConnection',
  'queryCrossClusterApiKeys',
  'listOwnedRolesAndUsers',
  'switchRemoteCluster',
  'findCrossClusterOperations',
  'readRoleIndices',
  'readRoles',
] as const satisfies readonly (keyof ElasticsearchActivities)[];

const TLS_ACTIVITIES = [
  'probeRemoteClusterServer',
  'inspectCaCertificate',
] as const satisfies readonly (keyof TlsActivities)[];

/** `require`, not `import()`: the worker runs built (CommonJS) or under tsx's CommonJS hook (src/cli/load.ts). */
function load<T>(id: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(id) as T;
}

/**
 * Activities named `names` whose module is loaded, and whose factory runs, at the first call of any of them (once per
 * worker). Each call keeps its activity context: Context.current() works inside as before.
 */
function onFirstUse<A extends object, K extends keyof A & string>(names: readonly K[], create: () => A): Pick<A, K> {
  let created: A | undefined;
  const out = {} as Pick<A, K>;
  for (const name of names) {
    // A named function: the SDK and the stack traces show the activity's own name.
    const activity = {
      [name]: (...args: unknown[]) => {
        created ??= create();
        return (created[name] as (...a: unknown[]) => unknown)(...args);
      },
    }[name];
    out[name] = activity as A[K];
  }
  return out;
}

export function createActivities(deps: ActivityDeps = {}): Activities {
  return {
    ...onFirstUse(CLOUD_ACTIVITIES, () => load<typeof import('./cloud')>('./cloud').createCloudActivities(deps.cloud)),
    ...onFirstUse(ELASTICSEARCH_ACTIVITIES, () =>
      load<typeof import('./elasticsearch')>('./elasticsearch').createElasticsearchActivities({
        echEndpoint: load<typeof import('./cloud')>('./cloud').createEchEndpointLookup(deps.cloud),
        // verifyRemoteConnection re-runs the TLS probe with the same options as the probe activity.
        tls: deps.tls,
        ...deps.elasticsearch,
      }),
    ),
    ...onFirstUse(TLS_ACTIVITIES, () => load<typeof import('./tls')>('./tls').createTlsActivities(deps.tls)),
    ...createPlanTurnActivities(),
    checkSecrets,
  };
}

export type { Activities } from './types';
