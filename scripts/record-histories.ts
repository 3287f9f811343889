/**
 * `npm run record-histories`: one representative run of each kind against the sandbox and a real Temporal dev server,
 * each history saved as JSON under test/replay/histories/<name>.json for the replay test (test/replay/replay.test.ts).
 * Re-record after a change to the workflow that is meant to change its histories (and only then: the replay test is
 * what tells that a change breaks the runs in flight).
 *
 * It runs inside the test environment (scripts/run-tests.ts: dev server, prebuilt workflow bundle, sandbox root), as
 * `tsx scripts/run-tests.ts scripts/record-histories.ts`; payloads are encrypted with the committed recording key
 * (test/replay/recording.ts says why), not the run's throwaway key, so the replay can decode them.
 *
 *   path-a-remote-credentials  path A, the tool creates the key, approved, completed
 *   path-a-by-hand             path A, the key handed over by signal, approved, completed
 *   path-b-by-hand             path B (private CA: trust entry and plan), key by signal, completed
 *   path-c                     path C (TLS certificate), step remote-trust applied and confirmed, completed
 *   rejected                   path A, rejected at the approval: the key is invalidated
 *   rolled-back                path B, the connect step fails for good: everything undone
 *   path-b-unattended          path B, the tool creates the key, no approval: the key and the keystore entry made
 *                              while the trust entry's plan runs (patch parallel-steps), completed
 *   path-b-fewer-hops          the same, from patch fewer-hops on: the ECH cluster inspected beside the deployment
 *                              read, the roles and users made while the remote cluster is registered, completed
 *   migrate                    migrateRemoteClusterToApiKey of a path C connection: the remote cluster server enabled
 *                              by hand, approved, completed (recorded by d8d2a66, before connect and migrate shared
 *                              one keystore step)
 *   fleet                      connectRemoteClusters: the sandbox's fleet of three path B connections, one approval,
 *                              completed
 *   coordinator-back-to-back   a deployment's plan-turn coordinator granting six turns given back at once, its
 *                              history past maxHistoryEvents: recorded before patch coordinator-can-between-grants
 *                              (it granted them all, then continued as new)
 *
 * RECORD_ONLY=<name>[,<name>…] records only those (a history recorded by older code stays as it was: it is what
 * proves that runs started before a change still replay).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../src/activities';
import { deploymentCoordinatorId, type PlanTurnRequest } from '../src/workflows/deploymentPlans';
import type { FleetPhase } from '../src/contract/fleet';
import type { ConnectStatus } from '../src/contract/status';
import { Estate } from '../test/helpers/estate';
import { askPlanTurn, planTurnsOf, startRequester } from '../test/helpers/planTurns';
import { approve, connectRequest, failureOf, handOverKeyByHand, waitForStep, type Req } from '../test/helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../test/helpers/temporal';
import { drive, proofRequest } from '../test/proof/harness';
import { historyToJson } from '../test/replay/historyJson';
import { HISTORIES_DIR, recordingDataConverter } from '../test/replay/recording';

let estate: Estate;
let client: Client;
let worker: RunningWorker;

before(async () => {
  estate = await Estate.start('api-key-public');
  const dataConverter = recordingDataConverter();
  client = await testClient({ dataConverter });
  worker = await startWorker({ activities: createActivities(), dataConverter });
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
});

const only = process.env.RECORD_ONLY?.split(',');
/** One recording: skipped (not recorded, its history kept) when RECORD_ONLY names others. */
function record(name: string, fn: () => Promise<void>): void {
  it(name, { skip: only !== undefined && !only.includes(name) }, fn);
}

async function start(name: string, req: Req): Promise<WorkflowHandle> {
  return client.workflow.start('connectRemoteCluster', {
    taskQueue: worker.taskQueue,
    workflowId: `replay-${name}`,
    args: [req],
  });
}

async function save(name: string, handle: WorkflowHandle, phase: ConnectStatus['phase'] | FleetPhase): Promise<void> {
  assert.equal((await handle.query<{ phase: string }>('status')).phase, phase);
  const history = await handle.fetchHistory();
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), `${historyToJson(history)}\n`);
  console.log(`# recorded ${name}: ${history.events?.length} events`);
}

record('path-a-remote-credentials', async () => {
  await estate.scenario('api-key-public');
  const handle = await start('path-a-remote-credentials', connectRequest(estate, 'api-key-public'));
  await approve(handle);
  await handle.result();
  await save('path-a-remote-credentials', handle, 'completed');
});

for (const [name, scenario] of [
  ['path-a-by-hand', 'api-key-public'],
  ['path-b-by-hand', 'api-key-private'],
] as const) {
  record(name, async () => {
    await estate.scenario(scenario);
    const handle = await start(name, connectRequest(estate, scenario, {}, false));
    await handOverKeyByHand(estate, handle);
    await approve(handle);
    await handle.result();
    await save(name, handle, 'completed');
  });
}

record('path-c', async () => {
  await estate.scenario('tls-certificate');
  const handle = await start('path-c', proofRequest(estate, 'C'));
  const status = await drive(estate, handle);
  assert.equal(status?.phase, 'completed', status?.error?.message);
  await save('path-c', handle, 'completed');
});

record('rejected', async () => {
  await estate.scenario('api-key-public');
  const handle = await start('rejected', connectRequest(estate, 'api-key-public'));
  await waitForStep(handle, 'approve-local-changes');
  await handle.signal('reject', { step: 'approve-local-changes', approver: 'lead@example.com', reason: 'not now' });
  assert.equal((await failureOf(handle)).type, 'Rejected');
  await save('rejected', handle, 'rejected');
});

record('rolled-back', async () => {
  await estate.scenario('api-key-private');
  await estate.faults([
    { target: 'ech', method: 'PUT', path: '^/_cluster/settings$', statusRates: { '400': 1 }, times: 1 },
  ]);
  const handle = await start('rolled-back', connectRequest(estate, 'api-key-private'));
  await approve(handle);
  await failureOf(handle);
  await estate.control('DELETE', '/faults');
  await save('rolled-back', handle, 'failed');
});

/** Path B with nothing to wait for (the worker makes the key, no approval), run to completion. */
async function unattended(name: string): Promise<WorkflowHandle> {
  await estate.scenario('api-key-private');
  const handle = await start(name, {
    ...connectRequest(estate, 'api-key-private'),
    approvals: { beforeLocalChanges: false, timeout: '1h' },
  });
  await handle.result();
  return handle;
}

record('path-b-unattended', async () => {
  await save('path-b-unattended', await unattended('path-b-unattended'), 'completed');
});

record('path-b-fewer-hops', async () => {
  const handle = await unattended('path-b-fewer-hops');
  const events = (await handle.fetchHistory()).events ?? [];
  assert.ok(
    events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'inspectEchCluster'),
    'the run took the fewer-hops steps',
  );
  await save('path-b-fewer-hops', handle, 'completed');
});

record('migrate', async () => {
  await estate.scenario('tls-certificate');
  const connection = await start('migrate-connection', proofRequest(estate, 'C'));
  assert.equal((await drive(estate, connection))?.phase, 'completed');
  const handle = await client.workflow.start('migrateRemoteClusterToApiKey', {
    taskQueue: worker.taskQueue,
    workflowId: 'replay-migrate',
    args: [
      { ...estate.info.requests.migrate, verify: { searchIndex: 'logs-*', timeout: '20s' }, humanStepTimeout: '2m' },
    ],
  });
  // The scenario's remote cluster server is off: the self-managed admin enables it with the settings the run gives.
  const waiting = await waitForStep(handle, 'remote-cluster-server', 60_000);
  const settings = waiting.waitingFor!.artifacts!.settings!;
  assert.equal((await estate.control('POST', '/self-managed/apply', { settings, restart: true })).restarted, true);
  await handle.signal('confirmRemoteStep', { step: 'remote-cluster-server', by: 'admin@corp.example' });
  await approve(handle);
  await handle.result();
  await save('migrate', handle, 'completed');
});

record('fleet', async () => {
  await estate.scenario('api-key-private');
  const handle = await client.workflow.start('connectRemoteClusters', {
    taskQueue: worker.taskQueue,
    // The id the replay gives it (the file's name): the fleet derives its children's ids from its own.
    workflowId: 'fleet',
    args: [estate.info.requests.fleet],
  });
  await approve(handle);
  await handle.result();
  await save('fleet', handle, 'completed');
});

record('coordinator-back-to-back', async () => {
  const deploymentId = `replay-coordinator-${Date.now()}`;
  const tq = worker.taskQueue;
  const requesters = await Promise.all(Array.from({ length: 6 }, () => startRequester(client, tq)));
  const requests: PlanTurnRequest[] = [];
  for (const h of requesters) {
    requests.push(await askPlanTurn(client, tq, deploymentId, h, { maxHistoryEvents: 20, idleMs: 500 }));
  }
  const coordinator = client.workflow.getHandle(deploymentCoordinatorId(deploymentId, tq));
  const firstRun = (await coordinator.describe()).runId;
  for (const r of requests) {
    for (let i = 0; (await planTurnsOf(client, tq, deploymentId)).holders[0]?.requestId !== r.requestId; i++) {
      assert.ok(i < 400, `${r.requestId} never held its turn`);
      await new Promise((ok) => setTimeout(ok, 50));
    }
    await coordinator.signal('releasePlanTurn', { requestId: r.requestId, ok: true });
  }
  await coordinator.result();
  const history = await client.workflow.getHandle(coordinator.workflowId, firstRun).fetchHistory();
  fs.writeFileSync(path.join(HISTORIES_DIR, 'coordinator-back-to-back.json'), `${historyToJson(history)}\n`);
  console.log(`# recorded coordinator-back-to-back: ${history.events?.length} events`);
  await Promise.all(requesters.map((h) => h.terminate('recorded')));
});
