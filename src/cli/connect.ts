/**
 * `ech-remote connect --request FILE [--wait] [--timeout D] [--approve --as NAME] [--new-run] [--json]`: validate
 * before anything is sent, start the connection under the id its deployment and alias give it (or attach to the run
 * already going, or report the run that already ended), optionally pre-approve, and follow it to its end or the timeout.
 */
import fs from 'node:fs';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { InvalidRequestError, connectStartOptions } from '../client';
import { DURATION_RE, durationToMs } from '../contract/duration';
import { approveSignal } from '../contract/handlers';
import { LIMITS, type ValidationProblem } from '../contract/request';
import { HUMAN_STEPS } from '../contract/steps';
import { cliClient } from './client';
import type { connectRemoteCluster } from '../workflows/connect';
import { EXIT, type ExitCode } from './exitCodes';
import { Progress, exitWith, printJson } from './output';
import { followRun, reportBase, reportRun, summary, type RunReport } from './status';

/** The options every run-starting command (connect, rotate, update-access, disconnect) shares. */
export interface RunCommandOptions {
  request: string;
  wait?: boolean;
  timeout?: string;
  approve?: boolean;
  as?: string;
  json?: boolean;
}

export interface ConnectOptions extends RunCommandOptions {
  newRun?: boolean;
}

/** The --json shape of `connect`: a RunReport once followed, and whether this call attached to a running run. */
export type ConnectReport = Omit<RunReport, 'outcome' | 'exitCode'> & {
  attached: boolean;
  outcome: RunReport['outcome'] | 'started';
  exitCode: ExitCode;
};

/** The request's name in the "Invalid …" line (connect's unless a day-2 command says otherwise). */
const CONNECT_REQUEST_NAME = 'ConnectRequest';

export function invalid(
  problems: ValidationProblem[],
  json: boolean,
  requestName = CONNECT_REQUEST_NAME,
): Promise<never> {
  if (json) return exitWith(EXIT.invalid, printJson({ outcome: 'invalid', exitCode: EXIT.invalid, problems }));
  process.stderr.write(
    `Invalid ${requestName} (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was sent:\n` +
      problems.map((p) => `- ${p.path}: ${p.message}\n`).join(''),
  );
  return exitWith(EXIT.invalid);
}

/**
 * The largest request file read at all. Up to it the file is parsed, so the size limit is reported at the field that
 * crosses it (validateConnectRequest stops there); beyond it the size alone is reported, without reading the file.
 */
const MAX_REQUEST_FILE_BYTES = 64 * LIMITS.requestChars;

export function readRequest(file: string): { input?: unknown; problems?: ValidationProblem[] } {
  let text: string;
  try {
    const { size } = fs.statSync(file);
    if (size > MAX_REQUEST_FILE_BYTES) {
      const message = `${file} is ${size} bytes: a ConnectRequest is at most ${LIMITS.requestChars} characters as JSON (${LIMITS.requestChars / 1024} KB)`;
      return { problems: [{ path: '$', message }] };
    }
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { problems: [{ path: '$', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}` }] };
  }
  try {
    return { input: JSON.parse(text) };
  } catch (err) {
    return { problems: [{ path: '$', message: `${file} is not JSON: ${(err as Error).message}` }] };
  }
}

type Started =
  | { handle: WorkflowHandle; runId: string; attached: boolean; ended?: undefined }
  | { handle: WorkflowHandle; runId: string; attached: true; ended: RunReport };

/**
 * The connection's latest run: attach to it while it runs; once it has ended, report how (a re-run of the same
 * pipeline step must not start the connection again) unless `newRun` asks for a fresh run. A start that loses the race
 * to another (conflict policy FAIL) attaches to the winner, so `attached` says what happened.
 */
async function startOrAttach(
  client: Client,
  options: ReturnType<typeof connectStartOptions>,
  newRun: boolean,
): Promise<Started> {
  const latest = async () => {
    try {
      return await client.workflow.getHandle(options.workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
  const attach = async (d: WorkflowExecutionDescription): Promise<Started> => {
    const handle = client.workflow.getHandle(options.workflowId, d.runId);
    if (d.status.name === 'RUNNING') return { handle, runId: d.runId, attached: true };
    return { handle, runId: d.runId, attached: true, ended: await reportRun(client, options.workflowId, d.runId) };
  };
  const found = await latest();
  if (found && (found.status.name === 'RUNNING' || !newRun)) return attach(found);
  try {
    const handle = await client.workflow.start<typeof connectRemoteCluster>('connectRemoteCluster', {
      ...options,
      workflowIdConflictPolicy: 'FAIL',
      // A closed run is reused only when asked for by name (--new-run).
      workflowIdReusePolicy: newRun ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
    });
    return { handle, runId: handle.firstExecutionRunId, attached: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const winner = await latest();
    if (!winner) throw err;
    return attach(winner);
  }
}

export async function connect(opts: ConnectOptions): Promise<never> {
  const json = !!opts.json;
  const { input, usage } = readRunOptions(opts);
  if (usage.length) return invalid(usage, json);

  let options: ReturnType<typeof connectStartOptions>;
  try {
    options = connectStartOptions(input as Parameters<typeof connectStartOptions>[0]);
  } catch (err) {
    if (err instanceof InvalidRequestError) return invalid(err.problems, json);
    throw err;
  }

  const client = await cliClient();
  const { handle, runId, attached, ended } = await startOrAttach(client, options, !!opts.newRun);
  const base = reportBase(client, handle.workflowId, runId);
  if (ended) {
    // The connection's run has ended: say how, with its exit code; --new-run starts another.
    if (!json) {
      process.stderr.write(
        `${base.workflowId} already ran (run ${runId}) and has ended; reporting that run ` +
          `(ech-remote connect --new-run starts another).\n`,
      );
    }
    const out: ConnectReport = { ...ended, attached: true };
    return exitWith(out.exitCode, json ? printJson(out) : summary(ended));
  }
  return followStartedRun(client, { handle, runId, attached }, opts, 'connect');
}

/** The request file, and every usage problem of the shared options (named by option) and of reading the file. */
export function readRunOptions(opts: RunCommandOptions): { input: unknown; usage: ValidationProblem[] } {
  const usage: ValidationProblem[] = [];
  if (opts.timeout !== undefined && !DURATION_RE.test(opts.timeout)) {
    usage.push({ path: '--timeout', message: 'must be a duration such as "30m", "2h" or "45s"' });
  }
  if (opts.approve && !opts.as?.trim())
    usage.push({ path: '--as', message: '--approve needs --as NAME (the approver)' });
  const { input, problems } = readRequest(opts.request);
  if (problems) usage.push(...problems);
  return { input, usage };
}

/**
 * After a run was started or attached to: say so, approve in advance when asked, then either report it started or
 * follow it to its end (or --timeout) and exit with its code.
 */
export async function followStartedRun(
  client: Client,
  started: { handle: WorkflowHandle; runId: string; attached: boolean },
  opts: RunCommandOptions,
  command: string,
): Promise<never> {
  const { handle, runId, attached } = started;
  const json = !!opts.json;
  const base = reportBase(client, handle.workflowId, runId);
  if (!json)
    process.stderr.write(`${attached ? 'Attached to the running' : 'Started'} ${base.workflowId} (run ${runId})\n`);

  if (opts.approve) {
    // Recorded by the run at once and used when it reaches the approval (a run ignores a second approval).
    await handle.signal(approveSignal, {
      step: HUMAN_STEPS.approveLocalChanges,
      approver: (opts.as as string).trim(),
      comment: `approved in advance with ech-remote ${command} --approve`,
    });
  }

  if (!opts.wait && opts.timeout === undefined) {
    const report: ConnectReport = { ...base, attached, outcome: 'started', exitCode: EXIT.done };
    return exitWith(EXIT.done, json ? printJson(report) : `${attached ? 'Attached' : 'Started'}: ${base.uiUrl}\n`);
  }

  const progress = json ? undefined : new Progress(base.workflowId, base.uiUrl);
  const report = await followRun(client, handle, runId, {
    timeoutMs: opts.timeout === undefined ? undefined : durationToMs(opts.timeout),
    onStatus: (s) => progress?.update(s),
  });
  const out: ConnectReport = { ...report, attached };
  return exitWith(out.exitCode, json ? printJson(out) : summary(report));
}
