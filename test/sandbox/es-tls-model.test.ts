/**
 * The TLS-certificate (legacy) model over the transport port: mutual TLS, trust restrictions on the self-managed
 * side, node-name trust on the ECH side, and roles checked by name on the remote.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPki, type SandboxPki } from '../../src/sandbox/pki';
import { startEstate, call, client, basic, type Estate } from './es-helpers';

let pki: SandboxPki;
let e: Estate;
let smNodeName: string;

const restrictions = (patterns: string[]) => `trust.subject_name:\n${patterns.map((p) => `  - "${p}"`).join('\n')}\n`;

before(async () => {
  pki = await createPki();
  // 8.19 is the oldest self-managed version a 9.1 ECH can talk to over transport.
  e = await startEstate({ pki, sm: { version: '8.19.0', rcsEnabled: false, transportOtherName: true } });
  smNodeName = e.sm.transportNodeNames[0]!;
  await call(e.sm, 'PUT', '/logs-tls/_doc/1', { msg: 'via transport' }, { headers: {} });
  // Self-managed admin: trust the ECH CA and restrict to this deployment's nodes + its own nodes (domain C4/C5).
  await e.sm.applyNodeConfig({
    settings: {
      'xpack.security.transport.ssl.certificate_authorities': ['certs/transport-ca.crt', 'certs/ech-ca.crt'],
      'xpack.security.transport.ssl.trust_restrictions.path': 'trust.yml',
    },
    files: {
      'certs/ech-ca.crt': pki.echTransport.certPem,
      'trust.yml': restrictions(['*.node.abc123ech.cluster.org42.account', smNodeName]),
    },
    restart: true,
  });
  // ECH side: trusted environment with the self-managed transport CA and its node name.
  e.ech.setTrust({ cas: [pki.selfManagedTransport.certPem], transportNodeNamePatterns: [smNodeName] });
});
after(() => e.stop());

async function connect(alias: string) {
  const r = await call(e.ech, 'PUT', '/_cluster/settings', {
    persistent: {
      [`cluster.remote.${alias}.mode`]: 'proxy',
      [`cluster.remote.${alias}.proxy_address`]: e.sm.transportAddress,
    },
  });
  assert.equal(r.status, 200);
}
const resolve = async (alias: string) =>
  ((await call(e.ech, 'GET', `/_resolve/cluster/${alias}:*`)).body as any)[alias];

/**
 * Not connected as Elasticsearch shows it (TransportResolveClusterAction: `{connected: false, skip_unavailable}`, no
 * `error`, for any connect failure) and the reason ECH's node logged (outbound log), where the failure text lives.
 */
async function notConnected(estate: Estate, alias: string): Promise<string> {
  const r = ((await call(estate.ech, 'GET', `/_resolve/cluster/${alias}:*`)).body as any)[alias];
  assert.deepEqual(Object.keys(r).sort(), ['connected', 'skip_unavailable'], JSON.stringify(r));
  assert.equal(r.connected, false);
  const logged = (estate.ech.snapshot() as any).outbound.filter((o: any) => o.alias === alias && !o.ok).at(-1);
  assert.ok(logged, `ECH logged no failed connection for ${alias}`);
  return logged.reason as string;
}

test('TLS model: connected without cluster_credentials; remote role of the same name decides', async () => {
  assert.equal(smNodeName, 'node-1.node.onprem.cluster.selfmanaged.account');
  await connect('tlsok');
  const info = ((await call(e.ech, 'GET', '/_remote/info')).body as any).tlsok;
  assert.equal(info.connected, true);
  assert.equal(info.cluster_credentials, undefined);
  assert.equal((e.sm.snapshot() as any).inbound.at(-1).profile, 'default');
  // Same role name on both clusters; the remote definition grants the indices.
  await call(e.sm, 'PUT', '/_security/role/remote-search', {
    indices: [{ names: ['logs-*'], privileges: ['read', 'read_cross_cluster'] }],
  });
  await call(e.ech, 'PUT', '/_security/role/remote-search', {});
  await call(e.ech, 'PUT', '/_security/user/tls-user', { password: 'l0ng-r4nd0m', roles: ['remote-search'] });
  const hits = await client(e.ech, { username: 'tls-user', password: 'l0ng-r4nd0m' }).search({ index: 'tlsok:logs-*' });
  assert.deepEqual(
    hits.hits.hits.map((h) => h._index),
    ['tlsok:logs-tls'],
  );
  await call(e.ech, 'PUT', '/_cluster/settings', { persistent: { 'cluster.remote.tlsok.skip_unavailable': false } });
  const denied = await call(e.ech, 'GET', '/tlsok:secret/_search', undefined, {
    auth: basic('tls-user', 'l0ng-r4nd0m'),
  });
  assert.equal(denied.status, 403);
  assert.match(
    denied.body.error.reason,
    /^action \[indices:data\/read\/search\] is unauthorized for user \[tls-user\]/,
  );
});

test('TLS model: self-managed trust restrictions not matching the ECH node names → certificate_unknown', async () => {
  await e.sm.applyNodeConfig({
    files: { 'trust.yml': restrictions(['*.node.*.cluster.other-org.account', smNodeName]) },
    restart: true,
  });
  await connect('tr');
  assert.equal(((await call(e.ech, 'GET', '/_remote/info')).body as any).tr.connected, false);
  assert.equal(await notConnected(e, 'tr'), 'Received fatal alert: certificate_unknown');
  assert.match((e.sm.snapshot() as any).inbound.at(-1).reason, /does not match trust restrictions/);
  // dnsName matching only works when the admin adds it to x509_fields (ECH certs carry no DNS name here, so still refused).
  await e.sm.applyNodeConfig({
    files: { 'trust.yml': restrictions(['*.node.abc123ech.cluster.org42.account', smNodeName]) },
    restart: true,
  });
  assert.equal((await resolve('tr')).connected, true);
});

test('TLS model: self-managed does not trust the ECH CA → handshake alert', async () => {
  await e.sm.applyNodeConfig({
    settings: { 'xpack.security.transport.ssl.certificate_authorities': ['certs/transport-ca.crt'] },
    restart: true,
  });
  await connect('noca');
  assert.match(await notConnected(e, 'noca'), /^Received fatal alert: (certificate_unknown|bad_certificate)$/);
  await e.sm.applyNodeConfig({
    settings: {
      'xpack.security.transport.ssl.certificate_authorities': ['certs/transport-ca.crt', 'certs/ech-ca.crt'],
    },
    restart: true,
  });
  assert.equal((await resolve('noca')).connected, true);
});

test('TLS model: ECH trust entry does not name the self-managed nodes (certs without otherName) → trust failure', async () => {
  await e.sm.reissueTransportCertificates({ otherName: undefined });
  await e.sm.applyNodeConfig({ restart: true });
  assert.deepEqual(e.sm.transportNodeNames, []);
  await connect('nn');
  assert.match(
    await notConnected(e, 'nn'),
    /^failed to establish trust with server at \[127\.0\.0\.1\]; the server provided a certificate with subject name \[CN=node-1\].*do not match any trusted node name \[node-1\.node\.onprem\.cluster\.selfmanaged\.account\]/,
  );
  // Re-issue with the otherName (domain step C2) and it connects again.
  await e.sm.reissueTransportCertificates({ otherName: [smNodeName] });
  await e.sm.applyNodeConfig({ restart: true });
  assert.equal((await resolve('nn')).connected, true);
});

test('TLS model: 8.17 / 7.17 self-managed cannot connect to a 9.1 ECH (wire compatibility)', async () => {
  const old = await startEstate({ pki, sm: { version: '7.17.25', rcsEnabled: false, transportOtherName: true } });
  try {
    await old.sm.applyNodeConfig({
      settings: {
        'xpack.security.transport.ssl.certificate_authorities': ['certs/transport-ca.crt', 'certs/ech-ca.crt'],
      },
      files: { 'certs/ech-ca.crt': pki.echTransport.certPem },
      restart: true,
    });
    old.ech.setTrust({ cas: [pki.selfManagedTransport.certPem], transportNodeNamePatterns: old.sm.transportNodeNames });
    await call(old.ech, 'PUT', '/_cluster/settings', {
      persistent: { 'cluster.remote.v7.mode': 'proxy', 'cluster.remote.v7.proxy_address': old.sm.transportAddress },
    });
    // The handshake's IllegalStateException is retryable for the proxy strategy: no `error` either.
    assert.equal(
      await notConnected(old, 'v7'),
      'Received message from unsupported version: [7.17.25] minimal compatible version is: [8.19.0]',
    );
    await old.sm.applyNodeConfig({ restart: true });
  } finally {
    await old.stop();
  }
});
