/**
 * `ech-remote connect --request FILE [--wait] [--timeout D] [--approve --as NAME] [--json]`: validate before anything
 * is sent, start the connection under the id its deployment and alias give it (or attach to the run already going),
 * optionally pre-approve, and follow it to its end or the timeout.
 */
import fs from 'node:fs';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { InvalidRequestError, connectStartOptions } from '../client';
import { DURATION_RE, durationToMs } from '../contract/duration';
import { approveSignal } from '../contract/messages';
import type { ValidationProblem } from '../contract/request';
import { HUMAN_STEPS } from '../contract/steps';
import { connectClient } from '../temporal/connection';
import type { connectRemoteCluster } from '../workflows/connect';
import { EXIT, type ExitCode } from './exitCodes';
import { Progress, exitWith, printJson, runCommand } from './output';
import { followRun, reportBase, summary, type RunReport } from './status';

interface ConnectOptions {
  request: string;
  wait?: boolean;
  timeout?: string;
  approve?: boolean;
  as?: string;
  json?: boolean;
}

/** The --json shape of `connect`: a RunReport once followed, and whether this call attached to a running run. */
export type ConnectReport = Omit<RunReport, 'outcome' | 'exitCode'> & {
  attached: boolean;
  outcome: RunReport['outcome'] | 'started';
  exitCode: ExitCode;
};

function invalid(problems: ValidationProblem[], json: boolean): Promise<never> {
  if (json) return exitWith(EXIT.invalid, printJson({ outcome: 'invalid', exitCode: EXIT.invalid, problems }));
  process.stderr.write(
    `Invalid ConnectRequest (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was sent:\n` +
      problems.map((p) => `- ${p.path}: ${p.message}\n`).join(''),
  );
  return exitWith(EXIT.invalid);
}

function readRequest(file: string): { input?: unknown; problems?: ValidationProblem[] } {
  let text: string;
  try {
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

/** Attach to the running run of this connection, else start one (USE_EXISTING closes the race of two starts). */
async function startOrAttach(client: Client, options: ReturnType<typeof connectStartOptions>) {
  const existing = client.workflow.getHandle(options.workflowId);
  try {
    const d = await existing.describe();
    if (d.status.name === 'RUNNING') return { handle: existing, runId: d.runId, attached: true };
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  const handle = await client.workflow.start<typeof connectRemoteCluster>('connectRemoteCluster', {
    ...options,
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return { handle, runId: handle.firstExecutionRunId, attached: false };
}

async function connect(opts: ConnectOptions): Promise<never> {
  const json = !!opts.json;
  const usage: ValidationProblem[] = [];
  if (opts.timeout !== undefined && !DURATION_RE.test(opts.timeout)) {
    usage.push({ path: '--timeout', message: 'must be a duration such as "30m", "2h" or "45s"' });
  }
  if (opts.approve && !opts.as?.trim())
    usage.push({ path: '--as', message: '--approve needs --as NAME (the approver)' });
  const { input, problems } = readRequest(opts.request);
  if (problems) usage.push(...problems);
  if (usage.length) return invalid(usage, json);

  let options: ReturnType<typeof connectStartOptions>;
  try {
    options = connectStartOptions(input as Parameters<typeof connectStartOptions>[0]);
  } catch (err) {
    if (err instanceof InvalidRequestError) return invalid(err.problems, json);
    throw err;
  }

  const client = await connectClient();
  const { handle, runId, attached } = await startOrAttach(client, options);
  const base = reportBase(client, handle.workflowId, runId);
  if (!json)
    process.stderr.write(`${attached ? 'Attached to the running' : 'Started'} ${base.workflowId} (run ${runId})\n`);

  if (opts.approve) {
    // Recorded by the run at once and used when it reaches the approval (a run ignores a second approval).
    await handle.signal(approveSignal, {
      step: HUMAN_STEPS.approveLocalChanges,
      approver: (opts.as as string).trim(),
      comment: 'approved in advance with ech-remote connect --approve',
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

export function registerConnect(program: Command): void {
  program
    .command('connect')
    .description(
      'Start (or attach to) the connection a ConnectRequest describes; validated before anything is sent. ' +
        'Exit codes: 0 done/started, 2 invalid request, 3 failed, 4 still waiting at --timeout, 5 rejected',
    )
    .requiredOption('--request <file>', 'the ConnectRequest (JSON)')
    .option('--wait', 'follow the run to its end, printing each step and what a person must do next')
    .option('--timeout <duration>', 'with --wait (implied): stop waiting after this long ("30m", "2h"); exit 4')
    .option('--approve', 'approve the ECH changes in advance (needs --as)')
    .option('--as <name>', 'the approver recorded with --approve')
    .option('--json', 'print one JSON object on stdout (progress is not printed)')
    .action((opts: ConnectOptions) => runCommand(!!opts.json, () => connect(opts)));
}
