/**
 * One plan at a time per ECH deployment (issue 13). An ECH deployment runs one plan at a time and answers a second
 * change while one is pending with an error (`deployments.deployment_resource_plan_change_error`), so the runs that
 * change one deployment take turns: every change that needs a plan (a trust entry, a restart, their undo) asks the
 * deployment's coordinator, a small long-lived workflow under the deterministic id `ech-remote-deployment/<taskQueue>/<id>`
 * (started by signal-with-start from an activity, whoever comes first), for a turn, makes its change, and gives the
 * turn back.
 *
 * - Trust entries asked for at the same time go into ONE plan: the turn of the first one carries the entries of the
 *   others that wait (`alsoApply`); when its plan succeeded, the others get a shared turn in which their own change
 *   finds their entry already there (idempotent: no write, no plan) and their wait returns at once. If that plan
 *   fails, they wait for turns of their own, as before.
 * - Everything else (a restart, a removal) is serialised: one holder at a time.
 * - A holder that ends without giving the turn back (terminated, timed out, its worker gone for good) loses it: the
 *   coordinator checks its holders every LIVENESS_CHECK and releases the turns of closed runs, and no turn lasts
 *   longer than MAX_TURN. A queued run that has ended is skipped when its turn comes (the grant cannot be delivered).
 * - The coordinator continues as new before its history grows large, carrying its queue and holders, and ends when it
 *   has been idle for a while (the next request starts it again).
 */
import * as wf from '@temporalio/workflow';
import type { CloudTarget, DirectTrustEntry } from '../activities/types';

export interface PlanTurnRequest {
  /** Unique per request of a run (its run id and a deterministic uuid). */
  requestId: string;
  workflowId: string;
  runId: string;
  /** What the change is for (shown by the coordinator's query). */
  what: string;
  /** A trust entry to ensure: requests that carry one may share one plan. */
  trustEntry?: DirectTrustEntry;
  /**
   * Asked for ahead of the change (askPlanTurnEarly): granted only if nobody holds or waits for a turn, else dropped
   * (never queued), so that runs asking early never make the others wait behind their preflight.
   */
  ifFree?: boolean;
  at: string;
}

export interface PlanTurnGrant {
  requestId: string;
  turn: number;
  /** Other runs' trust entries to write in the same update (this turn's plan applies them all). */
  alsoApply: DirectTrustEntry[];
  /** Set when this run's entry was applied by another run's plan (`combinedWith` = that run's workflow id). */
  combinedWith?: string;
}

export interface PlanTurnRelease {
  requestId: string;
  /** The change (and the plan it waited for) succeeded: the entries its turn carried are applied. */
  ok: boolean;
}

export const requestPlanTurnSignal = wf.defineSignal<[PlanTurnRequest]>('requestPlanTurn');
export const releasePlanTurnSignal = wf.defineSignal<[PlanTurnRelease]>('releasePlanTurn');
export const planTurnGrantedSignal = wf.defineSignal<[PlanTurnGrant]>('planTurnGranted');

export interface PlanTurnsView {
  deploymentId: string;
  turnsGranted: number;
  holders: { requestId: string; workflowId: string; what: string; since: string; carries: number }[];
  queue: { requestId: string; workflowId: string; what: string; ridingOn?: string }[];
}
export const planTurnsQuery = wf.defineQuery<PlanTurnsView>('planTurns');

export const DEPLOYMENT_COORDINATOR_TYPE = 'deploymentPlanCoordinator';

/**
 * Per deployment AND task queue: the coordinator runs on the task queue of the runs it serves, so a coordinator never
 * waits for workers of another queue that may be gone (another fleet, a test's own queue). Runs of different queues
 * changing one deployment still meet at the Cloud API, where a pending plan of someone else is waited for.
 */
export function deploymentCoordinatorId(deploymentId: string, taskQueue: string): string {
  return `ech-remote-deployment/${taskQueue}/${deploymentId}`;
}

interface Queued {
  req: PlanTurnRequest;
  /** Its entry is written by this holder's plan. */
  ridingOn?: string;
  /** That plan succeeded: granted a shared turn next. */
  applied?: boolean;
  appliedBy?: string;
}

interface Holder {
  req: PlanTurnRequest;
  turn: number;
  since: number;
  /** Request ids whose entries this turn carries. */
  riders: string[];
  /** Asked again while holding (a lost grant): send it again. */
  regrant?: boolean;
  grant: PlanTurnGrant;
}

export interface CoordinatorState {
  queue: Queued[];
  holders: Holder[];
  turns: number;
}

export interface CoordinatorInput {
  deploymentId: string;
  state?: CoordinatorState;
  /** Tests: smaller limits. */
  limits?: Partial<CoordinatorLimits>;
}

export interface CoordinatorLimits {
  /** Continue as new after this many history events (Temporal also suggests it). */
  maxHistoryEvents: number;
  /** End after this long with nobody waiting or holding. */
  idleMs: number;
  /** How often holders are checked for having ended without giving the turn back. */
  livenessCheckMs: number;
  /** No turn lasts longer (a trust plan or a restart waits at most 45 minutes: src/workflows/activity.ts LONG). */
  maxTurnMs: number;
  /** Most trust entries written by one update (the body carries every certificate). */
  maxBatch: number;
}

const DEFAULT_LIMITS: CoordinatorLimits = {
  maxHistoryEvents: 4_000,
  idleMs: 30_000,
  livenessCheckMs: 15_000,
  maxTurnMs: 50 * 60_000,
  maxBatch: 50,
};

/** Both activities are quick Temporal calls: retried on 1 s → 10 s for about a minute and a half. */
const TURN_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 12 };

const coordinatorActivities = wf.proxyActivities<{
  closedPlanTurnHolders(i: { holders: { workflowId: string; runId: string }[] }): Promise<string[]>;
}>({
  startToCloseTimeout: '30s',
  retry: TURN_RETRY,
  summary: 'Check that the holders of plan turns are still running',
});

/**
 * Coordinators started before this patch replay granting turn after turn without looking at their history while
 * releases kept arriving with the deliveries. From it on, they continue as new between two grants once the history
 * is full (the patch is asked only then, so a short history carries no marker).
 */
export const COORDINATOR_CAN_BETWEEN_GRANTS_PATCH = 'coordinator-can-between-grants';

/** The per-deployment coordinator workflow. */
export async function deploymentPlanCoordinator(input: CoordinatorInput): Promise<void> {
  const limits: CoordinatorLimits = { ...DEFAULT_LIMITS, ...input.limits };
  const state: CoordinatorState = input.state ?? { queue: [], holders: [], turns: 0 };
  const turnsAtStart = state.turns;
  let changes = 0;

  wf.setHandler(
    requestPlanTurnSignal,
    (raw: PlanTurnRequest) => {
      const req = parseRequest(raw);
      if (!req) return;
      changes++;
      const holding = state.holders.find((h) => h.req.requestId === req.requestId);
      if (holding) {
        holding.regrant = true;
        return;
      }
      if (state.queue.some((q) => q.req.requestId === req.requestId)) return;
      if (req.ifFree && (state.holders.length > 0 || state.queue.length > 0)) return;
      state.queue.push({ req });
    },
    { description: 'A run asks for a turn to change the deployment (a plan).' },
  );
  wf.setHandler(
    releasePlanTurnSignal,
    (raw: PlanTurnRelease) => {
      if (typeof raw?.requestId !== 'string') return;
      changes++;
      release(raw.requestId, raw.ok === true);
    },
    { description: 'A run gives its turn back (or withdraws its request).' },
  );
  wf.setHandler(planTurnsQuery, () => view(), { description: 'Who holds a turn and who waits.' });

  function release(requestId: string, ok: boolean): void {
    const queued = state.queue.findIndex((q) => q.req.requestId === requestId);
    if (queued >= 0) {
      state.queue.splice(queued, 1); // withdrawn before its turn
      return;
    }
    const i = state.holders.findIndex((h) => h.req.requestId === requestId);
    if (i < 0) return;
    const [holder] = state.holders.splice(i, 1);
    for (const q of state.queue) {
      if (q.ridingOn !== requestId) continue;
      delete q.ridingOn;
      if (ok) {
        q.applied = true;
        q.appliedBy = holder!.req.workflowId;
      }
    }
  }

  function view(): PlanTurnsView {
    return {
      deploymentId: input.deploymentId,
      turnsGranted: state.turns,
      holders: state.holders.map((h) => ({
        requestId: h.req.requestId,
        workflowId: h.req.workflowId,
        what: h.req.what,
        since: new Date(h.since).toISOString(),
        carries: h.riders.length,
      })),
      queue: state.queue.map((q) => ({
        requestId: q.req.requestId,
        workflowId: q.req.workflowId,
        what: q.req.what,
        ...(q.ridingOn ? { ridingOn: q.ridingOn } : {}),
      })),
    };
  }

  /** Deliver a grant; false when the run has ended (its turn is dropped). */
  async function send(req: PlanTurnRequest, grant: PlanTurnGrant): Promise<boolean> {
    return wf
      .getExternalWorkflowHandle(req.workflowId, req.runId)
      .signal(planTurnGrantedSignal, grant)
      .then(
        () => true,
        () => false,
      );
  }

  async function grantWhatCan(): Promise<void> {
    for (const h of state.holders.filter((x) => x.regrant)) {
      h.regrant = false;
      if (!(await send(h.req, h.grant))) release(h.req.requestId, false);
    }
    while (state.holders.length === 0 && state.queue.length > 0) {
      // A release that arrives with the previous grant's delivery keeps this loop granting: it stops for the
      // main loop to continue as new once the history is full (the state carries the queue).
      // Never before this run's first grant: a state that alone fills the history (Temporal suggests continue-as-new
      // by size too) would otherwise continue as new forever without granting.
      if (state.turns > turnsAtStart && historyFull() && wf.patched(COORDINATOR_CAN_BETWEEN_GRANTS_PATCH)) return;
      // Entries another plan applied: a shared turn (they make no plan of their own).
      const applied = state.queue.filter((q) => q.applied);
      if (applied.length > 0) {
        state.queue = state.queue.filter((q) => !q.applied);
        for (const q of applied) {
          const grant: PlanTurnGrant = {
            requestId: q.req.requestId,
            turn: ++state.turns,
            alsoApply: [],
            ...(q.appliedBy ? { combinedWith: q.appliedBy } : {}),
          };
          state.holders.push({ req: q.req, turn: grant.turn, since: Date.now(), riders: [], grant });
        }
        const shared = [...state.holders];
        const delivered = await Promise.all(shared.map((h) => send(h.req, h.grant)));
        shared.forEach((h, i) => {
          if (!delivered[i]) release(h.req.requestId, false);
        });
        continue;
      }
      const next = state.queue.find((q) => !q.ridingOn);
      if (!next) return;
      state.queue = state.queue.filter((q) => q !== next);
      const riders: Queued[] = [];
      if (next.req.trustEntry) {
        const names = new Set([next.req.trustEntry.name]);
        for (const q of state.queue) {
          if (riders.length + 1 >= limits.maxBatch) break;
          const e = q.req.trustEntry;
          if (!e || q.ridingOn || names.has(e.name)) continue;
          names.add(e.name);
          riders.push(q);
        }
      }
      const grant: PlanTurnGrant = {
        requestId: next.req.requestId,
        turn: ++state.turns,
        alsoApply: riders.map((q) => q.req.trustEntry as DirectTrustEntry),
      };
      // Recorded before the grant is sent: its release may be handled before the send's own completion.
      for (const q of riders) q.ridingOn = next.req.requestId;
      state.holders.push({
        req: next.req,
        turn: grant.turn,
        since: Date.now(),
        riders: riders.map((q) => q.req.requestId),
        grant,
      });
      if (!(await send(next.req, grant))) release(next.req.requestId, false); // ended while waiting
    }
  }

  async function dropEndedHolders(): Promise<void> {
    const now = Date.now();
    for (const h of [...state.holders]) {
      if (now - h.since > limits.maxTurnMs) {
        wf.log.warn('Plan turn held too long: released', { workflowId: h.req.workflowId, what: h.req.what });
        release(h.req.requestId, false);
      }
    }
    if (state.holders.length === 0) return;
    const closed = await coordinatorActivities.closedPlanTurnHolders({
      holders: state.holders.map((h) => ({ workflowId: h.req.workflowId, runId: h.req.runId })),
    });
    for (const h of [...state.holders]) {
      if (closed.includes(h.req.runId)) {
        wf.log.warn('Holder of a plan turn ended without giving it back: released', { workflowId: h.req.workflowId });
        release(h.req.requestId, false);
      }
    }
  }

  function historyFull(): boolean {
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= limits.maxHistoryEvents;
  }

  for (;;) {
    await grantWhatCan();
    if (historyFull()) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof deploymentPlanCoordinator>({
        deploymentId: input.deploymentId,
        state,
        ...(input.limits ? { limits: input.limits } : {}),
      });
    }
    const seen = changes;
    if (state.holders.length === 0 && state.queue.length === 0) {
      if (!(await wf.condition(() => changes !== seen, limits.idleMs))) return;
    } else if (state.holders.length > 0) {
      if (!(await wf.condition(() => changes !== seen, limits.livenessCheckMs))) await dropEndedHolders();
    } else {
      await wf.condition(() => changes !== seen);
    }
  }
}

function parseRequest(raw: unknown): PlanTurnRequest | undefined {
  const r = raw as Partial<PlanTurnRequest> | null;
  if (!r || typeof r.requestId !== 'string' || typeof r.workflowId !== 'string' || typeof r.runId !== 'string') {
    return undefined;
  }
  return {
    requestId: r.requestId,
    workflowId: r.workflowId,
    runId: r.runId,
    what: typeof r.what === 'string' ? r.what.slice(0, 200) : '',
    ...(r.trustEntry && typeof r.trustEntry.name === 'string' ? { trustEntry: r.trustEntry } : {}),
    ...(r.ifFree === true ? { ifFree: true } : {}),
    at: typeof r.at === 'string' ? r.at : '',
  };
}

// ---- the requester's side ------------------------------------------------------------------------------------------

export interface PlanTurn {
  alsoApply: DirectTrustEntry[];
  /** This run's trust entry was applied by another run's plan (that run's workflow id). */
  combinedWith?: string;
}

/** How long a run waits for its turn before asking again (a coordinator that was terminated is started again). */
const ASK_AGAIN = '2m';

type TurnActivities = {
  requestPlanTurn(i: {
    deploymentId: string;
    coordinatorId: string;
    request: PlanTurnRequest;
    early?: boolean;
  }): Promise<{ sent: boolean } | void>;
};
const turnActivities = wf.proxyActivities<TurnActivities>({
  startToCloseTimeout: '30s',
  retry: TURN_RETRY,
  summary: 'Ask for a turn to change the ECH deployment',
});
/**
 * The same call as a local activity (runs from FEWER_ROUND_TRIPS_PATCH on): one signal-with-start to the Temporal
 * server, idempotent (the coordinator ignores a request id it already has), so no round trip of its own is needed.
 */
const localTurnActivities = wf.proxyLocalActivities<TurnActivities>({
  startToCloseTimeout: '30s',
  retry: TURN_RETRY,
  summary: 'Ask for a turn to change the ECH deployment',
});
/**
 * One attempt: the early request is opportunistic (the change asks as usual without it), and a retry could deliver it
 * again after its grant was given back.
 */
const earlyTurnActivities = wf.proxyActivities<TurnActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
  summary: 'Ask early for a turn to change the ECH deployment',
});
/** Same id as src/workflows/activity.ts FEWER_ROUND_TRIPS_PATCH (not imported: that module imports this one). */
const FEWER_ROUND_TRIPS_PATCH = 'fewer-round-trips';

/**
 * A turn asked for before the change is known to be needed, so that it is granted while the run still reads (connect's
 * preflight, when nothing will wait for a person: FEWER_HOPS_PATCH). The request carries no trust entry (no other run's
 * plan can write this run's entry before this run has read the trust entries: src/workflows/activity.ts trustOnEch)
 * and is granted only if the deployment is free (`ifFree`: never queued). A grant the change does not take within
 * EARLY_TURN_HOLD (a slow preflight, a run that waits for a person after all, a change that asked again) is given back
 * at once; so is one that comes after the run gave up on it. Not granted by the time the change comes, the change asks
 * as usual, carrying its entry, so that it can still ride on another run's plan.
 */
export interface EarlyPlanTurn {
  request: PlanTurnRequest;
  coordinatorId: string;
  /** The grant, once it came. */
  grant?: PlanTurnGrant;
  /** Taken over by the change (withPlanTurn). */
  used: boolean;
  /** Used, or given up on: no change takes it any more. */
  done: boolean;
  /** The change that used it gave it back (a grant of this request after that is a repeat, given back again). */
  finished: boolean;
  released: boolean;
  /** Whether the request went out (false: this worker had just asked that coordinator, so it did not); undefined: not known yet. */
  sent?: boolean;
}

/**
 * This run's requests waiting for a grant, by request id: one signal handler routes each grant to its own request, so
 * that a request made later (withPlanTurn) never hides the grant of an earlier one (an early turn granted late must
 * still be seen, to be given back).
 */
const awaitingGrant = new Map<string, (grant: PlanTurnGrant) => void>();

function onGrant(requestId: string, take: (grant: PlanTurnGrant) => void): void {
  awaitingGrant.set(requestId, take);
  wf.setHandler(
    planTurnGrantedSignal,
    (raw: PlanTurnGrant) => {
      if (typeof raw?.requestId === 'string') awaitingGrant.get(raw.requestId)?.(raw);
    },
    { description: 'Internal: the deployment coordinator grants this run a turn to change the deployment.' },
  );
}

export function askPlanTurnEarly(deployment: CloudTarget, what: string): EarlyPlanTurn {
  const info = wf.workflowInfo();
  const request: PlanTurnRequest = {
    requestId: `${info.runId}/${wf.uuid4()}`,
    workflowId: info.workflowId,
    runId: info.runId,
    what,
    ifFree: true,
    at: new Date().toISOString(),
  };
  const coordinatorId = deploymentCoordinatorId(deployment.deploymentId, info.taskQueue);
  const early: EarlyPlanTurn = {
    request,
    coordinatorId,
    used: false,
    done: false,
    finished: false,
    released: false,
  };
  onGrant(request.requestId, (grant) => {
    early.grant = grant;
    // The request granted again after its turn was given back (delivered twice): a turn nobody will use. The first
    // grant is the watcher's below.
    if (early.released || early.finished) void sendEarlyRelease(early);
  });
  // A regular activity: a local one would hold the preflight's reads until it answered. Its outcome is not awaited:
  // a grant is what counts, and one that comes too late is given back (below, and by the grant handler above).
  void earlyTurnActivities
    .requestPlanTurn({ deploymentId: deployment.deploymentId, coordinatorId, request, early: true })
    .then(
      (r) => (early.sent = r?.sent !== false),
      () => (early.sent = true), // not known: it may have gone out
    );
  // Not cancelled with the run: a grant kept past the hold is given back whatever the run does meanwhile.
  void wf.CancellationScope.nonCancellable(async () => {
    await wf.condition(() => early.grant !== undefined);
    await wf.condition(() => early.used || early.done, EARLY_TURN_HOLD);
    early.done = true;
    if (!early.used) await releaseEarlyPlanTurn(early);
  }).catch(() => undefined);
  return early;
}

/** How long a turn granted early is kept for the change it was asked for, before it is given back. */
const EARLY_TURN_HOLD = '1s';
/**
 * How long the change waits for an early request's grant that is still on its way (it was asked for with the last
 * reads of the preflight) before asking as usual: less than the round trip of asking again.
 */
const EARLY_GRANT_WAIT = '200ms';

function releaseEarlyPlanTurn(early: EarlyPlanTurn): Promise<void> {
  if (early.released) return Promise.resolve();
  early.released = true;
  return sendEarlyRelease(early);
}

function sendEarlyRelease(early: EarlyPlanTurn): Promise<void> {
  return wf.CancellationScope.nonCancellable(() =>
    wf
      .getExternalWorkflowHandle(early.coordinatorId)
      .signal(releasePlanTurnSignal, { requestId: early.request.requestId, ok: false })
      .catch(() => undefined),
  );
}

/** The run will not use its early turn (it failed, or waits for a person): given back now if it was granted. */
export async function giveBackEarlyPlanTurn(early: EarlyPlanTurn | undefined): Promise<void> {
  if (!early || early.done) return;
  early.done = true;
  if (early.grant) await releaseEarlyPlanTurn(early);
}

/** Run `change` in a turn of `deployment`'s coordinator; the turn is given back however `change` ends. */
export async function withPlanTurn<T>(
  deployment: CloudTarget,
  what: string,
  change: (turn: PlanTurn) => Promise<T>,
  opts: {
    trustEntry?: DirectTrustEntry;
    /**
     * When given (and in runs from FEWER_ROUND_TRIPS_PATCH on), the release of the turn is sent but not waited for:
     * its promise goes here, and the caller awaits it before the run ends. The run's next step then starts in the
     * same workflow task as the release instead of one round trip later.
     */
    pendingReleases?: Promise<void>[];
    /** A turn this run asked for earlier (askPlanTurnEarly): used when it was granted, else asked for as usual. */
    early?: EarlyPlanTurn;
  } = {},
): Promise<T> {
  const info = wf.workflowInfo();
  const fewerRoundTrips = wf.patched(FEWER_ROUND_TRIPS_PATCH);
  let early = opts.early && !opts.early.done ? opts.early : undefined;
  if (early && early.grant === undefined && early.sent !== false) {
    const pending = early;
    await wf.condition(() => pending.grant !== undefined || pending.sent === false || pending.done, EARLY_GRANT_WAIT);
    if (pending.done) early = undefined;
  }
  // Taken (or given up on) here, with no await between the check and the decision: a grant that comes later is given
  // back by askPlanTurnEarly's watcher, never taken for a turn this run holds.
  let grant: PlanTurnGrant | undefined = early?.grant;
  if (early) {
    early.done = true;
    early.used = grant !== undefined;
  }
  const request: PlanTurnRequest = grant
    ? (early as EarlyPlanTurn).request
    : {
        requestId: `${info.runId}/${wf.uuid4()}`,
        workflowId: info.workflowId,
        runId: info.runId,
        what,
        ...(opts.trustEntry ? { trustEntry: opts.trustEntry } : {}),
        at: new Date().toISOString(),
      };
  // Each change's own request (one at a time per run): a grant for another request goes to that one.
  if (!grant) onGrant(request.requestId, (g) => (grant = g));
  const coordinator = deploymentCoordinatorId(deployment.deploymentId, info.taskQueue);
  let ok = false;
  try {
    while (grant === undefined) {
      await (fewerRoundTrips ? localTurnActivities : turnActivities).requestPlanTurn({
        deploymentId: deployment.deploymentId,
        coordinatorId: coordinator,
        request,
      });
      if (await wf.condition(() => grant !== undefined, ASK_AGAIN)) break;
    }
    const granted = grant as PlanTurnGrant | undefined;
    const result = await change({
      alsoApply: granted?.alsoApply ?? [],
      ...(granted?.combinedWith ? { combinedWith: granted.combinedWith } : {}),
    });
    ok = true;
    return result;
  } finally {
    if (early?.used) early.finished = true;
    // Given back even when the run is being cancelled; a coordinator that has ended has nothing to release.
    const released = wf.CancellationScope.nonCancellable(() =>
      wf
        .getExternalWorkflowHandle(coordinator)
        .signal(releasePlanTurnSignal, { requestId: request.requestId, ok })
        .catch(() => undefined),
    );
    if (fewerRoundTrips && opts.pendingReleases) opts.pendingReleases.push(released);
    else await released;
  }
}
