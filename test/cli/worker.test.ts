/**
 * `ech-remote worker` as operators run it: a long-running process with Prometheus metrics at
 * ECH_REMOTE_METRICS_ADDRESS and one JSON object per log line on stderr, carrying workflow and activity ids.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { connectStartOptions } from '../../src/client';
import type { DryRunResult } from '../../src/contract/status';
import { Estate } from '../helpers/estate';
import { freePort, spawnCli, type CliRun } from '../helpers/cli';
import { testClient } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: CliRun;
let metrics: string;
const taskQueue = `worker-${randomUUID()}`;

before(async () => {
  estate = await Estate.start('api-key-public'); // the worker's secrets come from this process's environment
  client = await testClient();
  metrics = `127.0.0.1:${await freePort()}`;
  worker = spawnCli(['worker'], {
    ECH_REMOTE_TASK_QUEUE: taskQueue,
    ECH_REMOTE_METRICS_ADDRESS: metrics,
    ECH_REMOTE_LOG_LEVEL: 'debug',
  });
  const deadline = Date.now() + 30_000;
  while (!worker.output().stderr.includes('ech-remote worker started')) {
    assert.ok(
      worker.child.exitCode === null && Date.now() < deadline,
      `worker did not start:\n${worker.output().stderr}`,
    );
    await new Promise((r) => setTimeout(r, 200));
  }
});
after(async () => {
  worker?.child.kill('SIGKILL');
  await client?.connection.close();
  await estate?.stop();
});

it(
  'serves Temporal worker metrics, logs JSON lines with workflow and activity ids, and stops on SIGTERM',
  { timeout: 60_000 },
  async () => {
    const request = { ...structuredClone(estate.info.requests['api-key-public']), alias: 'ops-metrics', dryRun: true };
    const handle = await client.workflow.start('connectRemoteCluster', { ...connectStartOptions(request), taskQueue });
    const result = (await Promise.race([
      handle.result(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no result in 30 s; worker stderr:\n${worker.output().stderr}`)), 30_000),
      ),
    ])) as DryRunResult;
    assert.ok(result.plan.length > 0);
    assert.equal(worker.child.exitCode, null, 'the worker keeps running');

    const res = await fetch(`http://${metrics}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^# TYPE temporal_\w+ /m, 'Prometheus text format');
    assert.match(text, new RegExp(`^temporal_workflow_completed\\{[^}]*task_queue="${taskQueue}"[^}]*\\} 1$`, 'm'));
    assert.match(
      text,
      new RegExp(`^temporal_activity_execution_latency_count\\{[^}]*activity_type="describeDeployment"`, 'm'),
    );

    // Forwarded logs arrive within ~100 ms of being emitted.
    await new Promise((r) => setTimeout(r, 500));
    const lines = worker
      .output()
      .stderr.split('\n')
      .filter((l) => l.trim());
    const entries = lines.map((l) => {
      const e = JSON.parse(l); // every line is one JSON object
      assert.ok(e.time && e.level && typeof e.message === 'string', l);
      return e;
    });
    assert.ok(
      entries.some(
        (e) => e.workflowId === handle.workflowId && e.runId === handle.firstExecutionRunId && e.workflowType,
      ),
      'a workflow log line with its workflow and run ids',
    );
    assert.ok(
      entries.some(
        (e) =>
          e.workflowId === handle.workflowId && e.activityType === 'describeDeployment' && e.activityId && e.taskQueue,
      ),
      'an activity log line with its ids',
    );
    const password = estate.info.ech.password;
    assert.ok(!lines.some((l) => l.includes(password)), 'no secret in the logs');

    worker.child.kill('SIGTERM');
    const { code } = await worker.done;
    assert.equal(code, 0, 'a graceful shutdown');
  },
);
