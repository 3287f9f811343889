/**
 * `ech-remote worker` in a child process, as operators run it (the built CLI, ECH_REMOTE_TEST_CLI), so a test can
 * SIGKILL it in the middle of an activity and start another on the same task queue: the crash the proof tests
 * (test/proof) recover from.
 *
 *   const w = await startWorkerProcess(taskQueue);   // resolves once the worker polls
 *   await w.kill();                                  // SIGKILL, resolves when the process is gone
 *   const w2 = await startWorkerProcess(taskQueue);  // a fresh worker picks the run up
 *
 * A killed worker's activity attempt stays "started" on the server until its start-to-close timeout (minutes) runs
 * out; expireStartedActivities() shortens that timeout for the attempts in flight (UpdateActivityOptions, what an
 * operator would do), waits until the server has timed them out, and restores the workflow's own options, so a test
 * does not wait minutes of wall-clock time for what production would wait anyway.
 */
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { spawnCli, type CliRun } from './cli';

export interface WorkerProcess {
  taskQueue: string;
  pid: number;
  run: CliRun;
  /** Everything the worker wrote to stderr (one JSON object per line). */
  output(): string;
  /** SIGKILL: no graceful shutdown, no activity completion, nothing flushed. Resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful shutdown), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const STARTED = 'ech-remote worker started';

/** Starts `ech-remote worker` on `taskQueue`; the environment is this process's (secrets included) plus `env`. */
export async function startWorkerProcess(
  taskQueue: string,
  env: NodeJS.ProcessEnv = {},
  readyTimeoutMs = 30_000,
): Promise<WorkerProcess> {
  const run = spawnCli(['worker'], { ECH_REMOTE_TASK_QUEUE: taskQueue, ECH_REMOTE_LOG_LEVEL: 'info', ...env });
  const deadline = Date.now() + readyTimeoutMs;
  while (!run.output().stderr.includes(STARTED)) {
    assert.ok(run.child.exitCode === null, `worker exited (${run.child.exitCode}):\n${run.output().stderr}`);
    assert.ok(Date.now() < deadline, `worker not started in ${readyTimeoutMs} ms:\n${run.output().stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const gone = () =>
    run.child.exitCode !== null || run.child.signalCode !== null ? Promise.resolve() : run.done.then(() => undefined);
  return {
    taskQueue,
    pid: run.child.pid as number,
    run,
    output: () => run.output().stderr,
    async kill() {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      await gone();
    },
    async stop(graceMs = 10_000) {
      if (run.child.exitCode !== null || run.child.signalCode !== null) return;
      run.child.kill('SIGTERM');
      const timer = setTimeout(() => run.child.kill('SIGKILL'), graceMs);
      await gone();
      clearTimeout(timer);
    },
  };
}

const { PendingActivityState } = temporal.api.enums.v1;

/** The run's activities whose attempt is running (started by a worker, not yet completed). */
export async function startedActivities(
  client: Client,
  workflowId: string,
): Promise<{ activityId: string; type: string; attempt: number }[]> {
  const d = await client.workflowService.describeWorkflowExecution({
    namespace: client.options.namespace,
    execution: { workflowId },
  });
  return (d.pendingActivities ?? [])
    .filter((a) => a.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)
    .map((a) => ({ activityId: a.activityId ?? '', type: a.activityType?.name ?? '', attempt: a.attempt ?? 0 }));
}

/**
 * After a worker was killed: every activity attempt of the run still "started" on the server is timed out now (its
 * start-to-close timeout shortened to 1 s), then its options are restored to what the workflow scheduled, so the
 * retry (on the next worker) runs with the workflow's own timeouts. Returns the activity types that were expired.
 */
export async function expireStartedActivities(client: Client, workflowId: string, timeoutMs = 30_000) {
  const started = await startedActivities(client, workflowId);
  const svc = client.workflowService;
  const namespace = client.options.namespace;
  for (const a of started) {
    await svc.updateActivityOptions({
      namespace,
      execution: { workflowId },
      id: a.activityId,
      activityOptions: { startToCloseTimeout: msToTs(1000) },
      updateMask: { paths: ['start_to_close_timeout'] },
      identity: 'proof-test',
    });
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const still = await startedActivities(client, workflowId);
    if (!still.some((s) => started.some((a) => a.activityId === s.activityId && a.attempt === s.attempt))) break;
    assert.ok(Date.now() < deadline, `attempts still started after ${timeoutMs} ms: ${JSON.stringify(still)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const a of started) {
    await svc.updateActivityOptions({
      namespace,
      execution: { workflowId },
      id: a.activityId,
      restoreOriginal: true,
      identity: 'proof-test',
    });
  }
  return started.map((a) => a.type);
}
