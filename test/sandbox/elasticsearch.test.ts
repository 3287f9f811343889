/**
 * The simulated Elasticsearch clusters: HTTP API with the official client and plain HTTPS, and the API-key model's
 * remote connection with each failure row of the domain page §4 reproduced by misconfiguring exactly one thing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { errors } from '@elastic/elasticsearch';
import { createPki, peerIdentity, cloudNodeName, type SandboxPki } from '../../src/sandbox/pki';
import { startEstate, call, client, basic, type Estate } from './es-helpers';

let pki: SandboxPki;
let e: Estate;
const JSON_HEADERS = { accept: 'application/json', 'content-type': 'application/json' };

before(async () => {
  pki = await createPki();
  e = await startEstate({ pki });
  const sm = client(e.sm, undefined, JSON_HEADERS);
  await sm.index({ index: 'logs-app', id: '1', document: { msg: 'hello', level: 'info' } });
  await sm.index({ index: 'logs-app', id: '2', document: { msg: 'boom', level: 'error' } });
  await sm.index({ index: 'secret-hr', id: '1', document: { salary: 1 } });
});
after(() => e.stop());

async function ccKey(access: unknown = { search: [{ names: ['logs-*'] }] }, extra: Record<string, unknown> = {}) {
  const r = await call(e.sm, 'POST', '/_security/cross_cluster/api_key', { name: 'ech-link', access, ...extra });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as { id: string; encoded: string; api_key: string; name: string };
}

/** Register alias on ECH in proxy mode (API-key model when a keystore credential exists for it). */
async function connect(alias: string, proxyAddress: string, extra: Record<string, unknown> = {}) {
  const r = await call(e.ech, 'PUT', '/_cluster/settings', {
    persistent: {
      cluster: {
        remote: { [alias]: { mode: 'proxy', proxy_address: proxyAddress, server_name: e.sm.serverName, ...extra } },
      },
    },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function remove(alias: string) {
  await call(e.ech, 'PUT', '/_cluster/settings', {
    persistent: { [`cluster.remote.${alias}.*`]: null },
  });
  await e.ech.setSecureSettings({ [`cluster.remote.${alias}.credentials`]: undefined });
}

async function remoteInfo(alias: string) {
  return ((await call(e.ech, 'GET', '/_remote/info')).body as Record<string, any>)[alias];
}
async function resolve(alias: string) {
  return ((await call(e.ech, 'GET', `/_resolve/cluster/${alias}:logs-*`)).body as Record<string, any>)[alias];
}

/**
 * A remote ECH cannot connect to, as `_resolve/cluster` shows it (TransportResolveClusterAction: a remote-unavailable
 * exception gives `{connected: false, skip_unavailable}` and no `error`), and the reason ECH's node logged (the
 * outbound log): the failure table's text lives only there.
 */
async function notConnected(estate: Estate, alias: string): Promise<string> {
  const body = (await call(estate.ech, 'GET', `/_resolve/cluster/${alias}:logs-*`)).body as Record<string, any>;
  assert.deepEqual(Object.keys(body[alias]).sort(), ['connected', 'skip_unavailable'], JSON.stringify(body));
  assert.equal(body[alias].connected, false);
  const logged = (estate.ech.snapshot() as any).outbound.filter((o: any) => o.alias === alias && !o.ok).at(-1);
  assert.ok(logged, `ECH logged no failed connection for ${alias}`);
  return logged.reason as string;
}

test('PKI: Node TLS accepts the generated certificates; otherName and SANs are readable; wrong CA and expiry are refused', async () => {
  const name = cloudNodeName('instance-0000000001', 'c1', 'org1');
  const leaf = await pki.issue(pki.remotePrivate, {
    commonName: 'x',
    dnsNames: ['es.corp.example'],
    otherNames: [name],
  });
  const expired = await pki.issue(pki.remotePrivate, {
    commonName: 'old',
    dnsNames: ['es.corp.example'],
    notBefore: new Date(Date.now() - 10 * 86400e3),
    notAfter: new Date(Date.now() - 86400e3),
  });
  const serve = (cert: { certPem: string; keyPem: string }) =>
    new Promise<{ port: number; close: () => void }>((res) => {
      const s = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (sock) => sock.end());
      s.listen(0, '127.0.0.1', () => res({ port: (s.address() as { port: number }).port, close: () => s.close() }));
    });
  const connectTo = (port: number, ca: string) =>
    new Promise<tls.TLSSocket>((res, rej) => {
      const sock = tls.connect({ host: '127.0.0.1', port, ca, servername: 'es.corp.example' }, () => res(sock));
      sock.on('error', rej);
    });
  const good = await serve(leaf);
  const sock = await connectTo(good.port, pki.remotePrivate.certPem);
  assert.equal(sock.authorized, true);
  assert.deepEqual(peerIdentity(sock.getPeerCertificate().raw).otherNameCommonNames, [name]);
  assert.deepEqual(peerIdentity(leaf.certPem).dnsNames, ['es.corp.example']);
  sock.destroy();
  await assert.rejects(connectTo(good.port, pki.publicRoot.certPem), /unable to verify/);
  good.close();
  const old = await serve(expired);
  await assert.rejects(connectTo(old.port, pki.remotePrivate.certPem), /expired/);
  old.close();
});

test('official client works against ECH 9.1 with TLS verification; an 8.17 cluster refuses compatible-with=9', async () => {
  const ech = client(e.ech);
  const info = await ech.info();
  assert.equal(info.version.number, '9.1.0');
  assert.equal(info.version.minimum_wire_compatibility_version, '8.19.0');
  assert.equal((await ech.license.get()).license.type, 'enterprise');
  assert.equal((await ech.security.authenticate()).username, 'elastic');
  await assert.rejects(client(e.sm).info(), (err: errors.ResponseError) => {
    assert.equal(err.meta.statusCode, 400);
    const body = err.meta.body as any;
    assert.equal(body.error.type, 'media_type_header_exception');
    assert.match(
      body.error.caused_by.reason,
      /^Accept version must be either version 8 or 7, but found 9\. Accept=application\/vnd\.elasticsearch\+json; compatible-with=9/,
    );
    return true;
  });
  // compatible-with=8 and plain JSON work on 8.17.
  const ok = await call(e.sm, 'GET', '/', undefined, {
    headers: { accept: 'application/vnd.elasticsearch+json; compatible-with=8' },
  });
  assert.equal(ok.status, 200);
  assert.match(String(ok.headers['content-type']), /compatible-with=8/);
  assert.equal(ok.headers['x-elastic-product'], 'Elasticsearch');
});

test('authentication: 401 with WWW-Authenticate; a cross-cluster key is refused on REST; REST keys authenticate', async () => {
  const none = await call(e.sm, 'GET', '/_security/_authenticate', undefined, { auth: '' });
  assert.equal(none.status, 401);
  assert.ok(none.headers['www-authenticate']);
  assert.equal(
    none.body.error.reason,
    'missing authentication credentials for REST request [/_security/_authenticate]',
  );
  const wrong = await call(e.sm, 'GET', '/', undefined, { auth: basic('elastic', 'nope') });
  assert.equal(wrong.body.error.reason, 'unable to authenticate user [elastic] for REST request [/]');
  const cc = await ccKey();
  const asCc = await call(e.sm, 'GET', '/_security/_authenticate', undefined, { auth: `ApiKey ${cc.encoded}` });
  assert.equal(asCc.status, 401);
  assert.equal(
    asCc.body.error.reason,
    `authentication expected API key type of [rest], but API key [${cc.id}] has type [cross_cluster]`,
  );
  const rest = (await call(e.sm, 'POST', '/_security/api_key', { name: 'automation' })).body;
  const me = await call(e.sm, 'GET', '/_security/_authenticate', undefined, { auth: `ApiKey ${rest.encoded}` });
  assert.equal(me.body.authentication_type, 'api_key');
  assert.equal(me.body.api_key.id, rest.id);
  // A cross-cluster key must be created with user credentials, not an API key.
  const byKey = await call(
    e.sm,
    'POST',
    '/_security/cross_cluster/api_key',
    { name: 'x', access: { search: [{ names: ['a'] }] } },
    { auth: `ApiKey ${rest.encoded}` },
  );
  assert.equal(byKey.status, 400);
  assert.equal(
    byKey.body.error.reason,
    'authentication via API key not supported: An API key cannot be used to create a cross-cluster API key',
  );
});

test('cross-cluster API key: access rules, get, update (updated:false when unchanged), invalidate', async () => {
  const bad = async (access: unknown) =>
    (await call(e.sm, 'POST', '/_security/cross_cluster/api_key', { name: 'n', access })).body.error.reason;
  assert.equal(await bad({}), 'must specify non-empty access for either [search] or [replication]');
  assert.equal(
    await bad({ replication: [{ names: ['a'], query: { match_all: {} } }] }),
    'replication does not support document or field level security',
  );
  assert.equal(
    await bad({ search: [{ names: ['a'], query: { match_all: {} } }], replication: [{ names: ['b'] }] }),
    'search does not support document or field level security if replication is assigned',
  );
  const key = await ccKey(
    { search: [{ names: ['logs-*'] }] },
    { metadata: { managed_by: 'ech-remote-clusters' }, expiration: '30d' },
  );
  const got = (await call(e.sm, 'GET', `/_security/api_key?name=ech-link&active_only=true`)).body.api_keys.find(
    (k: any) => k.id === key.id,
  );
  assert.equal(got.type, 'cross_cluster');
  // As ES shows it: allow_restricted_indices filled in (domain page §4c; 50_cross_cluster.yml of
  // x-pack/plugin/src/yamlRestTest/resources/rest-api-spec/test/api_key).
  assert.deepEqual(got.access, { search: [{ names: ['logs-*'], allow_restricted_indices: false }] });
  assert.deepEqual(got.metadata, { managed_by: 'ech-remote-clusters' });
  assert.ok(got.expiration > Date.now());
  assert.deepEqual(got.role_descriptors.cross_cluster.cluster, ['cross_cluster_search', 'monitor_enrich']);
  const same = await call(e.sm, 'PUT', `/_security/cross_cluster/api_key/${key.id}`, {
    access: { search: [{ names: ['logs-*'] }] },
  });
  assert.deepEqual(same.body, { updated: false });
  const changed = await call(e.sm, 'PUT', `/_security/cross_cluster/api_key/${key.id}`, {
    access: { search: [{ names: ['logs-*', 'metrics-*'] }] },
  });
  assert.deepEqual(changed.body, { updated: true });
  const inv = await call(e.sm, 'DELETE', '/_security/api_key', { ids: [key.id] });
  assert.deepEqual(inv.body, { invalidated_api_keys: [key.id], previously_invalidated_api_keys: [], error_count: 0 });
  // Already invalidated keys are filtered out before invalidating (ApiKeyService): the answer is empty.
  const again = await call(e.sm, 'DELETE', '/_security/api_key', { ids: [key.id] });
  assert.deepEqual(again.body, { invalidated_api_keys: [], previously_invalidated_api_keys: [], error_count: 0 });
  const upd = await call(e.sm, 'PUT', `/_security/cross_cluster/api_key/${key.id}`, { metadata: {} });
  assert.equal(upd.body.error.reason, `cannot update invalidated API key [${key.id}]`);
  const active = await call(e.sm, 'GET', `/_security/api_key?id=${key.id}&active_only=true`);
  assert.deepEqual([active.status, active.body], [200, { api_keys: [] }]);
});

test('roles and users: version gates and privilege checks', async () => {
  // Before 8.10 the API-key model does not exist (8.10-8.13, its beta: test/sandbox/api-key-beta.test.ts).
  const old = await startEstate({ pki, ech: { version: '8.9.2' }, sm: { version: '8.9.2', rcsEnabled: false } });
  try {
    const r = await call(old.ech, 'PUT', '/_security/role/remote-search', {
      remote_indices: [{ clusters: ['x'], names: ['a'], privileges: ['read'] }],
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.reason, 'failed to parse role [remote-search]. unexpected field [remote_indices]');
    const cc = await call(old.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: 'k',
      access: { search: [{ names: ['a'] }] },
    });
    assert.equal(cc.status, 400);
    assert.equal(cc.body.error, 'no handler found for uri [/_security/cross_cluster/api_key] and method [POST]');
  } finally {
    await old.stop();
  }
  const role = await call(e.ech, 'PUT', '/_security/role/only-monitor', {
    cluster: ['monitor'],
    remote_cluster: [{ clusters: ['x'], privileges: ['monitor_enrich'] }],
  });
  assert.deepEqual(role.body, { role: { created: true } });
  assert.deepEqual((await call(e.ech, 'PUT', '/_security/role/only-monitor', { cluster: ['monitor'] })).body, {
    role: { created: false },
  });
  assert.equal(
    (await call(e.ech, 'PUT', '/_security/user/mon', { password: 'short' })).body.error.reason,
    'Validation Failed: 1: passwords must be at least [6] characters long;',
  );
  assert.deepEqual(
    (await call(e.ech, 'PUT', '/_security/user/mon', { password: 'l0ng-enough', roles: ['only-monitor'] })).body,
    { created: true },
  );
  const denied = await call(
    e.ech,
    'PUT',
    '/_cluster/settings',
    { persistent: { 'cluster.metadata.x': 'y' } },
    { auth: basic('mon', 'l0ng-enough') },
  );
  assert.equal(denied.status, 403);
  assert.equal(
    denied.body.error.reason,
    'action [cluster:admin/settings/update] is unauthorized for user [mon] with effective roles [only-monitor], this action is granted by the cluster privileges [manage,all]',
  );
  const hp = await call(
    e.ech,
    'POST',
    '/_security/user/_has_privileges',
    { cluster: ['monitor', 'manage'] },
    { auth: basic('mon', 'l0ng-enough') },
  );
  assert.deepEqual(hp.body.cluster, { monitor: true, manage: false });
  assert.equal(hp.body.has_all_requested, false);
  assert.equal((await call(e.ech, 'GET', '/_security/role/nope')).status, 404);
});

test('_cluster/settings validation: sniff/proxy conflicts, malformed proxy_address, nulls delete, flat and nested', async () => {
  const put = async (persistent: unknown) => call(e.ech, 'PUT', '/_cluster/settings', { persistent });
  let r = await put({ 'cluster.remote.bad.proxy_address': '127.0.0.1:9443' });
  assert.equal(r.status, 400);
  assert.equal(
    r.body.error.reason,
    'Setting "cluster.remote.bad.proxy_address" cannot be used with the configured "cluster.remote.bad.mode" [required=PROXY, configured=SNIFF]',
  );
  r = await put({ cluster: { remote: { bad: { mode: 'proxy', seeds: ['127.0.0.1:9300'] } } } });
  assert.equal(
    r.body.error.reason,
    'Setting "cluster.remote.bad.seeds" cannot be used with the configured "cluster.remote.bad.mode" [required=SNIFF, configured=PROXY]',
  );
  r = await put({ 'cluster.remote.bad.mode': 'proxy', 'cluster.remote.bad.proxy_address': 'es.corp.example' });
  assert.equal(
    r.body.error.reason,
    'remote hosts need to be configured as [host:port], found [es.corp.example] instead',
  );
  r = await put({ 'cluster.remote.bad.mode': 'proxy', 'cluster.remote.bad.proxy_address': 'es.corp.example:abc' });
  assert.equal(r.body.error.reason, 'failed to parse port');
  r = await put({ 'cluster.remote.bad.mode': 'proxy', 'cluster.remote.bad.proxy_address': 'es.corp.example:0' });
  assert.equal(r.body.error.reason, 'port number must be > 0 but was: [0]');
  // Nothing of the failed requests was stored.
  assert.deepEqual((await call(e.ech, 'GET', '/_cluster/settings?flat_settings=true')).body.persistent, {});
  r = await put({
    'cluster.remote.meta.mode': 'proxy',
    'cluster.remote.meta.proxy_address': 'nowhere.invalid:9443',
    'cluster.metadata.ech_remote': 'owned',
  });
  assert.equal(r.status, 200);
  const flat = (await call(e.ech, 'GET', '/_cluster/settings?flat_settings=true')).body.persistent;
  assert.equal(flat['cluster.remote.meta.proxy_address'], 'nowhere.invalid:9443');
  assert.equal(flat['cluster.metadata.ech_remote'], 'owned');
  // An unresolvable host is accepted by validation and fails at connect time.
  assert.equal((await remoteInfo('meta')).connected, false);
  assert.equal(await notConnected(e, 'meta'), 'unknown host [nowhere.invalid]');
  r = await put({ cluster: { remote: { meta: { mode: null, proxy_address: null } }, metadata: { ech_remote: null } } });
  assert.equal(r.status, 200);
  assert.deepEqual((await call(e.ech, 'GET', '/_cluster/settings')).body.persistent, {});
  assert.equal(await remoteInfo('meta'), undefined);
});

test('API-key model, public CA: connected, search hits = key access ∩ user remote_indices, last key id recorded', async () => {
  const key = await ccKey({ search: [{ names: ['logs-*'] }] });
  await e.ech.setSecureSettings({ 'cluster.remote.onprem.credentials': key.encoded });
  await connect('onprem', e.sm.remoteClusterServerAddress);
  const info = await remoteInfo('onprem');
  assert.equal(info.connected, true);
  assert.equal(info.mode, 'proxy');
  assert.equal(info.num_proxy_sockets_connected, 18);
  assert.equal(info.max_proxy_socket_connections, 18);
  assert.equal(info.initial_connect_timeout, '30s');
  assert.equal(info.cluster_credentials, '::es_redacted::');
  assert.equal((e.ech.snapshot() as any).lastRemoteAuthentication.apiKeyId, key.id);
  const res = await resolve('onprem');
  assert.equal(res.connected, true);
  assert.equal(res.matching_indices, true);
  assert.equal(res.version.number, '8.17.0');

  // elastic (superuser) sees what the key grants: logs-* but not secret-hr.
  const all = await client(e.ech).search({ index: 'onprem:*', size: 10 });
  assert.deepEqual(all.hits.hits.map((h) => h._index).sort(), ['onprem:logs-app', 'onprem:logs-app']);
  // A user whose remote_indices only allow level:error documents sees the intersection.
  await call(e.ech, 'PUT', '/_security/role/remote-search', {
    remote_indices: [
      {
        clusters: ['onprem'],
        names: ['logs-*'],
        privileges: ['read', 'read_cross_cluster', 'view_index_metadata'],
        query: { term: { level: 'error' } },
      },
    ],
  });
  await call(e.ech, 'PUT', '/_security/user/cross-search-user', { password: 'l0ng-r4nd0m', roles: ['remote-search'] });
  const user = client(e.ech, { username: 'cross-search-user', password: 'l0ng-r4nd0m' });
  const mine = await user.search({ index: 'onprem:logs-*' });
  assert.deepEqual(
    mine.hits.hits.map((h) => h._source),
    [{ msg: 'boom', level: 'error' }],
  );
  // Explicit index outside the key's access → 403 with Elasticsearch's message (skip_unavailable=false to surface it).
  await connect('onprem', e.sm.remoteClusterServerAddress, { skip_unavailable: false });
  const denied = await call(e.ech, 'GET', '/onprem:secret-hr/_search');
  assert.equal(denied.status, 403);
  assert.match(
    denied.body.error.reason,
    new RegExp(
      `^action \\[indices:data/read/search\\] towards remote cluster is unauthorized for user \\[elastic\\] with assigned roles \\[superuser\\] authenticated by API key id \\[${key.id}\\] of user \\[elastic\\] on indices \\[secret-hr\\], this action is granted by the index privileges \\[read,all\\]`,
    ),
  );
  // A user without remote_indices for the alias.
  await call(e.ech, 'PUT', '/_security/user/local-only', { password: 'l0ng-r4nd0m', roles: ['only-monitor'] });
  const none = await call(e.ech, 'GET', '/onprem:logs-*/_search', undefined, {
    auth: basic('local-only', 'l0ng-r4nd0m'),
  });
  assert.equal(none.status, 403);
  assert.equal(
    none.body.error.reason,
    'action [indices:data/read/search] towards remote cluster [onprem] is unauthorized for user [local-only] with effective roles [only-monitor] because no remote indices privileges apply for the target cluster',
  );
  // Rotation: a new key under the same alias is reloaded without restart (9.1) and authenticates the next request;
  // the connection is not rebuilt (only aliases that gain or lose credentials are: RemoteClusterService
  // .updateRemoteClusterCredentials, RemoteClusterSecurityReloadCredentialsRestIT).
  const next = await ccKey();
  const handshakeKey = (e.ech.snapshot() as any).lastRemoteAuthentication.apiKeyId;
  await e.ech.setSecureSettings({ 'cluster.remote.onprem.credentials': next.encoded });
  assert.equal((await remoteInfo('onprem')).connected, true);
  assert.equal((e.ech.snapshot() as any).lastRemoteAuthentication.apiKeyId, handshakeKey, 'no reconnect');
  assert.equal((await call(e.ech, 'GET', '/onprem:logs-*/_search')).status, 200);
  assert.equal((e.sm.snapshot() as any).lastCrossClusterRequest.apiKeyId, next.id, 'the new key authenticated it');
  // Invalidating the key: _remote/info stays stale (connected), requests fail.
  await call(e.sm, 'DELETE', '/_security/api_key', { ids: [next.id] });
  assert.equal((await remoteInfo('onprem')).connected, true);
  const after = await call(e.ech, 'GET', '/onprem:logs-*/_search');
  assert.equal(after.status, 401);
  assert.equal(
    after.body.error.reason,
    `unable to authenticate user [${next.id}] for action [cluster:internal/remote_cluster/handshake]`,
  );
  await remove('onprem');
});

/** Failure rows: each misconfigures exactly one thing on top of a working API-key setup. */
test('failure rows (API-key model) show up as Elasticsearch shows them', async (t) => {
  await t.test('RCS not enabled → connection refused', async () => {
    const off = await startEstate({ pki, sm: { rcsEnabled: false } });
    try {
      const key = (
        await call(off.sm, 'POST', '/_security/cross_cluster/api_key', {
          name: 'k',
          access: { search: [{ names: ['*'] }] },
        })
      ).body;
      await off.ech.setSecureSettings({ 'cluster.remote.r.credentials': key.encoded });
      await call(off.ech, 'PUT', '/_cluster/settings', {
        persistent: {
          'cluster.remote.r.mode': 'proxy',
          'cluster.remote.r.proxy_address': off.sm.remoteClusterServerAddress,
        },
      });
      const info = ((await call(off.ech, 'GET', '/_remote/info')).body as any).r;
      assert.equal(info.connected, false);
      assert.equal(info.num_proxy_sockets_connected, 0);
      assert.match(
        await notConnected(off, 'r'),
        /^failed to open any proxy connections to cluster \[r\].*connect_exception/,
      );
      // The admin enables it: pending until restart, then _resolve/cluster reconnects (and _remote/info follows).
      const applied = await off.sm.applyNodeConfig({ settings: { 'remote_cluster_server.enabled': true } });
      assert.deepEqual(applied, { restarted: false, pendingRestart: true });
      assert.equal(((await call(off.ech, 'GET', '/_resolve/cluster/r:*')).body as any).r.connected, false);
      await off.sm.applyNodeConfig({ restart: true });
      assert.equal(
        ((await call(off.ech, 'GET', '/_remote/info')).body as any).r.connected,
        false,
        '_remote/info is stale until something reconnects',
      );
      assert.equal(((await call(off.ech, 'GET', '/_resolve/cluster/r:*')).body as any).r.connected, true);
      assert.equal(((await call(off.ech, 'GET', '/_remote/info')).body as any).r.connected, true);
    } finally {
      await off.stop();
    }
  });

  await t.test('private CA not trusted by ECH → failed to establish trust; trusting it fixes it', async () => {
    await e.sm.reissueRemoteClusterServerCertificate({ ca: 'private' });
    await e.sm.applyNodeConfig({ restart: true });
    const key = await ccKey();
    await e.ech.setSecureSettings({ 'cluster.remote.priv.credentials': key.encoded });
    await connect('priv', e.sm.remoteClusterServerAddress);
    assert.equal((await remoteInfo('priv')).connected, false);
    assert.match(
      await notConnected(e, 'priv'),
      /^failed to establish trust with server at \[es\.selfmanaged\.sandbox\]; .*PKIX path building failed/,
    );
    e.ech.setTrust({ cas: [pki.remotePrivate.certPem] });
    assert.equal((await resolve('priv')).connected, true);
    e.ech.setTrust({ cas: [] });
    await e.sm.reissueRemoteClusterServerCertificate({ ca: 'public' });
    await e.sm.applyNodeConfig({ restart: true });
    await remove('priv');
  });

  await t.test('wrong server_name → hostname mismatch', async () => {
    const key = await ccKey();
    await e.ech.setSecureSettings({ 'cluster.remote.sn.credentials': key.encoded });
    await connect('sn', e.sm.remoteClusterServerAddress, { server_name: 'wrong.example.com' });
    assert.equal((await remoteInfo('sn')).connected, false);
    assert.match(
      await notConnected(e, 'sn'),
      /^failed to establish trust with server at \[wrong\.example\.com\];.*No subject alternative DNS name matching wrong\.example\.com found\./,
    );
    await remove('sn');
  });

  await t.test('expired remote cluster server certificate', async () => {
    await e.sm.reissueRemoteClusterServerCertificate({
      notBefore: new Date(Date.now() - 5 * 86400e3),
      notAfter: new Date(Date.now() - 86400e3),
    });
    await e.sm.applyNodeConfig({ restart: true });
    const key = await ccKey();
    await e.ech.setSecureSettings({ 'cluster.remote.exp.credentials': key.encoded });
    await connect('exp', e.sm.remoteClusterServerAddress);
    assert.match(await notConnected(e, 'exp'), /^failed to establish trust with server .*the certificate is expired/);
    await e.sm.reissueRemoteClusterServerCertificate({});
    await e.sm.applyNodeConfig({ restart: true });
    await remove('exp');
  });

  await t.test(
    'API key pointed at the transport port → bad_certificate (no client cert) or trust failure',
    async () => {
      const key = await ccKey();
      await e.ech.setSecureSettings({ 'cluster.remote.tp.credentials': key.encoded });
      await connect('tp', e.sm.transportAddress, { server_name: null });
      assert.match(await notConnected(e, 'tp'), /^failed to establish trust with server .*PKIX path building failed/);
      e.ech.setTrust({ cas: [pki.selfManagedTransport.certPem] });
      assert.equal(await notConnected(e, 'tp'), 'Received fatal alert: bad_certificate');
      assert.equal((await remoteInfo('tp')).cluster_credentials, '::es_redacted::');
      e.ech.setTrust({ cas: [] });
      await remove('tp');
    },
  );

  await t.test('alias mismatch with the keystore → no credentials sent; the RCS asks for them', async () => {
    // The admin reused the transport CA + node name for the RCS certificate, so TLS itself succeeds in the certificate model.
    const nodeName = cloudNodeName('node-1', 'onprem', 'selfmanaged');
    await e.sm.reissueRemoteClusterServerCertificate({ ca: pki.selfManagedTransport, otherNames: [nodeName] });
    await e.sm.applyNodeConfig({ restart: true });
    e.ech.setTrust({ cas: [pki.selfManagedTransport.certPem], transportNodeNamePatterns: [nodeName] });
    const key = await ccKey();
    await e.ech.setSecureSettings({ 'cluster.remote.onprem-typo.credentials': key.encoded });
    await connect('am', e.sm.remoteClusterServerAddress);
    const info = await remoteInfo('am');
    assert.equal(info.connected, false);
    assert.equal(info.cluster_credentials, undefined);
    assert.match(
      await notConnected(e, 'am'),
      /^Cross cluster requests through the dedicated remote cluster server port require transport header \[_cross_cluster_access_credentials\] but none found\. Make sure you have configured remote cluster credentials/,
    );
    e.ech.setTrust({ cas: [] });
    await e.sm.reissueRemoteClusterServerCertificate({});
    await e.sm.applyNodeConfig({ restart: true });
    await e.ech.setSecureSettings({ 'cluster.remote.onprem-typo.credentials': undefined });
    await remove('am');
  });

  await t.test('REST key instead of cross-cluster key', async () => {
    const rest = (await call(e.sm, 'POST', '/_security/api_key', { name: 'not-cc' })).body;
    await e.ech.setSecureSettings({ 'cluster.remote.rk.credentials': rest.encoded });
    await connect('rk', e.sm.remoteClusterServerAddress);
    assert.equal(
      await notConnected(e, 'rk'),
      `authentication expected API key type of [cross_cluster], but API key [${rest.id}] has type [rest]`,
    );
    await remove('rk');
  });

  await t.test('invalidated key and expired key at connect time', async () => {
    const key = await ccKey();
    await call(e.sm, 'DELETE', '/_security/api_key', { ids: [key.id] });
    await e.ech.setSecureSettings({ 'cluster.remote.inv.credentials': key.encoded });
    await connect('inv', e.sm.remoteClusterServerAddress);
    assert.equal((await remoteInfo('inv')).connected, false);
    assert.equal(
      await notConnected(e, 'inv'),
      `unable to authenticate user [${key.id}] for action [cluster:internal/remote_cluster/handshake]`,
    );
    const smLog = (e.sm.snapshot() as any).inbound.at(-1);
    assert.equal(smLog.remoteLog, 'Authentication using apikey failed - api key has been invalidated');
    const short = await ccKey(undefined, { expiration: '1ms' });
    await new Promise((r) => setTimeout(r, 5));
    await e.ech.setSecureSettings({ 'cluster.remote.inv.credentials': short.encoded });
    assert.equal(
      await notConnected(e, 'inv'),
      `unable to authenticate user [${short.id}] for action [cluster:internal/remote_cluster/handshake]`,
    );
    assert.equal(
      (e.sm.snapshot() as any).inbound.at(-1).remoteLog,
      'Authentication using apikey failed - api key is expired',
    );
    await remove('inv');
  });

  await t.test('basic license on either side → 403 non-compliant license', async () => {
    const key = await ccKey();
    await e.ech.setSecureSettings({ 'cluster.remote.lic.credentials': key.encoded });
    e.sm.setLicense('basic');
    await connect('lic', e.sm.remoteClusterServerAddress, { skip_unavailable: false });
    // Refused at the handshake: a connect failure, which the search reports as the proxy strategy's
    // NoSeedNodeLeftException (ProxyConnectionStrategy); the license text is only in ECH's log.
    const s = await call(e.ech, 'GET', '/lic:logs-*/_search');
    assert.equal(s.status, 500);
    assert.equal(s.body.error.type, 'no_seed_node_left_exception');
    assert.match(
      s.body.error.reason,
      /^Unable to open any proxy connections to cluster \[lic\] at address \[127\.0\.0\.1:\d+\]$/,
    );
    assert.equal(
      await notConnected(e, 'lic'),
      'current license is non-compliant for [advanced-remote-cluster-security]',
    );
    e.sm.setLicense('enterprise');
    assert.equal((await resolve('lic')).connected, true);
    // Over an open connection the remote refuses each request: its security exception reaches the caller.
    e.sm.setLicense('basic');
    const open = await call(e.ech, 'GET', '/lic:logs-*/_search');
    assert.equal(open.status, 403);
    assert.equal(open.body.error.reason, 'current license is non-compliant for [advanced-remote-cluster-security]');
    e.sm.setLicense('enterprise');
    e.ech.setLicense('basic');
    assert.equal(
      (await resolve('lic')).error,
      'current license is non-compliant for [advanced-remote-cluster-security]',
    );
    e.ech.setLicense('enterprise');
    // With skip_unavailable (default true since 8.15) the failure is reported per cluster instead.
    await connect('lic', e.sm.remoteClusterServerAddress, { skip_unavailable: null });
    e.sm.setLicense('basic');
    const skipped = await call(e.ech, 'GET', '/lic:logs-*/_search');
    assert.equal(skipped.status, 200);
    assert.equal(skipped.body._clusters.skipped, 1);
    assert.equal(
      skipped.body._clusters.details.lic.failures[0].reason.reason,
      'current license is non-compliant for [advanced-remote-cluster-security]',
    );
    e.sm.setLicense('enterprise');
    await remove('lic');
  });
});

test('self-managed node config: refuses to start with a _remote_cluster transport profile; GET _ssl/certificates', async () => {
  const certs = (await call(e.sm, 'GET', '/_ssl/certificates')).body as any[];
  assert.ok(certs.some((c) => c.path === 'certs/remote-cluster-server.crt' && c.has_private_key));
  assert.ok(
    certs.some(
      (c) => c.path === 'certs/transport-ca.crt' && c.subject_dn === 'CN=Elastic Certificate Tool Autogenerated CA',
    ),
  );
  await assert.rejects(
    e.sm.applyNodeConfig({ settings: { 'transport.profiles._remote_cluster.port': 9443 }, restart: true }),
    /^NodeStartupError: Remote Access settings should not be configured using the \[_remote_cluster\] profile\. Use the \[remote_cluster\.\] settings instead\.$/,
  );
  assert.equal(e.sm.running, false);
  await assert.rejects(call(e.sm, 'GET', '/'), /ECONNREFUSED|socket hang up/);
  await e.sm.applyNodeConfig({ settings: { 'transport.profiles._remote_cluster.port': null }, restart: true });
  assert.equal((await call(e.sm, 'GET', '/')).status, 200);
});

// POST /_security/_query/api_key, as x-pack/plugin/src/yamlRestTest/resources/rest-api-spec/test/api_key/20_query.yml
// (empty body = match_all; total/count; from/size) and the query DSL subset of the domain page §4c (term on type,
// invalidated and metadata.*, range on expiration).
test('_security/_query/api_key: metadata term, type, invalidated, expiration range, paging, unsupported fields', async () => {
  const tag = `q-${Date.now()}`;
  const soon = await ccKey(undefined, { name: `${tag}-soon`, expiration: '2d', metadata: { owner: tag } });
  const never = await ccKey(undefined, { name: `${tag}-never`, metadata: { owner: tag } });
  const gone = await ccKey(undefined, { name: `${tag}-gone`, metadata: { owner: tag } });
  await call(e.sm, 'DELETE', '/_security/api_key', { ids: [gone.id] });
  await ccKey(undefined, { name: `${tag}-other`, metadata: { owner: 'someone-else' } });
  const q = async (body: unknown) => {
    const r = await call(e.sm, 'POST', '/_security/_query/api_key', body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { total: number; count: number; api_keys: { id: string; type: string; invalidated: boolean }[] };
  };
  const ours = await q({ query: { term: { 'metadata.owner': tag } } });
  assert.equal(ours.total, 3);
  assert.deepEqual(ours.api_keys.map((k) => k.id).sort(), [soon.id, never.id, gone.id].sort());
  assert.ok(ours.api_keys.every((k) => k.type === 'cross_cluster'));
  const active = await q({
    query: { bool: { filter: [{ term: { 'metadata.owner': tag } }, { term: { invalidated: false } }] } },
  });
  assert.deepEqual(active.api_keys.map((k) => k.id).sort(), [soon.id, never.id].sort());
  const expiring = await q({
    query: {
      bool: {
        filter: [{ term: { 'metadata.owner': tag } }, { range: { expiration: { lte: Date.now() + 7 * 86_400_000 } } }],
      },
    },
  });
  assert.deepEqual(
    expiring.api_keys.map((k) => k.id),
    [soon.id],
  );
  const page = await q({ query: { term: { 'metadata.owner': tag } }, from: 1, size: 1 });
  assert.deepEqual([page.total, page.count], [3, 1]);
  const all = await q({});
  assert.ok(all.total >= 4 && all.count <= 10, 'an empty body is match_all, 10 keys a page');
  const bad = await call(e.sm, 'POST', '/_security/_query/api_key', { query: { term: { api_key_hash: 'x' } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.reason, /Field \[api_key_hash\] is not allowed for querying/);
});

/**
 * What a migration reads to see what uses an alias, and what the ECH org runs to pause it (elastic/elasticsearch
 * x-pack/plugin/ccr: RestPauseFollowAction `POST /<index>/_ccr/pause_follow` ends the shard-follow tasks, and
 * TransportFollowStatsAction reports only indices with such tasks; RestPauseAutoFollowPatternAction →
 * ActivateAutoFollowPatternAction sets the pattern's `active` false; x-pack/plugin/transform: RestPutTransformAction
 * requires source.index, dest.index and one function, `_stats` reports `state` started / stopped).
 */
test('CCR pause and transforms: a paused follower leaves _ccr/stats, a paused pattern is inactive, a stopped transform says so', async () => {
  const alias = 'ops-migrate';
  await connect(alias, e.sm.transportAddress);
  try {
    const follow = await call(e.ech, 'PUT', '/logs-follower-m/_ccr/follow', {
      remote_cluster: alias,
      leader_index: 'logs-app',
    });
    assert.equal(follow.status, 200, JSON.stringify(follow.body));
    const followers = async () =>
      ((await call(e.ech, 'GET', '/_ccr/stats')).body.follow_stats.indices as { index: string }[]).map((i) => i.index);
    assert.ok((await followers()).includes('logs-follower-m'));
    assert.equal((await call(e.ech, 'POST', '/logs-follower-m/_ccr/pause_follow')).status, 200);
    assert.ok(!(await followers()).includes('logs-follower-m'), 'a paused follower has no follow stats');
    assert.equal((await call(e.ech, 'POST', '/logs-follower-m/_ccr/resume_follow')).status, 200);
    assert.ok((await followers()).includes('logs-follower-m'));

    const put = await call(e.ech, 'PUT', '/_ccr/auto_follow/p-m', {
      remote_cluster: alias,
      leader_index_patterns: ['logs-*'],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal((await call(e.ech, 'POST', '/_ccr/auto_follow/p-m/pause')).status, 200);
    const patterns = (await call(e.ech, 'GET', '/_ccr/auto_follow')).body.patterns as any[];
    assert.equal(patterns.find((p) => p.name === 'p-m').pattern.active, false);
    assert.equal((await call(e.ech, 'POST', '/_ccr/auto_follow/nope/pause')).status, 404);

    const bad = await call(e.ech, 'PUT', '/_transform/t-bad', { source: { index: [`${alias}:logs-*`] } });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /dest\.index is missing/);
    const t = await call(e.ech, 'PUT', '/_transform/t-m?defer_validation=true', {
      source: { index: [`${alias}:logs-*`] },
      dest: { index: 'logs-summary' },
      pivot: {
        group_by: { level: { terms: { field: 'level' } } },
        aggregations: { n: { value_count: { field: 'msg' } } },
      },
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const state = async () =>
      ((await call(e.ech, 'GET', '/_transform/_stats')).body.transforms as any[]).find((x) => x.id === 't-m').state;
    assert.equal(await state(), 'stopped');
    assert.equal((await call(e.ech, 'POST', '/_transform/t-m/_start')).status, 200);
    assert.equal(await state(), 'started');
    const configs = (await call(e.ech, 'GET', '/_transform')).body.transforms as any[];
    assert.deepEqual(configs.find((x) => x.id === 't-m').source.index, [`${alias}:logs-*`]);
    assert.deepEqual((await call(e.ech, 'GET', '/_ml/datafeeds')).body, { count: 0, datafeeds: [] });
  } finally {
    await remove(alias);
  }
});
