/**
 * migrateRemoteClusterToApiKey on the real dev server and the sandbox: a connection made by path C (certificate
 * model) is migrated to the API-key model under the same alias (the remote cluster server enabled by the self-managed
 * admin from the run's own artifacts), `_remote/info` shows the API-key model and the run's user searches through the
 * remote cluster server; a failure after the switch rolls back to a working certificate connection; an active CCR
 * follower is refused (or waited for, with instructions); a bad request names the field and changes nothing; and
 * `ech-remote migrate` runs `requests.migrate` as the sandbox writes it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type {
  ConnectResult,
  ConnectStatus,
  DryRunResult,
  MigrateResult,
  RotateResult,
} from '../../src/contract/status';
import { runCli } from '../helpers/cli';
import { Estate } from '../helpers/estate';
import { assertRunUserSearchesRemote, failureOf, waitForStep } from '../helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;
let seq = 0;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-migrate-'));

before(async () => {
  estate = await Estate.start('tls-certificate');
  client = await testClient();
  worker = await startWorker({ activities: createActivities() });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

type Req = Record<string, any>;

async function start(type: string, req: unknown): Promise<WorkflowHandle> {
  return client.workflow.start(type, {
    taskQueue: worker.taskQueue,
    workflowId: `${type}-${Date.now()}-${++seq}`,
    args: [req],
  });
}

async function approve(handle: WorkflowHandle): Promise<void> {
  const status = await waitForStep(handle, 'approve-local-changes', 60_000);
  assert.equal(status.waitingFor?.who, 'ech-org');
  await handle.signal('approve', { step: 'approve-local-changes', approver: 'sre@example.com' });
}

/** A fresh tls-certificate estate with the path C connection of `requests["tls-certificate"]`, made by connect. */
async function connectPathC(): Promise<string> {
  await estate.scenario('tls-certificate');
  const req = {
    ...structuredClone(estate.info.requests['tls-certificate']),
    verify: { searchIndex: 'logs-*', timeout: '10s' },
    humanStepTimeout: '2m',
  };
  const handle = await start('connectRemoteCluster', req);
  const status = await waitForStep(handle, 'remote-trust', 60_000);
  const artifacts = status.waitingFor!.artifacts!;
  const { phases, requests: _requests, ...flat } = artifacts;
  for (const phase of phases ?? [flat]) {
    const applied = await estate.control('POST', '/self-managed/apply', phase);
    assert.equal(applied.restarted, true, JSON.stringify(applied));
  }
  await handle.signal('confirmRemoteStep', { step: 'remote-trust', by: 'admin@corp.example' });
  await approve(handle);
  const result = (await handle.result()) as ConnectResult;
  assert.equal(result.securityModel, 'tls-certificate');
  return req.alias;
}

function migrateRequest(over: Req = {}): Req {
  return {
    ...structuredClone(estate.info.requests.migrate),
    verify: { searchIndex: 'logs-*', timeout: '20s' },
    humanStepTimeout: '2m',
    ...over,
  };
}

/** The self-managed admin enables the remote cluster server with the settings the run published (or the same ones). */
async function enableRemoteClusterServer(settings: Record<string, unknown>): Promise<void> {
  const applied = await estate.control('POST', '/self-managed/apply', { settings, restart: true });
  assert.equal(applied.restarted, true, JSON.stringify(applied));
}

async function remoteInfo(alias: string): Promise<any> {
  return (await estate.es('ech', 'GET', '/_remote/info')).body[alias];
}

async function expectCertificateConnection(alias: string): Promise<void> {
  const info = await remoteInfo(alias);
  assert.equal(info.connected, true, JSON.stringify(info));
  assert.equal(info.proxy_address, estate.info.selfManaged.transport);
  assert.equal(info.cluster_credentials, undefined, 'the certificate model has no cluster credentials');
  await assertRunUserSearchesRemote(estate, alias);
}

describe('migrateRemoteClusterToApiKey', () => {
  let rcsSettings: Record<string, unknown>;

  it('migrates a path C connection end to end: api_key model, searches through the remote cluster server', async () => {
    const alias = await connectPathC();
    const before = await estate.view();
    const handle = await start('migrateRemoteClusterToApiKey', migrateRequest({ removeLeftovers: true }));
    // The scenario's remote cluster server is off: the run says so and what to set.
    const waiting = await waitForStep(handle, 'remote-cluster-server', 60_000);
    assert.equal(waiting.waitingFor?.who, 'self-managed-org');
    assert.match(waiting.waitingFor!.instructions, /remote_cluster_server\.enabled: true/);
    assert.match(waiting.waitingFor!.instructions, /xpack\.security\.remote_cluster_server\.ssl/);
    rcsSettings = waiting.waitingFor!.artifacts!.settings!;
    // Nothing changed on ECH while it waits.
    assert.deepEqual(await estate.view(), before);
    await enableRemoteClusterServer(rcsSettings);
    await handle.signal('confirmRemoteStep', { step: 'remote-cluster-server', by: 'admin@corp.example' });
    await approve(handle);
    const result = (await handle.result()) as MigrateResult;

    assert.equal(result.migrated, true);
    // The Temporal UI lists it as a migration of this alias.
    const d = await handle.describe();
    assert.deepEqual(d.searchAttributes.Workflow, ['migrate']);
    assert.deepEqual(d.searchAttributes.RemoteClusterAlias, [alias]);
    assert.equal(result.evidence.searchHits, estate.info.seededIndex.documents);
    const info = await remoteInfo(alias);
    assert.equal(info.connected, true);
    assert.equal(info.proxy_address, estate.info.selfManaged.remoteClusterServer);
    assert.ok(info.cluster_credentials, '_remote/info shows the API-key model');
    // The run's user (its ECH role now has remote_indices) searches through the remote cluster server with the key.
    await assertRunUserSearchesRemote(estate, alias);
    const state = await estate.control('GET', '/state');
    assert.equal(state.lastRemoteConnection?.apiKeyId, result.apiKeyId, 'the remote saw the new key');
    // One alias, the same name; the record says api-key; the keystore has the credential.
    const after = await estate.view();
    assert.ok(after.keystore.includes(`cluster.remote.${alias}.credentials`));
    const record = JSON.parse(after.echRemoteSettings[`cluster.metadata.ech-remote-clusters.${alias}`] as string);
    assert.equal(record.security_model, 'api-key');
    assert.equal(record.api_key_id, result.apiKeyId);
    assert.ok(after.activeCrossClusterKeys.includes(result.apiKeyId));
    // removeLeftovers: the certificate model's trust entry and same-named remote role (ours) are gone.
    assert.ok(before.trustDirect.includes(`ech-remote-clusters/${alias}`));
    assert.ok(!after.trustDirect.includes(`ech-remote-clusters/${alias}`));
    assert.equal(result.removed.trustEntry, `ech-remote-clusters/${alias}`);
    assert.deepEqual(result.removed.remoteRoles, ['remote-search']);
    assert.ok(!after.selfManagedRoles.includes('remote-search'));
    // Searches still work after the leftovers went.
    await assertRunUserSearchesRemote(estate, alias);
    // From now on it is an API-key connection of this tool: a rotation finds the key the record names and replaces it.
    const m = estate.info.requests.migrate;
    const rotation = await start('rotateRemoteClusterKey', {
      alias,
      local: m.local,
      remote: { elasticsearch: m.remote.elasticsearch },
      verify: { searchIndex: 'logs-*', timeout: '20s' },
      approvals: { beforeLocalChanges: false },
    });
    const rotated = (await rotation.result()) as RotateResult;
    assert.equal(rotated.oldKeyId, result.apiKeyId);
    assert.equal(rotated.oldKey, 'invalidated');
    await assertRunUserSearchesRemote(estate, alias);
  });

  it('a failure after the switch (a key the remote does not know) rolls back to a working certificate connection', async () => {
    const alias = await connectPathC();
    await enableRemoteClusterServer(rcsSettings);
    const before = await estate.view();
    // Without remote credentials the self-managed org hands over the key: here one the remote never issued.
    const req = migrateRequest({ verify: { searchIndex: 'logs-*', timeout: '5s' } });
    delete req.remote.elasticsearch;
    const handle = await start('migrateRemoteClusterToApiKey', req);
    await waitForStep(handle, 'cross-cluster-api-key', 60_000);
    await handle.signal('provideCrossClusterApiKey', {
      encoded: Buffer.from('NoSuchKeyId0000000:not-a-real-secret-0000').toString('base64'),
    });
    await approve(handle);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'MigrationVerifyFailed');
    assert.match(failure.message, /Rolled back/);
    const status = await handle.query<ConnectStatus>('status');
    assert.equal(status.steps.find((s) => s.id === 'switch-to-api-key')?.state, 'done', 'it failed after the switch');
    assert.ok(
      status.cleanup?.outcomes?.every((o) => o.outcome === 'undone'),
      JSON.stringify(status.cleanup),
    );
    assert.ok(status.cleanup?.items.some((i) => /certificate connection .* verified again/.test(i)));
    // The settings, the record and the keystore are as before; the certificate connection works.
    assert.deepEqual(await estate.view(), before);
    await expectCertificateConnection(alias);
  });

  it('an active CCR follower and transform on the alias: refused with instructions, nothing changed; with "wait" the run waits for the pause', async () => {
    const alias = await connectPathC();
    const follow = await estate.es('ech', 'PUT', '/logs-follower/_ccr/follow', {
      remote_cluster: alias,
      leader_index: 'logs-1',
    });
    assert.equal(follow.status, 200, JSON.stringify(follow.body));
    // A transform reading through the alias that runs, and one that is stopped (it does not count).
    const pivot = {
      group_by: { s: { terms: { field: 'service' } } },
      aggregations: { n: { value_count: { field: 'service' } } },
    };
    for (const id of ['rollup-running', 'rollup-stopped']) {
      const t = await estate.es('ech', 'PUT', `/_transform/${id}?defer_validation=true`, {
        source: { index: [`${alias}:logs-*`] },
        dest: { index: `${id}-dest` },
        pivot,
      });
      assert.equal(t.status, 200, JSON.stringify(t.body));
    }
    assert.equal((await estate.es('ech', 'POST', '/_transform/rollup-running/_start')).status, 200);
    const before = await estate.view();
    const refused = await start('migrateRemoteClusterToApiKey', migrateRequest());
    const failure = await failureOf(refused);
    assert.equal(failure.type, 'OperationsActive');
    assert.match(failure.message, /CCR follower index logs-follower/);
    assert.match(failure.message, /POST \/logs-follower\/_ccr\/pause_follow/);
    assert.match(failure.message, /transform rollup-running/);
    assert.doesNotMatch(failure.message, /rollup-stopped/);
    assert.match(failure.message, /POST \/_transform\/rollup-running\/_stop/);
    assert.match(failure.message, /nothing was changed/);
    assert.deepEqual(await estate.view(), before);

    await enableRemoteClusterServer(rcsSettings);
    const waiting = await start('migrateRemoteClusterToApiKey', migrateRequest({ activeOperations: 'wait' }));
    const status = await waitForStep(waiting, 'pause-operations', 60_000);
    assert.equal(status.waitingFor?.who, 'ech-org');
    assert.match(status.waitingFor!.instructions, /logs-follower/);
    assert.match(status.waitingFor!.instructions, /rollup-running/);
    // The ECH org runs exactly what the step published; the run sees it by itself and goes on to the approval.
    for (const r of status.waitingFor!.artifacts!.requests!) {
      const res = await estate.es('ech', r.method, r.path);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitForStep(waiting, 'approve-local-changes', 60_000);
    await waiting.signal('reject', { step: 'approve-local-changes', approver: 'sre@example.com', reason: 'test' });
    assert.equal((await failureOf(waiting)).type, 'Rejected');
    const afterReject = await estate.view();
    // The key it made was invalidated by the rejection's clean-up; ECH is untouched.
    assert.deepEqual(afterReject.echRemoteSettings, before.echRemoteSettings);
    assert.deepEqual(afterReject.keystore, before.keystore);
    assert.deepEqual(afterReject.activeCrossClusterKeys, before.activeCrossClusterKeys);
  });

  it('a dry run shows the plan and changes nothing; a bad request names the fields and changes nothing', async () => {
    const before = await estate.view();
    const dry = await start('migrateRemoteClusterToApiKey', migrateRequest({ dryRun: true }));
    const plan = ((await dry.result()) as DryRunResult).plan;
    const switchStep = plan.find((p) => p.step === 'switch-to-api-key');
    assert.equal(switchStep?.request?.method, 'PUT');
    assert.equal(
      (switchStep?.request?.body as any).persistent[
        `cluster.remote.${estate.info.requests.migrate.alias}.proxy_address`
      ],
      estate.info.selfManaged.remoteClusterServer,
    );
    assert.ok(plan.some((p) => p.step === 'ech-keystore'));
    assert.deepEqual(await estate.view(), before);
    const bad = migrateRequest({ access: { search: [{ names: [] }] }, removeLeftovers: 'yes' });
    bad.remote.remoteClusterServer.proxyAddress = 'not an address';
    const handle = await start('migrateRemoteClusterToApiKey', bad);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'InvalidRequest');
    assert.match(failure.message, /Invalid MigrateRequest/);
    assert.match(failure.message, /\$\.access\.search\[0\]\.names/);
    assert.match(failure.message, /\$\.remote\.remoteClusterServer\.proxyAddress/);
    assert.match(failure.message, /\$\.removeLeftovers/);
    assert.deepEqual(await estate.view(), before);
  });

  it('ech-remote migrate runs requests.migrate as the sandbox writes it', async () => {
    const alias = await connectPathC();
    await enableRemoteClusterServer(rcsSettings);
    const file = path.join(dir, 'migrate.json');
    fs.writeFileSync(file, JSON.stringify(estate.info.requests.migrate, null, 2));
    const r = await runCli(['migrate', '--request', file, '--approve', '--as', 'sre@example.com', '--wait', '--json'], {
      ECH_REMOTE_TASK_QUEUE: worker.taskQueue,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.result.migrated, true, r.stdout);
    assert.ok((await remoteInfo(alias)).cluster_credentials);
    await assertRunUserSearchesRemote(estate, alias);
    // Invalid: exit 2, the field named, nothing started.
    const badFile = path.join(dir, 'bad.json');
    fs.writeFileSync(badFile, JSON.stringify({ ...estate.info.requests.migrate, access: undefined }));
    const bad = await runCli(['migrate', '--request', badFile, '--json'], { ECH_REMOTE_TASK_QUEUE: worker.taskQueue });
    assert.equal(bad.code, 2, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /access/);
  });
});
