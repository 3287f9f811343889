/**
 * One run per connection. Two starts for the same deployment and alias under different workflow ids (two people in
 * the Temporal UI, or the UI and CI) cannot both change it: the second fails at once with ConnectionBusy naming the run
 * that holds it, and changes nothing. A connect for an alias that is already connected — even a `--new-run` of the
 * same workflow id — leaves the live connection, its key and its entries alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { ConnectResult, ConnectStatus } from '../../src/contract/status';
import { Estate } from '../helpers/estate';
import {
  approve,
  assertRunUserSearchesRemote,
  connectRequest,
  failureOf,
  waitForStep,
  type Req,
} from '../helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;
let seq = 0;

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

async function start(req: Req, workflowId = `exclusive-${Date.now()}-${++seq}`): Promise<WorkflowHandle> {
  return client.workflow.start('connectRemoteCluster', { taskQueue: worker.taskQueue, workflowId, args: [req] });
}

describe('one run per connection', () => {
  const req = () => connectRequest(estate, 'api-key-public');
  let first: WorkflowHandle;

  it('a second run on the same alias fails ConnectionBusy naming the first, and changes nothing', async () => {
    first = await start(req());
    await waitForStep(first, 'approve-local-changes');
    const before = await estate.view();
    const second = await start(req());
    const failure = await failureOf(second);
    assert.equal(failure.type, 'ConnectionBusy', failure.message);
    assert.match(failure.message, new RegExp(`connectRemoteCluster ${first.workflowId} \\(run `));
    assert.match(failure.message, /Nothing was changed/);
    const status = await second.query<ConnectStatus>('status');
    assert.equal(status.phase, 'failed');
    assert.equal(status.error?.type, 'ConnectionBusy');
    assert.deepEqual(await estate.view(), before);
  });

  it('a dry run is read-only and takes no lease: it runs while the first holds the connection', async () => {
    const dry = await start({ ...req(), dryRun: true });
    const result = (await dry.result()) as { plan: unknown[] };
    assert.ok(result.plan.length > 0);
  });

  it('the first run completes undisturbed, with exactly one of each object', async () => {
    await approve(first);
    const result = (await first.result()) as ConnectResult;
    assert.equal(result.connected, true);
    const view = await estate.view();
    assert.equal(view.activeCrossClusterKeys.length, 1);
    assert.deepEqual(view.keystore, ['cluster.remote.onprem-logs.credentials']);
  });

  it('a new run of the same workflow id on the connected alias leaves the live connection alone', async () => {
    const before = await estate.view();
    const again = await start(req(), first.workflowId); // what `ech-remote connect --new-run` does
    const failure = await failureOf(again);
    assert.equal(failure.type, 'AliasInUse', failure.message);
    assert.match(failure.message, /earlier run of this workflow.*left as it is/);
    assert.deepEqual(await estate.view(), before, 'the live key, keystore entry and settings are untouched');
    await assertRunUserSearchesRemote(estate, 'onprem-logs');
  });

  it('the lease ends with its run: a later run gets it (and is stopped by the preflight, not by the lease)', async () => {
    const later = await start(req());
    const failure = await failureOf(later);
    assert.equal(failure.type, 'AliasInUse', failure.message);
  });
});
