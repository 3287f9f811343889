/**
 * Crash of the worker during a rotation's grace period: the worker process is SIGKILLed while the run waits on its
 * durable timer (new key in the keystore, old key still valid); a fresh worker on the same task queue resumes the run,
 * which invalidates the old key only once the grace period is over and completes. Searches through the alias, issued
 * from another process all along, never fail: the connection does not depend on a worker being alive.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { ConnectResult, ConnectStatus, RotateResult } from '../../src/contract/status';
import { Estate } from '../helpers/estate';
import { approve, connectRequest } from '../helpers/runs';
import { failedSearches, startSearchLoop } from '../helpers/searchLoop';
import { testClient } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';

let estate: Estate;
let client: Client;
let worker: WorkerProcess | undefined;

before(async () => {
  estate = await Estate.start('api-key-private');
  client = await testClient();
});
after(async () => {
  await worker?.kill();
  await client?.connection.close();
  await estate?.stop();
});

async function apiKey(id: string): Promise<{ invalidated: boolean; invalidation?: number }> {
  const res = await estate.es('self-managed', 'GET', `/_security/api_key?id=${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.api_keys[0];
}

describe('rotateRemoteClusterKey: the worker is killed in the grace period', () => {
  it('a new worker resumes the run; the old key is invalidated after the grace period, searches never fail', async () => {
    const taskQueue = `rotate-crash-${Date.now()}`;
    worker = await startWorkerProcess(taskQueue);
    const c = connectRequest(estate, 'api-key-private');
    const connect = await client.workflow.start('connectRemoteCluster', {
      taskQueue,
      workflowId: `rotate-crash-connect-${Date.now()}`,
      args: [c],
    });
    await approve(connect);
    const oldKeyId = ((await connect.result()) as ConnectResult).created.apiKeyId as string;

    const { url, username, password } = estate.info.ech;
    const searching = await startSearchLoop(
      `${url}/${c.alias}:logs-*/_search?size=0`,
      `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
    );
    let searches;
    let result: RotateResult | undefined;
    let validUntil = NaN;
    try {
      const rotation = await client.workflow.start('rotateRemoteClusterKey', {
        taskQueue,
        workflowId: `rotate-crash-${Date.now()}`,
        args: [
          {
            alias: c.alias,
            local: c.local,
            remote: { elasticsearch: c.remote.elasticsearch },
            verify: { searchIndex: 'logs-*', timeout: '20s' },
            gracePeriod: '8s',
          },
        ],
      });
      await approve(rotation);
      // In the grace period: the keystore holds the new key, the old one is still valid.
      let status: ConnectStatus;
      const deadline = Date.now() + 60_000;
      for (;;) {
        status = await rotation.query<ConnectStatus>('status');
        if (status.phase === 'grace-period') break;
        assert.ok(!['completed', 'failed'].includes(status.phase), status.error?.message);
        assert.ok(Date.now() < deadline, `never in the grace period (phase ${status.phase})`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const grace = status.steps.find((s) => s.id === 'grace-period');
      validUntil = Date.parse(/valid until (\S+)/.exec(grace?.detail ?? '')?.[1] ?? '');
      assert.ok(Number.isFinite(validUntil), `the step says until when: ${grace?.detail}`);

      await worker.kill();
      assert.ok(Date.now() < validUntil, 'the worker was killed inside the grace period');
      assert.equal((await apiKey(oldKeyId)).invalidated, false, 'the old key is valid while no worker runs');
      await new Promise((r) => setTimeout(r, 1000));

      worker = await startWorkerProcess(taskQueue);
      result = (await rotation.result()) as RotateResult;
      const more = searching.count() + 3;
      while (searching.count() < more) await new Promise((r) => setTimeout(r, 50));
    } finally {
      searches = await searching.stop();
    }
    assert.ok(result);
    assert.equal(result.oldKeyId, oldKeyId);
    assert.equal(result.oldKey, 'invalidated');
    const old = await apiKey(oldKeyId);
    assert.equal(old.invalidated, true);
    assert.ok(
      (old.invalidation ?? 0) >= validUntil,
      `invalidated at ${new Date(old.invalidation ?? 0).toISOString()}, after the grace period (${new Date(validUntil).toISOString()})`,
    );
    assert.equal((await apiKey(result.newKeyId)).invalidated, false);
    assert.ok(searches.length > 0);
    assert.deepEqual(failedSearches(searches), [], `of ${searches.length} searches`);
  });
});
