/**
 * A rotation proves the new key on a temporary probe alias before it replaces the live alias's keystore entry (which
 * cannot be put back: ECH never returns a keystore value). A new key that does not work (here: invalidated by someone
 * while the run waited for its approval) fails the run with the live connection untouched: the same keystore entries
 * and settings, the old key still in use and searches through the alias never failing; the probe is gone and the new
 * key invalid. A working key passes the probe (two aliases to the same remote cluster, as Elasticsearch allows) and
 * the rotation completes with no probe left.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { ConnectResult, ConnectStatus, RotateResult } from '../../src/contract/status';
import { Estate } from '../helpers/estate';
import { approve, connectRequest, failureOf, waitForStep, type Req } from '../helpers/runs';
import { failedSearches, startSearchLoop } from '../helpers/searchLoop';
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

async function start(type: string, req: unknown): Promise<WorkflowHandle> {
  return client.workflow.start(type, {
    taskQueue: worker.taskQueue,
    workflowId: `${type}-probe-${Date.now()}-${++seq}`,
    args: [req],
  });
}

async function activeKeyIds(): Promise<string[]> {
  const keys = await estate.es('self-managed', 'GET', '/_security/api_key?active_only=true');
  return (keys.body.api_keys as { id: string; type: string }[])
    .filter((k) => k.type === 'cross_cluster')
    .map((k) => k.id)
    .sort();
}

async function noProbe(alias: string): Promise<void> {
  const probe = `${alias}-rotation-probe`;
  const view = await estate.view();
  assert.deepEqual(
    Object.keys(view.echRemoteSettings).filter((k) => k.includes(probe)),
    [],
    'no probe settings or record',
  );
  assert.ok(!view.keystore.some((k) => k.includes(probe)), 'no probe keystore entry');
  assert.equal((await estate.es('ech', 'GET', '/_remote/info')).body[probe], undefined);
}

describe('rotateRemoteClusterKey verifies the new key on a probe alias first', () => {
  let c: Req;
  let oldKeyId: string;

  before(async () => {
    c = connectRequest(estate, 'api-key-private');
    const connect = await start('connectRemoteCluster', c);
    await approve(connect);
    oldKeyId = ((await connect.result()) as ConnectResult).created.apiKeyId as string;
  });

  const rotateRequest = () => ({
    alias: c.alias,
    local: c.local,
    remote: { elasticsearch: c.remote.elasticsearch },
    verify: { searchIndex: 'logs-*', timeout: '10s' },
    gracePeriod: '0s',
  });

  it('a new key that does not work fails the run before the live alias is touched', async () => {
    const before = await estate.view();
    const { url, username, password } = estate.info.ech;
    const searching = await startSearchLoop(
      `${url}/${c.alias}:logs-*/_search?size=0`,
      `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
    );
    let searches;
    let newKeyId: string | undefined;
    let status: ConnectStatus;
    try {
      const rotation = await start('rotateRemoteClusterKey', rotateRequest());
      await waitForStep(rotation, 'approve-local-changes');
      // Someone invalidates the new key while the run waits for its approval.
      newKeyId = (await activeKeyIds()).find((id) => id !== oldKeyId);
      assert.ok(newKeyId, 'the run made a new key');
      const del = await estate.es('self-managed', 'DELETE', '/_security/api_key', { ids: [newKeyId] });
      assert.deepEqual(del.body.invalidated_api_keys, [newKeyId]);
      await approve(rotation);
      const failure = await failureOf(rotation);
      assert.equal(failure.type, 'NewKeyNotWorking');
      assert.match(failure.message, new RegExp(`The new key ${newKeyId} does not work`));
      assert.match(
        failure.message,
        new RegExp(`The live alias "${c.alias}" was not touched and still uses the old key`),
      );
      status = await rotation.query<ConnectStatus>('status');
    } finally {
      searches = await searching.stop();
    }
    assert.equal(status.steps.find((s) => s.id === 'verify-new-key')?.state, 'failed');
    assert.equal(
      status.steps.find((s) => s.id === 'ech-keystore'),
      undefined,
      'the live keystore entry was not touched',
    );
    const outcomes = status.cleanup?.outcomes ?? [];
    assert.ok(
      outcomes.some((o) => /probe alias/.test(o.item) && o.outcome === 'undone'),
      JSON.stringify(outcomes),
    );
    assert.ok(
      outcomes.some((o) => o.item.includes(newKeyId!) && o.outcome === 'undone'),
      JSON.stringify(outcomes),
    );

    assert.deepEqual(await estate.view(), before, 'ECH and the self-managed cluster as before the run');
    assert.deepEqual(await activeKeyIds(), [oldKeyId], 'the old key is the only active key');
    await noProbe(c.alias);
    assert.ok(searches.length > 0);
    assert.deepEqual(failedSearches(searches), [], `of ${searches.length} searches`);
  });

  it('a working new key passes the probe; the rotation completes and leaves no probe', async () => {
    const rotation = await start('rotateRemoteClusterKey', rotateRequest());
    await approve(rotation);
    const result = (await rotation.result()) as RotateResult;
    assert.equal(result.oldKeyId, oldKeyId);
    assert.equal(result.oldKey, 'invalidated');
    const status = await rotation.query<ConnectStatus>('status');
    const probe = status.steps.find((s) => s.id === 'verify-new-key');
    assert.equal(probe?.state, 'done');
    assert.match(probe?.detail ?? '', /connected, searched, then removed/);
    await noProbe(c.alias);
    assert.deepEqual(await activeKeyIds(), [result.newKeyId]);
  });
});
