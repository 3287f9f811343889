/**
 * The Elasticsearch activities and the version-aware client factory, against the real sandbox (ECH 9.x, self-managed
 * 8.x by default) and, for the raw header proof, a plain local HTTPS server that records what it receives.
 *
 * The sandbox's "public" root stands for the public CAs a worker trusts through NODE_EXTRA_CA_CERTS; that variable
 * cannot be set after the process started, so the tests inject it through the factory deps (`extraCaPems`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { Client, errors } from '@elastic/elasticsearch';
import { start, type Sandbox } from '../../src/sandbox';
import { createCertificateAuthority, issueCertificate } from '../../src/sandbox/pki';
import {
  classifyElasticsearchError,
  compatibilityHeaders,
  createElasticsearchClientFactory,
} from '../../src/clients/elasticsearch';
import { createEchEndpointLookup } from '../../src/activities/cloud';
import { createElasticsearchActivities } from '../../src/activities/elasticsearch';
import { resolveTargetCredentials } from '../../src/activities/secrets';
import { bindSecret } from '../helpers/estate';
import type { EsTarget, RemoteEvidence } from '../../src/activities/types';
import { validateConnectRequest, type ConnectRequest } from '../../src/contract/request';
import {
  connectRequest,
  crossClusterApiKeyName,
  ownershipSettingKey,
  roleRequest,
  userRequest,
} from '../../src/domain/requests';

const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
/** MockActivityEnvironment.run with the activity's own result type. */
function run<A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> {
  return env.run(fn, ...args);
}
/** The same, as an activity of another workflow run. */
const otherRun = new MockActivityEnvironment(
  { workflowExecution: { workflowId: 'another-run', runId: 'another-run-id' } },
  { logger: new DefaultLogger('ERROR') },
);
function inOtherRun<A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> {
  return otherRun.run(fn, ...args);
}

function failsWith(type: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    if (process.env.SHOW_FAILURES) console.error(`[${err.type}] ${err.message}`);
    assert.equal(err.type, type, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

// ------------------------------------------------------------------ raw header proof (no sandbox)

describe('compatibility headers on the wire', () => {
  let server: https.Server;
  let url: string;
  let caPem: string;
  let reportedVersion = '8.17.4';
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    const ca = await createCertificateAuthority('hdr', 'CN=Header Test CA');
    const leaf = await issueCertificate(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    caPem = ca.certPem;
    server = https.createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      req.resume();
      req.on('end', () => {
        res.setHeader('x-elastic-product', 'Elasticsearch');
        res.setHeader('content-type', 'application/json');
        const body =
          req.url === '/'
            ? { cluster_name: 'hdr', cluster_uuid: 'u', version: { number: reportedVersion } }
            : { ok: true };
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.HDR_TEST_CREDENTIALS = 'elastic:hdr-password';
    process.env.HDR_TEST_KEY = 'ZW5jb2RlZC1hcGkta2V5';
    process.env.ECH_REMOTE_SECRET_BINDINGS = JSON.stringify({
      HDR_TEST_CREDENTIALS: { use: 'elasticsearch', urls: [url] },
      HDR_TEST_KEY: { use: 'elasticsearch', urls: [url] },
    });
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const [version, major] of [
    ['8.17.4', 8],
    ['9.1.3', 9],
    ['7.17.28', 7],
  ] as const) {
    it(`asks GET / with plain JSON, then speaks compatible-with=${major} to a ${version} cluster`, async () => {
      reportedVersion = version;
      seen.length = 0;
      const factory = createElasticsearchClientFactory();
      const conn = await factory.connect({
        side: 'self-managed',
        url,
        credentialsSecret: 'HDR_TEST_CREDENTIALS',
        caPem,
      });
      try {
        assert.equal(conn.version, version);
        assert.equal(conn.major, major);
        await conn.request('post', {
          method: 'POST',
          path: '/_security/user/_has_privileges',
          body: { cluster: ['monitor'] },
        });
        await conn.request('get', { method: 'GET', path: '/_license' });
        await conn.client.cluster.getSettings({ flat_settings: true }); // the typed API goes through the same transport
      } finally {
        await conn.close();
      }
      const [root, post, get, typed] = seen;
      assert.equal(root?.url, '/');
      assert.equal(root?.headers['accept'], 'application/json, text/plain');
      assert.equal(root?.headers['content-type'], 'application/json');
      const compat = `application/vnd.elasticsearch+json; compatible-with=${major}`;
      assert.equal(post?.headers['content-type'], compat);
      assert.equal(post?.headers['accept'], compat);
      assert.equal(get?.headers['accept'], `${compat},text/plain`);
      assert.equal(get?.headers['content-type'], compat);
      assert.equal(typed?.headers['accept'], `${compat},text/plain`);
      assert.ok(String(post?.headers['authorization']).startsWith('Basic '));
      for (const s of seen) assert.doesNotMatch(JSON.stringify(s.headers), /compatible-with=(?!\d)/);
    });
  }

  it('a known version skips discovery', async () => {
    seen.length = 0;
    const conn = await createElasticsearchClientFactory().connect({
      side: 'self-managed',
      url,
      credentialsSecret: 'HDR_TEST_CREDENTIALS',
      caPem,
      version: '8.19.0',
    });
    await conn.request('get', { method: 'GET', path: '/_license' });
    await conn.close();
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/_license'],
    );
    assert.match(String(seen[0]?.headers['accept']), /compatible-with=8/);
  });

  it('an API key secret (no colon) is sent as ApiKey', async () => {
    seen.length = 0;
    const conn = await createElasticsearchClientFactory().connect({
      side: 'self-managed',
      url,
      credentialsSecret: 'HDR_TEST_KEY',
      caPem,
    });
    await conn.close();
    assert.equal(seen[0]?.headers['authorization'], 'ApiKey ZW5jb2RlZC1hcGkta2V5');
  });

  it('TLS is verified: without the CA the connection fails non-retryably as TlsTrustFailed', async () => {
    await assert.rejects(
      createElasticsearchClientFactory().connect({
        side: 'self-managed',
        url,
        credentialsSecret: 'HDR_TEST_CREDENTIALS',
      }),
      failsWith('TlsTrustFailed'),
    );
  });

  it('compatibilityHeaders is one function of the version', () => {
    assert.equal(
      compatibilityHeaders('8.14.0').accept,
      'application/vnd.elasticsearch+json; compatible-with=8,text/plain',
    );
    assert.equal(
      compatibilityHeaders('9.0.0-SNAPSHOT').jsonContentType,
      'application/vnd.elasticsearch+json; compatible-with=9',
    );
  });
});

// ------------------------------------------------------------------ against the sandbox

describe('Elasticsearch activities against the sandbox (ECH 9.x, self-managed 8.x)', () => {
  let sb: Sandbox;
  let ech: EsTarget;
  let selfManaged: EsTarget;
  let request: ConnectRequest;
  let acts: ReturnType<typeof createElasticsearchActivities>;
  const WF = 'wf-test-1';
  const PROBE = () => ({ extraCaPems: [sb.info.ca.publicRoot], timeoutMs: 3_000, attempts: 2, retryDelayMs: 50 });
  /** Clients as the activities make them: ECH credentials only for the endpoint the Cloud API reports. */
  const echEndpoint = createEchEndpointLookup();
  const sandboxClients = () =>
    createElasticsearchClientFactory({
      extraCaPems: [sb.info.ca.publicRoot],
      credentialsFor: (t) => resolveTargetCredentials(t, echEndpoint),
    });

  before(async () => {
    sb = await start({ scenario: 'api-key-public' });
    for (const [k, v] of Object.entries(sb.info.env)) if (k !== 'NODE_EXTRA_CA_CERTS') process.env[k] = v;
    ech = {
      side: 'ech',
      url: sb.info.ech.url,
      credentialsSecret: 'ECH_ES_CREDENTIALS',
      deployment: { apiKeySecret: 'EC_API_KEY', deploymentId: sb.info.cloud.deploymentId },
    };
    selfManaged = {
      side: 'self-managed',
      url: sb.info.selfManaged.url,
      credentialsSecret: 'ONPREM_ES_CREDENTIALS',
      caPem: sb.info.selfManaged.httpCa,
    };
    const v = validateConnectRequest(sb.info.requests['api-key-public']);
    assert.ok(v.ok);
    request = v.request;
    acts = createElasticsearchActivities({
      echEndpoint: createEchEndpointLookup(),
      client: { extraCaPems: [sb.info.ca.publicRoot] },
      verifyBackoff: { initialMs: 100, maxMs: 400 },
      // The worker's TLS probe trusts the sandbox's "public" root as a worker trusts the public CAs.
      tls: PROBE(),
    });
  });
  after(async () => {
    await sb?.stop();
  });

  it('versions: ECH speaks compatible-with=9, the self-managed cluster compatible-with=8', async () => {
    assert.match(sb.info.versions.ech, /^9\./);
    assert.match(sb.info.versions.selfManaged, /^8\./);
    const factory = sandboxClients();
    const a = await factory.connect(ech);
    const b = await factory.connect(selfManaged);
    try {
      assert.equal(a.major, 9);
      assert.equal(b.major, 8);
      assert.match(b.headers.accept, /compatible-with=8/);
      // the typed client API works against the 8.x cluster through the factory's transport
      const info = await b.client.info();
      assert.equal(info.version.number, sb.info.versions.selfManaged);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the trap: a naive 9.x client gets 400 media_type_header_exception from the 8.x cluster', async () => {
    // the library as it comes: built-in `compatible-with=9` headers
    const client = new Client({
      node: selfManaged.url,
      auth: { username: sb.info.selfManaged.username, password: sb.info.selfManaged.password },
      tls: { ca: selfManaged.caPem },
      maxRetries: 0,
    });
    try {
      await assert.rejects(client.info(), (err: unknown) => {
        assert.ok(err instanceof errors.ResponseError);
        assert.equal(err.statusCode, 400);
        const classified = classifyElasticsearchError('self-managed-elasticsearch', 'GET /', err);
        assert.ok(classified instanceof ApplicationFailure);
        assert.equal(classified.type, 'VersionNotSupported');
        assert.match(classified.message, /media_type_header_exception/);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  it('inspectCluster: cluster health as ES reports it; an expired license shows as such and blocks health', async () => {
    const inspect = () =>
      run(acts.inspectCluster, { target: selfManaged, required: { cluster: ['manage_security', 'monitor'] } });
    assert.equal((await inspect()).health, 'green');
    sb.selfManaged.health = 'red';
    try {
      assert.equal((await inspect()).health, 'red');
    } finally {
      sb.selfManaged.health = 'green';
    }
    // The expired-license scenario: _license says "expired" (type kept); SecurityActionFilter blocks cluster health
    // with "current license is non-compliant for [security]", which inspectCluster tolerates.
    sb.selfManaged.licenseExpired = true;
    try {
      const facts = await inspect();
      assert.deepEqual(facts.license, { type: 'enterprise', status: 'expired' });
      assert.equal(facts.health, undefined);
    } finally {
      sb.selfManaged.licenseExpired = false;
    }
  });

  it('inspectCluster: version, license, principal, missing privileges by name', async () => {
    const facts = await run(acts.inspectCluster, {
      target: selfManaged,
      required: { cluster: ['manage_security', 'monitor'] },
      alias: 'onprem-logs',
    });
    assert.equal(facts.version, sb.info.versions.selfManaged);
    assert.equal(facts.license.type, 'enterprise');
    assert.equal(facts.principal.username, 'elastic');
    assert.deepEqual(facts.missingPrivileges, []);
    assert.deepEqual(facts.remote?.settings, {});

    // a user with only `monitor`
    await run(acts.ensureRole, { target: selfManaged, name: 'only-monitor', body: { cluster: ['monitor'] } });
    process.env.LIMITED_PASSWORD = 'limited-password-1';
    bindSecret('LIMITED_PASSWORD', { use: 'user-password' });
    await run(acts.ensureUser, {
      target: selfManaged,
      username: 'limited',
      body: { roles: ['only-monitor'], password: '<from secret LIMITED_PASSWORD>' },
      passwordSecret: 'LIMITED_PASSWORD',
    });
    process.env.LIMITED_CREDENTIALS = 'limited:limited-password-1';
    bindSecret('LIMITED_CREDENTIALS', { use: 'elasticsearch', urls: [sb.info.selfManaged.url] });
    const limited = await run(acts.inspectCluster, {
      target: { ...selfManaged, credentialsSecret: 'LIMITED_CREDENTIALS' },
      required: { cluster: ['manage_security', 'monitor'] },
    });
    assert.deepEqual(limited.missingPrivileges, ['cluster:manage_security']);
    assert.equal(limited.principal.username, 'limited');
  });

  it('inspectEchCluster: the ECH cluster at the endpoint the Cloud API reports, which it names', async () => {
    const deployment = { apiKeySecret: 'EC_API_KEY', deploymentId: sb.info.cloud.deploymentId };
    const facts = await run(acts.inspectEchCluster, {
      deployment,
      credentialsSecret: 'ECH_ES_CREDENTIALS',
      required: { cluster: ['manage_security'] },
      alias: 'onprem-logs',
    });
    assert.equal(facts.url, sb.info.ech.url);
    assert.equal(facts.version, sb.info.versions.ech);
    assert.equal(facts.principal.username, 'elastic');
    assert.deepEqual(facts.remote?.settings, {});
    // No endpoint reported (the deployment is not running): nowhere to send the ECH credentials, a permanent failure.
    const noEndpoint = createElasticsearchActivities({
      echEndpoint: async () => undefined,
      client: { extraCaPems: [sb.info.ca.publicRoot] },
    });
    await assert.rejects(
      run(noEndpoint.inspectEchCluster, {
        deployment,
        credentialsSecret: 'ECH_ES_CREDENTIALS',
        required: { cluster: [] },
      }),
      failsWith('DeploymentNotHealthy', /no Elasticsearch endpoint for deployment/),
    );
  });

  it('findOrCreateCrossClusterApiKey twice: exactly one active key of ours', async () => {
    const input = {
      target: selfManaged,
      alias: 'onprem-logs',
      workflowId: WF,
      access: request.access!,
      expiration: '90d',
    };
    const first = await run(acts.findOrCreateCrossClusterApiKey, input);
    assert.equal(first.created, true);
    assert.deepEqual(first.invalidatedIds, []);
    assert.ok(first.encoded.length > 10);
    const second = await run(acts.findOrCreateCrossClusterApiKey, input);
    assert.deepEqual(second.invalidatedIds, [first.id]);
    assert.notEqual(second.id, first.id);

    const active = await listActiveKeys(crossClusterApiKeyName('onprem-logs'));
    assert.deepEqual(
      active.map((k) => k.id),
      [second.id],
    );
    assert.equal(active[0]?.metadata?.managed_by, 'ech-remote-clusters');
    assert.equal(active[0]?.metadata?.workflow_id, WF);
    // another workflow's key for the same alias is left alone
    const other = await run(acts.findOrCreateCrossClusterApiKey, { ...input, workflowId: 'wf-other' });
    assert.deepEqual(other.invalidatedIds, []);
    assert.equal((await listActiveKeys(crossClusterApiKeyName('onprem-logs'))).length, 2);
    await run(acts.invalidateCrossClusterApiKey, { target: selfManaged, id: other.id });
  });

  it('findOrCreateCrossClusterApiKey: a license below Enterprise is a LicenseNotSupported failure, nothing created', async () => {
    const before = (sb.selfManaged.snapshot() as { apiKeys: unknown[] }).apiKeys.length;
    sb.selfManaged.setLicense('platinum');
    try {
      await assert.rejects(
        run(acts.findOrCreateCrossClusterApiKey, {
          target: selfManaged,
          alias: 'lic',
          workflowId: WF,
          access: request.access!,
        }),
        failsWith(
          'LicenseNotSupported',
          /current license is non-compliant for \[advanced-remote-cluster-security\].*Enterprise \(or trial\) license/,
        ),
      );
    } finally {
      sb.selfManaged.setLicense('enterprise');
    }
    assert.equal((sb.selfManaged.snapshot() as { apiKeys: unknown[] }).apiKeys.length, before);
  });

  it('findOrCreateCrossClusterApiKey: both answers to a lookup that finds nothing (200 empty list, or 404 elsewhere)', async () => {
    // Current versions answer 200 {"api_keys": []} (ApiKeyService.getApiKeys); the 404 of other versions is injected.
    const first = await run(acts.findOrCreateCrossClusterApiKey, {
      target: selfManaged,
      alias: 'lookup-a',
      workflowId: WF,
      access: request.access!,
    });
    assert.equal(first.created, true);
    sb.faults.configure(
      [{ target: 'self-managed', method: 'GET', path: '^/_security/api_key$', statusRates: { '404': 1 }, times: 1 }],
      5,
    );
    try {
      const second = await run(acts.findOrCreateCrossClusterApiKey, {
        target: selfManaged,
        alias: 'lookup-b',
        workflowId: WF,
        access: request.access!,
      });
      assert.equal(second.created, true);
      assert.deepEqual(second.invalidatedIds, []);
      assert.equal(sb.faults.history.filter((h) => h.decision !== 'pass').length, 1, 'the 404 was met');
    } finally {
      sb.faults.clear();
    }
  });

  it('findOrCreateCrossClusterApiKey refuses API-key credentials', async () => {
    process.env.SM_API_KEY_CREDS = 'c29tZS1pZDpzb21lLWtleQ';
    bindSecret('SM_API_KEY_CREDS', { use: 'elasticsearch', urls: [sb.info.selfManaged.url] });
    await assert.rejects(
      run(acts.findOrCreateCrossClusterApiKey, {
        target: { ...selfManaged, credentialsSecret: 'SM_API_KEY_CREDS' },
        alias: 'x',
        workflowId: WF,
        access: { search: [{ names: ['a'] }] },
      }),
      failsWith('UnsupportedCredentials', /user \(username:password\)/),
    );
  });

  it('invalidateCrossClusterApiKey: only ours, idempotent', async () => {
    const conn = await createElasticsearchClientFactory().connect(selfManaged);
    let foreignId: string;
    try {
      const foreign = await conn.request<{ id: string }>('create', {
        method: 'POST',
        path: '/_security/cross_cluster/api_key',
        body: { name: 'someone-elses-key', access: { search: [{ names: ['x'] }] } },
      });
      foreignId = foreign.id;
    } finally {
      await conn.close();
    }
    assert.deepEqual(await run(acts.invalidateCrossClusterApiKey, { target: selfManaged, id: foreignId }), {
      invalidated: false,
      reason: 'not-managed',
    });
    assert.equal((await listActiveKeys('someone-elses-key')).length, 1);

    const ours = await run(acts.findOrCreateCrossClusterApiKey, {
      target: selfManaged,
      alias: 'to-invalidate',
      workflowId: WF,
      access: { search: [{ names: ['x'] }] },
    });
    assert.deepEqual(await run(acts.invalidateCrossClusterApiKey, { target: selfManaged, id: ours.id }), {
      invalidated: true,
    });
    assert.equal(
      (await run(acts.invalidateCrossClusterApiKey, { target: selfManaged, id: ours.id })).invalidated,
      true,
    );
    assert.equal((await listActiveKeys(crossClusterApiKeyName('to-invalidate'))).length, 0);
    assert.equal(
      (await run(acts.invalidateCrossClusterApiKey, { target: selfManaged, id: 'no-such-id' })).invalidated,
      false,
    );
  });

  it('putRemoteCluster twice = same state; removeRemoteCluster only ours', async () => {
    const alias = 'idem';
    const r = { ...request, alias };
    const body = connectRequest(r, { workflowId: WF, alias }).body;
    const first = await run(acts.putRemoteCluster, { target: ech, body, alias, workflowId: WF });
    assert.equal(first.existed, false);
    assert.ok(first.settings.includes(`cluster.remote.${alias}.proxy_address`));
    assert.ok(first.settings.includes(ownershipSettingKey(alias)));
    const state1 = await flatSettings(ech);
    const second = await run(acts.putRemoteCluster, { target: ech, body, alias, workflowId: WF });
    assert.equal(second.existed, true);
    assert.deepEqual(second.settings, first.settings);
    assert.deepEqual(await flatSettings(ech), state1);

    const facts = await run(acts.inspectCluster, { target: ech, required: { cluster: [] }, alias });
    assert.deepEqual(facts.remote?.ownedBy, { workflowId: WF });
    assert.equal(facts.remote?.settings[`cluster.remote.${alias}.mode`], 'proxy');

    // another workflow of ours may not take it over, nor remove it during its rollback
    await assert.rejects(
      run(acts.putRemoteCluster, {
        target: ech,
        body: connectRequest(r, { workflowId: 'wf-2', alias }).body,
        alias,
        workflowId: 'wf-2',
      }),
      failsWith('AliasInUse', /another ech-remote-clusters workflow \(wf-test-1\)/),
    );
    assert.deepEqual(await run(acts.removeRemoteCluster, { target: ech, alias, workflowId: 'wf-2' }), {
      removed: false,
      settings: [],
    });
    assert.deepEqual(await run(acts.removeRemoteCluster, { target: ech, alias, workflowId: WF }), {
      removed: true,
      settings: [
        'cluster.remote.idem.mode',
        'cluster.remote.idem.proxy_address',
        'cluster.remote.idem.server_name',
        'cluster.remote.idem.skip_unavailable',
      ],
    });
    assert.deepEqual(await run(acts.removeRemoteCluster, { target: ech, alias }), { removed: false, settings: [] });
    const after = await flatSettings(ech);
    assert.ok(!Object.keys(after).some((k) => k.includes(`.${alias}`)), JSON.stringify(after));
  });

  it("putRemoteCluster refuses someone else's alias (AliasInUse) and removeRemoteCluster leaves it", async () => {
    const conn = await sandboxClients().connect(ech);
    try {
      await conn.request('put', {
        method: 'PUT',
        path: '/_cluster/settings',
        body: {
          persistent: {
            'cluster.remote.handmade.mode': 'proxy',
            'cluster.remote.handmade.proxy_address': '10.0.0.1:9443',
          },
        },
      });
    } finally {
      await conn.close();
    }
    const r = { ...request, alias: 'handmade' };
    await assert.rejects(
      run(acts.putRemoteCluster, {
        target: ech,
        body: connectRequest(r, { workflowId: WF, alias: 'handmade' }).body,
        alias: 'handmade',
        workflowId: WF,
      }),
      failsWith('AliasInUse', /"handmade".*not created by this tool.*choose another alias/),
    );
    assert.deepEqual(await run(acts.removeRemoteCluster, { target: ech, alias: 'handmade' }), {
      removed: false,
      settings: [],
    });
    assert.equal((await flatSettings(ech))['cluster.remote.handmade.proxy_address'], '10.0.0.1:9443');
  });

  /**
   * The API-key connection as the workflow makes it: the key on the self-managed cluster, its encoded value in the ECH
   * keystore (what the Cloud keystore PATCH does), the remote registered on ECH (`remote` overrides the request's).
   */
  async function registerRemote(alias: string, remote: Partial<typeof request.remote> = {}): Promise<void> {
    const key = await run(acts.findOrCreateCrossClusterApiKey, {
      target: selfManaged,
      alias,
      workflowId: WF,
      access: request.access!,
    });
    await sb.ech.setSecureSettings({ [`cluster.remote.${alias}.credentials`]: key.encoded });
    const r = { ...request, alias, remote: { ...request.remote, ...remote } };
    await run(acts.putRemoteCluster, {
      target: ech,
      body: connectRequest(r, { workflowId: WF, alias }).body,
      alias,
      workflowId: WF,
    });
  }

  it('verifyRemoteConnection: API-key connection proven with a size-0 cross-cluster search', async () => {
    const alias = 'onprem-logs';
    await registerRemote(alias);
    const evidence = await run(acts.verifyRemoteConnection, {
      target: ech,
      alias,
      securityModel: 'api-key',
      searchIndex: 'logs-*',
      timeoutMs: 10_000,
    });
    const info = evidence.remoteInfo as {
      connected: boolean;
      num_proxy_sockets_connected: number;
      cluster_credentials?: string;
    };
    assert.equal(info.connected, true);
    assert.ok(info.num_proxy_sockets_connected > 0);
    assert.equal(info.cluster_credentials, '::es_redacted::');
    assert.equal((evidence.resolveCluster as { connected: boolean }).connected, true);
    assert.equal(evidence.searchHits, sb.info.seededIndex.documents);

    // roles and users on ECH, as the workflow's last step does: idempotent, tagged, only ours removed
    const role = roleRequest(request.roles[0]!, { workflowId: WF, alias });
    const roleInput = { target: ech, name: request.roles[0]!.name, body: role.body };
    assert.deepEqual(await run(acts.ensureRole, roleInput), { created: true });
    // A retried attempt of the same run (its first result lost) still owns it, so a rollback would remove it;
    // another run that finds it does not, so its rollback keeps it.
    assert.deepEqual(await run(acts.ensureRole, roleInput), { created: true });
    assert.deepEqual(await inOtherRun(acts.ensureRole, roleInput), { created: false });
    // A rollback that puts a role back (update-access) writes it only while it is still that workflow's write.
    const [read] = await run(acts.readRoles, { target: ech, names: [roleInput.name, 'no-such-role'] });
    assert.equal(read?.name, roleInput.name);
    assert.equal((read?.body.metadata as { workflow_id?: string }).workflow_id, WF);
    assert.equal(read?.body.transient_metadata, undefined, 'Elasticsearch-owned transient_metadata is not carried');
    const narrowed = { ...read!.body, cluster: ['monitor'] };
    const notOurs = await run(acts.ensureRole, { ...roleInput, body: narrowed, onlyIfWrittenBy: 'another-workflow' });
    assert.match(notOurs.left ?? '', /not this run's write/);
    const [unchanged] = await run(acts.readRoles, { target: ech, names: [roleInput.name] });
    assert.deepEqual(unchanged, read, 'left as it was');
    assert.equal((await run(acts.ensureRole, { ...roleInput, body: narrowed, onlyIfWrittenBy: WF })).left, undefined);
    const [restored] = await run(acts.readRoles, { target: ech, names: [roleInput.name] });
    assert.deepEqual(restored?.body.cluster, ['monitor']);
    assert.match(
      (await run(acts.ensureRole, { ...roleInput, name: 'no-such-role', onlyIfWrittenBy: WF })).left ?? '',
      /no longer exists/,
    );
    await run(acts.ensureRole, roleInput);
    const user = userRequest(request.users[0]!, { workflowId: WF, alias });
    const userInput = {
      target: ech,
      username: request.users[0]!.username,
      body: user.body,
      passwordSecret: request.users[0]!.passwordSecret,
    };
    assert.deepEqual(await run(acts.ensureUser, userInput), { created: true });
    assert.deepEqual(await run(acts.ensureUser, userInput), { created: true });
    assert.deepEqual(await inOtherRun(acts.ensureUser, userInput), { created: false });
    // the user authenticates with the password from the secret and can search the remote (its role's remote_indices)
    process.env.CROSS_USER_CREDS = `${request.users[0]!.username}:${process.env.CROSS_SEARCH_USER_PASSWORD}`;
    bindSecret('CROSS_USER_CREDS', { use: 'ech-elasticsearch' });
    const asUser = await sandboxClients().connect({
      ...ech,
      credentialsSecret: 'CROSS_USER_CREDS',
    });
    try {
      const res = await asUser.request<{ hits: { total: { value: number } } }>('search', {
        method: 'GET',
        path: `/${alias}:logs-*/_search`,
        querystring: { size: 0 },
      });
      assert.equal(res.hits.total.value, sb.info.seededIndex.documents);
    } finally {
      await asUser.close();
    }
  });

  it("verifyRemoteConnection: the ECH API's 429 / 503 / resets are retried inside the timeout, not a verdict", async () => {
    const alias = 'flaky-ech';
    await registerRemote(alias);
    sb.faults.configure(
      [
        { target: 'ech', path: '^/_remote/info$', statusRates: { '429': 1 }, times: 3 },
        { target: 'ech', path: '^/_resolve/cluster/', statusRates: { '503': 1 }, times: 2 },
        { target: 'ech', path: '^/_resolve/cluster/', resetRate: 1, times: 1 },
      ],
      5,
    );
    const fast = createElasticsearchActivities({
      echEndpoint,
      client: { extraCaPems: [sb.info.ca.publicRoot] },
      verifyBackoff: { initialMs: 50, maxMs: 200 },
      tls: PROBE(),
    });
    try {
      const evidence = await run(fast.verifyRemoteConnection, {
        target: ech,
        alias,
        securityModel: 'api-key',
        searchIndex: 'logs-*',
        timeoutMs: 15_000,
      });
      assert.equal(evidence.searchHits, sb.info.seededIndex.documents);
      assert.equal(sb.faults.history.filter((h) => h.decision !== 'pass').length, 6, 'every fault was met');
    } finally {
      sb.faults.clear();
    }
  });

  it('verifyRemoteConnection: an ECH API that keeps failing is a retryable TransientError, not RemoteConnectionFailed', async () => {
    const alias = 'down-ech';
    await registerRemote(alias);
    sb.faults.configure([{ target: 'ech', path: '^/_remote/info$', statusRates: { '503': 1 } }], 5);
    const fast = createElasticsearchActivities({
      echEndpoint,
      client: { extraCaPems: [sb.info.ca.publicRoot] },
      verifyBackoff: { initialMs: 50, maxMs: 200 },
      tls: PROBE(),
    });
    try {
      await assert.rejects(
        run(fast.verifyRemoteConnection, { target: ech, alias, securityModel: 'api-key', timeoutMs: 1_000 }),
        (err: unknown) => {
          failsWith('TransientError', /could not be verified .*kept failing transiently/)(err);
          assert.equal((err as ApplicationFailure).nonRetryable, false);
          return true;
        },
      );
    } finally {
      sb.faults.clear();
    }
  });

  it('verifyRemoteConnection: no keystore credentials for the alias → diagnosis and fix', async () => {
    const alias = 'nocreds';
    await run(acts.putRemoteCluster, {
      target: ech,
      body: connectRequest({ ...request, alias }, { workflowId: WF, alias }).body,
      alias,
      workflowId: WF,
    });
    const heartbeats: { attempt: number; diagnosis: string }[] = [];
    const onHeartbeat = (d: { attempt: number; diagnosis: string }) => heartbeats.push(d);
    env.on('heartbeat', onHeartbeat);
    const t0 = Date.now();
    try {
      await assert.rejects(
        run(acts.verifyRemoteConnection, { target: ech, alias, securityModel: 'api-key', timeoutMs: 1_500 }),
        failsWith(
          'RemoteConnectionFailed',
          /no cluster_credentials.*Fix: install the cross-cluster API key in the ECH keystore under exactly cluster\.remote\.nocreds\.credentials/,
        ),
      );
    } finally {
      env.off('heartbeat', onHeartbeat);
    }
    // transient diagnosis: retried with backoff and heartbeats until the timeout
    assert.ok(Date.now() - t0 >= 1_400);
    assert.ok(heartbeats.length >= 3, JSON.stringify(heartbeats));
    assert.equal(heartbeats[0]?.diagnosis, 'credentials-missing');
  });

  /**
   * The sandbox answers as real Elasticsearch does (§4b): a connection failure is `connected: false` in _remote/info
   * and _resolve/cluster, without any `error`. The diagnosis must then come from the worker's TLS probe.
   */
  function diagnosedFromProbe(code: string, message: RegExp) {
    return (err: unknown) => {
      failsWith('RemoteConnectionFailed', message)(err);
      const [details] = (err as ApplicationFailure).details as [
        { diagnosis: { code: string; evidence: string[] }; evidence: RemoteEvidence },
      ];
      assert.equal(details.diagnosis.code, code);
      const resolved = details.evidence.resolveCluster as Record<string, unknown>;
      assert.deepEqual(Object.keys(resolved).sort(), ['connected', 'skip_unavailable'], JSON.stringify(resolved));
      assert.equal(resolved.connected, false);
      assert.ok(details.evidence.tlsProbe, 'the worker re-ran its TLS probe');
      assert.match(details.diagnosis.evidence.join('\n'), /_resolve\/cluster: connected=false, .*no error/);
      assert.match(details.diagnosis.evidence.join('\n'), /worker TLS probe of .*seen from the worker's network/);
      return true;
    };
  }

  it('verifyRemoteConnection: API-key model pointed at the transport port → diagnosis says use 9443', async () => {
    const alias = 'wrongport';
    await registerRemote(alias, { proxyAddress: sb.info.selfManaged.transport });
    await assert.rejects(
      run(acts.verifyRemoteConnection, { target: ech, alias, securityModel: 'api-key', timeoutMs: 3_000 }),
      diagnosedFromProbe(
        'transport-port',
        /transport port.*Fix: .*remote cluster server port \(default 9443\).*To confirm: in the ECH deployment logs look for "Received fatal alert: bad_certificate"/,
      ),
    );
  });

  it('verifyRemoteConnection: wrong server name → certificate diagnosis', async () => {
    const alias = 'wrongname';
    await registerRemote(alias, { serverName: 'not-the-name.example' });
    await assert.rejects(
      run(acts.verifyRemoteConnection, { target: ech, alias, securityModel: 'api-key', timeoutMs: 3_000 }),
      diagnosedFromProbe(
        'tls-name-mismatch',
        /Diagnosis: the remote certificate does not cover .*server_name "not-the-name\.example".*Fix: set remote\.serverName to one of .*es\.selfmanaged\.sandbox.*No subject alternative DNS name matching not-the-name\.example found/,
      ),
    );
  });

  it('verifyRemoteConnection: certificate from a CA ECH does not trust → untrusted-CA diagnosis', async () => {
    const alias = 'untrusted';
    await sb.selfManaged.reissueRemoteClusterServerCertificate({ ca: 'private' });
    await sb.selfManaged.applyNodeConfig({ restart: true });
    try {
      await registerRemote(alias);
      await assert.rejects(
        run(acts.verifyRemoteConnection, {
          target: ech,
          alias,
          securityModel: 'api-key',
          timeoutMs: 3_000,
          ca: { kind: 'public' },
        }),
        diagnosedFromProbe(
          'tls-untrusted',
          /Diagnosis: The certificate of .* is issued by .*not a publicly trusted CA.*Fix: if it is your private CA, add it to the request.*PKIX path building failed/,
        ),
      );
      // Given the private CA, the worker trusts the chain; ECH still does not (no trust entry): the diagnosis says
      // what is left instead of blaming the certificate.
      await assert.rejects(
        run(acts.verifyRemoteConnection, {
          target: ech,
          alias,
          securityModel: 'api-key',
          timeoutMs: 1_500,
          ca: { kind: 'private', pem: sb.info.ca.remotePrivate },
        }),
        diagnosedFromProbe('not-connected', /working remote cluster server.*ECH not trusting a private CA/),
      );
      // Day 2 (rotate, update access) does not restate remote.ca: the worker cannot tell a private CA ECH was given
      // from an untrusted one, so the untrusted chain is evidence, not the verdict.
      await assert.rejects(
        run(acts.verifyRemoteConnection, { target: ech, alias, securityModel: 'api-key', timeoutMs: 1_500 }),
        diagnosedFromProbe(
          'not-connected',
          /chain not verified: this run does not know the CA ECH was given.*Evidence: .*TLS_UNTRUSTED_CHAIN/,
        ),
      );
    } finally {
      await sb.selfManaged.reissueRemoteClusterServerCertificate({ ca: 'public' });
      await sb.selfManaged.applyNodeConfig({ restart: true });
    }
  });

  it('verifyRemoteConnection: nothing listens at proxy_address → unreachable (from ECH and from the worker)', async () => {
    const alias = 'nowhere';
    await registerRemote(alias, { proxyAddress: '127.0.0.1:1' });
    await assert.rejects(
      run(acts.verifyRemoteConnection, { target: ech, alias, securityModel: 'api-key', timeoutMs: 1_500 }),
      diagnosedFromProbe(
        'unreachable',
        /Diagnosis: neither ECH \(not connected\) nor the worker can connect to 127\.0\.0\.1:1.*failed to open any proxy connections to cluster \[nowhere\]/,
      ),
    );
  });

  it('verifyRemoteConnection: the key invalidated on the self-managed cluster → key diagnosis from _resolve/cluster', async () => {
    const alias = 'revoked';
    await registerRemote(alias);
    await run(acts.verifyRemoteConnection, { target: ech, alias, securityModel: 'api-key', timeoutMs: 5_000 });
    const key = await run(acts.findOrCreateCrossClusterApiKey, {
      target: selfManaged,
      alias,
      workflowId: WF,
      access: request.access!,
    });
    assert.deepEqual(await run(acts.invalidateCrossClusterApiKey, { target: selfManaged, id: key.id }), {
      invalidated: true,
    });
    await assert.rejects(
      run(acts.verifyRemoteConnection, { target: ech, alias, securityModel: 'api-key', timeoutMs: 3_000 }),
      (err: unknown) => {
        failsWith(
          'RemoteConnectionFailed',
          /Diagnosis: the cross-cluster API key is wrong, invalidated or expired.*Authentication using apikey failed/,
        )(err);
        const [details] = (err as ApplicationFailure).details as [
          { diagnosis: { code: string; evidence: string[] }; evidence: RemoteEvidence },
        ];
        assert.equal(details.diagnosis.code, 'key-invalid');
        // The open connection stays: _remote/info may still say connected; ES reports the security exception.
        const resolved = details.evidence.resolveCluster as { connected: boolean; error: string };
        assert.equal(resolved.connected, false);
        assert.match(resolved.error, /^unable to authenticate user \[/);
        assert.match(details.diagnosis.evidence.join('\n'), /_resolve\/cluster error: unable to authenticate/);
        return true;
      },
    );
  });

  it('verifyRemoteConnection: a verifying user without remote_indices → remote_indices diagnosis', async () => {
    const alias = 'onprem-logs';
    await registerRemote(alias);
    const admin = await sandboxClients().connect(ech);
    try {
      await admin.request('role', {
        method: 'PUT',
        path: '/_security/role/only-monitor',
        body: { cluster: ['monitor'] },
      });
      await admin.request('user', {
        method: 'PUT',
        path: '/_security/user/verifier',
        body: { password: 'l0ng-r4nd0m-pw', roles: ['only-monitor'] },
      });
    } finally {
      await admin.close();
    }
    process.env.VERIFIER_CREDS = 'verifier:l0ng-r4nd0m-pw';
    bindSecret('VERIFIER_CREDS', { use: 'ech-elasticsearch' });
    await assert.rejects(
      run(acts.verifyRemoteConnection, {
        target: { ...ech, credentialsSecret: 'VERIFIER_CREDS' },
        alias,
        securityModel: 'api-key',
        searchIndex: 'logs-*',
        timeoutMs: 3_000,
      }),
      (err: unknown) => {
        failsWith(
          'RemoteConnectionFailed',
          /Diagnosis: the searching user has no remote_indices privileges for onprem-logs.*Fix: grant a role with remote_indices/,
        )(err);
        const [details] = (err as ApplicationFailure).details as [{ diagnosis: { code: string } }];
        assert.equal(details.diagnosis.code, 'no-remote-indices-privileges');
        return true;
      },
    );
  });

  it('verifyRemoteConnection: basic license on the remote → license diagnosis', async () => {
    // An open connection first (earlier tests restart the self-managed node): the license is then refused per request,
    // a security exception ES reports. (Were the connection to be opened now, the handshake would fail and ES would
    // say only connected:false, as for any refused handshake.)
    await run(acts.verifyRemoteConnection, {
      target: ech,
      alias: 'onprem-logs',
      securityModel: 'api-key',
      searchIndex: 'logs-*',
      timeoutMs: 10_000,
    });
    sb.selfManaged.setLicense('basic');
    try {
      await assert.rejects(
        run(acts.verifyRemoteConnection, {
          target: ech,
          alias: 'onprem-logs',
          securityModel: 'api-key',
          searchIndex: 'logs-*',
          timeoutMs: 3_000,
        }),
        failsWith(
          'RemoteConnectionFailed',
          /Diagnosis: a license below Enterprise.*Last error: current license is non-compliant/,
        ),
      );
    } finally {
      sb.selfManaged.setLicense('enterprise');
    }
  });

  it('roles and users: refuse to overwrite foreign ones, remove only ours, idempotently', async () => {
    const conn = await sandboxClients().connect(ech);
    try {
      await conn.request('put role', {
        method: 'PUT',
        path: '/_security/role/handmade-role',
        body: { cluster: ['monitor'] },
      });
      await conn.request('put user', {
        method: 'PUT',
        path: '/_security/user/handmade-user',
        body: { password: 'handmade-pass', roles: ['handmade-role'] },
      });
    } finally {
      await conn.close();
    }
    await assert.rejects(
      run(acts.ensureRole, { target: ech, name: 'handmade-role', body: { cluster: ['all'] } }),
      failsWith('NotManagedByUs', /Role "handmade-role".*refusing/),
    );
    assert.deepEqual(await run(acts.removeRole, { target: ech, name: 'handmade-role' }), { removed: false });
    assert.deepEqual(await run(acts.removeUser, { target: ech, username: 'handmade-user' }), { removed: false });
    process.env.SOME_PASSWORD = 'some-password-1';
    bindSecret('SOME_PASSWORD', { use: 'user-password' });
    await assert.rejects(
      run(acts.ensureUser, {
        target: ech,
        username: 'handmade-user',
        body: { roles: [] },
        passwordSecret: 'SOME_PASSWORD',
      }),
      failsWith('NotManagedByUs'),
    );
    // ours, but another run's: its rollback keeps them
    assert.deepEqual(await inOtherRun(acts.removeUser, { target: ech, username: 'cross-search-user' }), {
      removed: false,
    });
    assert.deepEqual(await inOtherRun(acts.removeRole, { target: ech, name: 'remote-search' }), { removed: false });
    // ours, and this run's
    assert.deepEqual(await run(acts.removeUser, { target: ech, username: 'cross-search-user' }), { removed: true });
    assert.deepEqual(await run(acts.removeUser, { target: ech, username: 'cross-search-user' }), { removed: false });
    assert.deepEqual(await run(acts.removeRole, { target: ech, name: 'remote-search' }), { removed: true });
    assert.deepEqual(await run(acts.removeRole, { target: ech, name: 'remote-search' }), { removed: false });
  });

  async function listActiveKeys(name: string) {
    const conn = await createElasticsearchClientFactory().connect(selfManaged);
    try {
      // ES answers 404 when no key matches
      const res = await conn.requestWithStatus<{ api_keys?: { id: string; metadata?: Record<string, unknown> }[] }>(
        'list',
        { method: 'GET', path: '/_security/api_key', querystring: { name, active_only: true } },
        [404],
      );
      return res.body?.api_keys ?? [];
    } finally {
      await conn.close();
    }
  }

  async function flatSettings(target: EsTarget): Promise<Record<string, unknown>> {
    const conn = await sandboxClients().connect(target);
    try {
      const s = await conn.request<{ persistent: Record<string, unknown> }>('get', {
        method: 'GET',
        path: '/_cluster/settings',
        querystring: { flat_settings: true },
      });
      return s.persistent;
    } finally {
      await conn.close();
    }
  }
});
