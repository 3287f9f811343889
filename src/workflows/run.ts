/**
 * The run skeleton every lifecycle workflow (connect, rotate, update access, disconnect) stands on:
 *
 *   validate → preflight (under the connection's lease) → plan → [dry run ends here] → prepare (the other org's side)
 *   → approval → changes with compensations → verify → result
 *
 * It owns what they share: the `status` query, the UI's current details, the search attributes (with the `Workflow`
 * kind), the validated signals, the lease, the saga (every compensation runs, each outcome reported), and how a run
 * ends (rejected, timed out, failed with its rollback report). A workflow file supplies only its steps.
 *
 * The command sequence of connectRemoteCluster is exactly what it was before this file existed (recorded histories in
 * test/replay replay on it): the skeleton adds no command of its own between the ones connect issued.
 */
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import { durationToMs } from '../contract/duration';
import {
  HANDLER_DESCRIPTIONS,
  approveInputSchema,
  approveSignal,
  confirmRemoteStepSignal,
  confirmStepInputSchema,
  parseSignal,
  provideCaInputSchema,
  provideCrossClusterApiKeySignal,
  provideKeyInputSchema,
  provideRemoteCaCertificateSignal,
  rejectInputSchema,
  rejectSignal,
  statusQuery,
  type ApproveInput,
  type RejectInput,
  type SignalName,
} from '../contract/messages';
import { formatProblems, type ValidationProblem } from '../contract/request';
import {
  EchDeploymentId,
  RemoteClusterAlias,
  SecurityModel,
  WorkflowKind as WorkflowKindAttribute,
} from '../contract/searchAttributes';
import type { CleanupOutcome, PlanStep, RunStatus } from '../contract/status';
import { HUMAN_STEPS, type HumanStepId, type StepId, type WorkflowKind } from '../contract/steps';
import type { HumanInstructions } from '../domain/instructions';
import { fewerHops, type Compensation } from './activity';
import { acquireConnectionLease } from './connectionLease';
import { RunState } from './humanSteps';
import { settle } from './targets';

/** What every request of a lifecycle workflow has (the rest is the workflow's own). */
export interface RunRequest {
  alias: string;
  local: { deploymentId: string };
  securityModel?: 'api-key' | 'tls-certificate';
  dryRun: boolean;
  onFailure: 'rollback' | 'keep';
  approvals: { beforeLocalChanges: boolean; timeout: string };
}

/** The phases during which an approval may still be decided (later, a decision is refused as too late). */
const BEFORE_APPROVAL = ['validating', 'preflight', 'remote-side', 'awaiting-approval'];

/**
 * The run's signals, parsed before they touch its state: a bad payload is refused and recorded in the status, never
 * thrown (that would wedge the run). `confirmable` lists the steps this workflow lets the self-managed org confirm.
 */
export class RunSignals {
  approval: { decision: 'approved'; input: ApproveInput } | { decision: 'rejected'; input: RejectInput } | undefined;
  providedKey: string | undefined;
  providedCaPem: string | undefined;
  readonly confirmed = new Set<string>();

  constructor(
    private readonly state: RunState,
    private readonly confirmable: readonly HumanStepId[],
  ) {
    const status = state.status;
    const refuse = (signal: SignalName, reason: string): void => state.refuse(signal, reason);
    const decide = (signal: 'approve' | 'reject', raw: unknown): void => {
      const parsed = signal === 'approve' ? parseSignal(approveInputSchema, raw) : parseSignal(rejectInputSchema, raw);
      if (!parsed.ok) return refuse(signal, parsed.reason);
      const a = parsed.value;
      if (a.step !== HUMAN_STEPS.approveLocalChanges) {
        return refuse(signal, `step "${a.step}" takes no decision (only ${HUMAN_STEPS.approveLocalChanges} does)`);
      }
      if (this.approval) {
        return refuse(
          signal,
          `${this.approval.decision} already by ${this.approval.input.approver}; a decision is final`,
        );
      }
      if (!BEFORE_APPROVAL.includes(status.phase)) {
        return refuse(signal, `the run is past the approval (phase ${status.phase})`);
      }
      this.approval =
        signal === 'approve'
          ? { decision: 'approved', input: a as ApproveInput }
          : { decision: 'rejected', input: a as RejectInput };
      status.approvals.push({
        step: a.step,
        approver: a.approver,
        decision: this.approval.decision,
        ...('comment' in a && a.comment ? { comment: a.comment } : {}),
        ...('reason' in a ? { comment: a.reason } : {}),
        at: new Date().toISOString(),
      });
      state.publish();
    };
    wf.setHandler(statusQuery, () => status, { description: HANDLER_DESCRIPTIONS.status });
    wf.setHandler(approveSignal, (raw: unknown) => decide('approve', raw), {
      description: HANDLER_DESCRIPTIONS.approve,
    });
    wf.setHandler(rejectSignal, (raw: unknown) => decide('reject', raw), { description: HANDLER_DESCRIPTIONS.reject });
    wf.setHandler(
      provideCrossClusterApiKeySignal,
      (raw: unknown) => {
        const parsed = parseSignal(provideKeyInputSchema, raw);
        if (!parsed.ok) return refuse('provideCrossClusterApiKey', parsed.reason);
        if (this.providedKey !== undefined) return refuse('provideCrossClusterApiKey', 'a key was already provided');
        this.providedKey = parsed.value.encoded;
      },
      { description: HANDLER_DESCRIPTIONS.provideCrossClusterApiKey },
    );
    wf.setHandler(
      provideRemoteCaCertificateSignal,
      (raw: unknown) => {
        // Checked again by an activity (@peculiar/x509) before use: a certificate, a CA, no key, not expired.
        const parsed = parseSignal(provideCaInputSchema, raw);
        if (!parsed.ok) return refuse('provideRemoteCaCertificate', parsed.reason);
        this.providedCaPem = parsed.value.pem.trim();
      },
      { description: HANDLER_DESCRIPTIONS.provideRemoteCaCertificate },
    );
    wf.setHandler(
      confirmRemoteStepSignal,
      (raw: unknown) => {
        const parsed = parseSignal(confirmStepInputSchema, raw);
        if (!parsed.ok) return refuse('confirmRemoteStep', parsed.reason);
        const step = parsed.value.step;
        if (!this.confirmable.includes(step)) {
          return refuse('confirmRemoteStep', `step "${step}" is not confirmed by the self-managed org`);
        }
        this.confirmed.add(step);
      },
      { description: HANDLER_DESCRIPTIONS.confirmRemoteStep },
    );
  }

  /** The CA handed over by signal, once: a refused one is asked for again. */
  takeCaPem(): string | undefined {
    const pem = this.providedCaPem;
    this.providedCaPem = undefined;
    return pem;
  }
}

/** What a workflow's steps get from the skeleton. */
export interface RunContext<R extends RunRequest> {
  r: R;
  /** When the run started (workflow time), for the result's durationMs. */
  started: number;
  workflowId: string;
  state: RunState;
  signals: RunSignals;
  /** What to undo, newest last, if a later step fails (registered before the write it undoes). */
  compensations: Compensation[];
  /** The step a failure is attributed to. */
  setCurrent(step: StepId): void;
  /** A read of the preflight failed: the run ends here, nothing was changed. */
  preflightFailed(err: unknown): never;
  /** Rejection or timeout of a human step: undo what was made so far (nothing on ECH), end cleanly. */
  endWithoutChanges(outcome: 'rejected' | 'timed-out', step: StepId, rejection?: RejectInput): Promise<never>;
  /** The ECH org's approval of `help`'s changes (skipped when the request says so); returns when approved. */
  approve(help: HumanInstructions): Promise<void>;
}

export interface Preflighted<P> {
  plan: PlanStep[];
  warnings: string[];
  /** What the preflight found that the changes need (targets, facts, the key in use…). */
  found: P;
  /** A dry run's result (default `{plan, warnings}`). */
  dryRun?: unknown;
}

export interface RunDefinition<R extends RunRequest, P, Result, E = never> {
  kind: WorkflowKind;
  /** The title of the UI's current details. */
  title: string;
  /** The request's name in an InvalidRequest message (`Invalid ConnectRequest (2 problems): …`). */
  requestName: string;
  /** Steps the self-managed org may confirm with confirmRemoteStep. */
  confirmable: readonly HumanStepId[];
  validate(input: unknown): { ok: true; request: R } | { ok: false; problems: ValidationProblem[] };
  /**
   * Reads of what no run of this tool changes (the self-managed cluster's identity and privileges, the TLS probe),
   * started while the lease is taken instead of after it (from FEWER_HOPS_PATCH on; not for a dry run). What the
   * run's changes depend on (the ECH cluster's settings, the deployment) is read under the lease, in `preflight`.
   */
  beforeLease?(ctx: RunContext<R>): E;
  /** Read-only checks and the plan; marks the `preflight` step done. Runs under the lease (not for a dry run). */
  preflight(ctx: RunContext<R>, early?: E): Promise<Preflighted<P>>;
  /** Everything after the plan: the other org's side, approval, the changes (with compensations), verify, result. */
  run(ctx: RunContext<R>, found: P): Promise<Result>;
}

/** Run one lifecycle workflow on the skeleton. */
export async function runLifecycle<R extends RunRequest, P, Result, E = never>(
  def: RunDefinition<R, P, Result, E>,
  input: unknown,
): Promise<Result> {
  const started = Date.now();
  const { workflowId } = wf.workflowInfo();
  const state = new RunState(def.title);
  const status: RunStatus = state.status;
  // Handlers first, so a signal sent right after start is never lost.
  const signals = new RunSignals(state, def.confirmable);

  // 1. Validate: nothing is changed before this passes.
  state.step('validate', 'running');
  const validation = def.validate(input);
  if (!validation.ok) {
    const message = formatProblems(validation.problems, def.requestName);
    state.step('validate', 'failed', `${validation.problems.length} problem(s)`);
    status.error = { type: 'InvalidRequest', message };
    state.setPhase('failed');
    throw ApplicationFailure.create({
      type: 'InvalidRequest',
      message,
      nonRetryable: true,
      details: [validation.problems],
    });
  }
  const r = validation.request;
  state.step('validate', 'done');
  wf.upsertSearchAttributes([
    { key: EchDeploymentId, value: r.local.deploymentId },
    { key: RemoteClusterAlias, value: r.alias },
    ...(r.securityModel ? [{ key: SecurityModel, value: r.securityModel }] : []),
    { key: WorkflowKindAttribute, value: def.kind },
  ]);

  const compensations: Compensation[] = [];
  let current: StepId = 'preflight';
  const ctx: RunContext<R> = {
    r,
    started,
    workflowId,
    state,
    signals,
    compensations,
    setCurrent: (step) => (current = step),
    preflightFailed,
    endWithoutChanges,
    approve,
  };

  // 2. Preflight: read-only.
  state.setPhase('preflight');
  state.step('preflight', 'running');
  // One run per connection: before reading the state this run will change (a dry run changes nothing: no lease).
  // Taking it while the preflight reads would save a round trip, but a read that raced the previous holder's last
  // write could then make this run act on a stale view (a trust entry replaced, a key thought current): only reads of
  // what no run changes start with it (beforeLease).
  const early = !r.dryRun && def.beforeLease && fewerHops() ? def.beforeLease(ctx) : undefined;
  if (!r.dryRun) await acquireConnectionLease(r.local.deploymentId, r.alias).catch(preflightFailed);
  const { plan, warnings, found, dryRun } = await def.preflight(ctx, early);
  status.plan = plan;

  if (r.dryRun) {
    const result = (dryRun ?? { plan, warnings }) as Result;
    status.result = result as RunStatus['result'];
    state.setPhase('completed');
    return result;
  }

  try {
    const result = await def.run(ctx, found);
    status.result = result as RunStatus['result'];
    state.setPhase('completed');
    return result;
  } catch (err) {
    state.step(current, 'failed', failureMessage(err).split('\n')[0]);
    await wf.CancellationScope.nonCancellable(() => cleanUp(err));
    if (err instanceof ApplicationFailure && (status.phase === 'rejected' || status.phase === 'timed-out')) throw err;
    // The run's failure says what happened and whether it was rolled back or kept.
    throw ApplicationFailure.create({
      type: status.error?.type ?? 'Failed',
      message: status.error?.message ?? failureMessage(err),
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
      details: status.cleanup ? [status.cleanup] : undefined,
    });
  }

  // A preflight read that fails (bad credentials, unreachable API) ends the run here: nothing was changed.
  function preflightFailed(err: unknown): never {
    const type = failureType(err);
    const message = `${failureMessage(err)}\nNothing was changed.`;
    state.step('preflight', 'failed', failureMessage(err).split('\n')[0]);
    status.error = { type, message };
    state.setPhase('failed');
    throw ApplicationFailure.create({
      type,
      message,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
    });
  }

  async function approve(help: HumanInstructions): Promise<void> {
    current = HUMAN_STEPS.approveLocalChanges;
    if (!r.approvals.beforeLocalChanges) {
      state.step(HUMAN_STEPS.approveLocalChanges, 'skipped', 'approvals.beforeLocalChanges is false');
      return;
    }
    state.setPhase('awaiting-approval');
    const ok = await state.waitForHuman(
      HUMAN_STEPS.approveLocalChanges,
      'ech-org',
      help,
      durationToMs(r.approvals.timeout),
      () => signals.approval !== undefined,
    );
    if (!ok) return endWithoutChanges('timed-out', HUMAN_STEPS.approveLocalChanges);
    const decided = signals.approval;
    if (decided?.decision === 'rejected') {
      return endWithoutChanges('rejected', HUMAN_STEPS.approveLocalChanges, decided.input);
    }
    state.step(HUMAN_STEPS.approveLocalChanges, 'done', `approved by ${decided?.input.approver}`);
  }

  async function endWithoutChanges(
    outcome: 'rejected' | 'timed-out',
    step: StepId,
    rejection?: RejectInput,
  ): Promise<never> {
    let message =
      outcome === 'rejected'
        ? `Rejected by ${rejection?.approver} at step ${step}: ${rejection?.reason}. Nothing was changed on the ECH deployment.`
        : `Timed out waiting at step ${step}. Nothing was changed on the ECH deployment.`;
    state.step(step, 'failed', outcome);
    const outcomes = await undoAll();
    // Clients (the CLI) read what was undone from the failure's details, as for any other failure.
    if (outcomes.length) status.cleanup = { mode: 'rollback', items: outcomes.map((o) => o.item), outcomes };
    const leftover = outcomes.some((o) => o.outcome === 'failed') ? `\n${rollbackReport(outcomes)}` : '';
    message += leftover;
    status.error = { type: outcome === 'rejected' ? 'Rejected' : 'HumanStepTimedOut', message };
    state.setPhase(outcome === 'rejected' ? 'rejected' : 'timed-out');
    throw ApplicationFailure.create({
      type: status.error.type,
      message,
      nonRetryable: true,
      details: status.cleanup ? [status.cleanup] : undefined,
    });
  }

  /** Every compensation, newest first; one that fails does not stop the others. Each item's outcome is reported. */
  async function undoAll(): Promise<CleanupOutcome[]> {
    const outcomes: CleanupOutcome[] = [];
    for (const c of compensations.reverse()) {
      try {
        const done = (await c.undo()) as { leftBecause?: unknown } | undefined;
        if (typeof done?.leftBecause === 'string')
          outcomes.push({ item: c.label, outcome: 'left', why: done.leftBecause });
        else outcomes.push({ item: c.label, outcome: 'undone' });
      } catch (err) {
        outcomes.push({ item: c.label, outcome: 'failed', why: failureMessage(err).split('\n')[0]!.slice(0, 500) });
      }
    }
    compensations.length = 0;
    return outcomes;
  }

  async function cleanUp(err: unknown): Promise<void> {
    if (status.phase === 'rejected' || status.phase === 'timed-out') return; // already ended cleanly
    const type = failureType(err);
    if (compensations.length === 0) {
      status.error = { type, message: failureMessage(err) };
      state.setPhase('failed');
      return;
    }
    if (r.onFailure === 'keep') {
      const items = compensations.map((c) => c.label);
      status.cleanup = {
        mode: 'keep',
        items,
        outcomes: items.map((item) => ({ item, outcome: 'left' as const, why: 'onFailure "keep"' })),
      };
      status.error = {
        type,
        message: `${failureMessage(err)}\nLeft in place (onFailure "keep"): ${status.cleanup.items.join('; ')}`,
      };
      state.setPhase('failed');
      return;
    }
    state.setPhase('rolling-back');
    state.step('rollback', 'running');
    const outcomes = await undoAll();
    status.cleanup = { mode: 'rollback', items: outcomes.map((o) => o.item), outcomes };
    const failed = outcomes.filter((o) => o.outcome === 'failed').length;
    state.step(
      'rollback',
      failed ? 'failed' : 'done',
      failed ? `${failed} of ${outcomes.length} item(s) could not be removed` : `${outcomes.length} item(s) removed`,
    );
    status.error = { type, message: `${failureMessage(err)}\n${rollbackReport(outcomes)}` };
    state.setPhase('failed');
  }
}

function rollbackReport(outcomes: CleanupOutcome[]): string {
  const undone = outcomes.filter((o) => o.outcome === 'undone').map((o) => o.item);
  const failed = outcomes.filter((o) => o.outcome === 'failed');
  return [
    undone.length ? `Rolled back: ${undone.join('; ')}` : '',
    failed.length
      ? `Could NOT roll back (remove by hand): ${failed.map((o) => `${o.item} (${o.why})`).join('; ')}`
      : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** One of two steps run side by side: its work, and the step a failure is attributed to (read when it failed). */
export interface SideStep<T> {
  run: Promise<T>;
  step: () => StepId;
}

/**
 * Two steps run side by side. Both are left to finish (the rollback then undoes what either made); the first's
 * failure is the run's, else the second's, and when both failed the second is marked failed too.
 */
export async function sideBySide<A, B>(
  ctx: Pick<RunContext<RunRequest>, 'state' | 'setCurrent'>,
  first: SideStep<A>,
  second: SideStep<B>,
): Promise<[A, B]> {
  const [a, b] = await Promise.all([settle(first.run), settle(second.run)]);
  if (a.status === 'rejected' && b.status === 'rejected') {
    ctx.state.step(second.step(), 'failed', failureMessage(b.reason).split('\n')[0]);
  }
  if (a.status === 'rejected') {
    ctx.setCurrent(first.step());
    throw a.reason;
  }
  if (b.status === 'rejected') {
    ctx.setCurrent(second.step());
    throw b.reason;
  }
  return [a.value, b.value];
}

/** The classified type of what failed: an activity's ApplicationFailure type travels as the ActivityFailure's cause. */
export function failureType(err: unknown): string {
  const failure = err instanceof wf.ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.type ? failure.type : 'Failed';
}

export function failureMessage(err: unknown): string {
  if (err instanceof wf.ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
