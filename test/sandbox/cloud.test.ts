/**
 * The simulated Elastic Cloud API, driven over HTTPS with a fake ECH cluster (only the methods the control plane calls).
 * Every `/api/v1` response is validated against apidocs.json by CloudTestClient.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPki, type SandboxPki } from '../../src/sandbox/pki';
import { FaultInjector } from '../../src/sandbox/faults';
import { CloudApi, CloudDeployment, cloudId, type EchClusterPort } from '../../src/sandbox/cloud';
import { CloudTestClient, waitFor } from './cloud-helpers';
import { cloudSwagger } from './swagger';

class FakeEch implements EchClusterPort {
  trust: { cas: string[]; transportNodeNamePatterns?: string[] } | undefined;
  secure: Record<string, string> = {};
  restarts = 0;
  failRestart = false;
  setSecureSettings(entries: Record<string, string | undefined>): void {
    for (const [k, v] of Object.entries(entries)) {
      if (v === undefined) delete this.secure[k];
      else this.secure[k] = v;
    }
  }
  setTrust(trust: { cas: string[]; transportNodeNamePatterns?: string[] }): void {
    this.trust = trust;
  }
  async restart(): Promise<void> {
    if (this.failRestart) throw new Error('node did not come back');
    this.restarts++;
  }
  connectedAliases = new Set<string>();
  remoteConnected(alias: string): boolean {
    return this.connectedAliases.has(alias);
  }
}

let pki: SandboxPki;
let api: CloudApi;
let client: CloudTestClient;
let ech: FakeEch;
let dep: CloudDeployment;
/** Read through a function so assert narrowing does not stick across awaits. */
const echTrust = () => ech.trust;
const faults = new FaultInjector(7);
const API_KEY = 'sandbox-test-key';
const ORG = '1234567890';

function newDeployment(version = '9.1.3'): void {
  if (dep) api.removeDeployment(dep.id);
  ech = new FakeEch();
  dep = new CloudDeployment({
    id: cloudId(),
    name: 'sandbox-ech',
    refId: 'main-elasticsearch',
    region: 'sandbox-region-1',
    clusterId: cloudId(),
    clusterName: 'sandbox-ech',
    orgId: ORG,
    version,
    endpoint: { host: '127.0.0.1', httpsPort: 9243, transportPort: 9400 },
    caCertificates: [{ pem: pki.echTransport.certPem, active: true }],
    ech,
    plans: { pendingMs: 500 }, // long enough to observe "pending" on a loaded machine
  });
  api.addDeployment(dep);
}

const depPath = () => `/api/v1/deployments/${dep.id}`;
const esPath = () => `${depPath()}/elasticsearch/main-elasticsearch`;

async function currentState() {
  const res = await client.call('GET', `${depPath()}?show_settings=true&show_plans=true`);
  assert.equal(res.status, 200);
  return { res, es: res.body.resources.elasticsearch[0], version: String(res.headers['x-cloud-resource-version']) };
}

function updateBody(trust: unknown, extra: Record<string, unknown> = {}) {
  return {
    prune_orphans: false,
    resources: {
      elasticsearch: [
        {
          ref_id: 'main-elasticsearch',
          region: 'sandbox-region-1',
          plan: { cluster_topology: [], elasticsearch: { version: dep.config.version } },
          settings: { trust },
          ...extra,
        },
      ],
    },
  };
}

before(async () => {
  pki = await createPki();
  const leaf = await pki.issue(pki.publicRoot, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  api = await CloudApi.start({ tls: { key: leaf.keyPem, cert: leaf.certPem }, apiKey: API_KEY, faults });
  client = new CloudTestClient(api.url, API_KEY, pki.publicRoot.certPem);
});

after(async () => {
  await api.stop();
});

beforeEach(() => {
  faults.clear();
  newDeployment();
});

describe('authentication and errors', () => {
  it('answers 401 in the Cloud envelope without or with a wrong API key', async () => {
    const none = await client.call('GET', depPath(), undefined, { apiKey: null });
    assert.equal(none.status, 401);
    assert.equal(none.body.errors[0].code, 'root.unauthenticated');
    assert.equal(none.headers['x-cloud-error-codes'], 'root.unauthenticated');
    const wrong = await client.call('GET', depPath(), undefined, { apiKey: 'nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.errors[0].code, 'root.invalid_authentication');
  });

  it('answers 404 deployment_not_found / deployment_resource_not_found', async () => {
    const d = await client.call('GET', `/api/v1/deployments/${'0'.repeat(32)}`);
    assert.equal(d.status, 404);
    assert.equal(d.body.errors[0].code, 'deployments.deployment_not_found');
    assert.equal(d.headers['x-cloud-error-codes'], 'deployments.deployment_not_found');
    const r = await client.call('GET', `${depPath()}/elasticsearch/nope`);
    assert.equal(r.status, 404);
    assert.equal(r.body.errors[0].code, 'deployments.deployment_resource_not_found');
    for (const p of [`${depPath()}/elasticsearch/nope/keystore`, `${depPath()}/kibana/main-kibana/activity/x`]) {
      const res = await client.call('GET', p);
      assert.equal(res.status, 404);
    }
  });
});

describe('GET deployment', () => {
  it('returns the Elasticsearch resource with ref_id, cluster id, status, plans, metadata and version header', async () => {
    const { res, es } = await currentState();
    assert.equal(res.body.id, dep.id);
    assert.equal(es.ref_id, 'main-elasticsearch');
    assert.equal(es.region, 'sandbox-region-1');
    assert.equal(es.id, dep.config.clusterId);
    assert.equal(es.info.cluster_id, dep.config.clusterId);
    assert.equal(es.info.deployment_id, dep.id);
    assert.equal(es.info.status, 'started');
    assert.equal(es.info.plan_info.current.healthy, true);
    assert.equal(es.info.plan_info.current.plan.elasticsearch.version, '9.1.3');
    assert.equal(es.info.plan_info.pending, undefined);
    assert.equal(es.info.metadata.endpoint, '127.0.0.1');
    assert.equal(es.info.metadata.ports.https, 9243);
    assert.deepEqual(es.info.settings.trust, { accounts: [{ account_id: ORG, trust_all: true }] });
    assert.match(String(res.headers['x-cloud-resource-version']), /^\d+$/);
    assert.ok(res.headers['x-cloud-resource-last-modified']);
  });

  it('omits settings unless show_settings and plans when show_plans=false', async () => {
    const res = await client.call('GET', `${depPath()}?show_plans=false`);
    const info = res.body.resources.elasticsearch[0].info;
    assert.equal(info.settings, undefined);
    assert.equal(info.plan_info.current, undefined);
    const bad = await client.call('GET', `${depPath()}?show_settings=maybe`);
    assert.equal(bad.status, 400);
  });

  it('serves the resource endpoint with the same info', async () => {
    const res = await client.call('GET', `${esPath()}?show_settings=true&show_plan_history=true&show_plan_logs=true`);
    assert.equal(res.status, 200);
    assert.equal(res.body.ref_id, 'main-elasticsearch');
    assert.equal(res.body.info.plan_info.history.length, 1);
  });
});

describe('PUT deployment (trust)', () => {
  const proxyEntry = () => ({
    type: 'proxy',
    name: 'self-managed private CA',
    trust_all: false,
    certificates: [{ pem: pki.remotePrivate.certPem }],
  });

  it('validates direct entries with the swagger rules and reports every problem', async () => {
    const res = await client.call(
      'PUT',
      depPath(),
      updateBody({
        direct: [
          { ...proxyEntry(), scope_id: 'abc', trust_all: true },
          {
            name: 'generic',
            trust_all: false,
            certificates: [{ pem: pki.selfManagedTransport.certPem }],
            additional_node_names: ['*.corp'],
          },
          { name: 'no names', trust_all: false, certificates: [{ pem: pki.selfManagedTransport.certPem }] },
          { name: 'bad pem', trust_all: false, certificates: [{ pem: 'not a pem' }], additional_node_names: ['n1'] },
          { name: 'scope', trust_all: true, scope_id: 'Not-Valid', certificates: [], additional_node_names: ['n1'] },
          {
            trust_all: false,
            certificates: [{ pem: pki.selfManagedTransport.certPem }],
            additional_node_names: ['n1'],
          },
        ],
      }),
    );
    assert.equal(res.status, 400);
    const fields = res.body.errors.flatMap((e: { fields: string[] }) => e.fields);
    const base = 'resources.elasticsearch[0].settings.trust.direct';
    for (const f of [
      `${base}[0].trust_all`,
      `${base}[0].scope_id`,
      `${base}[1].additional_node_names[0]`,
      `${base}[2].additional_node_names`,
      `${base}[3].certificates[0].pem`,
      `${base}[4].scope_id`,
      `${base}[4].certificates`,
      `${base}[5].name`,
    ]) {
      assert.ok(fields.includes(f), `expected a problem at ${f}; got ${fields.join(', ')}`);
    }
    assert.ok(res.body.errors.every((e: { code: string }) => e.code === 'root.invalid_data'));
  });

  it('requires prune_orphans and a plan', async () => {
    const res = await client.call('PUT', depPath(), {
      resources: { elasticsearch: [{ ref_id: 'main-elasticsearch', region: 'sandbox-region-1' }] },
    });
    assert.equal(res.status, 400);
    const fields = res.body.errors.flatMap((e: { fields: string[] }) => e.fields);
    assert.ok(fields.includes('prune_orphans'));
    assert.ok(fields.includes('resources.elasticsearch[0].plan'));
  });

  it('validate_only changes nothing; a stale version is a 409', async () => {
    const before = await currentState();
    const v = await client.call(
      'PUT',
      `${depPath()}?validate_only=true`,
      updateBody({ ...before.es.info.settings.trust, direct: [proxyEntry()] }),
    );
    assert.equal(v.status, 200);
    const afterValidate = await currentState();
    assert.equal(afterValidate.version, before.version);
    assert.equal(afterValidate.es.info.settings.trust.direct, undefined);
    assert.equal(afterValidate.es.info.plan_info.pending, undefined);

    const stale = await client.call(
      'PUT',
      `${depPath()}?version=${Number(before.version) - 1}`,
      updateBody({ direct: [proxyEntry()] }),
    );
    assert.equal(stale.status, 409);
    assert.equal(stale.body.errors[0].code, 'deployments.version_conflict');
  });

  it('replaces the whole trust object, generates and keeps uids, runs a plan and pushes trust to the nodes', async () => {
    const before = await currentState();
    const trust = {
      accounts: before.es.info.settings.trust.accounts,
      direct: [
        proxyEntry(),
        {
          type: 'generic',
          name: 'self-managed transport',
          trust_all: false,
          additional_node_names: ['node1.corp.example'],
          certificates: [{ pem: pki.selfManagedTransport.certPem }],
        },
      ],
    };
    const put = await client.call('PUT', `${depPath()}?version=${before.version}`, updateBody(trust));
    assert.equal(put.status, 200);
    assert.equal(put.body.resources[0].kind, 'elasticsearch');
    assert.notEqual(put.headers['x-cloud-resource-version'], before.version);

    const pending = await currentState();
    assert.equal(pending.es.info.status, 'reconfiguring');
    assert.ok(pending.es.info.plan_info.pending.plan_attempt_id);
    assert.equal(echTrust(), undefined, 'nodes do not see the trust before the plan completes');
    const direct = pending.es.info.settings.trust.direct;
    assert.equal(direct.length, 2);
    assert.ok(direct[0].uid && direct[1].uid && direct[0].uid !== direct[1].uid);
    assert.match(direct[0].certificates[0].metadata.fingerprint, /^[0-9a-f]{64}$/);
    assert.ok(direct[0].certificates[0].metadata.valid_to);

    // Another change while the plan is pending is refused.
    const busy = await client.call('PUT', depPath(), updateBody({ direct: [proxyEntry()] }));
    assert.equal(busy.status, 422);
    assert.equal(busy.body.errors[0].code, 'deployments.deployment_resource_plan_change_error');

    const done = await waitFor(async () => {
      const s = await currentState();
      return s.es.info.plan_info.pending ? undefined : s;
    });
    assert.equal(done.es.info.status, 'started');
    assert.equal(done.es.info.plan_info.current.healthy, true);
    assert.equal(done.es.info.plan_info.current.plan_attempt_id, pending.es.info.plan_info.pending.plan_attempt_id);
    assert.deepEqual(ech.trust?.cas.length, 2);
    assert.deepEqual(ech.trust?.transportNodeNamePatterns, ['node1.corp.example']);

    // Read-modify-write: drop the proxy entry, keep the other with its uid (sent back with metadata as read).
    const kept = done.es.info.settings.trust.direct[1];
    const put2 = await client.call(
      'PUT',
      `${depPath()}?version=${done.version}`,
      updateBody({ accounts: done.es.info.settings.trust.accounts, direct: [kept] }),
    );
    assert.equal(put2.status, 200);
    await dep.whenIdle();
    const final = await currentState();
    assert.deepEqual(
      final.es.info.settings.trust.direct.map((d: { uid: string }) => d.uid),
      [kept.uid],
    );
    assert.equal(ech.trust?.cas.length, 1);
  });

  it('translates scope-based generic entries into Cloud node-name patterns', async () => {
    const put = await client.call(
      'PUT',
      depPath(),
      updateBody({
        direct: [
          {
            name: 'ece',
            type: 'ECE',
            trust_all: true,
            scope_id: 'envabc',
            certificates: [{ pem: pki.remotePrivate.certPem }],
          },
          {
            name: 'one',
            trust_all: false,
            scope_id: 'org1',
            trust_allowlist: ['c1'],
            certificates: [{ pem: pki.remotePrivate.certPem }],
          },
        ],
      }),
    );
    assert.equal(put.status, 200);
    await dep.whenIdle();
    assert.deepEqual(ech.trust?.transportNodeNamePatterns, [
      '*.node.*.cluster.envabc.account',
      '*.node.c1.cluster.org1.account',
    ]);
    assert.equal(ech.trust?.cas.length, 1, 'the same CA is trusted once');
  });

  it('an identical update starts no plan', async () => {
    const s = await currentState();
    const put = await client.call('PUT', depPath(), updateBody(s.es.info.settings.trust));
    assert.equal(put.status, 200);
    assert.equal((await currentState()).es.info.plan_info.pending, undefined);
  });

  it('a failing plan reports the error, rolls the trust back and leaves the nodes alone', async () => {
    dep.plans.failNext = 1;
    const put = await client.call('PUT', depPath(), updateBody({ direct: [proxyEntry()] }));
    assert.equal(put.status, 200);
    await dep.whenIdle();
    const s = await currentState();
    const current = s.es.info.plan_info.current;
    assert.equal(current.healthy, false);
    assert.match(current.error.message, /failed/i);
    assert.equal(s.es.info.plan_info.healthy, false);
    assert.equal(s.es.info.settings.trust.direct, undefined);
    assert.equal(echTrust(), undefined);
    const activity = await client.call('GET', `${esPath()}/activity/${current.plan_attempt_id}`);
    assert.equal(activity.status, 200);
    assert.equal(activity.body.healthy, false);
    assert.ok(activity.body.error);
  });

  it('refuses prune_orphans=true without the resource', async () => {
    const res = await client.call('PUT', depPath(), { prune_orphans: true, resources: { elasticsearch: [] } });
    assert.equal(res.status, 400);
  });
});

describe('keystore', () => {
  const key = 'cluster.remote.onprem-logs.credentials';

  it('PATCH is partial, never returns values, and reaches ECH >= 8.14 at once', async () => {
    let res = await client.call('PATCH', `${esPath()}/keystore`, {
      secrets: { [key]: { value: 'encoded-1', as_file: false } },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { secrets: { [key]: { as_file: false } } });
    assert.equal(ech.secure[key], 'encoded-1');
    res = await client.call('PATCH', `${depPath()}/elasticsearch/_main/keystore`, {
      secrets: { other: { value: { a: 1 } } },
    });
    assert.deepEqual(res.body, { secrets: { [key]: { as_file: false }, other: { as_file: true } } });
    res = await client.call('GET', `${esPath()}/keystore`);
    assert.ok(!res.text.includes('encoded-1'));
    res = await client.call('PATCH', `${esPath()}/keystore`, { secrets: { [key]: null, other: {} } });
    assert.deepEqual(res.body, { secrets: {} });
    assert.equal(ech.secure[key], undefined);
    const bad = await client.call('PATCH', `${esPath()}/keystore`, { nope: 1 });
    assert.equal(bad.status, 400);
  });

  it('before 8.14 the nodes see keystore changes only after a restart plan', async () => {
    newDeployment('8.13.4');
    await client.call('PATCH', `${esPath()}/keystore`, { secrets: { [key]: { value: 'encoded-2' } } });
    assert.equal(ech.secure[key], undefined);
    const r = await client.call('POST', `${esPath()}/_restart`);
    assert.equal(r.status, 202);
    await dep.whenIdle();
    assert.equal(ech.secure[key], 'encoded-2');
    assert.equal(ech.restarts, 1);
  });
});

describe('restart and pending plans', () => {
  it('restart is a plan; a second one is refused unless cancel_pending', async () => {
    assert.equal((await client.call('POST', `${esPath()}/_restart`)).status, 202);
    const s = await currentState();
    assert.equal(s.es.info.status, 'restarting');
    const again = await client.call('POST', `${esPath()}/_restart`);
    assert.equal(again.status, 422);
    assert.equal(again.headers['x-cloud-error-codes'], 'deployments.deployment_resource_plan_change_error');
    assert.equal((await client.call('POST', `${esPath()}/_restart?cancel_pending=true`)).status, 202);
    await dep.whenIdle();
    assert.equal(ech.restarts, 1);
    const history = (await client.call('GET', `${esPath()}?show_plan_history=true`)).body.info.plan_info.history;
    assert.deepEqual(
      history.map((h: { healthy: boolean }) => h.healthy),
      [true, false, true],
    );
  });

  it('DELETE plan/pending cancels; without a pending plan it is a 400 unless ignore_missing', async () => {
    await client.call('POST', `${esPath()}/_restart`);
    const del = await client.call('DELETE', `${esPath()}/plan/pending`);
    assert.equal(del.status, 200);
    assert.deepEqual(del.body, { id: dep.id, kind: 'elasticsearch', ref_id: 'main-elasticsearch' });
    const none = await client.call('DELETE', `${esPath()}/plan/pending`);
    assert.equal(none.status, 400);
    assert.equal(none.body.errors[0].code, 'deployments.resource_does_not_have_a_pending_plan');
    assert.equal((await client.call('DELETE', `${esPath()}/plan/pending?ignore_missing=true`)).status, 200);
    assert.equal(ech.restarts, 0);
  });

  it('a restart that fails on the nodes fails the plan', async () => {
    ech.failRestart = true;
    await client.call('POST', `${esPath()}/_restart`);
    await dep.whenIdle();
    const current = (await currentState()).es.info.plan_info.current;
    assert.equal(current.healthy, false);
    assert.match(current.error.message, /node did not come back/);
  });
});

describe('certificate authority', () => {
  it('returns the ECH transport CA with metadata and the recommended trust restriction', async () => {
    const res = await client.call('GET', `${depPath()}/certificate-authority`);
    assert.equal(res.status, 200);
    assert.equal(res.body.recommended_trust_restriction, `*.node.${dep.config.clusterId}.cluster.${ORG}.account`);
    assert.equal(res.body.public_certificates[0].active, true);
    assert.equal(res.body.public_certificates[0].pem, pki.echTransport.certPem);
    assert.match(res.body.public_certificates[0].metadata.fingerprint, /^[0-9a-f]{64}$/);
  });

  it('during a rotation lists the inactive CA beside the active one, each with its own validity (CertificateAuthority)', async () => {
    const next = await pki.createCa('ech-transport-next');
    dep.addInactiveCa(next.certPem);
    const res = await client.call('GET', `${depPath()}/certificate-authority`);
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.public_certificates.map((c: { active: boolean; pem: string }) => [c.active, c.pem]),
      [
        [true, pki.echTransport.certPem],
        [false, next.certPem],
      ],
    );
    const [a, b] = res.body.public_certificates;
    assert.notEqual(a.metadata.fingerprint, b.metadata.fingerprint);
    assert.ok(Date.parse(b.metadata.valid_to) > Date.now());
  });
});

describe('certificate-based remote clusters (Cloud API remote-clusters)', () => {
  // get-/set-deployment-es-resource-remote-clusters of spec/cloud-api/apidocs.json (RemoteResources,
  // RemoteResourceRef, RemoteResourceInfo): same-organization ECH deployments only; self-managed remotes are set with
  // Elasticsearch's cluster settings and never listed here (domain page §3). Every answer is validated by the client.
  const others: CloudDeployment[] = [];
  function otherDeployment(opts: { orgId?: string; version?: string } = {}): CloudDeployment {
    const d = new CloudDeployment({
      id: cloudId(),
      name: 'other-ech',
      refId: 'main-elasticsearch',
      region: 'sandbox-region-1',
      clusterId: cloudId(),
      clusterName: 'other-ech',
      orgId: opts.orgId ?? ORG,
      version: opts.version ?? '9.1.3',
      endpoint: { host: '127.0.0.1', httpsPort: 9244, transportPort: 9401 },
      caCertificates: [{ pem: pki.echTransport.certPem, active: true }],
      ech: new FakeEch(),
    });
    api.addDeployment(d);
    others.push(d);
    return d;
  }
  after(() => {
    for (const d of others.splice(0)) api.removeDeployment(d.id);
  });
  const rcPath = (ref = 'main-elasticsearch') => `${depPath()}/elasticsearch/${ref}/remote-clusters`;

  it('a deployment without certificate-based remotes lists none; _main and the ref_id both address it', async () => {
    for (const ref of ['main-elasticsearch', '_main']) {
      const res = await client.call('GET', rcPath(ref));
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { resources: [] });
    }
    const unknownRef = await client.call('GET', rcPath('nope'));
    assert.equal(unknownRef.status, 404);
    assert.equal(unknownRef.body.errors[0].code, 'deployments.deployment_resource_not_found');
    const unknownDeployment = await client.call(
      'GET',
      `/api/v1/deployments/${cloudId()}/elasticsearch/_main/remote-clusters`,
    );
    assert.equal(unknownDeployment.status, 404);
    assert.equal(unknownDeployment.body.errors[0].code, 'deployments.deployment_not_found');
  });

  it('PUT replaces the list (202); GET shows each remote with health, connection, compatibility and trust both ways', async () => {
    const sameOrg = otherDeployment();
    const otherOrgOld = otherDeployment({ orgId: '9999999999', version: '7.17.20' });
    const put = await client.call('PUT', rcPath(), {
      resources: [
        {
          deployment_id: sameOrg.id,
          elasticsearch_ref_id: 'main-elasticsearch',
          alias: 'same-org',
          skip_unavailable: true,
        },
        { deployment_id: otherOrgOld.id, elasticsearch_ref_id: 'main-elasticsearch', alias: 'old_other' },
      ],
    });
    assert.equal(put.status, 202);
    assert.deepEqual(put.body, {});
    ech.connectedAliases.add('same-org');
    const got = await client.call('GET', rcPath());
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.resources, [
      {
        deployment_id: sameOrg.id,
        elasticsearch_ref_id: 'main-elasticsearch',
        alias: 'same-org',
        skip_unavailable: true,
        // Both trust their own organization by default (accounts trust_all); 9.1.3 talks to 9.1.3.
        info: { healthy: true, connected: true, compatible: true, trusted: true, trusted_back: true },
      },
      {
        deployment_id: otherOrgOld.id,
        elasticsearch_ref_id: 'main-elasticsearch',
        alias: 'old_other',
        // 7.17 is below 9.x's minimum wire-compatible version (8.18/8.19); another organization is not trusted.
        info: { healthy: true, connected: false, compatible: false, trusted: false, trusted_back: false },
      },
    ]);
    // Trust given to the other organization (an accounts entry) shows as trusted; PUT [] clears the list.
    const state = await currentState();
    const trust = state.es.info.settings.trust;
    const upd = await client.call('PUT', `${depPath()}?version=${state.version}`, {
      ...updateBody({ ...trust, accounts: [...trust.accounts, { account_id: '9999999999', trust_all: true }] }),
    });
    assert.equal(upd.status, 200);
    await waitFor(async () => (await client.call('GET', rcPath())).body.resources[1].info.trusted === true);
    assert.equal((await client.call('PUT', rcPath(), { resources: [] })).status, 202);
    assert.deepEqual((await client.call('GET', rcPath())).body, { resources: [] });
  });

  it('PUT refuses a bad list with every problem named and changes nothing', async () => {
    const sameOrg = otherDeployment();
    const res = await client.call('PUT', rcPath(), {
      resources: [
        { deployment_id: sameOrg.id, elasticsearch_ref_id: 'main-elasticsearch', alias: 'has.dot' },
        { deployment_id: sameOrg.id, alias: 'no-ref' },
        { deployment_id: cloudId(), elasticsearch_ref_id: 'main-elasticsearch', alias: 'ghost' },
        { deployment_id: sameOrg.id, elasticsearch_ref_id: 'other-ref', alias: 'wrong-ref', skip_unavailable: 'yes' },
      ],
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.errors.map((e: { fields: string[] }) => e.fields[0]).sort(), [
      'resources[0].alias',
      'resources[1].elasticsearch_ref_id',
      'resources[2].deployment_id',
      'resources[3].elasticsearch_ref_id',
      'resources[3].skip_unavailable',
    ]);
    assert.equal((await client.call('PUT', rcPath(), {})).status, 400);
    assert.deepEqual((await client.call('GET', rcPath())).body, { resources: [] });
  });
});

describe('fault injection on the Cloud API', () => {
  it('answers injected statuses in the Cloud envelope and never touches /_sandbox', async () => {
    api.control = async () => ({ status: 200, body: { ok: true } });
    faults.configure([{ target: 'cloud', statusRates: { '503': 1 } }], 42);
    const res = await client.call('GET', depPath());
    assert.equal(res.status, 503);
    assert.equal(res.body.errors[0].code, 'root.service_unavailable');
    const control = await client.call('GET', '/_sandbox');
    assert.equal(control.status, 200);
    assert.equal(faults.history.length, 1);
    api.control = undefined;
  });
});

describe('swagger helper', () => {
  it('catches a response that does not match the swagger', () => {
    const v = cloudSwagger().validate('GET', '/api/v1/deployments/x/certificate-authority', 200, {
      public_certificates: [{ active: 'yes', pem: 1 }],
    });
    assert.equal(v.ok, false);
    assert.ok(v.errors.length >= 3, v.errors.join('\n'));
    const extra = cloudSwagger().validate('GET', '/api/v1/deployments/x/elasticsearch/y/keystore', 200, {
      secrets: {},
      sneaky: true,
    });
    assert.equal(extra.ok, false, 'objects are closed');
  });

  it('covered every Cloud operation the sandbox serves', () => {
    for (const op of [
      'get-deployment 200',
      'get-deployment 401',
      'get-deployment 404',
      'update-deployment 200',
      'update-deployment 400',
      'update-deployment 409',
      'get-deployment-es-resource-info 200',
      'get-deployment-es-resource-info 404',
      'get-deployment-es-resource-keystore 200',
      'get-deployment-es-resource-keystore 404',
      'set-deployment-es-resource-keystore 200',
      'restart-deployment-es-resource 202',
      'restart-deployment-es-resource 422',
      'cancel-deployment-resource-pending-plan 200',
      'cancel-deployment-resource-pending-plan 400',
      'get-deployment-resource-plan-activity 200',
      'get-deployment-resource-plan-activity 404',
      'get-deployment-certificate-authority 200',
      'get-deployment-es-resource-remote-clusters 200',
      'get-deployment-es-resource-remote-clusters 404',
      'set-deployment-es-resource-remote-clusters 202',
      'set-deployment-es-resource-remote-clusters 400',
    ]) {
      assert.ok(client.seen.has(op), `not exercised: ${op}; seen ${[...client.seen].join(', ')}`);
    }
  });
});
