/**
 * The whole sandbox through `start()`: sandbox.json, the control API under /_sandbox (scenarios, playing the
 * self-managed admin, plans, seeded faults, state read-back), Cloud → ECH trust and keystore propagation, and plain
 * `curl --cacert` against both clusters.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { start, type Sandbox } from '../../src/sandbox';
import { validateAuditRequest } from '../../src/contract/audit';
import { validateFleetRequest } from '../../src/contract/fleet';
import { durationToMs } from '../../src/contract/duration';
import {
  validateDisconnectRequest,
  validateMigrateRequest,
  validateRotateRequest,
  validateUpdateAccessRequest,
} from '../../src/contract/lifecycle';
import { connectRequestSchema } from '../../src/contract/request';
import { CloudTestClient, httpsJson, waitFor } from './cloud-helpers';

let sandbox: Sandbox;
let client: CloudTestClient;
let dir: string;
let outFile: string;
let startMs: number;
/** Asynchronous on purpose: the servers run in this process, a blocking curl would wait for itself. */
const curl = async (args: string[]) =>
  (await promisify(execFile)('curl', args, { encoding: 'utf8', timeout: 10_000 })).stdout;

const control = <T = any>(method: string, p: string, body?: unknown) => client.call<T>(method, `/_sandbox${p}`, body);

function hasCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-test-'));
  outFile = path.join(dir, 'sandbox.json');
  const t0 = Date.now();
  sandbox = await start({ outFile, planPendingMs: 50, seed: 5 });
  startMs = Date.now() - t0;
  client = new CloudTestClient(sandbox.info.cloud.endpoint, sandbox.info.cloud.apiKey, sandbox.info.ca.publicRoot);
});

after(async () => {
  await sandbox?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('start() and sandbox.json', () => {
  it('starts in under 5 s and writes sandbox.json with the contract shape', () => {
    assert.ok(startMs < 5000, `start took ${startMs} ms`);
    const json = JSON.parse(fs.readFileSync(outFile, 'utf8'));
    assert.deepEqual(json, JSON.parse(JSON.stringify(sandbox.info)));
    assert.equal(fs.statSync(outFile).mode & 0o777, 0o600);
    assert.equal(json.scenario, 'api-key-public');
    for (const k of ['endpoint', 'apiKey', 'deploymentId', 'refId']) assert.ok(json.cloud[k], `cloud.${k}`);
    for (const k of ['url', 'username', 'password']) assert.ok(json.ech[k], `ech.${k}`);
    for (const k of ['url', 'username', 'password', 'remoteClusterServer', 'transport', 'serverName', 'httpCa']) {
      assert.ok(json.selfManaged[k], `selfManaged.${k}`);
    }
    for (const k of ['publicRoot', 'remotePrivate', 'echTransport', 'selfManagedTransport']) {
      assert.match(json.ca[k], /-----BEGIN CERTIFICATE-----/);
    }
    assert.equal(json.control, `${json.cloud.endpoint}/_sandbox`);
    assert.equal(json.env.EC_API_KEY, json.cloud.apiKey);
    assert.equal(json.env.ECH_ES_CREDENTIALS, `elastic:${json.ech.password}`);
    assert.equal(json.env.ONPREM_ES_CREDENTIALS, `elastic:${json.selfManaged.password}`);
    assert.equal(fs.readFileSync(json.env.NODE_EXTRA_CA_CERTS, 'utf8'), json.ca.publicRoot);
    assert.match(json.cloud.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('writes the secrets as NAME=value lines', () => {
    const lines = sandbox.info.secretsEnvFile.trim().split('\n');
    const env = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.deepEqual(env, sandbox.info.env);
    assert.equal(fs.readFileSync(sandbox.info.files.secretsEnv, 'utf8'), sandbox.info.secretsEnvFile);
  });

  it('ships ready ConnectRequests and day-2 requests that the contract schemas accept', () => {
    const { rotate, updateAccess, disconnect, audit, fleet, migrate, ...connects } = sandbox.info.requests;
    for (const [name, request] of Object.entries(connects)) {
      const parsed = connectRequestSchema.safeParse(request);
      assert.ok(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`);
    }
    // Day 2 acts on the connection api-key-private makes, with remote credentials; the grace period is at most 10 s.
    assert.equal(validateRotateRequest(rotate).ok, true);
    assert.equal(validateUpdateAccessRequest(updateAccess).ok, true);
    assert.equal(validateDisconnectRequest(disconnect).ok, true);
    for (const r of [rotate, updateAccess, disconnect]) {
      assert.equal(r.alias, sandbox.info.requests['api-key-private'].alias);
      assert.ok(r.remote?.elasticsearch?.credentialsSecret);
    }
    assert.ok(durationToMs(rotate.gracePeriod ?? '0s') <= 10_000);
    // The migration acts on the certificate-model connection (the alias of tls-certificate), to its remote cluster server.
    const migrateV = validateMigrateRequest(migrate);
    assert.ok(migrateV.ok, JSON.stringify(migrateV));
    assert.equal(migrate.alias, sandbox.info.requests['tls-certificate'].alias);
    assert.equal(
      migrate.remote.remoteClusterServer.proxyAddress,
      sandbox.info.remotes[migrate.alias]!.remoteClusterServer,
    );
    // The audit covers every connection of the sample requests and of the fleet on the one deployment, with remote
    // credentials (so a fleet connection's key is checked too).
    const auditV = validateAuditRequest(audit);
    assert.ok(auditV.ok, JSON.stringify(auditV));
    const [deployment] = auditV.request.deployments;
    assert.equal(deployment?.local.deploymentId, sandbox.info.cloud.deploymentId);
    assert.deepEqual(
      deployment?.remotes.flatMap((r) => r.aliases).sort(),
      [
        ...new Set([...Object.values(connects).map((c) => c.alias), ...fleet.connections.map((c) => String(c.alias))]),
      ].sort(),
    );
    assert.ok(deployment?.remotes.every((r) => r.elasticsearch.credentialsSecret));
    // The fleet: at least three connections of the one self-managed cluster to the ECH deployment, distinct aliases,
    // remote credentials included (the interface issue 15 fixes).
    const fleetV = validateFleetRequest(fleet);
    assert.ok(fleetV.ok, JSON.stringify(fleetV));
    const fleetConnections = fleetV.request.connections;
    assert.ok(fleetConnections.length >= 3);
    assert.equal(new Set(fleetConnections.map((c) => c.alias)).size, fleetConnections.length);
    for (const c of fleetConnections) {
      assert.equal(c.local.deploymentId, sandbox.info.cloud.deploymentId);
      assert.equal(c.remote.proxyAddress, sandbox.info.requests['api-key-private'].remote.proxyAddress);
      assert.ok(c.remote.elasticsearch?.credentialsSecret);
    }
    assert.equal(
      sandbox.info.requests['api-key-public'].remote.proxyAddress,
      sandbox.info.selfManaged.remoteClusterServer,
    );
    assert.equal(sandbox.info.requests['tls-certificate'].remote.proxyAddress, sandbox.info.selfManaged.transport);
    assert.equal(sandbox.info.requests['api-key-private'].remote.ca.kind, 'private');
  });

  it(
    'serves both clusters to plain curl with the CA from sandbox.json',
    { skip: !hasCurl() && 'curl not installed' },
    async () => {
      const { info } = sandbox;
      const publicRoot = info.files.publicRootPem;
      const remotePrivate = path.join(dir, 'remote-private.pem');
      fs.writeFileSync(remotePrivate, info.ca.remotePrivate);
      const ech = JSON.parse(
        await curl(['-sS', '--fail', '--cacert', publicRoot, '-u', info.env.ECH_ES_CREDENTIALS, `${info.ech.url}/`]),
      );
      assert.equal(ech.version.number, info.versions.ech);
      const sm = JSON.parse(
        await curl([
          '-sS',
          '--fail',
          '--cacert',
          remotePrivate,
          '-u',
          info.env.ONPREM_ES_CREDENTIALS,
          `${info.selfManaged.url}/`,
        ]),
      );
      assert.equal(sm.version.number, info.versions.selfManaged);
      // And the Cloud API itself, with the public root.
      const dep = JSON.parse(
        await curl([
          '-sS',
          '--fail',
          '--cacert',
          publicRoot,
          '-H',
          `Authorization: ApiKey ${info.cloud.apiKey}`,
          `${info.cloud.endpoint}/api/v1/deployments/${info.cloud.deploymentId}`,
        ]),
      );
      assert.equal(dep.id, info.cloud.deploymentId);
    },
  );

  it(
    'is trusted by plain fetch through NODE_EXTRA_CA_CERTS under npm test (no sandbox switch in product code)',
    { skip: !process.env.ECH_REMOTE_TEST_PUBLIC_ROOT_DIR && 'only under npm test (shared public root)' },
    async () => {
      const { info } = sandbox;
      const res = await fetch(`${info.cloud.endpoint}/api/v1/deployments/${info.cloud.deploymentId}`, {
        headers: { authorization: `ApiKey ${info.cloud.apiKey}` },
      });
      assert.equal(res.status, 200);
      const ech = await fetch(`${info.ech.url}/`, {
        headers: { authorization: `Basic ${Buffer.from(info.env.ECH_ES_CREDENTIALS).toString('base64')}` },
      });
      assert.equal(ech.status, 200);
    },
  );

  it('seeded a logs-* index on the self-managed cluster', async () => {
    const { info } = sandbox;
    const res = await httpsJson(`${info.selfManaged.url}/logs-*/_search`, {
      ca: info.selfManaged.httpCa,
      headers: { authorization: `Basic ${Buffer.from(info.env.ONPREM_ES_CREDENTIALS).toString('base64')}` },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.hits.total.value, info.seededIndex.documents);
  });
});

describe('control API', () => {
  it('requires the Cloud API key', async () => {
    const res = await client.call('GET', '/_sandbox', undefined, { apiKey: null });
    assert.equal(res.status, 401);
    assert.equal(res.body.errors[0].code, 'root.unauthenticated');
  });

  it('summarizes the sandbox and returns sandbox.json', async () => {
    const summary = await control('GET', '');
    assert.equal(summary.status, 200);
    assert.equal(summary.body.scenario, 'api-key-public');
    assert.ok(summary.body.controlEndpoints.length > 5);
    const info = await control('GET', '/info');
    assert.deepEqual(info.body, JSON.parse(JSON.stringify(sandbox.info)));
    const scenarios = await control('GET', '/scenarios');
    assert.deepEqual(
      scenarios.body.scenarios.map((x: { name: string }) => x.name),
      [
        'api-key-public',
        'api-key-private',
        'tls-certificate',
        'tls-certificate-no-othername',
        'old-version',
        'basic-license',
        'rcs-disabled',
        'cluster-yellow',
        'cluster-red',
        'expired-license',
      ],
    );
  });

  it('rejects bad bodies with the envelope', async () => {
    const bad = await control('POST', '/scenario', { name: 'nope' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].code, 'sandbox.invalid_request');
    const rules = await control('POST', '/faults', { rules: [{ target: 'cloud', statusRate: { 503: 1 } }] });
    assert.equal(rules.status, 400);
    assert.deepEqual(rules.body.errors[0].fields, ['rules[0].statusRate']);
    const none = await control('GET', '/nope');
    assert.equal(none.status, 404);
  });

  it('makes plans fail on demand and records them in the plan history', async () => {
    const set = await control('POST', '/plans', {
      pendingMs: 20,
      failNext: 1,
      failureMessage: 'allocator out of capacity',
    });
    assert.equal(set.body.failNext, 1);
    const restart = await client.call(
      'POST',
      `/api/v1/deployments/${sandbox.info.cloud.deploymentId}/elasticsearch/${sandbox.info.cloud.refId}/_restart`,
    );
    assert.equal(restart.status, 202);
    const plans = await waitFor(async () => {
      const p = await control('GET', '/plans');
      return p.body.pending === null ? p.body : undefined;
    });
    const last = plans.history[plans.history.length - 1];
    assert.equal(last.kind, 'restart');
    assert.equal(last.outcome, 'failed');
    assert.equal(last.error, 'allocator out of capacity');
    assert.equal(plans.failNext, 0);
  });

  it('pushes trust plans and keystore changes to the ECH cluster', async () => {
    const { info } = sandbox;
    const depPath = `/api/v1/deployments/${info.cloud.deploymentId}`;
    const current = await client.call('GET', `${depPath}?show_settings=true`);
    const version = current.headers['x-cloud-resource-version'];
    const put = await client.call('PUT', `${depPath}?version=${version}`, {
      prune_orphans: false,
      resources: {
        elasticsearch: [
          {
            ref_id: info.cloud.refId,
            region: info.cloud.region,
            plan: { cluster_topology: [], elasticsearch: { version: info.versions.ech } },
            settings: {
              trust: {
                ...current.body.resources.elasticsearch[0].info.settings.trust,
                direct: [
                  {
                    type: 'proxy',
                    name: 'onprem CA',
                    trust_all: false,
                    certificates: [{ pem: info.ca.remotePrivate }],
                  },
                ],
              },
            },
          },
        ],
      },
    });
    assert.equal(put.status, 200);
    await sandbox.deployment.whenIdle();
    const patch = await client.call('PATCH', `${depPath}/elasticsearch/_main/keystore`, {
      secrets: { 'cluster.remote.onprem-logs.credentials': { value: 'not-a-real-key', as_file: false } },
    });
    assert.equal(patch.status, 200);
    const state = await control('GET', '/state');
    assert.equal(state.status, 200);
    assert.deepEqual(state.body.cloud.keystore.keys, ['cluster.remote.onprem-logs.credentials']);
    assert.equal(state.body.cloud.trust.direct[0].name, 'onprem CA');
    assert.equal(state.body.cloud.appliedTrust.direct[0].name, 'onprem CA');
    assert.ok(state.body.ech, 'ECH snapshot present');
    assert.ok(state.body.selfManaged, 'self-managed snapshot present');
    assert.ok('lastRemoteConnection' in state.body);
    const text = JSON.stringify(state.body);
    assert.ok(!text.includes('not-a-real-key'), 'keystore values never leave the sandbox');
  });

  it('plays the self-managed admin: apply settings, then restart', async () => {
    const cfg = await control('GET', '/self-managed/config');
    assert.equal(cfg.status, 200);
    assert.ok(cfg.body.effective);
    const applied = await control('POST', '/self-managed/apply', {
      settings: { 'cluster.remote.connect': 'true' },
      restart: false,
    });
    assert.equal(applied.status, 200, applied.text);
    assert.equal(applied.body.pending['cluster.remote.connect'], 'true');
    assert.equal(applied.body.pendingRestart, true);
    const restarted = await control('POST', '/self-managed/restart');
    assert.equal(restarted.status, 200, restarted.text);
    assert.equal(restarted.body.effective['cluster.remote.connect'], 'true');
    const broken = await control('POST', '/self-managed/apply', {
      settings: { 'transport.profiles._remote_cluster.port': 9443 },
      restart: true,
    });
    assert.equal(broken.status, 409, broken.text);
    assert.equal(broken.body.errors[0].code, 'sandbox.node_startup_failed');
    assert.match(broken.body.errors[0].message, /should not be configured using the \[_remote_cluster\] profile/);
    // Undo so later tests start from a node that boots.
    await control('POST', '/self-managed/apply', {
      settings: { 'transport.profiles._remote_cluster.port': null },
      restart: true,
    });
  });
});

describe('fault injection', () => {
  async function run(): Promise<string[]> {
    const set = await control('POST', '/faults', {
      seed: 1234,
      rules: [
        {
          target: 'cloud',
          method: 'GET',
          path: '/deployments/',
          statusRates: { '429': 0.25, '503': 0.25 },
          latencyMs: 1,
          jitterMs: 5,
        },
        { target: 'self-managed', path: '^/$', resetRate: 0.3, statusRates: { '500': 0.3 } },
      ],
    });
    assert.equal(set.status, 200);
    const outcomes: string[] = [];
    const { info } = sandbox;
    for (let i = 0; i < 12; i++) {
      const r = await client.call('GET', `/api/v1/deployments/${info.cloud.deploymentId}`);
      outcomes.push(`cloud:${r.status}`);
      try {
        const s = await httpsJson(`${info.selfManaged.url}/`, {
          ca: info.selfManaged.httpCa,
          headers: { authorization: `Basic ${Buffer.from(info.env.ONPREM_ES_CREDENTIALS).toString('base64')}` },
        });
        outcomes.push(`sm:${s.status}`);
      } catch (e) {
        outcomes.push(`sm:${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    const history = await control('GET', '/faults');
    assert.equal(history.body.seed, 1234);
    assert.equal(history.body.history.length, 24);
    return [
      ...outcomes,
      ...history.body.history.map(
        (h: { decision: string; status?: number; delayMs?: number }) =>
          `${h.decision}:${h.status ?? ''}:${h.delayMs ?? ''}`,
      ),
    ];
  }

  it('gives the same outcomes for the same seed and request sequence', async () => {
    const first = await run();
    const second = await run();
    assert.deepEqual(second, first);
    assert.ok(
      first.some((o) => o === 'cloud:503' || o === 'cloud:429'),
      'some faults were injected',
    );
    assert.ok(
      first.some((o) => o === 'cloud:200'),
      'some requests passed',
    );
    const cleared = await control('DELETE', '/faults');
    assert.equal(cleared.body.history.length, 24);
    assert.equal((await control('GET', '/faults')).body.rules.length, 0);
  });
});

describe('scenarios', () => {
  it('rebuilds the estate in place: same endpoints and credentials, new scenario, state reset', async () => {
    const before = sandbox.info;
    const res = await control('POST', '/scenario', { name: 'api-key-private', versions: { selfManaged: '8.18.2' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.scenario, 'api-key-private');
    const after = sandbox.info;
    assert.equal(after.scenario, 'api-key-private');
    assert.equal(after.versions.selfManaged, '8.18.2');
    for (const k of ['url', 'remoteClusterServer', 'transport'] as const)
      assert.equal(after.selfManaged[k], before.selfManaged[k]);
    assert.equal(after.ech.url, before.ech.url);
    assert.equal(after.cloud.endpoint, before.cloud.endpoint);
    assert.equal(after.cloud.deploymentId, before.cloud.deploymentId);
    assert.equal(after.env.EC_API_KEY, before.env.EC_API_KEY);
    assert.equal(JSON.parse(fs.readFileSync(outFile, 'utf8')).scenario, 'api-key-private');
    const state = await control('GET', '/state');
    assert.deepEqual(state.body.cloud.keystore.keys, []);
    assert.equal(state.body.cloud.trust.direct, undefined);
    const root = await httpsJson(`${after.selfManaged.url}/`, {
      ca: after.selfManaged.httpCa,
      headers: { authorization: `Basic ${Buffer.from(after.env.ONPREM_ES_CREDENTIALS).toString('base64')}` },
    });
    assert.equal(root.body.version.number, '8.18.2');
    const reset = await control('POST', '/scenario', { name: 'old-version' });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(sandbox.info.versions.selfManaged, '8.12.2');
    await control('POST', '/scenario', { name: 'api-key-public' });
  });
});

describe('Cloud API drives the ECH cluster (end to end over real TLS)', () => {
  const basic = (cred: string) => `Basic ${Buffer.from(cred).toString('base64')}`;
  const es = <T = any>(side: 'ech' | 'selfManaged', method: string, p: string, body?: unknown) => {
    const { info } = sandbox;
    const c =
      side === 'ech'
        ? { url: info.ech.url, ca: info.ca.publicRoot, cred: info.env.ECH_ES_CREDENTIALS }
        : { url: info.selfManaged.url, ca: info.selfManaged.httpCa, cred: info.env.ONPREM_ES_CREDENTIALS };
    return httpsJson<T>(`${c.url}${p}`, { method, body, ca: c.ca, headers: { authorization: basic(c.cred) } });
  };
  const depPath = () => `/api/v1/deployments/${sandbox.info.cloud.deploymentId}`;

  async function putTrust(direct: unknown[]): Promise<void> {
    const { info } = sandbox;
    const current = await client.call('GET', `${depPath()}?show_settings=true&clear_transient=true`);
    const put = await client.call('PUT', `${depPath()}?version=${current.headers['x-cloud-resource-version']}`, {
      prune_orphans: false,
      resources: {
        elasticsearch: [
          {
            ref_id: info.cloud.refId,
            region: info.cloud.region,
            plan: current.body.resources.elasticsearch[0].info.plan_info.current.plan,
            settings: { trust: { ...current.body.resources.elasticsearch[0].info.settings.trust, direct } },
          },
        ],
      },
    });
    assert.equal(put.status, 200, put.text);
    // Poll as the domain page says: until no pending plan and the current one is healthy.
    await waitFor(async () => {
      const r = await client.call('GET', `${depPath()}?show_plans=true`);
      const es0 = r.body.resources.elasticsearch[0].info;
      return !es0.plan_info.pending && es0.plan_info.current.healthy && es0.status === 'started';
    });
  }

  async function connectApiKey(alias: string): Promise<{ keyId: string; resolved: any }> {
    const { info } = sandbox;
    const key = await es('selfManaged', 'POST', '/_security/cross_cluster/api_key', {
      name: `k-${alias}`,
      access: { search: [{ names: ['logs-*'] }] },
    });
    assert.equal(key.status, 200, key.text);
    const patch = await client.call('PATCH', `${depPath()}/elasticsearch/${info.cloud.refId}/keystore`, {
      secrets: { [`cluster.remote.${alias}.credentials`]: { value: key.body.encoded, as_file: false } },
    });
    assert.equal(patch.status, 200);
    const settings = await es('ech', 'PUT', '/_cluster/settings', {
      persistent: {
        cluster: {
          remote: {
            [alias]: {
              mode: 'proxy',
              proxy_address: info.selfManaged.remoteClusterServer,
              server_name: info.selfManaged.serverName,
            },
          },
        },
      },
    });
    assert.equal(settings.status, 200, settings.text);
    const resolved = await es('ech', 'GET', `/_resolve/cluster/${alias}:logs-*`);
    return { keyId: key.body.id, resolved: resolved.body };
  }

  it('Path A (public CA): keystore through the Cloud API, connected, key id read back', async () => {
    const { resolved, keyId } = await connectApiKey('onprem-a');
    assert.equal(resolved['onprem-a'].connected, true, JSON.stringify(resolved));
    const state = await control('GET', '/state');
    assert.equal(state.body.lastRemoteConnection?.apiKeyId, keyId);
  });

  it('Path B (private CA): fails until a proxy trust entry is applied by a Cloud plan', async () => {
    const res = await control('POST', '/scenario', { name: 'api-key-private' });
    assert.equal(res.status, 200, res.text);
    const before = await connectApiKey('onprem-b');
    assert.equal(before.resolved['onprem-b'].connected, false, JSON.stringify(before.resolved));
    await putTrust([
      {
        type: 'proxy',
        name: 'onprem private CA',
        trust_all: false,
        certificates: [{ pem: sandbox.info.ca.remotePrivate }],
      },
    ]);
    const after = await es('ech', 'GET', '/_resolve/cluster/onprem-b:logs-*');
    assert.equal(after.body['onprem-b'].connected, true, JSON.stringify(after.body));
  });

  it('Path C (TLS certificate): generic trust entry with the self-managed node name, and the ECH CA on the self-managed side', async () => {
    const res = await control('POST', '/scenario', { name: 'tls-certificate' });
    assert.equal(res.status, 200, res.text);
    const { info } = sandbox;
    const ca = await client.call('GET', `${depPath()}/certificate-authority`);
    const nodeNames = sandbox.selfManaged.transportNodeNames;
    assert.ok(nodeNames.length > 0, 'tls-certificate scenario issues otherName transport certificates');
    await putTrust([
      {
        type: 'generic',
        name: 'onprem transport',
        trust_all: false,
        additional_node_names: nodeNames,
        certificates: [{ pem: info.ca.selfManagedTransport }],
      },
    ]);
    // The self-managed admin trusts the ECH CA and restricts trust (as the workflow's artifacts would say).
    const restrictions = `trust.subject_name:\n  - "${ca.body.recommended_trust_restriction}"\n  - "*.node.*.cluster.selfmanaged.account"\n`;
    const apply = await control('POST', '/self-managed/apply', {
      settings: {
        'xpack.security.transport.ssl.certificate_authorities': ['certs/transport-ca.crt', 'certs/ech-ca.crt'],
        'xpack.security.transport.ssl.trust_restrictions.path': 'certs/trust.yml',
      },
      files: { 'certs/ech-ca.crt': ca.body.public_certificates[0].pem, 'certs/trust.yml': restrictions },
      restart: true,
    });
    assert.equal(apply.status, 200, apply.text);
    const settings = await es('ech', 'PUT', '/_cluster/settings', {
      persistent: {
        cluster: {
          remote: {
            'onprem-c': {
              mode: 'proxy',
              proxy_address: info.selfManaged.transport,
              server_name: info.selfManaged.serverName,
            },
          },
        },
      },
    });
    assert.equal(settings.status, 200, settings.text);
    const resolved = await es('ech', 'GET', '/_resolve/cluster/onprem-c:logs-*');
    assert.equal(resolved.body['onprem-c'].connected, true, JSON.stringify(resolved.body));
    await control('POST', '/scenario', { name: 'api-key-public' });
  });
});
