/**
 * connectRemoteCluster, TLS-certificate model (path C), end to end: a real Temporal dev server, the real activities
 * and the sandbox estate. The self-managed org's part is played through the sandbox control API with exactly what the
 * run published (status `waitingFor.artifacts`), never a hand-written copy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import yaml from 'js-yaml';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { TlsProbeReport } from '../../src/activities/types';
import type { ConnectRequestInput } from '../../src/contract/request';
import type { Artifacts, ConnectResult, ConnectStatus, DryRunResult } from '../../src/contract/status';
import { Estate } from '../helpers/estate';
import { assertRunUserSearchesRemote, failureOf, waitForStep } from '../helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;
let seq = 0;

/** Probes of the transport port the worker cannot make (a firewall admitting only ECH), counted down by the tests. */
let hiddenProbes = 0;

before(async () => {
  estate = await Estate.start('tls-certificate');
  client = await testClient();
  const real = createActivities();
  worker = await startWorker({
    activities: {
      ...real,
      async probeRemoteClusterServer(input: Parameters<typeof real.probeRemoteClusterServer>[0]) {
        if (hiddenProbes === 0) return real.probeRemoteClusterServer(input);
        hiddenProbes--;
        return unreachable(input.proxyAddress);
      },
    },
  });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
});

type Req = ConnectRequestInput & Record<string, unknown>;

function unreachable(address: string): TlsProbeReport {
  return {
    address,
    serverName: address.replace(/:\d+$/, ''),
    reachable: false,
    trusted: false,
    hostnameMatches: false,
    requestsClientCertificate: false,
    looksLikeTransportPort: false,
    chain: [],
    findings: [
      {
        level: 'warning',
        code: 'TLS_UNREACHABLE_FROM_WORKER',
        message: `${address} is not reachable from the worker (ETIMEDOUT).`,
      },
    ],
  };
}

const TRUST_FILE = 'trust-restrictions.yml';
const INSTANCES = 'instances.yml';
const CERT_SETTING = 'xpack.security.transport.ssl.certificate';
const KEY_SETTING = 'xpack.security.transport.ssl.key';
const CAS_SETTING = 'xpack.security.transport.ssl.certificate_authorities';
const KEYSTORE_SETTING = 'xpack.security.transport.ssl.keystore.path';
const TRUSTSTORE_SETTING = 'xpack.security.transport.ssl.truststore.path';

/** The sandbox's tls-certificate request; without remote credentials and/or without the CA when asked. */
function request(over: Partial<Req> = {}, opts: { remoteCredentials?: boolean; caInRequest?: boolean } = {}): Req {
  const base = structuredClone(estate.info.requests['tls-certificate']) as Req;
  if (opts.remoteCredentials === false) delete (base.remote as Record<string, unknown>).elasticsearch;
  if (opts.caInRequest === false) base.remote = { ...base.remote, ca: { kind: 'public' } };
  return { ...base, verify: { searchIndex: 'logs-*', timeout: '10s' }, humanStepTimeout: '2m', ...over };
}

async function startRun(req: Req): Promise<WorkflowHandle> {
  return client.workflow.start('connectRemoteCluster', {
    taskQueue: worker.taskQueue,
    workflowId: `connect-tls-${req.alias}-${Date.now()}-${++seq}`,
    args: [req],
  });
}

async function approve(handle: WorkflowHandle): Promise<void> {
  const status = await waitForStep(handle, 'approve-local-changes');
  assert.equal(status.waitingFor?.who, 'ech-org');
  await handle.signal('approve', { step: 'approve-local-changes', approver: 'sre@example.com' });
}

/**
 * The self-managed admin follows step `remote-trust` literally: runs the published role requests, then applies each
 * phase in order (when there are phases: the re-issued certificates first, running certutil with the generated
 * instances.yml, then the trust files), files + elasticsearch.yml settings and a restart each, and confirms.
 * `edit` lets a test apply a deliberately wrong variant of the generated files.
 */
async function doRemoteTrust(
  handle: WorkflowHandle,
  edit: (a: Artifacts) => Artifacts = (a) => a,
): Promise<{ status: ConnectStatus; artifacts: Artifacts }> {
  const status = await waitForStep(handle, 'remote-trust');
  assert.equal(status.waitingFor?.who, 'self-managed-org');
  const artifacts = edit(structuredClone(status.waitingFor!.artifacts!));
  for (const req of artifacts.requests ?? []) {
    const res = await estate.es('self-managed', req.method, req.path, req.body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  const { phases, requests: _requests, ...flat } = artifacts;
  for (const phase of phases ?? [flat]) {
    const instances = phase.files?.[INSTANCES];
    if (instances) {
      const issued = await estate.control('POST', '/self-managed/certutil', {
        instances,
        certificate: phase.settings?.[CERT_SETTING],
        key: phase.settings?.[KEY_SETTING],
      });
      assert.ok(issued.otherNames, JSON.stringify(issued));
    }
    // The phase as is: `restartRequired` makes the sandbox restart the node.
    const applied = await estate.control('POST', '/self-managed/apply', phase);
    assert.equal(applied.restarted, true, JSON.stringify(applied));
  }
  await handle.signal('confirmRemoteStep', { step: 'remote-trust', by: 'admin@corp.example' });
  return { status, artifacts };
}

/** Every file of the artifacts, phases included. */
function allFiles(a: Artifacts): Record<string, string> {
  return Object.assign({}, a.files, ...(a.phases ?? []).map((p) => p.files ?? {}));
}

async function expectConnected(result: ConnectResult, alias: string): Promise<void> {
  assert.equal(result.connected, true);
  assert.equal(result.securityModel, 'tls-certificate');
  assert.equal(result.evidence.searchHits, estate.info.seededIndex.documents);
  const info = (await estate.es('ech', 'GET', '/_remote/info')).body[alias];
  assert.equal(info.connected, true);
  assert.equal(info.proxy_address, estate.info.selfManaged.transport);
  assert.equal(info.cluster_credentials, undefined, 'the certificate model has no cluster credentials');
  // The run's user searches the remote: its role name decides there (same name on both clusters).
  await assertRunUserSearchesRemote(estate, alias);
}

async function echTrustEntry(name: string): Promise<any> {
  const dep = await estate.cloud('GET', `/deployments/${estate.info.cloud.deploymentId}?show_settings=true`);
  return (dep.resources.elasticsearch[0].info.settings?.trust?.direct ?? []).find((d: any) => d.name === name);
}

describe('path C end to end', () => {
  it('with remote credentials: the generated files applied literally make it work', async () => {
    await estate.scenario('tls-certificate');
    const req = request();
    const handle = await startRun(req);
    const { status, artifacts } = await doRemoteTrust(handle);
    // Every ECH CA and this deployment's pattern from the Cloud API, and the self-managed nodes' own pattern.
    const ca = await estate.cloud('GET', `/deployments/${estate.info.cloud.deploymentId}/certificate-authority`);
    for (const c of ca.public_certificates) assert.ok(artifacts.files!['certs/ech-ca.crt']!.includes(c.pem.trim()));
    assert.ok(artifacts.files![TRUST_FILE]!.includes(JSON.stringify(ca.recommended_trust_restriction)));
    assert.ok(artifacts.files![TRUST_FILE]!.includes('"*.node.onprem-cluster.cluster.selfmanaged.account"'));
    assert.equal(artifacts.files![INSTANCES], undefined, 'certificates with otherName need no re-issue');
    assert.equal(artifacts.requests, undefined, 'the run creates the remote role itself');
    assert.match(status.waitingFor!.instructions, /xpack\.security\.transport\.ssl\.trust_restrictions\.path/);
    // The markdown for people shows exactly the files configuration management applies.
    for (const [name, content] of Object.entries(allFiles(artifacts))) {
      assert.ok(status.waitingFor!.instructions.includes(content.trimEnd()), `instructions show ${name}`);
    }
    // The probe reports what an anonymous client can see of a mutual-TLS port: every node's certificate behind the one
    // address (the scenario's three nodes, one per connection) and its otherName.
    const preflight = status.steps.find((x) => x.id === 'preflight')!.detail!;
    assert.match(preflight, /\(3 node\(s\) seen\) carry otherName/);
    for (const node of ['node-1', 'node-2', 'node-3'])
      assert.ok(
        preflight.includes(`CN=${node} (otherName ${node}.node.onprem-cluster.cluster.selfmanaged.account)`),
        preflight,
      );
    await approve(handle);
    const result = (await handle.result()) as ConnectResult;
    await expectConnected(result, req.alias);
    assert.deepEqual(result.created.remoteRoles, ['remote-search']);
    assert.ok(result.warnings.some((w) => /deprecated/.test(w)));
    const entry = await echTrustEntry(`ech-remote-clusters/${req.alias}`);
    assert.equal(entry.type, 'generic');
    assert.equal(entry.trust_all, false);
    assert.equal(entry.scope_id, 'selfmanaged');
    assert.deepEqual(entry.trust_allowlist, ['onprem-cluster']);
    assert.equal(entry.certificates[0].pem.trim(), estate.info.ca.selfManagedTransport.trim());
    const role = await estate.es('self-managed', 'GET', '/_security/role/remote-search');
    assert.equal(role.body['remote-search'].metadata.managed_by, 'ech-remote-clusters');
    // The scenario's cluster has three nodes (the probe met all three): the trust-restrictions file's pattern for the
    // cluster's own nodes lets all three form a cluster again after the restart (domain page C5: "GET /_cat/nodes"),
    // and ECH's trust (the Cloud pattern) lets its proxy sockets reach every node.
    const nodes = await estate.es('self-managed', 'GET', '/_cat/nodes?format=json');
    assert.equal(nodes.status, 200, JSON.stringify(nodes.body));
    assert.deepEqual(
      nodes.body.map((n: { name: string }) => n.name),
      ['node-1', 'node-2', 'node-3'],
    );
    const info = await estate.es('ech', 'GET', '/_remote/info');
    assert.equal(info.body[req.alias].num_proxy_sockets_connected, 18);
  });

  it('by hand: the CA comes by signal (a node certificate is refused), roles are in the instructions', async () => {
    await estate.scenario('tls-certificate');
    const req = request({}, { remoteCredentials: false, caInRequest: false });
    const handle = await startRun(req);
    await waitForStep(handle, 'remote-ca-certificate');
    const nodeCert = (await estate.control('GET', '/self-managed/config')).files['certs/transport.crt'];
    await handle.signal('provideRemoteCaCertificate', { pem: nodeCert });
    const deadline = Date.now() + 15_000;
    let again: ConnectStatus;
    do {
      again = await waitForStep(handle, 'remote-ca-certificate');
      if (/not a CA certificate/.test(again.waitingFor!.instructions)) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    assert.match(again.waitingFor!.instructions, /not a CA certificate/);
    await handle.signal('provideRemoteCaCertificate', { pem: estate.info.ca.selfManagedTransport });
    const { artifacts } = await doRemoteTrust(handle);
    assert.equal(artifacts.requests?.[0]?.path, '/_security/role/remote-search');
    await approve(handle);
    const result = (await handle.result()) as ConnectResult;
    await expectConnected(result, req.alias);
    assert.equal(result.created.remoteRoles, undefined, 'the run did not touch the self-managed cluster');
  });

  it('a trust-restrictions file without the ECH pattern fails, diagnosed from what ECH and the worker see, rolled back', async () => {
    await estate.scenario('tls-certificate');
    const before = await estate.view();
    const ca = await estate.cloud('GET', `/deployments/${estate.info.cloud.deploymentId}/certificate-authority`);
    const echLine = `  - ${JSON.stringify(ca.recommended_trust_restriction)}`;
    const handle = await startRun(request());
    await doRemoteTrust(handle, (a) => {
      const lines = a.files![TRUST_FILE]!.split('\n');
      assert.ok(lines.includes(echLine));
      a.files![TRUST_FILE] = lines.filter((l) => l !== echLine).join('\n');
      return a;
    });
    await approve(handle);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'RemoteConnectionFailed', failure.message);
    // Real Elasticsearch gives no reason for a refused handshake (_resolve/cluster: connected false, no error), and the
    // worker cannot present ECH's certificate: the diagnosis names what is left and which log line tells it.
    assert.match(failure.message, /_resolve\/cluster: connected=false, skip_unavailable=\w+, no error/);
    assert.match(failure.message, /worker TLS probe of .*reachable, chain trusted/);
    assert.match(failure.message, /their trust restrictions not listing the ECH nodes/);
    // The evidence and the fix cover every node met behind the address, not the first connection's only.
    assert.match(failure.message, /3 nodes met behind it: CN=node-1, CN=node-2, CN=node-3/);
    assert.match(
      failure.message,
      /\(node-1\.node\.onprem-cluster\.cluster\.selfmanaged\.account, node-2\.node\.onprem-cluster\.cluster\.selfmanaged\.account, node-3\.node\.onprem-cluster\.cluster\.selfmanaged\.account\)/,
    );
    assert.match(
      failure.message,
      /To confirm: in the self-managed node logs look for "does not match trust restrictions" or "Received fatal alert: certificate_unknown"/,
    );
    assert.match(failure.message, /Rolled back/);
    assert.deepEqual(await estate.view(), before);
  });

  it('certificates without otherName on 8.x auto-configured security: the ordered phases, applied literally, make it work', async () => {
    await estate.scenario('tls-certificate-no-othername');
    // The node as 8.x auto-configuration leaves it: keystore and truststore paths, no PEM settings (the sandbox's PEM
    // files stand in for certs/transport.p12).
    await estate.control('POST', '/self-managed/apply', {
      settings: {
        [CERT_SETTING]: null,
        [KEY_SETTING]: null,
        [CAS_SETTING]: null,
        [KEYSTORE_SETTING]: 'certs/transport.p12',
        [TRUSTSTORE_SETTING]: 'certs/transport.p12',
      },
      restart: true,
    });
    const req = request();
    const handle = await startRun(req);
    const status = await waitForStep(handle, 'remote-trust');
    const text = status.waitingFor!.instructions;
    const artifacts = status.waitingFor!.artifacts!;
    // Certificates everywhere first, trust restrictions second: two ordered phases, nothing outside them.
    assert.equal(artifacts.settings, undefined);
    assert.equal(artifacts.files, undefined);
    const [reissue, trust] = artifacts.phases!;
    assert.ok(reissue && trust && artifacts.phases!.length === 2);
    assert.equal(reissue.settings![CERT_SETTING], 'certs/transport-node.crt');
    assert.equal(
      reissue.settings![KEYSTORE_SETTING],
      null,
      'the keystore path goes: ES refuses it next to a PEM certificate',
    );
    assert.equal(reissue.files![TRUST_FILE], undefined);
    assert.ok(trust.files![TRUST_FILE]);
    assert.equal(trust.settings![TRUSTSTORE_SETTING], null);
    // The scenario's three nodes answer the one transport address in turn: the probe met every one, so instances.yml
    // re-issues all three (each keeping its own DNS name), not just the node the first connection reached.
    const parsed = yaml.load(reissue.files![INSTANCES]!) as {
      instances: { name: string; dns: string[]; cn: string[] }[];
    };
    assert.deepEqual(
      parsed.instances.map((i) => [i.name, i.cn]),
      ['node-1', 'node-2', 'node-3'].map((n) => [n, [`${n}.node.onpremcluster.cluster.selfmanaged.account`]]),
    );
    for (const i of parsed.instances)
      assert.ok(
        i.dns.some((d) => d.startsWith(`${i.name}.`)),
        JSON.stringify(i),
      );
    assert.match(text, /The worker met 3 nodes behind 127\.0\.0\.1:\d+/);
    assert.doesNotMatch(text, /<DNS name of /);
    // The markdown: the same files, the certutil run, one uncommented copy line per node, the removals and keystore entries.
    for (const content of Object.values(allFiles(artifacts))) assert.ok(text.includes(content.trimEnd()));
    assert.match(text, /elasticsearch-certutil cert --pem .*--in instances\.yml/);
    assert.match(
      text,
      /^unzip -o transport-certs\.zip 'node-1\/\*' .*&& cp transport-certs\/node-1\/node-1\.crt "\$\{ES_PATH_CONF:-config\}"\/certs\/transport-node\.crt/m,
    );
    assert.match(text, /# remove this line if you have it: xpack\.security\.transport\.ssl\.keystore\.path/);
    assert.match(text, /elasticsearch-keystore remove xpack\.security\.transport\.ssl\.truststore\.secure_password/);
    for (const node of ['node-2', 'node-3'])
      assert.ok(text.includes(`# on node ${node}\nunzip -o transport-certs.zip '${node}/*'`), `copy line for ${node}`);
    assert.ok(text.indexOf('#### 1. Re-issue') < text.indexOf('#### 2.'));
    await doRemoteTrust(handle);
    await approve(handle);
    await expectConnected((await handle.result()) as ConnectResult, req.alias);
    // Every node re-issued: the cluster forms under the trust restrictions, and every proxy socket of ECH connects.
    const nodes = await estate.es('self-managed', 'GET', '/_cat/nodes?format=json');
    assert.equal(nodes.status, 200, JSON.stringify(nodes.body));
    assert.equal(nodes.body.length, 3);
    const info = await estate.es('ech', 'GET', '/_remote/info');
    assert.equal(info.body[req.alias].num_proxy_sockets_connected, 18);
  });

  it('certificates without otherName, one node left out of instances.yml: the re-probe names it, ECH untouched', async () => {
    await estate.scenario('tls-certificate-no-othername');
    const before = await estate.view();
    const handle = await startRun(request());
    // The admin re-issues only two of the three nodes (as an instances.yml generated from one connection would).
    await doRemoteTrust(handle, (a) => {
      const phase = a.phases![0]!;
      const doc = yaml.load(phase.files![INSTANCES]!) as { instances: { name: string }[] };
      doc.instances = doc.instances.filter((i) => i.name !== 'node-3');
      phase.files![INSTANCES] = yaml.dump(doc);
      return a;
    });
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'NodeIdentityMismatch', failure.message);
    assert.match(
      failure.message,
      /1 of the 3 nodes the worker met behind 127\.0\.0\.1:\d+: CN=node-3 carries otherName \[\]/,
    );
    assert.match(failure.message, /nothing was changed on ECH/);
    // ECH as before (the self-managed side holds what the admin applied: that is theirs to fix).
    const after = await estate.view();
    for (const k of ['keystore', 'trustDirect', 'echRemoteSettings', 'echRoles', 'echUsers'] as const)
      assert.deepEqual(after[k], before[k], k);
  });

  it('remote.nodeNames that leaves out a node the worker met: InvalidRequest naming it, nothing changed', async () => {
    await estate.scenario('tls-certificate-no-othername');
    const before = await estate.view();
    const req = request();
    req.remote = { ...req.remote, nodeNames: ['node-1', 'node-2'] };
    const failure = await failureOf(await startRun(req));
    assert.equal(failure.type, 'InvalidRequest', failure.message);
    assert.match(failure.message, /\[remote-node-names\]/);
    assert.match(failure.message, /the worker met CN=node-3, which is not listed/);
    assert.match(failure.message, /"nodeNames": \["node-1","node-2","node-3"\]/);
    assert.deepEqual(await estate.view(), before);
  });

  it('the worker could not look, and the certificates carry another cluster id than the files: ECH untouched, a typed error', async () => {
    await estate.scenario('tls-certificate');
    const before = await estate.view();
    hiddenProbes = 1; // the preflight probe: the identity is assumed (cluster name), the re-probe after confirmation sees
    const handle = await startRun(request());
    const status = await waitForStep(handle, 'remote-trust');
    const text = status.waitingFor!.instructions;
    const { phases } = status.waitingFor!.artifacts!;
    // Re-issue unless they carry exactly the assumed pattern; no node names known: a placeholder entry, as the text says.
    assert.match(
      text,
      /Re-issue the transport certificates, unless they already carry `otherName` `\*\.node\.onpremcluster\.cluster\.selfmanaged\.account` exactly/,
    );
    const parsed = yaml.load(phases![0]!.files![INSTANCES]!) as { instances: { name: string; cn: string[] }[] };
    assert.deepEqual(
      parsed.instances.map((i) => [i.name, i.cn]),
      [['<node-name>', ['<node-name>.node.onpremcluster.cluster.selfmanaged.account']]],
    );
    assert.match(text, /replace `<node-name>` with a node's name/);
    // The admin believes the certificates fine (they carry node-1.node.onprem-cluster…) and applies the trust phase only.
    const applied = await estate.control('POST', '/self-managed/apply', phases![1]);
    assert.equal(applied.restarted, true);
    await handle.signal('confirmRemoteStep', { step: 'remote-trust', by: 'admin@corp.example' });
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'NodeIdentityMismatch', failure.message);
    assert.match(failure.message, /carries otherName \[node-1\.node\.onprem-cluster\.cluster\.selfmanaged\.account\]/);
    assert.match(failure.message, /\*\.node\.onpremcluster\.cluster\.selfmanaged\.account/);
    assert.match(failure.message, /nothing was changed on ECH/);
    assert.match(failure.message, /start a new run.*\*\.node\.onprem-cluster\.cluster\.selfmanaged\.account/);
    assert.deepEqual(await estate.view(), before);
  });
});

describe('path C: nothing left behind', () => {
  it('rollback after the trust entry, the remote and the remote role: the estate is as before', async () => {
    await estate.scenario('tls-certificate');
    const before = await estate.view();
    await estate.faults([{ target: 'ech', method: 'PUT', path: '^/_security/role/', statusRates: { '400': 1 } }]);
    const handle = await startRun(request());
    await doRemoteTrust(handle);
    await approve(handle);
    const failure = await failureOf(handle);
    await estate.control('DELETE', '/faults');
    assert.match(failure.message, /Rolled back/);
    const cleanup = (await handle.query<ConnectStatus>('status')).cleanup!;
    assert.equal(cleanup.mode, 'rollback');
    for (const what of [/trust entry/, /cluster settings/, /role remote-search on the self-managed cluster/]) {
      assert.ok(
        cleanup.items.some((i) => what.test(i)),
        `${what} rolled back: ${cleanup.items.join('; ')}`,
      );
    }
    assert.deepEqual(await estate.view(), before);
  });

  it('rejection ends the run with nothing changed', async () => {
    await estate.scenario('tls-certificate');
    const before = await estate.view();
    const handle = await startRun(request());
    await doRemoteTrust(handle);
    await waitForStep(handle, 'approve-local-changes');
    await handle.signal('reject', { step: 'approve-local-changes', approver: 'lead@example.com', reason: 'no' });
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'Rejected');
    assert.deepEqual(await estate.view(), before);
  });

  it('an approval that never comes times out with nothing changed', async () => {
    await estate.scenario('tls-certificate');
    const before = await estate.view();
    const handle = await startRun(request({ approvals: { beforeLocalChanges: true, timeout: '2s' } }));
    await doRemoteTrust(handle);
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'HumanStepTimedOut');
    assert.match(failure.message, /approve-local-changes/);
    assert.deepEqual(await estate.view(), before);
  });

  it('dry run: the plan names both organisations and the generic trust entry, nothing changes', async () => {
    await estate.scenario('tls-certificate');
    const before = await estate.view();
    const result = (await (await startRun(request({ dryRun: true }))).result()) as DryRunResult;
    const steps = result.plan.map((p) => `${p.step}/${p.who}`);
    for (const s of ['remote-trust/self-managed-org', 'approve-local-changes/ech-org', 'ech-trust/workflow']) {
      assert.ok(steps.includes(s), `plan has ${s}: ${steps.join(', ')}`);
    }
    assert.ok(!steps.some((s) => s.startsWith('ech-keystore') || s.startsWith('cross-cluster-api-key')));
    const trust = result.plan.find((p) => p.step === 'ech-trust')?.request?.body as any;
    const entry = trust.resources.elasticsearch[0].settings.trust.direct[1];
    assert.equal(entry.type, 'generic');
    assert.deepEqual(entry.trust_allowlist, ['onprem-cluster']);
    assert.deepEqual(await estate.view(), before);
  });
});

describe('path C preflight: a clear error and no change', () => {
  it('a CA in the request that did not sign the transport certificate', async () => {
    await estate.scenario('tls-certificate');
    const before = await estate.view();
    const req = request();
    req.remote = { ...req.remote, ca: { kind: 'private', pem: estate.info.ca.remotePrivate } };
    const failure = await failureOf(await startRun(req));
    assert.equal(failure.type, 'TlsTrustFailed', failure.message);
    assert.match(failure.message, /give the CA that signed the transport certificate/);
    assert.match(failure.message, /nothing was changed/i);
    assert.deepEqual(await estate.view(), before);
  });

  it('pointed at the remote cluster server port (9443) instead of the transport port: WrongPort', async () => {
    await estate.scenario('api-key-private');
    const before = await estate.view();
    // Without remote credentials: the port alone decides (this scenario's self-managed 8.17 is no transport peer of 9.1).
    const req = request({}, { remoteCredentials: false });
    req.remote = {
      ...req.remote,
      proxyAddress: estate.info.selfManaged.remoteClusterServer,
      ca: { kind: 'private', pem: estate.info.ca.remotePrivate },
    };
    const failure = await failureOf(await startRun(req));
    assert.equal(failure.type, 'WrongPort', failure.message);
    assert.match(failure.message, /does not ask for a client certificate/);
    assert.match(failure.message, /transport port \(default 9300\)/);
    assert.deepEqual(await estate.view(), before);
  });

  it('a self-managed 8.17 cluster cannot talk to ECH 9.1 over transport', async () => {
    await estate.control('POST', '/scenario', { name: 'tls-certificate', versions: { selfManaged: '8.17.4' } });
    await estate.control('POST', '/plans', { pendingMs: 150 });
    const failure = await failureOf(await startRun(request()));
    assert.equal(failure.type, 'VersionNotSupported', failure.message);
    assert.match(failure.message, /9\.1\.3.*8\.17\.4.*8\.19 with 9\.x/);
  });
});
