/**
 * Day 2 on the real dev server and the sandbox: a connection made by today's connectRemoteCluster is rotated while
 * searches run through the alias without pause (none may fail), its access is changed in place, and it is
 * disconnected (nothing of ours left; a second disconnect has nothing to do).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type {
  ConnectResult,
  ConnectStatus,
  DisconnectResult,
  DryRunResult,
  RotateResult,
  RunStatus,
  UpdateAccessResult,
} from '../../src/contract/status';
import { Estate } from '../helpers/estate';
import { approve, connectRequest, failureOf, type Req } from '../helpers/runs';
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
    workflowId: `${type}-${Date.now()}-${++seq}`,
    args: [req],
  });
}

/** A day-2 request for the connection `connect` made: the same deployment, secrets and remote credentials. */
function day2Request(c: Req, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    alias: c.alias,
    local: c.local,
    remote: { elasticsearch: (c.remote as { elasticsearch?: unknown }).elasticsearch },
    verify: { searchIndex: 'logs-*', timeout: '20s' },
    humanStepTimeout: '2m',
    ...over,
  };
}

async function search(alias: string): Promise<{ status: number; hits?: number }> {
  const res = await estate.es('ech', 'GET', `/${alias}:logs-*/_search?size=0`);
  return { status: res.status, hits: res.body?.hits?.total?.value };
}

async function activeKeyIds(): Promise<string[]> {
  const keys = await estate.es('self-managed', 'GET', '/_security/api_key?active_only=true');
  return (keys.body.api_keys as { id: string; type: string }[])
    .filter((k) => k.type === 'cross_cluster')
    .map((k) => k.id);
}

describe('day 2 on a connection made by connectRemoteCluster', () => {
  let c: Req;
  let connected: ConnectResult;

  before(async () => {
    await estate.scenario('api-key-private');
    c = connectRequest(estate, 'api-key-private');
    const handle = await start('connectRemoteCluster', c);
    await approve(handle);
    connected = (await handle.result()) as ConnectResult;
    assert.ok(connected.created.apiKeyId);
  });

  it('rotate: searches through the alias never fail; the old key is invalid, the new one is what the remote sees', async () => {
    let searches = 0;
    const failures: string[] = [];
    let stop = false;
    const searching = (async () => {
      while (!stop) {
        const s = await search(c.alias).catch((e: unknown) => ({ status: 0, error: String(e) }));
        searches++;
        if (s.status !== 200) failures.push(JSON.stringify(s));
      }
    })();
    try {
      const handle = await start('rotateRemoteClusterKey', day2Request(c, { gracePeriod: '2s' }));
      await approve(handle);
      const result = (await handle.result()) as RotateResult;
      assert.equal(result.rotated, true);
      assert.equal(result.oldKeyId, connected.created.apiKeyId, 'the key the connection was made with');
      assert.notEqual(result.newKeyId, result.oldKeyId);
      assert.equal(result.oldKey, 'invalidated');
      assert.equal(result.gracePeriodMs, 2000);
      // A few more searches after the old key is gone.
      const settle = Date.now() + 500;
      while (Date.now() < settle) await new Promise((r) => setTimeout(r, 50));
      stop = true;
      await searching;
      assert.ok(searches > 0, 'searches were issued');
      assert.deepEqual(failures, [], `${failures.length} of ${searches} searches failed`);
      const active = await activeKeyIds();
      assert.ok(active.includes(result.newKeyId), 'the new key is active');
      assert.ok(!active.includes(result.oldKeyId!), 'the old key is invalid');
      const state = await estate.control('GET', '/state');
      const seen =
        state.clusters?.['self-managed']?.lastCrossClusterRequest?.apiKeyId ??
        JSON.stringify(state).match(/"lastCrossClusterRequest":\{"apiKeyId":"([^"]+)"/)?.[1];
      assert.equal(seen, result.newKeyId, 'the remote authenticated the last search with the new key');
      const after = await search(c.alias);
      assert.equal(after.status, 200);
      assert.equal(after.hits, estate.info.seededIndex.documents);
    } finally {
      stop = true;
      await searching;
    }
  });

  it('update access: a dry run shows the diff as Elasticsearch stores it; the update changes what a search may read', async () => {
    const narrower = { search: [{ names: ['logs-*'], query: { term: { service: 'auth' } } }] };
    const dry = await start('updateRemoteClusterAccess', day2Request(c, { access: narrower, dryRun: true }));
    const diff = ((await dry.result()) as DryRunResult).diff as { before: any; after: any };
    assert.equal(diff.after.search[0].allow_restricted_indices, false, 'normalised: allow_restricted_indices added');
    assert.equal(typeof diff.after.search[0].query, 'string', 'normalised: the DLS query as a JSON string');
    assert.equal(diff.before.search[0].query, undefined);

    const handle = await start(
      'updateRemoteClusterAccess',
      day2Request(c, { access: narrower, verify: { timeout: '20s' } }),
    );
    await approve(handle);
    const result = (await handle.result()) as UpdateAccessResult;
    assert.equal(result.updated, true);
    const s = await search(c.alias);
    assert.equal(s.status, 200);
    // The sandbox's seeded index has 5 documents, 2 of them of the auth service.
    assert.equal(estate.info.seededIndex.documents, 5);
    assert.equal(s.hits, 2, "the DLS query now shows only the auth service's documents");

    // The same access again: Elasticsearch answers updated:false, and the run says there is nothing to do.
    const again = await start(
      'updateRemoteClusterAccess',
      day2Request(c, { access: narrower, verify: { timeout: '20s' } }),
    );
    const same = (await again.result()) as UpdateAccessResult;
    assert.equal(same.updated, false);
  });

  /**
   * An update of the key's access and the connection's role whose verification fails: every _resolve/cluster is refused
   * (403) until the verification's timeout. `meanwhile` runs while the run verifies (the key and the role updated).
   */
  async function failedUpdate(meanwhile?: () => Promise<void>): Promise<ConnectStatus['cleanup']> {
    const role = (c.roles as { name: string }[])[0]!.name;
    await estate.faults([{ target: 'ech', path: '_resolve/cluster', statusRates: { '403': 1 } }]);
    try {
      const wider = ['logs-*', 'metrics-*'];
      const handle = await start(
        'updateRemoteClusterAccess',
        day2Request(c, {
          access: { search: [{ names: wider }] },
          roles: [{ name: role, remoteIndices: [{ names: wider, privileges: ['read', 'read_cross_cluster'] }] }],
          verify: { searchIndex: 'logs-*', timeout: '5s' },
        }),
      );
      await approve(handle);
      if (meanwhile) {
        for (let i = 0; ; i++) {
          const { steps } = await handle.query<RunStatus>('status');
          if (steps.find((x) => x.id === 'verify')?.state === 'running') break;
          assert.ok(i < 200, 'the run reached its verification');
          await new Promise((ok) => setTimeout(ok, 50));
        }
        await meanwhile();
      }
      const failure = await failureOf(handle);
      assert.equal(failure.type, 'RemoteConnectionFailed', failure.message);
      return (await handle.query<RunStatus>('status')).cleanup;
    } finally {
      await estate.control('DELETE', '/faults');
    }
  }
  const roleOf = async (r: Req) => {
    const name = (r.roles as { name: string }[])[0]!.name;
    return (await estate.es('ech', 'GET', `/_security/role/${name}`)).body[name];
  };
  const keyAccess = async () =>
    (await estate.es('self-managed', 'GET', `/_security/api_key?id=${connected.created.apiKeyId}`)).body.api_keys[0]
      .access;

  it("update access: a verification that fails puts the key's access and the roles back as they were", async () => {
    const roleBefore = await roleOf(c);
    const accessBefore = await keyAccess();
    assert.ok(roleBefore && accessBefore, 'the connection made a role and its key has an access');
    const cleanup = await failedUpdate();
    assert.deepEqual(
      cleanup?.outcomes?.map((o) => o.outcome),
      ['undone', 'undone'],
      `the role and the key's access are both put back: ${JSON.stringify(cleanup)}`,
    );
    assert.deepEqual(await roleOf(c), roleBefore, 'the role is as it was before the run');
    assert.deepEqual(await keyAccess(), accessBefore, "the key's access is as it was before the run");
    const s = await search(c.alias);
    assert.equal(s.status, 200);
    assert.equal(s.hits, 2, 'searches still read what the access allowed before the run');
  });

  it('update access: a shared role another connection rewrote during the run is left as that connection wrote it', async () => {
    const roleBefore = await roleOf(c);
    const accessBefore = await keyAccess();
    const name = (c.roles as { name: string }[])[0]!.name;
    // Another connection of this tool that shares the role writes it while the run verifies.
    const theirs = {
      ...roleBefore,
      cluster: ['monitor'],
      metadata: { ...roleBefore.metadata, workflow_id: 'connect-other-connection' },
    };
    delete theirs.transient_metadata;
    const cleanup = await failedUpdate(async () => {
      assert.equal((await estate.es('ech', 'PUT', `/_security/role/${name}`, theirs)).status, 200);
    });
    assert.deepEqual(
      cleanup?.outcomes?.map((o) => [o.outcome, o.why ?? '']),
      [
        ['left', `role ${name} is not this run's write (now connect-other-connection's): left as it is`],
        ['undone', ''],
      ],
    );
    const after = await roleOf(c);
    assert.deepEqual(after.cluster, ['monitor'], "the other connection's write stands");
    assert.equal(after.metadata.workflow_id, 'connect-other-connection');
    assert.deepEqual(await keyAccess(), accessBefore);
    // Put the connection's role back for the tests after this one.
    const { transient_metadata: _t, ...body } = roleBefore;
    assert.equal((await estate.es('ech', 'PUT', `/_security/role/${name}`, body)).status, 200);
  });

  it("update access: a role that is not ours is refused, the key's access put back, and nothing else reported undone", async () => {
    const handmade = { indices: [{ names: ['audit-*'], privileges: ['read'] }], metadata: { owner: 'ops' } };
    assert.equal((await estate.es('ech', 'PUT', '/_security/role/handmade-reader', handmade)).status, 200);
    const accessBefore = await keyAccess();
    const wider = ['logs-*', 'metrics-*'];
    const handle = await start(
      'updateRemoteClusterAccess',
      day2Request(c, {
        access: { search: [{ names: wider }] },
        roles: [{ name: 'handmade-reader', remoteIndices: [{ names: wider, privileges: ['read'] }] }],
      }),
    );
    await approve(handle);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'NotManagedByUs', failure.message);
    assert.doesNotMatch(failure.message, /Could NOT roll back/);
    const { cleanup } = await handle.query<RunStatus>('status');
    assert.deepEqual(
      cleanup?.outcomes?.map((o) => [o.item.replace(/key \S+/, 'key <id>'), o.outcome]),
      [['access of cross-cluster API key <id> (back to what it was)', 'undone']],
    );
    const role = (await estate.es('ech', 'GET', '/_security/role/handmade-reader')).body['handmade-reader'];
    assert.deepEqual(
      role.indices.map((i: { names: string[] }) => i.names),
      [['audit-*']],
      'the foreign role untouched',
    );
    assert.deepEqual(role.metadata, { owner: 'ops' });
    assert.deepEqual(await keyAccess(), accessBefore);
  });

  it('disconnect: refuses while CCR follows through the alias, then leaves nothing of ours; a second one has nothing to do', async () => {
    const follow = await estate.es('ech', 'PUT', '/logs-copy/_ccr/follow', {
      remote_cluster: c.alias,
      leader_index: estate.info.seededIndex.name,
    });
    assert.equal(follow.status, 200, JSON.stringify(follow.body));
    const refused = await start('disconnectRemoteCluster', day2Request(c));
    await assert.rejects(refused.result(), (e: any) => /follower index logs-copy/.test(e.cause?.message ?? ''));
    assert.ok((await estate.es('ech', 'GET', '/_remote/info')).body[c.alias], 'nothing was changed');

    const handle = await start('disconnectRemoteCluster', day2Request(c, { force: true }));
    await approve(handle);
    const result = (await handle.result()) as DisconnectResult;
    assert.equal(result.nothingToDo, false);
    assert.ok(result.removed.keystoreEntry);
    assert.ok(result.removed.trustEntry, 'path B: our trust entry');
    assert.ok(result.removed.apiKeyIds.length >= 1);
    assert.equal(result.removed.ownershipRecord, true);

    const view = await estate.view();
    assert.equal((await estate.es('ech', 'GET', '/_remote/info')).body[c.alias], undefined);
    assert.deepEqual(view.keystore, []);
    assert.deepEqual(await activeKeyIds(), []);
    const roles = (await estate.es('ech', 'GET', '/_security/role')).body;
    const users = (await estate.es('ech', 'GET', '/_security/user')).body;
    const ours = (o: Record<string, { metadata?: { managed_by?: string } }>) =>
      Object.entries(o)
        .filter(([, v]) => v.metadata?.managed_by === 'ech-remote-clusters')
        .map(([n]) => n);
    assert.deepEqual(ours(roles), []);
    assert.deepEqual(ours(users), []);
    const settings = (await estate.es('ech', 'GET', '/_cluster/settings?flat_settings=true')).body.persistent;
    assert.deepEqual(
      Object.keys(settings).filter((k) => k.includes(c.alias)),
      [],
    );

    const second = await start('disconnectRemoteCluster', day2Request(c));
    const nothing = (await second.result()) as DisconnectResult;
    assert.equal(nothing.nothingToDo, true);
  });
});
