/**
 * `ech-remote audit --request FILE [--json]`: run auditRemoteClusters once and print one row per connection; exit 0
 * when every connection is healthy (or degraded), 3 when anything is broken, drifted, expiring or orphaned (or a
 * deployment could not be audited). `ech-remote schedule audit --request FILE --every D`: create or update the
 * Temporal Schedule that runs the same audit (one schedule per request's deployments; overlap policy skip).
 */
import { createHash } from 'node:crypto';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, WorkflowFailedError } from '@temporalio/client';
import { AUDIT_FAILING, validateAuditRequest, type AuditRequest, type AuditResult } from '../contract/audit';
import { DURATION_RE, durationToMs } from '../contract/duration';
import type { ValidationProblem } from '../contract/request';
import { taskQueue } from '../temporal/connection';
import { cliClient } from './client';
import { invalid, readRequest } from './connect';
import { CliError, EXIT } from './exitCodes';
import { exitWith, printJson, textTable, workflowUiUrl } from './output';

export const AUDIT_WORKFLOW_TYPE = 'auditRemoteClusters';
const REQUEST_NAME = 'AuditRequest';

/** The same id for the same set of deployments, whatever their order: one schedule per audited estate. */
export function auditScheduleId(r: AuditRequest): string {
  const ids = r.deployments.map((d) => d.local.deploymentId).sort();
  return `audit-${createHash('sha256').update(ids.join(',')).digest('hex').slice(0, 16)}`;
}

function readAudit(file: string, json: boolean, extra: ValidationProblem[] = []) {
  const { input, problems } = readRequest(file);
  const usage = [...extra, ...(problems ?? [])];
  if (usage.length) return { invalid: invalid(usage, json, REQUEST_NAME) };
  const v = validateAuditRequest(input);
  if (!v.ok) return { invalid: invalid(v.problems, json, REQUEST_NAME) };
  return { input, request: v.request };
}

/** The table `ech-remote audit` prints: one line per connection, its problems indented below it. */
export function auditTable(result: AuditResult): string {
  const { header, lines } = textTable(
    ['DEPLOYMENT', 'ALIAS', 'STATUS', 'MODEL', 'OURS'],
    result.rows.map((r) => [r.deploymentId, r.alias, r.status, r.securityModel, r.ours ? 'yes' : 'no']),
  );
  const out = [header];
  result.rows.forEach((r, i) => {
    out.push(lines[i] as string);
    for (const p of r.problems) out.push(`    - ${p}`);
  });
  for (const e of result.errors) out.push(`${e.deploymentId}: not audited: ${e.error}`);
  const counts = Object.entries(result.counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  out.push('', `${result.rows.length} connection(s): ${counts || 'none'}${result.healthy ? '' : ' — needs attention'}`);
  return `${out.join('\n')}\n`;
}

export async function audit(opts: { request: string; json?: boolean }): Promise<never> {
  const json = !!opts.json;
  const read = readAudit(opts.request, json);
  if (read.invalid) return read.invalid;
  const client = await cliClient();
  const workflowId = `${auditScheduleId(read.request)}-${Date.now()}`;
  const handle = await client.workflow.start(AUDIT_WORKFLOW_TYPE, {
    workflowId,
    taskQueue: taskQueue(),
    args: [read.input],
    staticSummary: `Audit the remote clusters of ${read.request.deployments.length} deployment(s)`,
  });
  if (!json) process.stderr.write(`Started ${workflowId}\n`);
  let result: AuditResult;
  try {
    result = (await handle.result()) as AuditResult;
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? (err.cause ?? err) : err;
    throw new CliError(
      `the audit failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      EXIT.error,
      'AuditFailed',
    );
  }
  const exitCode =
    result.errors.length > 0 || result.rows.some((r) => AUDIT_FAILING.includes(r.status)) ? EXIT.failed : EXIT.done;
  const uiUrl = workflowUiUrl(client.options.namespace, workflowId, handle.firstExecutionRunId);
  return exitWith(
    exitCode,
    json ? printJson({ workflowId, uiUrl, exitCode, ...result }) : `${auditTable(result)}Temporal UI: ${uiUrl}\n`,
  );
}

export async function scheduleAudit(opts: { request: string; every: string; json?: boolean }): Promise<never> {
  const json = !!opts.json;
  const usage: ValidationProblem[] = [];
  if (!DURATION_RE.test(opts.every) || durationToMs(opts.every) < 60_000) {
    usage.push({ path: '--every', message: 'must be a duration of at least 1m such as "24h", "6h" or "30m"' });
  }
  const read = readAudit(opts.request, json, usage);
  if (read.invalid) return read.invalid;
  const client = await cliClient();
  const scheduleId = auditScheduleId(read.request);
  const spec = { intervals: [{ every: durationToMs(opts.every) }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: AUDIT_WORKFLOW_TYPE,
    // The schedule appends the time of each run to this id.
    workflowId: scheduleId,
    taskQueue: taskQueue(),
    args: [read.input],
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP };
  let created = true;
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    created = false;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action, policies }));
  }
  const report = { scheduleId, created, every: opts.every, overlap: 'skip', exitCode: EXIT.done };
  return exitWith(
    EXIT.done,
    json
      ? printJson(report)
      : `${created ? 'Created' : 'Updated'} schedule ${scheduleId}: audit every ${opts.every} (overlap: skip)\n`,
  );
}
