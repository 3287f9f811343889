import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterFacts, DeploymentFacts, TlsProbeReport } from '../../src/contract/facts';
import { validateConnectRequest, type ConnectRequest } from '../../src/contract/request';
import { evaluatePreflight, preflightFailureType } from '../../src/domain/preflight';
import { buildPlan } from '../../src/domain/plan';
import { crossClusterApiKeyInstructions, remoteClusterServerInstructions } from '../../src/domain/instructions';
import { accessHash, connectRequest, crossClusterApiKeyRequest } from '../../src/domain/requests';

const request = (over: Record<string, unknown> = {}): ConnectRequest => {
  const v = validateConnectRequest({
    alias: 'onprem-logs',
    securityModel: 'api-key',
    local: {
      deploymentId: '0123456789abcdef0123456789abcdef',
      cloud: { apiKeySecret: 'EC_API_KEY' },
      elasticsearch: { credentialsSecret: 'ECH' },
    },
    remote: { proxyAddress: 'es.corp.example:9443', ca: { kind: 'public' } },
    access: { search: [{ names: ['logs-*'] }] },
    ...over,
  });
  assert.ok(v.ok, JSON.stringify(!v.ok && v.problems));
  return v.request;
};

const deployment: DeploymentFacts = {
  deploymentId: '0123456789abcdef0123456789abcdef',
  refId: 'main-elasticsearch',
  region: 'gcp-europe-west1',
  clusterId: 'c1',
  clusterName: 'ech',
  status: 'started',
  healthy: true,
  version: '9.1.0',
  pendingPlan: false,
  directTrustNames: [],
};
const cluster = (over: Partial<ClusterFacts> = {}): ClusterFacts => ({
  version: '8.17.0',
  clusterName: 'c',
  clusterUuid: 'u',
  license: { type: 'enterprise', status: 'active' },
  principal: { username: 'elastic', authenticationType: 'realm' },
  missingPrivileges: [],
  ...over,
});
const probe: TlsProbeReport = {
  address: 'es.corp.example:9443',
  serverName: 'es.corp.example',
  reachable: true,
  trusted: true,
  hostnameMatches: true,
  requestsClientCertificate: false,
  looksLikeTransportPort: false,
  chain: [],
  findings: [],
};

describe('preflight rules', () => {
  it('passes a healthy 9.x ECH + 8.17 enterprise self-managed pair', () => {
    const f = evaluatePreflight(
      request(),
      { deployment, local: cluster({ version: '9.1.0' }), remote: cluster(), probe },
      'wf',
    );
    assert.deepEqual(
      f.filter((x) => x.level === 'error'),
      [],
    );
  });

  it('another plan running on a healthy deployment is a warning to wait, an unhealthy deployment still an error', () => {
    const facts = (over: Partial<DeploymentFacts>) => ({
      deployment: { ...deployment, ...over },
      local: cluster({ version: '9.1.0' }),
      remote: cluster(),
      probe,
    });
    const busy = evaluatePreflight(request(), facts({ status: 'reconfiguring', pendingPlan: true }), 'wf');
    assert.deepEqual(
      busy.filter((x) => x.level === 'error'),
      [],
    );
    assert.ok(busy.some((x) => x.level === 'warning' && x.code === 'deployment-plan-pending'));
    const failed = evaluatePreflight(
      request(),
      facts({ status: 'reconfiguring', pendingPlan: true, healthy: false }),
      'wf',
    );
    assert.ok(failed.some((x) => x.level === 'error' && x.code === 'deployment-unhealthy'));
    const stopped = evaluatePreflight(request(), facts({ status: 'stopped' }), 'wf');
    assert.ok(stopped.some((x) => x.level === 'error' && x.code === 'deployment-unhealthy'));
  });

  it('refuses a self-managed 8.12 cluster for the API-key model, naming the version and the way out', () => {
    const f = evaluatePreflight(
      request(),
      { deployment, local: cluster(), remote: cluster({ version: '8.12.2' }), probe },
      'wf',
    );
    const errors = f.filter((x) => x.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /8\.12\.2.*8\.14\.0/);
    assert.match(errors[0]!.fix!, /tls-certificate/);
    assert.equal(preflightFailureType(errors), 'VersionNotSupported');
  });

  it('refuses a basic license and lists missing privileges by name', () => {
    const f = evaluatePreflight(
      request(),
      {
        deployment,
        local: cluster({ missingPrivileges: ['manage_security'] }),
        remote: cluster({ license: { type: 'basic', status: 'active' } }),
        probe,
      },
      'wf',
    );
    const errors = f.filter((x) => x.level === 'error');
    assert.deepEqual(errors.map((e) => e.code).sort(), ['license-remote', 'privileges-local']);
    assert.match(errors.find((e) => e.code === 'privileges-local')!.message, /manage_security/);
    assert.equal(preflightFailureType(errors), 'PreflightFailed');
  });

  it('cluster health: red warns (searches of the unassigned primary fail), yellow says nothing, neither blocks', () => {
    const facts = (health: ClusterFacts['health']) =>
      evaluatePreflight(
        request({ verify: { searchIndex: 'logs-*' } }),
        { deployment, local: cluster({ health: 'green' }), remote: cluster({ health }), probe },
        'wf',
      );
    const red = facts('red');
    assert.deepEqual(
      red.filter((x) => x.level === 'error'),
      [],
    );
    const warning = red.find((x) => x.code === 'cluster-red-remote');
    assert.equal(warning?.level, 'warning');
    assert.match(warning!.message, /red.*primary shard is unassigned.*verification search of "logs-\*" may fail/);
    assert.deepEqual(
      facts('yellow').filter((x) => x.code.startsWith('cluster-')),
      [],
    );
  });

  it('an expired Enterprise license is refused for the API-key model (status, not only type)', () => {
    const expired = cluster({ license: { type: 'enterprise', status: 'expired' } });
    const apiKey = evaluatePreflight(request(), { deployment, local: cluster(), remote: expired, probe }, 'wf');
    assert.deepEqual(
      apiKey.filter((x) => x.level === 'error').map((x) => x.code),
      ['license-remote'],
    );
    assert.equal(preflightFailureType(apiKey.filter((x) => x.level === 'error')), 'LicenseNotSupported');
  });

  it('refuses an alias that exists on ECH, ours or not: a connect never touches a live connection', () => {
    const taken = cluster({ remote: { settings: { 'cluster.remote.onprem-logs.mode': 'proxy' } } });
    const foreign = evaluatePreflight(request(), { deployment, local: taken, probe }, 'wf');
    assert.match(foreign.find((x) => x.code === 'alias-in-use')?.message ?? '', /this tool did not create/);
    const ours = cluster({
      remote: { settings: { 'cluster.remote.onprem-logs.mode': 'proxy' }, ownedBy: { workflowId: 'wf' } },
    });
    const rerun = evaluatePreflight(request(), { deployment, local: ours, probe }, 'wf');
    assert.match(rerun.find((x) => x.code === 'alias-in-use')?.message ?? '', /earlier run of this workflow/);
  });
});

describe('what people are shown is what is sent', () => {
  it('the key instructions carry the exact request body the tool would send, tagged as ours', () => {
    const r = request({ keyExpiration: '90d' });
    const help = crossClusterApiKeyInstructions(r, 'wf-1');
    const sent = crossClusterApiKeyRequest(r, 'wf-1');
    assert.deepEqual(help.artifacts?.requests?.[0], sent);
    assert.ok(help.instructions.includes(JSON.stringify(sent.body, null, 2)));
    assert.equal((sent.body.metadata as Record<string, unknown>).managed_by, 'ech-remote-clusters');
    assert.equal(sent.body.expiration, '90d');
  });

  it('a changed access changes the access hash (a key is never reused for other access)', () => {
    assert.notEqual(
      accessHash({ search: [{ names: ['logs-*'] }] }),
      accessHash({ search: [{ names: ['metrics-*'] }] }),
    );
    assert.equal(accessHash({ search: [{ names: ['a'] }] }), accessHash({ search: [{ names: ['a'] }] }));
    // The same grant written as Elasticsearch stores it (defaults filled, DLS query as a string) hashes the same.
    assert.equal(
      accessHash({ search: [{ names: ['a'], query: { term: { x: 1 } } }] }),
      accessHash({ search: [{ names: ['a'], query: '{"term":{"x":1}}', allow_restricted_indices: false }] }),
    );
    assert.notEqual(
      accessHash({ search: [{ names: ['a'] }] }),
      accessHash({ search: [{ names: ['a'], allow_restricted_indices: true }] }),
    );
  });

  it('the remote-cluster-server step gives settings to apply and a restart', () => {
    const help = remoteClusterServerInstructions(request(), 'wf', 'why');
    assert.equal(help.artifacts?.settings?.['remote_cluster_server.enabled'], true);
    assert.equal(help.artifacts?.settings?.['remote_cluster.port'], 9443);
    assert.equal(help.artifacts?.restartRequired, true);
    assert.match(help.instructions, /remote_cluster_server\.enabled: true/);
  });

  it('connect switches the alias to proxy mode and clears sniff settings in the same request', () => {
    const body = connectRequest(
      request({ remote: { proxyAddress: 'es:9443', serverName: 'es.corp', ca: { kind: 'public' } } }),
      { workflowId: 'wf', alias: 'onprem-logs' },
    ).body.persistent;
    assert.equal(body['cluster.remote.onprem-logs.mode'], 'proxy');
    assert.equal(body['cluster.remote.onprem-logs.seeds'], null);
    assert.equal(body['cluster.remote.onprem-logs.server_name'], 'es.corp');
  });

  it('a dry-run plan of path B names the trust, keystore and connect requests and who does each step', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    const plan = buildPlan(request({ remote: { proxyAddress: 'es:9443', ca: { kind: 'private', pem } } }), {
      workflowId: 'wf',
      refId: 'main-elasticsearch',
      remoteClusterServerProven: false,
    });
    const steps = plan.map((p) => `${p.step}:${p.who}`);
    assert.deepEqual(steps, [
      'preflight:workflow',
      'remote-cluster-server:self-managed-org',
      'cross-cluster-api-key:self-managed-org',
      'approve-local-changes:ech-org',
      'ech-trust:workflow',
      'ech-keystore:workflow',
      'connect:workflow',
      'verify:workflow',
    ]);
    assert.doesNotMatch(JSON.stringify(plan), /"value":"(?!<encoded)/);
  });
});
