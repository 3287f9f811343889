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
import { ADDRESS_IN_USE, spawnCli, startOnFreePorts, type CliRun } from '../helpers/cli';
import { testClient } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: CliRun;
let metrics: string;
const taskQueue = `worker-${randomUUID()}`;

before(async () => {
  estate = await Estate.start('api-key-public'); // the worker's secrets come from this process's environment
  client = await testClient();
  // Another port when something took ours before the worker bound it.
  worker = await startOnFreePorts(1, async ([port]) => {
    metrics = `127.0.0.1:${port}`;
    const run = spawnCli(['worker'], {
      ECH_REMOTE_TASK_QUEUE: taskQueue,
      ECH_REMOTE_METRICS_ADDRESS: metrics,
      ECH_REMOTE_LOG_LEVEL: 'debug',
    });
    const deadline = Date.now() + 30_000;
    while (!run.output().stderr.includes('ech-remote worker started')) {
      if (run.child.exitCode !== null && ADDRESS_IN_USE.test(run.output().stderr)) return 'address-in-use';
      assert.ok(run.child.exitCode === null && Date.now() < deadline, `worker did not start:\n${run.output().stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return run;
  });
});

/** Polls `check` until it returns a value (not undefined) or the deadline passes, then fails with `why()`. */
async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, why: () => string, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, why());
    await new Promise((r) => setTimeout(r, 100));
  }
}
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

    // Metrics are exported periodically: poll until the run's completion shows, within a deadline.
    const completed = new RegExp(`^temporal_workflow_completed\\{[^}]*task_queue="${taskQueue}"[^}]*\\} 1$`, 'm');
    let text = '';
    await eventually(
      async () => {
        const res = await fetch(`http://${metrics}/metrics`);
        assert.equal(res.status, 200);
        text = await res.text();
        return completed.test(text) || undefined;
      },
      () => `no completed workflow in the metrics:\n${text}`,
    );
    assert.match(text, /^# TYPE temporal_\w+ /m, 'Prometheus text format');
    assert.match(
      text,
      new RegExp(`^temporal_activity_execution_latency_count\\{[^}]*activity_type="describeDeployment"`, 'm'),
    );

    // Forwarded logs arrive shortly after being emitted: poll until the activity's line is there.
    const logEntries = () => {
      const stderr = worker.output().stderr;
      const lines = stderr
        .slice(0, stderr.lastIndexOf('\n') + 1) // complete lines only
        .split('\n')
        .filter((l) => l.trim());
      return {
        lines,
        entries: lines.map((l) => {
          const e = JSON.parse(l); // every line is one JSON object
          assert.ok(e.time && e.level && typeof e.message === 'string', l);
          return e;
        }),
      };
    };
    const workflowLine = (e: any) =>
      e.workflowId === handle.workflowId && e.runId === handle.firstExecutionRunId && e.workflowType;
    const activityLine = (e: any) =>
      e.workflowId === handle.workflowId && e.activityType === 'describeDeployment' && e.activityId && e.taskQueue;
    const { lines } = await eventually(
      () => {
        const got = logEntries();
        return got.entries.some(workflowLine) && got.entries.some(activityLine) ? got : undefined;
      },
      () =>
        `no workflow log line with its workflow and run ids and activity line with its ids:\n${worker.output().stderr}`,
    );
    const password = estate.info.ech.password;
    assert.ok(!lines.some((l) => l.includes(password)), 'no secret in the logs');

    worker.child.kill('SIGTERM');
    const { code } = await worker.done;
    assert.equal(code, 0, 'a graceful shutdown');
  },
);
