/**
 * Day 2 when the tool has no credentials on the self-managed cluster, on the real dev server and the sandbox: a
 * connection whose key was handed over by hand is rotated with signals (the self-managed admin creates the new key as
 * the step says, hands it over, invalidates the old one and confirms with the `ech-remote confirm` command the step
 * prints), its access is changed by the admin following the published request (confirmed the same way), and it is
 * disconnected. An alias the tool did not make is refused, then with `adopt: true` loses only its settings. Every run
 * carries its kind in the `Workflow` search attribute.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { ConnectStatus, DisconnectResult, RotateResult, UpdateAccessResult } from '../../src/contract/status';
import { runCli } from '../helpers/cli';
import { Estate } from '../helpers/estate';
import { approve, connectRequest, failureOf, handOverKeyByHand, waitForStep, type Req } from '../helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;
let seq = 0;
const runs: { handle: WorkflowHandle; kind: string }[] = [];

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

async function start(type: string, kind: string, req: unknown): Promise<WorkflowHandle> {
  const handle = await client.workflow.start(type, {
    taskQueue: worker.taskQueue,
    workflowId: `by-hand-${kind}-${Date.now()}-${++seq}`,
    args: [req],
  });
  runs.push({ handle, kind });
  return handle;
}

/** A day-2 request without remote.elasticsearch: the tool has no credentials on the self-managed cluster. */
function byHand(c: Req, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { alias: c.alias, local: c.local, remote: {}, verify: { searchIndex: 'logs-*', timeout: '20s' }, ...over };
}

/** The `ech-remote confirm …` command the waiting step prints, run as printed (the built CLI). */
async function confirmAsPrinted(status: ConnectStatus): Promise<void> {
  const line = status.waitingFor!.instructions.split('\n').find((l) => l.includes('ech-remote confirm '));
  assert.ok(line, status.waitingFor!.instructions);
  const args = line
    .slice(line.indexOf('ech-remote confirm ') + 'ech-remote '.length)
    .replace(/`.*$/, '')
    .trim()
    .split(/\s+/)
    .map((a) => a.replace(/^'(.*)'$/, '$1'));
  const r = await runCli(args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
}

async function key(id: string): Promise<{ invalidated: boolean; access: unknown }> {
  const res = await estate.es('self-managed', 'GET', `/_security/api_key?id=${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.api_keys[0];
}

async function hits(alias: string): Promise<number> {
  const res = await estate.es('ech', 'GET', `/${alias}:logs-*/_search?size=0`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body._clusters.skipped, 0);
  return res.body.hits.total.value as number;
}

describe('day 2 without remote credentials (a connection whose key was handed over by hand)', () => {
  let c: Req;
  let handedOver: string;

  before(async () => {
    await estate.scenario('api-key-private');
    c = connectRequest(estate, 'api-key-private', {}, false);
    const connect = await start('connectRemoteCluster', 'connect', c);
    handedOver = await handOverKeyByHand(estate, connect);
    await approve(connect);
    await connect.result();
  });

  it('rotate: the admin hands over a new key and confirms the old one is invalidated; the connection uses the new key', async () => {
    const rotation = await start('rotateRemoteClusterKey', 'rotate', byHand(c, { gracePeriod: '1s' }));
    const asked = await waitForStep(rotation, 'cross-cluster-api-key');
    assert.equal(asked.waitingFor?.who, 'self-managed-org');
    // As the step says: a new key with the access of the one the connection uses now.
    assert.match(asked.waitingFor!.instructions, /the same access as the key the connection uses now/);
    const req = asked.waitingFor!.artifacts!.requests![0]!;
    const old = await key(handedOver);
    const created = await estate.es('self-managed', req.method, req.path, {
      ...(req.body as object),
      access: old.access,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await rotation.signal('provideCrossClusterApiKey', { encoded: created.body.encoded });
    await approve(rotation);

    const invalidate = await waitForStep(rotation, 'invalidate-old-key', 60_000);
    assert.equal(invalidate.waitingFor?.who, 'self-managed-org');
    assert.equal(await hits(c.alias), estate.info.seededIndex.documents, 'connected with the new key');
    assert.equal((await key(handedOver)).invalidated, false, 'the run did not touch the old key');
    const published = invalidate.waitingFor!.artifacts!.requests![0]!;
    assert.equal(published.method, 'DELETE');
    // The run has no record of the key handed over at connect time: the admin fills in its id, as the step says.
    const res = await estate.es('self-managed', 'DELETE', '/_security/api_key', { ids: [handedOver] });
    assert.deepEqual(res.body.invalidated_api_keys, [handedOver]);
    await confirmAsPrinted(invalidate);

    const result = (await rotation.result()) as RotateResult;
    assert.equal(result.rotated, true);
    assert.equal(result.newKeyId, created.body.id);
    assert.equal(result.oldKey, 'confirmed');
    assert.equal(await hits(c.alias), estate.info.seededIndex.documents, 'connected without the old key');
    const state = await estate.control('GET', '/state');
    assert.match(JSON.stringify(state), new RegExp(`"lastCrossClusterRequest":\\{"apiKeyId":"${created.body.id}"`));
    handedOver = created.body.id as string;
  });

  it('update access: the admin runs the published request and confirms; a search reads what the new access allows', async () => {
    const access = { search: [{ names: ['logs-*'], query: { term: { service: 'auth' } } }] };
    const update = await start('updateRemoteClusterAccess', 'update-access', byHand(c, { access }));
    await approve(update);
    const waiting = await waitForStep(update, 'update-remote-key');
    assert.equal(waiting.waitingFor?.who, 'self-managed-org');
    const req = waiting.waitingFor!.artifacts!.requests![0]!;
    // The rotation recorded the key the alias uses: the request names it.
    assert.equal(req.path, `/_security/cross_cluster/api_key/${handedOver}`);
    assert.equal(await hits(c.alias), estate.info.seededIndex.documents, 'nothing changed before the admin acts');
    const res = await estate.es('self-managed', req.method, req.path, req.body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.updated, true);
    await confirmAsPrinted(waiting);
    const result = (await update.result()) as UpdateAccessResult;
    assert.equal(result.updated, true);
    assert.equal(await hits(c.alias), 2, "only the auth service's documents");
  });

  it('disconnect without remote credentials removes the ECH side and says who invalidates the key', async () => {
    const handle = await start('disconnectRemoteCluster', 'disconnect', byHand(c));
    await approve(handle);
    const result = (await handle.result()) as DisconnectResult;
    assert.equal(result.nothingToDo, false);
    assert.ok(result.warnings.some((w) => w.includes(handedOver) && /DELETE \/_security\/api_key/.test(w)));
    assert.equal((await estate.es('ech', 'GET', '/_remote/info')).body[c.alias], undefined);
    assert.equal((await key(handedOver)).invalidated, false, 'the tool had no credentials there');
  });
});

describe('disconnect of an alias the tool did not make', () => {
  const alias = 'hand-made';

  it('is refused without adopt; with adopt: true only its settings go (its keystore entry and roles stay)', async () => {
    const c = connectRequest(estate, 'api-key-private');
    const proxy = c.remote.proxyAddress as string;
    const put = await estate.es('ech', 'PUT', '/_cluster/settings', {
      persistent: {
        [`cluster.remote.${alias}.mode`]: 'proxy',
        [`cluster.remote.${alias}.proxy_address`]: proxy,
      },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const { deploymentId, refId } = estate.info.cloud;
    await estate.cloud('PATCH', `/deployments/${deploymentId}/elasticsearch/${refId}/keystore`, {
      secrets: { [`cluster.remote.${alias}.credentials`]: { value: 'aGFuZDptYWRl' } },
    });
    const role = await estate.es('ech', 'PUT', `/_security/role/${alias}-reader`, {
      remote_indices: [{ clusters: [alias], names: ['logs-*'], privileges: ['read'] }],
    });
    assert.equal(role.status, 200, JSON.stringify(role.body));
    const request = { alias, local: c.local, remote: {}, verify: { timeout: '20s' } };
    const before = await estate.view();

    const refused = await start('disconnectRemoteCluster', 'disconnect', request);
    const failure = await failureOf(refused);
    assert.equal(failure.type, 'NotManagedByUs');
    assert.match(failure.message, /adopt: true/);
    assert.deepEqual(await estate.view(), before, 'nothing was changed');

    const adopted = await start('disconnectRemoteCluster', 'disconnect', { ...request, adopt: true });
    await approve(adopted);
    const result = (await adopted.result()) as DisconnectResult;
    assert.deepEqual(result.removed.clusterSettings.sort(), [
      `cluster.remote.${alias}.mode`,
      `cluster.remote.${alias}.proxy_address`,
    ]);
    assert.equal(result.removed.keystoreEntry, undefined);
    assert.deepEqual(result.removed.roles, []);
    assert.ok(result.left.some((l) => l.item === `keystore entry cluster.remote.${alias}.credentials`));
    const after = await estate.view();
    assert.deepEqual(
      Object.keys(after.echRemoteSettings).filter((k) => k.includes(alias)),
      [],
    );
    assert.deepEqual(after.keystore, before.keystore, 'its keystore entry stays (the tool did not make it)');
    assert.deepEqual(after.echRoles, before.echRoles, 'its role stays');
    assert.deepEqual(after.trustDirect, before.trustDirect);
  });
});

describe('the Workflow search attribute', () => {
  it('names each run’s workflow: describe and a list query by kind', async () => {
    const kinds = new Set(runs.map((r) => r.kind));
    assert.deepEqual([...kinds].sort(), ['connect', 'disconnect', 'rotate', 'update-access']);
    for (const { handle, kind } of runs) {
      const d = await handle.describe();
      assert.deepEqual(d.searchAttributes.Workflow, [kind], handle.workflowId);
    }
    for (const kind of kinds) {
      const expected = runs
        .filter((r) => r.kind === kind)
        .map((r) => r.handle.workflowId)
        .sort();
      const deadline = Date.now() + 15_000;
      for (;;) {
        const listed: string[] = [];
        for await (const w of client.workflow.list({ query: `Workflow = "${kind}"` })) {
          if (w.workflowId.startsWith('by-hand-')) listed.push(w.workflowId);
        }
        if (JSON.stringify(listed.sort()) === JSON.stringify(expected)) break;
        assert.ok(Date.now() < deadline, `${kind}: listed ${listed.join(', ')}; expected ${expected.join(', ')}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  });
});
