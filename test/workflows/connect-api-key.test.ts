/**
 * connectRemoteCluster, API-key model, end to end: a real Temporal dev server, the real activities (production
 * transports: Node's trust store with the sandbox public root as NODE_EXTRA_CA_CERTS), and the sandbox estate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { ConnectResult, ConnectStatus, DryRunResult } from '../../src/contract/status';
import { Estate, bindSecret } from '../helpers/estate';
import {
  approve,
  assertRunUserSearchesRemote,
  connectRequest,
  failureOf,
  handOverKeyByHand as handOverByHand,
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

function request(path: 'api-key-public' | 'api-key-private', over: Partial<Req> = {}, withRemoteCredentials = true) {
  return connectRequest(estate, path, over, withRemoteCredentials);
}

async function startRun(req: Req): Promise<WorkflowHandle> {
  return client.workflow.start('connectRemoteCluster', {
    taskQueue: worker.taskQueue,
    workflowId: `connect-${req.alias}-${Date.now()}-${++seq}`,
    args: [req],
  });
}

const waitFor = waitForStep;
const handOverKeyByHand = (handle: WorkflowHandle) => handOverByHand(estate, handle);

async function expectConnected(result: ConnectResult, alias: string): Promise<void> {
  assert.equal(result.connected, true);
  assert.equal(result.alias, alias);
  assert.equal(result.evidence.searchHits, estate.info.seededIndex.documents);
  const info = (await estate.es('ech', 'GET', '/_remote/info')).body[alias];
  assert.equal(info.connected, true);
  assert.ok(info.num_proxy_sockets_connected > 0);
  assert.equal(info.cluster_credentials, '::es_redacted::');
  await assertRunUserSearchesRemote(estate, alias);
}

describe('path A (public CA)', () => {
  it('with remote credentials: fully automatic after the approval, and proven', async () => {
    await estate.scenario('api-key-public');
    const req = request('api-key-public');
    const handle = await startRun(req);
    await approve(handle);
    const result = (await handle.result()) as ConnectResult;
    await expectConnected(result, req.alias);
    assert.ok(result.created.apiKeyId);
    const state = await estate.control('GET', '/state');
    assert.equal(
      state.lastRemoteConnection?.apiKeyId,
      result.created.apiKeyId,
      'the key the run created authenticated the connection',
    );
    const view = await estate.view();
    assert.deepEqual(view.keystore, [`cluster.remote.${req.alias}.credentials`]);
    assert.deepEqual(view.activeCrossClusterKeys, [result.created.apiKeyId]);
    assert.ok(view.echRoles.includes('remote-search'));
    const status = await handle.query<ConnectStatus>('status');
    assert.equal(status.phase, 'completed');
    assert.equal(status.approvals[0]?.approver, 'sre@example.com');
  });

  it('as the remote org would do it by hand: the key is handed over by signal', async () => {
    await estate.scenario('api-key-public');
    const req = request('api-key-public', {}, false);
    const handle = await startRun(req);
    const keyId = await handOverKeyByHand(handle);
    await approve(handle);
    const result = (await handle.result()) as ConnectResult;
    await expectConnected(result, req.alias);
    assert.equal(result.created.apiKeyId, undefined, 'the run did not create the key');
    assert.equal((await estate.control('GET', '/state')).lastRemoteConnection?.apiKeyId, keyId);
  });
});

describe('path B (private CA)', () => {
  it('with remote credentials: trusts the private CA on ECH, then connects', async () => {
    await estate.scenario('api-key-private');
    const req = request('api-key-private');
    const handle = await startRun(req);
    await approve(handle);
    const result = (await handle.result()) as ConnectResult;
    await expectConnected(result, req.alias);
    assert.equal(result.created.trustEntry, `ech-remote-clusters/${req.alias}`);
    assert.deepEqual((await estate.view()).trustDirect, [`ech-remote-clusters/${req.alias}`]);
  });

  it('as the remote org would do it by hand', async () => {
    await estate.scenario('api-key-private');
    const req = request('api-key-private', {}, false);
    const handle = await startRun(req);
    const keyId = await handOverKeyByHand(handle);
    await approve(handle);
    const result = (await handle.result()) as ConnectResult;
    await expectConnected(result, req.alias);
    assert.equal((await estate.control('GET', '/state')).lastRemoteConnection?.apiKeyId, keyId);
  });
});

describe('nothing changes when people say no or do not answer', () => {
  it('rejection ends the run cleanly; the key made before the approval is invalidated', async () => {
    await estate.scenario('api-key-public');
    const before = await estate.view();
    const handle = await startRun(request('api-key-public'));
    await waitFor(handle, 'approve-local-changes');
    await handle.signal('reject', {
      step: 'approve-local-changes',
      approver: 'lead@example.com',
      reason: 'not this week',
    });
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'Rejected');
    assert.match(failure.message, /lead@example\.com.*not this week/);
    assert.deepEqual(await estate.view(), before);
    assert.equal((await handle.query<ConnectStatus>('status')).phase, 'rejected');
  });

  it('an approval that never comes times out with nothing changed', async () => {
    await estate.scenario('api-key-public');
    const before = await estate.view();
    const handle = await startRun(
      request('api-key-public', { approvals: { beforeLocalChanges: true, timeout: '2s' } }),
    );
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'HumanStepTimedOut');
    assert.match(failure.message, /approve-local-changes/);
    assert.deepEqual(await estate.view(), before);
  });
});

describe('preflight failures: a clear error and no change', () => {
  const cases: {
    name: string;
    scenario: Parameters<Estate['scenario']>[0];
    versions?: Parameters<Estate['scenario']>[1];
    type: string;
    message: RegExp;
    over?: () => Partial<Req>;
    path?: 'api-key-public' | 'api-key-private';
  }[] = [
    // 8.10-8.13 have the API-key model in beta: the sandbox answers as they did (remote cluster server on, the
    // cross-cluster key API present; elastic/elasticsearch PR #98307, `beta::[]` in the 8.10-8.13 reference), and the
    // product still refuses it, naming 8.14 (domain page §3: GA and the minimum on both sides).
    { name: 'old self-managed version', scenario: 'old-version', type: 'VersionNotSupported', message: /8\.12.*8\.14/ },
    {
      name: 'self-managed 8.13, the last beta of the API-key model',
      scenario: 'old-version',
      versions: { selfManaged: '8.13.4' },
      type: 'VersionNotSupported',
      message: /self-managed cluster runs Elasticsearch 8\.13\.4.*8\.14\.0/,
    },
    {
      name: 'ECH 8.12 (beta API-key model on the local side)',
      scenario: 'api-key-public',
      versions: { ech: '8.12.2' },
      type: 'VersionNotSupported',
      message: /ECH deployment runs Elasticsearch 8\.12\.2.*8\.14\.0/,
    },
    { name: 'basic license', scenario: 'basic-license', type: 'LicenseNotSupported', message: /basic.*Enterprise/ },
    {
      // An expired Enterprise license keeps its type; Elasticsearch reports status "expired" and refuses its features.
      name: 'expired Enterprise license',
      scenario: 'expired-license',
      type: 'LicenseNotSupported',
      message: /"enterprise" license \(expired\).*active Enterprise/,
    },
    {
      name: 'wrong CA (private CA, request says public)',
      scenario: 'api-key-private',
      type: 'TlsTrustFailed',
      message: /CA|trust|certificate/i,
    },
    {
      name: 'wrong server name',
      scenario: 'api-key-public',
      type: 'TlsTrustFailed',
      message: /wrong\.example/,
      over: () => ({ remote: { ...request('api-key-public').remote, serverName: 'wrong.example' } }),
    },
    {
      name: 'the transport port instead of the remote cluster server',
      scenario: 'api-key-public',
      type: 'WrongPort',
      message: /transport port.*remote cluster server port/i,
      over: () => ({
        remote: { ...request('api-key-public').remote, proxyAddress: estate.info.selfManaged.transport },
      }),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await estate.scenario(c.scenario, c.versions);
      const before = await estate.view();
      const handle = await startRun(request(c.path ?? 'api-key-public', c.over?.() ?? {}));
      const failure = await failureOf(handle);
      assert.equal(failure.type, c.type, failure.message);
      assert.match(failure.message, c.message);
      assert.match(failure.message, /nothing was changed/i);
      assert.deepEqual(await estate.view(), before);
    });
  }

  it('missing privileges are named', async () => {
    await estate.scenario('api-key-public');
    await estate.es('ech', 'PUT', '/_security/role/monitor-only', { cluster: ['monitor'] });
    await estate.es('ech', 'PUT', '/_security/user/weak', { password: 'weak-password-1', roles: ['monitor-only'] });
    process.env.WEAK_ECH_CREDENTIALS = 'weak:weak-password-1';
    bindSecret('WEAK_ECH_CREDENTIALS', { use: 'ech-elasticsearch' });
    const req = request('api-key-public');
    req.local = { ...req.local, elasticsearch: { credentialsSecret: 'WEAK_ECH_CREDENTIALS' } };
    const before = await estate.view();
    const failure = await failureOf(await startRun(req));
    assert.equal(failure.type, 'MissingPrivileges', failure.message);
    assert.match(failure.message, /manage_security/);
    assert.deepEqual(await estate.view(), before);
  });

  it('a secret the worker does not have ends the preflight, and the status says so', async () => {
    await estate.scenario('api-key-public');
    const req = request('api-key-public');
    req.local = { ...req.local, cloud: { ...req.local.cloud, apiKeySecret: 'EC_API_KEY_NOT_ON_THIS_WORKER' } };
    // Bound (the operator configured it) but not set on the worker.
    bindSecret('EC_API_KEY_NOT_ON_THIS_WORKER', { use: 'cloud-api-key', endpoint: estate.info.cloud.endpoint });
    const before = await estate.view();
    const handle = await startRun(req);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'SecretNotFound', failure.message);
    assert.match(
      failure.message,
      /local\.cloud\.apiKeySecret: Secret "EC_API_KEY_NOT_ON_THIS_WORKER".*ECH_REMOTE_SECRETS_DIR/s,
    );
    const status = await handle.query<ConnectStatus>('status');
    assert.equal(status.phase, 'failed');
    assert.equal(status.steps.find((st) => st.id === 'preflight')?.state, 'failed');
    assert.equal(status.error?.type, 'SecretNotFound');
    assert.deepEqual(await estate.view(), before);
  });
});

describe('remote cluster server disabled', () => {
  it('waits for the self-managed org with the snippet; applying its artifacts and confirming connects', async () => {
    await estate.scenario('rcs-disabled');
    const req = request('api-key-public');
    const handle = await startRun(req);
    const status = await waitFor(handle, 'remote-cluster-server');
    assert.equal(status.waitingFor?.who, 'self-managed-org');
    assert.match(status.waitingFor!.instructions, /remote_cluster_server\.enabled: true/);
    const artifacts = status.waitingFor!.artifacts!;
    await estate.control('POST', '/self-managed/apply', {
      settings: artifacts.settings,
      files: artifacts.files,
      restart: true,
    });
    await handle.signal('confirmRemoteStep', { step: 'remote-cluster-server', by: 'admin@corp.example' });
    await approve(handle);
    await expectConnected((await handle.result()) as ConnectResult, req.alias);
  });
});

describe('failure after changes', () => {
  const failConnect = () =>
    estate.faults([{ target: 'ech', method: 'PUT', path: '^/_cluster/settings$', statusRates: { '400': 1 } }]);

  it('onFailure "rollback" leaves the estate exactly as before', async () => {
    await estate.scenario('api-key-private');
    const before = await estate.view();
    await failConnect();
    const handle = await startRun(request('api-key-private'));
    await approve(handle);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'ValidationFailed', "the failed step's classified type, not a generic one");
    assert.match(failure.message, /Rolled back/);
    await estate.control('DELETE', '/faults');
    assert.deepEqual(await estate.view(), before);
    const status = await handle.query<ConnectStatus>('status');
    assert.equal(status.cleanup?.mode, 'rollback');
    assert.ok(status.cleanup!.items.some((i) => /keystore/.test(i)));
  });

  it('onFailure "keep" leaves what was made and says what remains', async () => {
    await estate.scenario('api-key-private');
    await failConnect();
    const handle = await startRun(request('api-key-private', { onFailure: 'keep' }));
    await approve(handle);
    const failure = await failureOf(handle);
    await estate.control('DELETE', '/faults');
    assert.match(failure.message, /Left in place/);
    assert.match(failure.message, /keystore entry cluster\.remote\.onprem-logs\.credentials/);
    assert.match(failure.message, /trust entry/);
    assert.match(failure.message, /cross-cluster API key/);
    const view = await estate.view();
    assert.deepEqual(view.keystore, ['cluster.remote.onprem-logs.credentials']);
    assert.equal(view.activeCrossClusterKeys.length, 1);
  });
});

describe('dry run', () => {
  it('returns every step, who does it and the request, and changes nothing', async () => {
    await estate.scenario('api-key-private');
    const before = await estate.view();
    const handle = await startRun(request('api-key-private', { dryRun: true }));
    const result = (await handle.result()) as DryRunResult;
    const steps = result.plan.map((p) => p.step);
    for (const s of [
      'cross-cluster-api-key',
      'approve-local-changes',
      'ech-trust',
      'ech-keystore',
      'connect',
      'verify',
      'roles-and-users',
    ]) {
      assert.ok(steps.includes(s as never), `plan has ${s}`);
    }
    assert.equal(result.plan.find((p) => p.step === 'connect')?.request?.path, '/_cluster/settings');
    assert.deepEqual(await estate.view(), before);
  });
});
