/**
 * What `ech-remote worker` writes while a run goes through it, as an operator's log collector receives it (stderr is
 * a pipe): one JSON object per line, no task token, no secret, every attempt a number, and a run that fails its
 * preflight (a basic license on the self-managed cluster) told in ONE line with its finding code, without a stack.
 * Then a worker with ECH_REMOTE_LOG_FORMAT=pretty, bundling the workflow sources itself (no prebuilt bundle), writes
 * human lines and none of webpack's statistics.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { connectStartOptions } from '../../src/client';
import { Estate } from '../helpers/estate';
import { testClient } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';

let estate: Estate;
let client: Client;
const workers: WorkerProcess[] = [];

before(async () => {
  estate = await Estate.start('basic-license');
  client = await testClient();
});

after(async () => {
  for (const w of workers) await w.kill();
  await client?.connection.close();
  await estate?.stop();
});

/** Runs a request that fails its preflight on `worker`; returns the workflow id once the worker logged the failure. */
async function failPreflight(worker: WorkerProcess, alias: string): Promise<string> {
  const request = { ...structuredClone(estate.info.requests['api-key-public']), alias };
  const handle = await client.workflow.start('connectRemoteCluster', {
    ...connectStartOptions(request),
    workflowId: `logs-${alias}-${randomUUID()}`,
    taskQueue: worker.taskQueue,
  });
  const err = await handle.result().catch((e: unknown) => e);
  assert.ok(err instanceof WorkflowFailedError, String(err));
  // Workflow logs reach the worker's logger shortly after they are emitted.
  const deadline = Date.now() + 15_000;
  while (!worker.output().includes('Workflow failed')) {
    assert.ok(Date.now() < deadline, `no "Workflow failed" line:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return handle.workflowId;
}

function secrets(): string[] {
  const env = estate.info.env as Record<string, string>;
  return [
    env.EC_API_KEY,
    env.ECH_ES_CREDENTIALS,
    env.ONPREM_ES_CREDENTIALS,
    env.CROSS_SEARCH_USER_PASSWORD,
    estate.info.ech.password,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
}

it('JSON lines on a pipe: no task token, no secret, attempts as numbers, a preflight failure in one line', async () => {
  const worker = await startWorkerProcess(`logs-json-${randomUUID()}`);
  workers.push(worker);
  const workflowId = await failPreflight(worker, 'logs-json');
  const text = worker.output();
  const lines = text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean);
  const entries = lines.map((l) => {
    const e = JSON.parse(l); // every line is one JSON object
    assert.ok(e.time && e.level && typeof e.message === 'string', l);
    return e;
  });

  assert.doesNotMatch(text, /taskToken/i, 'no task token');
  for (const s of secrets()) assert.ok(!text.includes(s), `a secret in the log:\n${text}`);

  const activityLines = entries.filter((e) => e.workflowId === workflowId && e.activityType);
  assert.ok(activityLines.length > 0, `no activity line of the run:\n${text}`);
  for (const e of activityLines) assert.equal(typeof e.attempt, 'number', JSON.stringify(e));

  const failed = entries.filter((e) => e.workflowId === workflowId && /^Workflow failed/.test(e.message));
  assert.equal(failed.length, 1, `one line for the failure:\n${text}`);
  const [failure] = failed;
  assert.match(failure.message, /Preflight found 1 problem\(s\); nothing was changed\. \[license-remote\]$/);
  assert.deepEqual(failure.failure.codes, ['license-remote']);
  assert.equal(failure.error, undefined, 'an expected failure has no stack');
  assert.doesNotMatch(JSON.stringify(failure), /\s+at \S+ \(/, 'no stack frame');
});

it('ECH_REMOTE_LOG_FORMAT=pretty: human lines, no bundler statistics, the preflight failure one line', async () => {
  // No prebuilt bundle: the worker bundles the sources at start, which is where webpack's statistics came from.
  const worker = await startWorkerProcess(
    `logs-pretty-${randomUUID()}`,
    { ECH_REMOTE_LOG_FORMAT: 'pretty', ECH_REMOTE_WORKFLOW_BUNDLE: '' },
    90_000,
  );
  workers.push(worker);
  const workflowId = await failPreflight(worker, 'logs-pretty');
  const lines = worker.output().split('\n').filter(Boolean);
  assert.ok(
    lines.every((l) => !l.startsWith('{')),
    worker.output(),
  );
  assert.ok(
    lines.some((l) => /\] INFO: .* \[inspectCluster#1 /.test(l)),
    `an activity line with its attempt:\n${worker.output()}`,
  );
  const failed = lines.filter((l) => l.includes('Workflow failed'));
  assert.equal(failed.length, 1, worker.output());
  assert.match(failed[0]!, new RegExp(`WARN: Workflow failed: .*\\[license-remote\\] {2}\\[${workflowId}\\]$`));
});
