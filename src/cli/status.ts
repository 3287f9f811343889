/**
 * Where a run stands, for `status` and for `connect --wait`: the `status` query while it runs, its end (result or
 * classified failure, and whether its changes were rolled back or kept) once it is closed.
 */
import {
  WorkflowFailedError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowNotFoundError,
} from '@temporalio/common';
import { statusQuery } from '../contract/handlers';
import type { CleanupOutcome, RunResult, ConnectStatus, StepStatus, WaitingFor } from '../contract/status';
import type { Phase } from '../contract/steps';
import { cliClient } from './client';
import { CliError, EXIT, type ExitCode } from './exitCodes';
import { load } from './load';
import { Progress, exitWith, printJson, workflowUiUrl } from './output';

/** src/cli/fleet.ts FLEET_WORKFLOW_TYPE, without loading that module for every status. */
const FLEET_WORKFLOW_TYPE = 'connectRemoteClusters';

export type Outcome = 'completed' | 'failed' | 'rejected' | 'invalid' | 'waiting' | 'running';

export interface Cleanup {
  /** rollback: this run's changes were undone; keep: left in place (onFailure "keep"); none: nothing had changed. */
  mode: 'rollback' | 'keep' | 'none';
  items: string[];
  /** Each item's outcome (undone / failed, why / left). */
  outcomes?: CleanupOutcome[];
}

/** The --json shape of `status` and `connect` (connect adds `attached`, `problems`). */
export interface RunReport {
  workflowId: string;
  runId: string;
  uiUrl: string;
  outcome: Outcome;
  exitCode: ExitCode;
  phase?: Phase;
  steps?: StepStatus[];
  waitingFor?: WaitingFor;
  result?: RunResult;
  error?: { type: string; message: string };
  cleanup?: Cleanup;
  approvals?: ConnectStatus['approvals'];
  /** Signals the run refused, with the reason (never the value sent). */
  refused?: ConnectStatus['refused'];
}

/** The --json shape of `status`: exitCode is the status command's own (0); runExitCode the run's, as connect exits. */
export type StatusReport = Omit<RunReport, 'exitCode'> & { exitCode: typeof EXIT.done; runExitCode: ExitCode };

const EXIT_OF: Record<Outcome, ExitCode> = {
  completed: EXIT.done,
  failed: EXIT.failed,
  rejected: EXIT.rejected,
  invalid: EXIT.invalid,
  waiting: EXIT.waiting,
  running: EXIT.waiting,
};

type Handle = WorkflowHandle;

/** The status query, bounded: a run with no worker polling must not hang the CLI. */
export async function queryStatus(
  client: Client,
  handle: Handle,
  withinMs = 5_000,
): Promise<ConnectStatus | undefined> {
  try {
    return await client.connection.withDeadline(Date.now() + withinMs, () => handle.query(statusQuery));
  } catch {
    return undefined;
  }
}

function fromStatus(status: ConnectStatus | undefined): Partial<RunReport> {
  if (!status) return {};
  return {
    phase: status.phase,
    steps: status.steps,
    ...(status.waitingFor ? { waitingFor: status.waitingFor } : {}),
    approvals: status.approvals,
    ...(status.refused?.length ? { refused: status.refused } : {}),
  };
}

function isCleanup(v: unknown): v is Cleanup {
  const c = v as Cleanup | undefined;
  return !!c && (c.mode === 'rollback' || c.mode === 'keep') && Array.isArray(c.items);
}

/** A closed run's end: the result, or the failure's type, message and what became of the run's changes. */
export function ending(settled: { ok: true; value: unknown } | { ok: false; err: unknown }): Partial<RunReport> {
  if (settled.ok) {
    return { outcome: 'completed', result: settled.value as RunResult };
  }
  const err = settled.err;
  if (!(err instanceof WorkflowFailedError)) throw err;
  const cause = err.cause;
  let type = 'Failed';
  let cleanup: Cleanup = { mode: 'none', items: [] };
  if (cause instanceof ApplicationFailure) {
    type = cause.type ?? 'Failed';
    const detail = cause.details?.[0];
    if (isCleanup(detail)) cleanup = detail;
  } else if (cause instanceof TerminatedFailure) type = 'Terminated';
  else if (cause instanceof CancelledFailure) type = 'Cancelled';
  else if (cause instanceof TimeoutFailure) type = 'WorkflowTimedOut';
  const outcome: Outcome = type === 'Rejected' ? 'rejected' : type === 'InvalidRequest' ? 'invalid' : 'failed';
  return { outcome, error: { type, message: cause?.message ?? err.message }, cleanup };
}

function finish(base: Pick<RunReport, 'workflowId' | 'runId' | 'uiUrl'>, parts: Partial<RunReport>): RunReport {
  const outcome = parts.outcome ?? (parts.waitingFor ? 'waiting' : 'running');
  return { ...base, ...parts, outcome, exitCode: EXIT_OF[outcome] };
}

export function reportBase(client: Client, workflowId: string, runId: string) {
  return { workflowId, runId, uiUrl: workflowUiUrl(client.options.namespace, workflowId, runId) };
}

async function describe(handle: Handle): Promise<WorkflowExecutionDescription> {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(`no workflow "${handle.workflowId}" in this namespace`, EXIT.error, 'WorkflowNotFound');
    }
    throw err;
  }
}

/** One look at a run, running or closed. */
export async function reportRun(client: Client, workflowId: string, runId?: string): Promise<RunReport> {
  const d = await describe(client.workflow.getHandle(workflowId, runId));
  const handle = client.workflow.getHandle(workflowId, d.runId);
  const base = reportBase(client, workflowId, d.runId);
  const status = await queryStatus(client, handle);
  if (d.status.name === 'RUNNING') return finish(base, fromStatus(status));
  const settled = await handle.result().then(
    (value: unknown) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  return finish(base, { ...fromStatus(status), waitingFor: undefined, ...ending(settled) });
}

/** Follows a run until it ends or `timeoutMs` elapses, feeding each status snapshot to `onStatus`. */
export async function followRun(
  client: Client,
  handle: Handle,
  runId: string,
  opts: { timeoutMs?: number; onStatus?: (s: ConnectStatus) => void },
): Promise<RunReport> {
  const base = reportBase(client, handle.workflowId, runId);
  let settled: { ok: true; value: unknown } | { ok: false; err: unknown } | undefined;
  const ended = handle.result().then(
    (value: unknown) => (settled = { ok: true, value }),
    (err: unknown) => (settled = { ok: false, err }),
  );
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  let last: ConnectStatus | undefined;
  while (!settled) {
    const left = deadline - Date.now();
    last = (await queryStatus(client, handle, Math.max(250, Math.min(5_000, left)))) ?? last;
    if (last) opts.onStatus?.(last);
    if (settled) break;
    if (Date.now() >= deadline) return finish(base, fromStatus(last));
    await Promise.race([ended, new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, left))))]);
  }
  // The last steps (verify, rollback…) as the run recorded them; the ending itself comes from the result.
  const final = (await queryStatus(client, handle, 3_000)) ?? last;
  if (final) opts.onStatus?.(final);
  return finish(base, { ...fromStatus(final), waitingFor: undefined, ...ending(settled) });
}

/** What a completed run did, by its result's shape (connect, rotate, update access, disconnect, migrate). */
function doneWord(result: RunResult | undefined): string {
  if (!result) return 'Done';
  if ('migrated' in result) return `Migrated to the API-key model (key ${result.apiKeyId})`;
  if ('rotated' in result) return `Rotated (new key ${result.newKeyId}, old key ${result.oldKey})`;
  if ('nothingToDo' in result && 'removed' in result) return result.nothingToDo ? 'Nothing to do' : 'Disconnected';
  if ('updated' in result) return `Access updated (updated: ${result.updated})`;
  return 'Connected';
}

/** The human summary of a report (stdout), after the progress lines (stderr). */
export function summary(r: RunReport): string {
  const lines: string[] = [];
  switch (r.outcome) {
    case 'completed':
      lines.push(
        r.result && 'plan' in r.result
          ? `Dry run of ${r.workflowId} completed: ${r.result.plan.length} planned step(s), nothing changed.`
          : `${doneWord(r.result)}: ${r.workflowId} completed${r.result && 'durationMs' in r.result ? ` in ${Math.round(r.result.durationMs / 1000)} s` : ''}.`,
      );
      break;
    case 'waiting':
      lines.push(`Still waiting: ${r.workflowId} waits for ${r.waitingFor?.who} at step ${r.waitingFor?.step}.`);
      break;
    case 'running':
      lines.push(`Still running: ${r.workflowId} is in phase ${r.phase ?? 'unknown'}.`);
      break;
    default: {
      // The run's message ends with what it undid or kept; the cleanup line below says that once.
      const message = (r.error?.message ?? '')
        .split('\n')
        .filter((l) => !/^(Rolled back|Left in place|Could NOT roll back)\b/.test(l))
        .join('\n');
      lines.push(r.outcome === 'rejected' ? `Rejected: ${message}` : `Failed (${r.error?.type}): ${message}`);
      if (r.cleanup?.mode === 'rollback') {
        const failed = (r.cleanup.outcomes ?? []).filter((o) => o.outcome === 'failed');
        const undone = r.cleanup.items.filter((i) => !failed.some((f) => f.item === i));
        lines.push(
          undone.length || failed.length
            ? `Rolled back: ${undone.join('; ') || 'nothing'}.`
            : 'Rolled back: this run had created nothing.',
        );
        if (failed.length) {
          lines.push(`Could NOT roll back (remove by hand): ${failed.map((f) => `${f.item} (${f.why})`).join('; ')}.`);
        }
      } else if (r.cleanup?.mode === 'keep') {
        lines.push(`Kept in place (onFailure "keep"): ${r.cleanup.items.join('; ')}.`);
      } else if (r.cleanup) {
        lines.push('Nothing had been changed.');
      }
    }
  }
  lines.push(`Temporal UI: ${r.uiUrl}`);
  return `${lines.join('\n')}\n`;
}

/** `ech-remote status <workflow-id>`. */
export async function status(workflowId: string, opts: { json?: boolean }): Promise<never> {
  const client = await cliClient();
  // A fleet reports its connections, not steps of its own.
  const d = await describe(client.workflow.getHandle(workflowId));
  if (d.type === FLEET_WORKFLOW_TYPE) {
    return load<typeof import('./fleet')>('./fleet').fleetStatus(client, workflowId, d.runId, !!opts.json);
  }
  const report = await reportRun(client, workflowId);
  // exitCode is this command's (0: reported); runExitCode is what `connect --wait` exits with for this run now.
  if (opts.json) {
    const { exitCode: runExitCode, ...rest } = report;
    const out: StatusReport = { ...rest, exitCode: EXIT.done, runExitCode };
    return exitWith(EXIT.done, printJson(out));
  }
  let text = `${report.workflowId} (run ${report.runId}): ${report.phase ?? report.outcome}\n`;
  new Progress(workflowId, report.uiUrl, (t) => (text += t)).update({
    phase: report.phase ?? 'validating',
    steps: report.steps ?? [],
    waitingFor: report.waitingFor,
    approvals: report.approvals ?? [],
  });
  return exitWith(EXIT.done, text + summary(report));
}
