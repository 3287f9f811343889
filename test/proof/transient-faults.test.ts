/**
 * Proof for "transient is transient everywhere": with seeded 20% transient faults on every endpoint (HTTP 429 / 502 /
 * 503 / resets on the Cloud API and both clusters, resets at accept on the self-managed remote cluster server), every
 * run of connectRemoteCluster (path A, remote credentials, no approval) completes, and leaves exactly one of each
 * object. And a worker killed mid-activity costs the heartbeat timeout, not the start-to-close timeout.
 *
 * `npm test` runs N=3 (seeds differ per run); ECH_REMOTE_PROOF=long (`npm run proof`) runs N=10.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { ConnectResult } from '../../src/contract/status';
import type { FaultRule } from '../../src/sandbox/faults';
import { Estate } from '../helpers/estate';
import { connectRequest } from '../helpers/runs';
import { startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

const LONG = process.env.ECH_REMOTE_PROOF === 'long';
const RUNS = LONG ? 10 : 3;
const RATE = 0.2;

/** 20% per endpoint: HTTP statuses and resets, and resets of the remote cluster server's sockets. */
function transientFaults(): FaultRule[] {
  const http = { statusRates: { '429': 0.07, '502': 0.05, '503': 0.05 }, resetRate: 0.03 };
  return [
    { target: 'cloud', ...http },
    { target: 'ech', ...http },
    // HTTP paths only: `self-managed` also matches the frames after the remote cluster handshake.
    { target: 'self-managed', path: '^/(?!_remote_cluster$|_transport$)', ...http },
    { target: 'remote-cluster-server', resetRate: RATE },
  ];
}

let estate: Estate;
let client: Client;
let worker: RunningWorker;

before(async () => {
  estate = await Estate.start('api-key-public');
  client = await testClient();
  worker = await startWorker({ activities: createActivities() });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
});

function request(alias: string) {
  return connectRequest(estate, 'api-key-public', {
    alias,
    approvals: { beforeLocalChanges: false, timeout: '1h' },
    verify: { searchIndex: 'logs-*', timeout: '60s' },
  });
}

describe(`${RUNS} runs under ${RATE * 100}% transient faults on every endpoint`, () => {
  it('all complete, each leaving exactly one of each object', { timeout: RUNS * 5 * 60_000 }, async (t) => {
    const outcomes: { seed: number; ok: boolean; ms: number; error?: string; faults: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const seed = 1000 + i * 7919;
      await estate.scenario('api-key-public');
      await estate.faults(transientFaults(), seed);
      const req = request(`proof${i}`);
      const t0 = Date.now();
      let result: ConnectResult | undefined;
      let error: string | undefined;
      let handle: WorkflowHandle | undefined;
      try {
        handle = await client.workflow.start('connectRemoteCluster', {
          taskQueue: worker.taskQueue,
          workflowId: `proof-${seed}-${Date.now()}`,
          args: [req],
        });
        result = (await handle.result()) as ConnectResult;
      } catch (err) {
        error = String((err as { cause?: unknown }).cause ?? err);
      }
      const ms = Date.now() - t0;
      const history = (await estate.control('DELETE', '/faults')).history as { decision: string }[];
      const faults = history.filter((h) => h.decision !== 'pass').length;
      outcomes.push({ seed, ok: result?.connected === true, ms, faults, ...(error ? { error } : {}) });
      const slowest = handle ? await activityTimes(handle) : '';
      t.diagnostic(
        `run ${i + 1}/${RUNS} seed ${seed}: ${result ? 'completed' : 'FAILED'} in ${ms} ms, ${faults} faults; slowest: ${slowest}`,
      );
      if (!result) continue;
      // Exactly one of each object, read back without faults.
      const view = await estate.view();
      assert.deepEqual(view.keystore, [`cluster.remote.${req.alias}.credentials`], `seed ${seed}`);
      assert.deepEqual(view.activeCrossClusterKeys, [result.created.apiKeyId], `seed ${seed}`);
      assert.deepEqual(view.trustDirect, [], `seed ${seed}`);
      const aliases = new Set(
        Object.keys(view.echRemoteSettings)
          .map((k) => /^cluster\.remote\.([^.]+)\./.exec(k)?.[1])
          .filter(Boolean),
      );
      assert.deepEqual([...aliases], [req.alias], `seed ${seed}: ${JSON.stringify(view.echRemoteSettings)}`);
      assert.equal(result.evidence.searchHits, estate.info.seededIndex.documents);
      const info = (await estate.es('ech', 'GET', '/_remote/info')).body[req.alias];
      assert.equal(info?.connected, true);
    }
    const done = outcomes.filter((o) => o.ok);
    const ms = outcomes.map((o) => o.ms).sort((a, b) => a - b);
    t.diagnostic(
      `completed ${done.length}/${RUNS}; durations ms: min ${ms[0]}, median ${ms[Math.floor(ms.length / 2)]}, max ${ms[ms.length - 1]}`,
    );
    assert.deepEqual(
      outcomes.filter((o) => !o.ok).map((o) => `seed ${o.seed}: ${o.error}`),
      [],
      'every run completes',
    );
  });
});

describe('a worker killed mid-activity', () => {
  let worker: WorkerProcess | undefined;
  after(() => worker?.kill());

  it('costs the heartbeat timeout, not the start-to-close timeout', { timeout: 3 * 60_000 }, async (t) => {
    await estate.scenario('api-key-public');
    // The keystore write answers after 8 s: long enough to kill the worker while it waits.
    await estate.faults([{ target: 'cloud', method: 'PATCH', path: '/keystore$', latencyMs: 8000, times: 1 }], 1);
    const taskQueue = `proof-kill-${Date.now()}`;
    worker = await startWorkerProcess(taskQueue);
    const handle: WorkflowHandle = await client.workflow.start('connectRemoteCluster', {
      taskQueue,
      workflowId: `proof-kill-${Date.now()}`,
      args: [request('killed')],
    });
    await waitForActivity(handle, 'putRemoteClusterCredentials', 60_000);
    await worker.kill();
    const killedAt = Date.now();
    // No help from the test (no expiring of the attempt): the server notices by the missing heartbeats.
    const replacement = await startWorker({ activities: createActivities(), taskQueue });
    try {
      const result = (await handle.result()) as ConnectResult;
      const seconds = (Date.now() - killedAt) / 1000;
      t.diagnostic(`worker SIGKILLed inside putRemoteClusterCredentials: run completed ${seconds.toFixed(1)} s later`);
      assert.equal(result.connected, true);
      // heartbeatTimeout 20 s + backoff + the rest of the run; the start-to-close timeout alone would be 120 s.
      assert.ok(seconds < 60, `took ${seconds} s after the kill`);
      const attempts = await activityAttempts(handle, 'putRemoteClusterCredentials');
      assert.ok(attempts.includes(2), `the activity was retried on the new worker (attempts ${attempts.join(', ')})`);
    } finally {
      await replacement.stop();
    }
  });
});

async function waitForActivity(handle: WorkflowHandle, type: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await handle.describe();
    const pending = d.raw.pendingActivities ?? [];
    // state 2 = PENDING_ACTIVITY_STATE_STARTED: a worker is running it.
    if (pending.some((a) => a.activityType?.name === type && Number(a.state) === 2)) return;
    if (Date.now() > deadline) assert.fail(`${type} never started`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The three slowest activities of a run (scheduled → closed, with the attempt that closed it), from the history. */
async function activityTimes(handle: WorkflowHandle): Promise<string> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, { type: string; at: number }>();
  const attempts = new Map<string, number>();
  const rows: [string, number][] = [];
  const ms = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) =>
    Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '?', at: ms(e) });
    const st = e.activityTaskStartedEventAttributes;
    if (st) attempts.set(String(st.scheduledEventId), Number(st.attempt));
    const done =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (done) {
      const id = String(done.scheduledEventId);
      const from = scheduled.get(id);
      if (from) rows.push([`${from.type}#${attempts.get(id) ?? '?'}`, ms(e) - from.at]);
    }
  }
  rows.sort((a, b) => b[1] - a[1]);
  return rows
    .slice(0, 3)
    .map(([k, v]) => `${k} ${v} ms`)
    .join(', ');
}

/** The attempts of an activity type that started, from the history. */
async function activityAttempts(handle: WorkflowHandle, type: string): Promise<number[]> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, string>();
  const attempts: number[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
    const st = e.activityTaskStartedEventAttributes;
    if (st && scheduled.get(String(st.scheduledEventId)) === type) attempts.push(Number(st.attempt));
  }
  return attempts;
}
