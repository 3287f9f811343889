/**
 * `ech-remote fleet --request FILE [--wait] [--json] [--approve --as NAME]`: validate every connection before anything
 * is sent, start connectRemoteClusters under the id the request's connections give it (or attach to the one going),
 * optionally approve in advance (the batch, or every deployment of the request), and follow it to its report.
 * Exit codes: 0 every connection connected or already connected (or, without --wait, started), 2 invalid request,
 * 3 any connection failed, timed out or was cancelled, 5 every connection rejected.
 */
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import {
  connectionKey,
  validateFleetRequest,
  type FleetConnection,
  type FleetRequest,
  type FleetResult,
  type FleetStatus,
} from '../contract/fleet';
import { HUMAN_STEPS } from '../contract/steps';
import { taskQueue } from '../temporal/connection';
import { cliClient } from './client';
import { invalid, readRunOptions } from './connect';
import { CliError, EXIT, type ExitCode } from './exitCodes';
import { exitWith, printJson, textTable, workflowUiUrl } from './output';
import { queryStatus } from './status';

export const FLEET_WORKFLOW_TYPE = 'connectRemoteClusters';
const REQUEST_NAME = 'FleetRequest';
const POLL_MS = 1000;

export interface FleetOptions {
  request: string;
  wait?: boolean;
  approve?: boolean;
  as?: string;
  json?: boolean;
}

/** The same id for the same set of connections, whatever their order: a second start attaches to the first. */
export function fleetWorkflowId(r: FleetRequest): string {
  const keys = r.connections.map(connectionKey).sort();
  return `fleet-${createHash('sha256').update(keys.join(',')).digest('hex').slice(0, 16)}`;
}

/** The whole validated request, hashed: a running fleet is attached to only by the same request. */
export function fleetRequestHash(r: FleetRequest): string {
  return createHash('sha256').update(JSON.stringify(r)).digest('hex');
}

/** The fleet's exit code from its report: all good 0, all rejected 5, anything else 3. */
export function fleetExitCode(result: Pick<FleetResult, 'ok' | 'connections'>): ExitCode {
  if (result.ok) return EXIT.done;
  if (result.connections.every((c) => c.state === 'rejected')) return EXIT.rejected;
  return EXIT.failed;
}

/** What a running child waits for, from its own status query (the fleet itself only knows it runs). */
export interface ChildWait {
  step: string;
  who: string;
  since: string;
}

/** One line per connection, its reason (or what its run waits for) indented below it. */
export function fleetTable(connections: FleetConnection[], waits: Map<string, ChildWait> = new Map()): string {
  const { header, lines } = textTable(
    ['DEPLOYMENT', 'ALIAS', 'STATE', 'RUN'],
    connections.map((c) => [c.deploymentId, c.alias, c.state, c.workflowId]),
  );
  const out = [header];
  connections.forEach((c, i) => {
    out.push(lines[i] as string);
    const w = waits.get(c.workflowId);
    const why = w
      ? `waiting for ${w.who} at step ${w.step} since ${w.since} (ech-remote status ${c.workflowId})`
      : c.reason;
    if (why && c.state !== 'connected') out.push(...why.split('\n').map((l) => `    ${l}`));
  });
  return `${out.join('\n')}\n`;
}

function countsLine(s: Pick<FleetStatus, 'counts' | 'connections'>): string {
  const parts = Object.entries(s.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  return `${s.connections.length} connection(s): ${parts.join(', ') || 'none'}`;
}

/** What each running child waits for (a person, and which step), from its own status query. */
async function childWaits(client: Client, connections: FleetConnection[]): Promise<Map<string, ChildWait>> {
  const out = new Map<string, ChildWait>();
  await Promise.all(
    connections
      .filter((c) => c.state === 'running')
      .map(async (c) => {
        const s = await queryStatus(client, client.workflow.getHandle(c.workflowId));
        // Absent: not started yet, or ended since: the next look tells.
        if (s?.waitingFor)
          out.set(c.workflowId, { step: s.waitingFor.step, who: s.waitingFor.who, since: s.waitingFor.since });
      }),
  );
  return out;
}

/**
 * `ech-remote status <fleet id>`: the fleet's own status, each running connection with what its run waits for (the
 * fleet only knows it runs), one line per connection. Exit 0 (reported).
 */
export async function fleetStatus(client: Client, workflowId: string, runId: string, json: boolean): Promise<never> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const uiUrl = workflowUiUrl(client.options.namespace, workflowId, runId);
  const s = await handle.query<FleetStatus>('status');
  const waits = await childWaits(client, s.connections);
  if (json) {
    const connections = s.connections.map((c) => {
      const w = waits.get(c.workflowId);
      return w ? { ...c, waitingFor: w } : c;
    });
    return exitWith(EXIT.done, printJson({ workflowId, runId, uiUrl, exitCode: EXIT.done, ...s, connections }));
  }
  const approval = s.waitingFor
    ? `\nWaiting for the ECH org (approve-local-changes):\n${s.waitingFor.instructions}\n\n`
    : '';
  return exitWith(
    EXIT.done,
    `${workflowId} (run ${runId}): ${s.phase}\n${approval}${fleetTable(s.connections, waits)}\n${countsLine(s)}\nTemporal UI: ${uiUrl}\n`,
  );
}

async function startOrAttach(
  client: Client,
  r: FleetRequest,
  input: unknown,
): Promise<{ handle: WorkflowHandle; runId: string; attached: boolean }> {
  const workflowId = fleetWorkflowId(r);
  const requestHash = fleetRequestHash(r);
  // Attach only to a fleet of this very request: an approval given here must never reach another request's changes.
  const attach = async (): Promise<{ handle: WorkflowHandle; runId: string; attached: true }> => {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.memo?.requestHash !== requestHash) {
      throw new CliError(
        `${workflowId} is running with the same connections but a different request: not attaching (nor approving) → ` +
          `follow it with ech-remote status ${workflowId}, or cancel it, then run this request`,
        EXIT.error,
        'FleetRequestDiffers',
      );
    }
    return { handle: client.workflow.getHandle(workflowId, d.runId), runId: d.runId, attached: true };
  };
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name === 'RUNNING') return await attach();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  const deployments = new Set(r.connections.map((c) => c.local.deploymentId)).size;
  try {
    // An ended fleet is run again: the new run completes only what is missing (the rest is already-connected).
    const handle = await client.workflow.start(FLEET_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: taskQueue(),
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      memo: { requestHash },
      staticSummary: `Connect ${r.connections.length} remote cluster connection(s) on ${deployments} ECH deployment(s)`,
    });
    return { handle, runId: handle.firstExecutionRunId, attached: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return attach();
  }
}

export async function fleet(opts: FleetOptions): Promise<never> {
  const json = !!opts.json;
  const { input, usage } = readRunOptions(opts);
  if (usage.length) return invalid(usage, json, REQUEST_NAME);
  const v = validateFleetRequest(input);
  if (!v.ok) return invalid(v.problems, json, REQUEST_NAME);
  const r = v.request;

  const client = await cliClient();
  const { handle, runId, attached } = await startOrAttach(client, r, input);
  const workflowId = handle.workflowId;
  const uiUrl = workflowUiUrl(client.options.namespace, workflowId, runId);
  if (!json) process.stderr.write(`${attached ? 'Attached to the running' : 'Started'} ${workflowId} (run ${runId})\n`);

  if (opts.approve) {
    // Recorded by the fleet at once and used when it reaches the approval: the batch, or each deployment.
    const approver = (opts.as as string).trim();
    const comment = 'approved in advance with ech-remote fleet --approve';
    const step = HUMAN_STEPS.approveLocalChanges;
    if (r.approval === 'batch') await handle.signal('approve', { step, approver, comment });
    else {
      for (const deploymentId of new Set(r.connections.map((c) => c.local.deploymentId))) {
        await handle.signal('approve', { step, approver, comment, deploymentId });
      }
    }
  }

  if (!opts.wait) {
    const report = { workflowId, runId, uiUrl, attached, outcome: 'started', exitCode: EXIT.done };
    return exitWith(EXIT.done, json ? printJson(report) : `${attached ? 'Attached' : 'Started'}: ${uiUrl}\n`);
  }

  // Follow: the counts as they change, the approval awaited (once), what running children wait for.
  let last = '';
  let shownApproval = false;
  let settled: { result?: FleetResult; failure?: unknown } | undefined;
  const done = handle.result().then(
    (res) => (settled = { result: res as FleetResult }),
    (err: unknown) => (settled = { failure: err }),
  );
  while (!settled) {
    try {
      const s = await handle.query<FleetStatus>('status');
      if (!json) {
        const waits = await childWaits(client, s.connections);
        const line = `[${s.phase}] ${countsLine(s)}${waits.size ? `; ${waits.size} waiting for a person (${[...waits.values()].map((w) => `${w.who} at ${w.step}`).join(', ')})` : ''}`;
        if (line !== last) process.stderr.write(`${line}\n`);
        last = line;
        if (s.waitingFor && !shownApproval) {
          shownApproval = true;
          process.stderr.write(
            `\nWaiting for the ECH org to approve (step approve-local-changes):\n${s.waitingFor.instructions}\n\n` +
              `Approve: ech-remote approve ${workflowId} --step approve-local-changes --as NAME\n\n`,
          );
        }
      }
    } catch {
      // The query may race the run's end; the result decides.
    }
    await Promise.race([done, new Promise((res) => setTimeout(res, POLL_MS))]);
  }
  const { result, failure } = settled;
  if (!result) {
    const cause = failure instanceof WorkflowFailedError ? (failure.cause ?? failure) : failure;
    throw new CliError(
      `the fleet failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      EXIT.failed,
      'FleetFailed',
    );
  }
  const exitCode = fleetExitCode(result);
  if (json) return exitWith(exitCode, printJson({ workflowId, runId, uiUrl, attached, exitCode, ...result }));
  return exitWith(exitCode, `${fleetTable(result.connections)}\n${countsLine(result)}\nTemporal UI: ${uiUrl}\n`);
}
