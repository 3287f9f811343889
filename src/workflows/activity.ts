/** How the workflows call activities: one retry policy, a summary per call site, and the saga's compensation type. */
import * as wf from '@temporalio/workflow';
import { ApplicationFailure, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import type { Activities, CloudTarget } from '../activities/types';
import type { StepId } from '../contract/steps';
import { keystoreSecretName, type DirectTrustEntry } from '../domain/requests';
import { KEYSTORE_AUTO_RELOAD_VERSION, atLeast } from '../domain/versions';
import { withPlanTurn, type EarlyPlanTurn, type PlanTurn } from './deploymentPlans';
import type { RunState } from './humanSteps';

/**
 * Transient failures (429, 5xx, resets, timeouts) arrive as retryable failures; permanent ones are non-retryable and
 * end the call at once. 10 attempts backing off 1 s → 30 s span about 2.5 minutes: enough to ride out a 20% fault
 * rate (ten faults in a row: 1e-7) or a short outage. A Retry-After of the server overrides the backoff.
 */
export const RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 10,
} as const;

/**
 * Every activity heartbeats every few seconds while it runs (src/activities/heartbeat.ts), so a worker that dies
 * mid-activity is noticed after this, and the call retried elsewhere, instead of after its start-to-close timeout.
 */
export const HEARTBEAT_TIMEOUT = '20s';

/** One proxy per call site, so each activity carries a summary the Temporal UI shows. */
export function activity(summary: string, options: Partial<ActivityOptions> = {}): Activities {
  return wf.proxyActivities<Activities>({
    startToCloseTimeout: '2m',
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: RETRY,
    summary,
    ...options,
  });
}
export const LONG = { startToCloseTimeout: '45m', heartbeatTimeout: HEARTBEAT_TIMEOUT } as const;

/**
 * Runs recorded before this patch replay with every activity a regular one, and with the sequential preflight. From
 * it on, short read-only calls are local activities (below) and connect's preflight reads run side by side: every
 * round trip through the Temporal server costs a workflow task on the critical path (docs/benchmarks.md).
 */
export const FEWER_ROUND_TRIPS_PATCH = 'fewer-round-trips';

/**
 * A local activity: run by the worker inside the workflow task that asks for it, its result recorded as a marker,
 * with no round trip through the Temporal server. Only for short, read-only, idempotent calls (a check of the
 * worker's own secret bindings, one Cloud API read, the plan-turn request): a crash re-runs them like any activity, and they neither
 * heartbeat nor wait. The same retry policy as every activity; a backoff past a minute waits on a workflow timer.
 */
export function localActivity(summary: string, options: Partial<LocalActivityOptions> = {}): Activities {
  return wf.proxyLocalActivities<Activities>({
    startToCloseTimeout: '1m',
    retry: RETRY,
    summary,
    ...options,
  });
}

/** Whether this run uses the local reads and the concurrent preflight (FEWER_ROUND_TRIPS_PATCH). */
export function fewerRoundTrips(): boolean {
  return wf.patched(FEWER_ROUND_TRIPS_PATCH);
}

/**
 * Runs recorded before this patch replay with path B's remote side before its ECH side. From it on, when there is
 * nothing to wait for, the cross-cluster key (and on 8.14+ its keystore entry) is made while the trust entry's plan
 * runs (src/workflows/connect.ts, docs/workflows.md).
 */
export const PARALLEL_STEPS_PATCH = 'parallel-steps';

/** Whether this run takes the parallel steps (PARALLEL_STEPS_PATCH). */
export function parallelSteps(): boolean {
  return wf.patched(PARALLEL_STEPS_PATCH);
}

/**
 * Runs recorded before this patch replay with connect's ECH cluster inspected after the deployment read, and with
 * the settings, the verification and the roles and users one after the other. From it on, the ECH cluster is
 * inspected at the endpoint the Cloud API reports while the workflow reads the deployment (inspectEchCluster), and
 * path A/B's roles and users are made while the remote cluster is registered and verified (src/workflows/connect.ts).
 */
export const FEWER_HOPS_PATCH = 'fewer-hops';

/** Whether this run takes the steps of FEWER_HOPS_PATCH. */
export function fewerHops(): boolean {
  return wf.patched(FEWER_HOPS_PATCH);
}

/**
 * Options of the `verify` call (verifyRemoteConnection with `timeoutMs`). The activity itself retries the ECH API's
 * transient failures and a not-yet-connected remote until `timeoutMs`, so the workflow's retries are only for what it
 * cannot absorb (a worker lost mid-attempt, an ECH API down for a whole attempt), backing off 1 s → 10 s: a few
 * attempts, not RETRY's ten, which would multiply a long verify timeout. A verdict (the remote does not work) is a
 * non-retryable RemoteConnectionFailed and ends it at once.
 */
export function VERIFY_OPTIONS(timeoutMs: number): Partial<ActivityOptions> {
  return {
    // The activity's own deadline plus a margin for its last round and the connection to the ECH cluster.
    startToCloseTimeout: timeoutMs + 60_000,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
  };
}

export interface Compensation {
  label: string;
  /** Resolves to `{ leftBecause }` when it deliberately changed nothing (reported as `left`, with why). */
  undo: () => Promise<unknown>;
}

/**
 * Step `ech-trust`: our direct trust entry on the deployment (read-modify-write, others' entries kept), then the plan.
 * Whether the entry is this run's is decided from a read just before the write, and the compensation is registered
 * before the write: a write whose answer was lost is still undone by a rollback.
 */
export async function trustOnEch(
  ctx: {
    state: RunState;
    cloud: CloudTarget;
    compensations: Compensation[];
    /** Where the plan turn's release is left to be awaited later, instead of before returning (see withPlanTurn). */
    pendingReleases?: Promise<void>[];
    /** A turn asked for during the preflight (see askPlanTurnEarly). */
    earlyTurn?: EarlyPlanTurn;
  },
  entry: DirectTrustEntry,
  what: string,
): Promise<{ created: boolean }> {
  const { state, cloud } = ctx;
  state.step('ech-trust', 'running', what);
  // Read before the turn is asked for: once asked, another run's plan may write this entry too (its turn carries the
  // entries waiting), and a read after that would take the entry for someone else's and never undo it. (A turn asked
  // for early carries no entry: it may have been granted already.)
  const fresh = await (fewerRoundTrips() ? localActivity : activity)('Read the ECH trust entries').describeDeployment({
    target: cloud,
  });
  const existed = fresh.directTrustNames.includes(entry.name);
  if (!existed) {
    ctx.compensations.push({
      label: `trust entry "${entry.name}" on the ECH deployment`,
      undo: () => removeTrustOnEch(cloud, entry.name),
    });
  }
  // Workflow time (deterministic): an older failed plan on the deployment is not this change's plan.
  await planChange(
    cloud,
    `trust ${what}`,
    async (turn) => {
      const notBefore = new Date().toISOString();
      const summary = turn.alsoApply.length
        ? `Trust ${what} on ECH (with ${turn.alsoApply.length} other run(s)' entries: one plan)`
        : `Trust ${what} on ECH`;
      // A plan of someone else pending on the deployment is waited for inside the activity (heartbeating).
      const put = await activity(summary, { startToCloseTimeout: '10m' }).ensureDirectTrust({
        target: cloud,
        entry,
        // Other runs' entries waiting at the same time: one plan for all (src/workflows/deploymentPlans.ts).
        ...(turn.alsoApply.length ? { alsoApply: turn.alsoApply } : {}),
      });
      await activity('Wait for the ECH plan', LONG).waitForPlan({
        target: cloud,
        notBefore,
        // The change's plan is the one after what the write saw (a lost answer's retry sees the entry already there),
        // unless another run's plan applied the entry (then the current plan is the one, and it succeeded).
        ...(put.previousAttemptId && (put.changed || (!existed && !turn.combinedWith))
          ? { afterAttemptId: put.previousAttemptId }
          : {}),
      });
    },
    {
      trustEntry: entry,
      ...(ctx.pendingReleases ? { pendingReleases: ctx.pendingReleases } : {}),
      ...(ctx.earlyTurn ? { early: ctx.earlyTurn } : {}),
    },
  );
  state.step('ech-trust', 'done', entry.name);
  return { created: !existed };
}

/** Remove our trust entry (by name) and wait for its plan: a rollback's undo, and disconnect. */
export async function removeTrustOnEch(cloud: CloudTarget, name: string): Promise<{ removed: boolean }> {
  return planChange(cloud, `remove trust entry ${name}`, async () => {
    const removed = await activity('Remove the trust entry', { startToCloseTimeout: '10m' }).removeDirectTrust({
      target: cloud,
      name,
    });
    if (removed.removed) {
      await activity('Wait for the ECH plan', LONG).waitForPlan({
        target: cloud,
        ...(removed.previousAttemptId ? { afterAttemptId: removed.previousAttemptId } : {}),
      });
    }
    return { removed: removed.removed };
  });
}

/**
 * Every change that needs an ECH plan (a trust entry, a restart to reload the keystore before 8.14, and their undo)
 * goes through here: it takes a turn of the deployment's coordinator (one plan at a time per deployment, trust entries
 * waiting at the same time in one plan; src/workflows/deploymentPlans.ts). Runs recorded before the coordinator existed
 * replay without it (patch PLAN_TURNS_PATCH): their histories have no such commands.
 */
export async function planChange<T>(
  deployment: CloudTarget,
  what: string,
  change: (turn: PlanTurn) => Promise<T>,
  opts: { trustEntry?: DirectTrustEntry; pendingReleases?: Promise<void>[]; early?: EarlyPlanTurn } = {},
): Promise<T> {
  if (!wf.patched(PLAN_TURNS_PATCH)) return change({ alsoApply: [] });
  return withPlanTurn(deployment, what, change, opts);
}
export const PLAN_TURNS_PATCH = 'deployment-plan-turns';

/**
 * Step `ech-keystore`: the cross-cluster key stored as the alias' `cluster.remote.<alias>.credentials`, then, before
 * 8.14, a restart to reload it. Whether the entry is this run's is decided from a read just before the write (one
 * already there is not ours to overwrite: AliasInUse), and the undo is registered before the write: a PATCH whose
 * answer was lost is still undone by a rollback. `localRead`: the read as a local activity. Returns the entry's name.
 */
export async function storeKeyInEchKeystore(
  ctx: { state: RunState; compensations: Compensation[]; setCurrent(step: StepId): void },
  target: { cloud: CloudTarget; alias: string; version: string },
  encoded: string,
  opts: { localRead?: boolean } = {},
): Promise<string> {
  const { state } = ctx;
  const { cloud } = target;
  ctx.setCurrent('ech-keystore');
  state.step('ech-keystore', 'running');
  const entry = keystoreSecretName(target.alias);
  const keys = await (opts.localRead ? localActivity : activity)('Read the ECH keystore').listKeystoreKeys({
    target: cloud,
  });
  if (keys.includes(entry)) {
    throw ApplicationFailure.create({
      type: 'AliasInUse',
      nonRetryable: true,
      message:
        `The ECH keystore already has ${entry}, which this run did not create; refusing to overwrite it → remove it ` +
        '(Deployment > Security > Elasticsearch keystore) if it is a leftover, then start again.',
    });
  }
  ctx.compensations.push({
    label: `keystore entry ${entry}`,
    undo: () =>
      activity('Remove the keystore entry').removeRemoteClusterCredentials({ target: cloud, alias: target.alias }),
  });
  await activity('Store the key in the ECH keystore').putRemoteClusterCredentials({
    target: cloud,
    alias: target.alias,
    encoded,
  });
  if (!atLeast(target.version, KEYSTORE_AUTO_RELOAD_VERSION)) await restartToReloadKeystore(cloud);
  state.step('ech-keystore', 'done', entry);
  return entry;
}

/** ECH before 8.14 reloads the keystore only on a restart: a plan of its own. */
export async function restartToReloadKeystore(cloud: CloudTarget): Promise<void> {
  await planChange(cloud, 'restart to reload the keystore', async () => {
    const restartedAt = new Date().toISOString();
    await activity('Restart ECH Elasticsearch to reload the keystore').restartElasticsearch({ target: cloud });
    await activity('Wait for the ECH restart', LONG).waitForPlan({ target: cloud, notBefore: restartedAt });
  });
}
