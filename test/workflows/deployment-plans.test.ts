/**
 * Many runs on one ECH deployment (issue 13). A deployment runs one plan at a time and refuses a second change while
 * one is pending (the sandbox answers 422 deployments.deployment_resource_plan_change_error, as the Cloud API answers a
 * restart: test/sandbox/cloud.test.ts), so the runs that change one deployment take turns from its coordinator
 * (src/workflows/deploymentPlans.ts), and trust entries that wait at the same time share one plan.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandleWithFirstExecutionRunId as WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { ConnectResult } from '../../src/contract/status';
import {
  deploymentCoordinatorId,
  type CoordinatorInput,
  type PlanTurnRequest,
  type PlanTurnsView,
} from '../../src/workflows/deploymentPlans';
import { Estate } from '../helpers/estate';
import { askPlanTurn, planTurnsOf, startRequester } from '../helpers/planTurns';
import { connectRequest } from '../helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;
let seq = 0;

before(async () => {
  estate = await Estate.start('api-key-private');
  client = await testClient();
  worker = await startWorker({ activities: createActivities() });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
});

interface PlanHistory {
  kind: string;
  outcome: string;
}

const requester = (): Promise<WorkflowHandle> => startRequester(client, worker.taskQueue);
const viewOf = (deploymentId: string): Promise<PlanTurnsView> => planTurnsOf(client, worker.taskQueue, deploymentId);

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Path B with nothing to wait for: the worker makes the key, no approval. */
function unattended(alias: string): Promise<WorkflowHandle> {
  return client.workflow.start('connectRemoteCluster', {
    taskQueue: worker.taskQueue,
    workflowId: `unattended-${alias}-${Date.now()}-${++seq}`,
    args: [
      connectRequest(estate, 'api-key-private', {
        alias,
        approvals: { beforeLocalChanges: false, timeout: '1h' },
        verify: { searchIndex: 'logs-*', timeout: '60s' },
      }),
    ],
  });
}

describe('many connects to one deployment', () => {
  it('10 concurrent path B connects all complete, their trust entries combined into fewer plans', async () => {
    const N = 10;
    await estate.scenario('api-key-private');
    // Long enough that the runs meet while a plan is pending.
    await estate.control('POST', '/plans', { pendingMs: 1_000 });
    const plansBefore = ((await estate.control('GET', '/state')).cloud.plans.history as PlanHistory[]).length;
    const aliases = Array.from({ length: N }, (_, i) => `many-${i}`);
    const handles = await Promise.all(aliases.map((alias) => unattended(alias)));
    const settled = await Promise.allSettled(handles.map((h) => h.result() as Promise<ConnectResult>));
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [`${aliases[i]}: ${String(s.reason)}`] : []));
    assert.deepEqual(failed, [], 'every run completed');
    for (const [i, s] of settled.entries()) {
      const result = (s as PromiseFulfilledResult<ConnectResult>).value;
      assert.equal(result.connected, true);
      assert.equal(result.created.trustEntry, `ech-remote-clusters/${aliases[i]}`);
    }
    const view = await estate.view();
    assert.deepEqual(view.trustDirect, aliases.map((a) => `ech-remote-clusters/${a}`).sort());
    const remoteInfo = (await estate.es('ech', 'GET', '/_remote/info')).body;
    for (const alias of aliases) assert.equal(remoteInfo[alias]?.connected, true, `${alias} is connected`);
    const plans = ((await estate.control('GET', '/state')).cloud.plans.history as PlanHistory[]).slice(plansBefore);
    assert.ok(
      plans.every((p) => p.outcome === 'success'),
      `no plan failed or was cancelled: ${JSON.stringify(plans)}`,
    );
    const updates = plans.filter((p) => p.kind === 'update').length;
    assert.ok(updates >= 1 && updates < N, `${N} trust entries took ${updates} plans (combined)`);
    await estate.control('POST', '/plans', { pendingMs: 150 });
  });
});

describe("the trust entry's turn asked for during the preflight (path B, nothing to wait for)", () => {
  const scheduled = async (h: WorkflowHandle) =>
    ((await h.fetchHistory()).events ?? []).flatMap((e, i) => {
      const a = e.activityTaskScheduledEventAttributes;
      const s = e.signalExternalWorkflowExecutionInitiatedEventAttributes;
      if (a) return [{ i, name: a.activityType?.name ?? '', task: String(a.workflowTaskCompletedEventId) }];
      if (s) return [{ i, name: `signal ${s.signalName}`, task: String(s.workflowTaskCompletedEventId) }];
      return [];
    });

  /** Past the worker's quiet window after the previous test's requests, so that the early request goes out. */
  const pastQuietWindow = () => new Promise((r) => setTimeout(r, 1_100));
  const untilFree = (dep: string, ms?: number) =>
    until(
      'nobody holds or waits',
      async () => {
        const x = await viewOf(dep);
        return x.holders.length + x.queue.length === 0 ? true : undefined;
      },
      ms,
    );
  /**
   * A fresh estate, a run started while the self-managed cluster's license read takes 4 s (the early grant comes long
   * before the preflight ends), once it holds its early turn.
   */
  async function holdingEarlyTurnWithSlowPreflight(alias: string): Promise<{ h: WorkflowHandle; dep: string }> {
    await estate.scenario('api-key-private');
    const dep = estate.info.cloud.deploymentId;
    await pastQuietWindow();
    await estate.faults([{ target: 'self-managed', method: 'GET', path: '^/_license$', latencyMs: 4_000, times: 1 }]);
    const h = await unattended(alias);
    await until('the run holds its early turn', async () =>
      (await viewOf(dep)).holders.some((x) => x.workflowId === h.workflowId) ? true : undefined,
    );
    return { h, dep };
  }

  it('the deployment free: granted while the preflight reads, the trust change takes no other turn', async () => {
    await estate.scenario('api-key-private');
    const h = await unattended('early-free');
    assert.equal(((await h.result()) as ConnectResult).connected, true);
    const calls = await scheduled(h);
    const asks = calls.filter((c) => c.name === 'requestPlanTurn');
    assert.equal(asks.length, 1, 'one turn asked for');
    assert.equal(
      asks[0]!.task,
      calls.find((c) => c.name === 'describeDeployment')?.task,
      'asked for with the preflight reads',
    );
    const releases = calls.filter((c) => c.name === 'signal releasePlanTurn');
    assert.equal(releases.length, 1, 'given back once, after the plan');
    assert.ok(
      releases[0]!.i > calls.find((c) => c.name === 'waitForPlan')!.i,
      'not given back before the plan was waited for',
    );
  });

  it('the deployment held by another run: the early request is not queued; the trust step asks carrying the entry', async () => {
    await estate.scenario('api-key-private');
    const dep = estate.info.cloud.deploymentId;
    const holder = await requester();
    const held = await askPlanTurn(client, worker.taskQueue, dep, holder);
    await until('the other run holds the turn', async () =>
      (await viewOf(dep)).holders[0]?.requestId === held.requestId ? true : undefined,
    );
    const h = await unattended('early-busy');
    const mine = await until('the run waits for its trust turn', async () => {
      const m = (await viewOf(dep)).queue.filter((q) => q.workflowId === h.workflowId);
      return m.length ? m : undefined;
    });
    assert.equal(mine.length, 1, 'one request of the run waits (the early one was not queued)');
    assert.deepEqual(
      (await viewOf(dep)).holders.map((x) => x.requestId),
      [held.requestId],
      'the other run still holds the turn alone',
    );
    await client.workflow
      .getHandle(deploymentCoordinatorId(dep, worker.taskQueue))
      .signal('releasePlanTurn', { requestId: held.requestId, ok: true });
    assert.equal(((await h.result()) as ConnectResult).connected, true);
    const calls = await scheduled(h);
    assert.equal(calls.filter((c) => c.name === 'requestPlanTurn').length, 1, 'asked early once');
    await untilFree(dep);
    await holder.terminate('test done');
  });

  it('granted early, then the preflight fails: the turn is given back at once, nothing changed', async () => {
    await estate.scenario('api-key-private');
    const dep = estate.info.cloud.deploymentId;
    const before = await estate.view();
    // The ECH cluster's license read fails for good, after the early grant had time to come.
    await estate.faults([
      { target: 'ech', method: 'GET', path: '^/_license$', latencyMs: 600, statusRates: { '400': 1 }, times: 1 },
    ]);
    await pastQuietWindow();
    const h = await unattended('early-preflight-fails');
    await assert.rejects(h.result());
    await estate.control('DELETE', '/faults');
    const events = (await h.fetchHistory()).events ?? [];
    assert.ok(
      events.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'planTurnGranted'),
      'the early turn was granted before the preflight failed',
    );
    assert.ok(
      (await scheduled(h)).some((c) => c.name === 'signal releasePlanTurn'),
      'the early turn was given back by the run itself (not left to the liveness check)',
    );
    await untilFree(dep, 3_000);
    assert.deepEqual(await estate.view(), before, 'a failed preflight changes nothing');
  });

  it('granted early, then the run is cancelled during its preflight: the turn is free again at once', async () => {
    const { h, dep } = await holdingEarlyTurnWithSlowPreflight('early-cancelled');
    await h.cancel();
    await assert.rejects(h.result());
    await untilFree(dep, 3_000);
    await estate.control('DELETE', '/faults');
  });

  it('granted early but the preflight is slow: the turn is given back after a second, not held for the reads', async () => {
    const { h, dep } = await holdingEarlyTurnWithSlowPreflight('early-slow');
    await until(
      'given back while the preflight still reads',
      async () => ((await viewOf(dep)).holders.length === 0 ? true : undefined),
      2_500,
    );
    assert.equal((await h.describe()).status.name, 'RUNNING', 'still in its preflight');
    assert.equal(((await h.result()) as ConnectResult).connected, true);
    await estate.control('DELETE', '/faults');
    const calls = await scheduled(h);
    const withdrawn = calls.findIndex((c) => c.name === 'signal releasePlanTurn');
    assert.ok(
      withdrawn >= 0 && withdrawn < calls.findIndex((c) => c.name === 'ensureDirectTrust'),
      'the early turn was given back before the trust change asked again',
    );
  });
});

describe('the coordinator', () => {
  const ask = (deploymentId: string, h: WorkflowHandle, limits: CoordinatorInput['limits'], alias?: string) =>
    askPlanTurn(client, worker.taskQueue, deploymentId, h, limits, alias);

  it('one holder at a time; trust entries waiting together ride on one turn; a release hands them a shared turn', async () => {
    const dep = `dep-combine-${Date.now()}`;
    const [a, b, c, d] = await Promise.all([requester(), requester(), requester(), requester()]);
    const ra = await ask(dep, a!, undefined, 'a');
    await until('a holds', async () => ((await viewOf(dep)).holders.length === 1 ? true : undefined));
    const rb = await ask(dep, b!, undefined, 'b');
    const rc = await ask(dep, c!, undefined, 'c');
    const rd = await ask(dep, d!, undefined); // a restart: not combinable
    let v = await viewOf(dep);
    assert.deepEqual(
      v.holders.map((h) => h.requestId),
      [ra.requestId],
      'the others wait while a holds the turn',
    );
    assert.equal(v.queue.length, 3);
    // a gives the turn back: b gets it, carrying c's entry (one plan for both); the restart waits.
    await client.workflow.getHandle(deploymentCoordinatorId(dep, worker.taskQueue)).signal('releasePlanTurn', {
      requestId: ra.requestId,
      ok: true,
    });
    v = await until('b holds', async () => {
      const x = await viewOf(dep);
      return x.holders[0]?.requestId === rb.requestId ? x : undefined;
    });
    assert.equal(v.holders.length, 1);
    assert.equal(v.holders[0]!.carries, 1, "b's turn carries c's entry");
    assert.deepEqual(
      v.queue.map((q) => [q.requestId, q.ridingOn]),
      [
        [rc.requestId, rb.requestId],
        [rd.requestId, undefined],
      ],
    );
    await client.workflow.getHandle(deploymentCoordinatorId(dep, worker.taskQueue)).signal('releasePlanTurn', {
      requestId: rb.requestId,
      ok: true,
    });
    // c's entry was applied by b's plan: c gets a (shared) turn before the restart.
    v = await until('c holds', async () => {
      const x = await viewOf(dep);
      return x.holders[0]?.requestId === rc.requestId ? x : undefined;
    });
    assert.deepEqual(
      v.queue.map((q) => q.requestId),
      [rd.requestId],
    );
    await Promise.all([a, b, c, d].map((h) => h!.terminate('test done')));
  });

  it('a holder that ends without giving the turn back loses it; the next one gets it', async () => {
    const dep = `dep-dead-${Date.now()}`;
    const limits = { livenessCheckMs: 300 };
    const [a, b] = await Promise.all([requester(), requester()]);
    const ra = await ask(dep, a!, limits);
    await until('a holds', async () => ((await viewOf(dep)).holders[0]?.requestId === ra.requestId ? true : undefined));
    const rb = await ask(dep, b!, limits);
    await a!.terminate('the requester dies holding the turn');
    await until('b holds after a died', async () =>
      (await viewOf(dep)).holders[0]?.requestId === rb.requestId ? true : undefined,
    );
    // A queued requester that has ended is skipped when its turn comes.
    const [c, e] = await Promise.all([requester(), requester()]);
    const rc = await ask(dep, c!, limits);
    const re = await ask(dep, e!, limits);
    await c!.terminate('ends while waiting');
    await client.workflow
      .getHandle(deploymentCoordinatorId(dep, worker.taskQueue))
      .signal('releasePlanTurn', { requestId: rb.requestId, ok: true });
    await until('e holds (c skipped)', async () =>
      (await viewOf(dep)).holders[0]?.requestId === re.requestId ? true : undefined,
    );
    assert.ok(!(await viewOf(dep)).queue.some((q) => q.requestId === rc.requestId));
    await Promise.all([b, e].map((h) => h!.terminate('test done')));
  });

  it('survives continue-as-new with its queue and holders', async () => {
    const dep = `dep-can-${Date.now()}`;
    // Low enough that it continues as new while requests still wait, however the server batches the signals
    // (a turn adds about six events: the release, a workflow task, the grant and its delivery).
    const limits = { maxHistoryEvents: 20 };
    const hs = await Promise.all(Array.from({ length: 8 }, () => requester()));
    const requests: PlanTurnRequest[] = [];
    for (const h of hs) requests.push(await ask(dep, h, limits)); // serialised (no trust entries)
    const coordinator = client.workflow.getHandle(deploymentCoordinatorId(dep, worker.taskQueue));
    const firstRun = (await coordinator.describe()).runId;
    // Each turn given back and granted again grows the history; it continues as new on the way.
    let runWhileQueued = firstRun;
    for (const r of requests) {
      await until(`${r.requestId} holds`, async () =>
        (await viewOf(dep)).holders[0]?.requestId === r.requestId ? true : undefined,
      );
      if (r === requests.at(-1)) runWhileQueued = (await coordinator.describe()).runId;
      await coordinator.signal('releasePlanTurn', { requestId: r.requestId, ok: true });
    }
    await until('all done', async () => {
      const v = await viewOf(dep);
      return v.holders.length === 0 && v.queue.length === 0 ? v : undefined;
    });
    assert.notEqual(runWhileQueued, firstRun, 'the coordinator continued as new while requests were queued');
    // Each run of the chain stopped soon after its history was full, not after all the turns queued at the time: at
    // the first workflow task that saw it full, or the next one when that task came while a grant was on its way (a
    // turn is six or seven events: a release, a workflow task, the grant and its delivery; runs of 24–33 events seen
    // with a limit of 20). The code before the patch ran all eight turns in one run of 61–64 events.
    const lengths: number[] = [];
    const runLengths = async (runId: string): Promise<void> => {
      const events = (await client.workflow.getHandle(coordinator.workflowId, runId).fetchHistory()).events ?? [];
      const next = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (!next) return;
      lengths.push(events.length);
      await runLengths(next);
    };
    await runLengths(firstRun);
    assert.ok(
      lengths.length >= 1 && lengths.every((n) => n <= limits.maxHistoryEvents + 25),
      `runs of ${lengths} events`,
    );
    assert.equal((await viewOf(dep)).turnsGranted, requests.length, 'no turn lost or granted twice across runs');
    await Promise.all(hs.map((h) => h.terminate('test done')));
  });
});
