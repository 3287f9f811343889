/**
 * Conformance of the simulated Elasticsearch with real Elasticsearch, one test per behaviour, each citing the
 * elastic/elasticsearch source (REST test, action or service) it follows. Production code must never depend on an
 * answer only the sandbox gives: these tests pin the sandbox to what ES answers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPki, type SandboxPki } from '../../src/sandbox/pki';
import { canonicalAccess, sameAccess, storedAccessShape } from '../../src/domain/apiKeyAccess';
import { startEstate, call, type Estate } from './es-helpers';

let pki: SandboxPki;
let e: Estate;

before(async () => {
  pki = await createPki();
  e = await startEstate({ pki });
  await call(e.sm, 'PUT', '/logs-app/_doc/1', { msg: 'hello', category: 'shared' });
});
after(() => e.stop());

const LICENSE_REFUSAL = 'current license is non-compliant for [advanced-remote-cluster-security]';

async function connect(alias: string, extra: Record<string, unknown> = {}) {
  const key = (
    await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: `k-${alias}`,
      access: { search: [{ names: ['logs-*'] }] },
    })
  ).body as { id: string; encoded: string };
  await e.ech.setSecureSettings({ [`cluster.remote.${alias}.credentials`]: key.encoded });
  const r = await call(e.ech, 'PUT', '/_cluster/settings', {
    persistent: {
      [`cluster.remote.${alias}.mode`]: 'proxy',
      [`cluster.remote.${alias}.proxy_address`]: e.sm.remoteClusterServerAddress,
      [`cluster.remote.${alias}.server_name`]: e.sm.serverName,
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`cluster.remote.${alias}.${k}`, v])),
    },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return key;
}

// ------------------------------------------------------------------------------------------- cross-cluster keys

test('x-pack/plugin/src/yamlRestTest/resources/rest-api-spec/test/api_key/50_cross_cluster.yml "Test create a cross-cluster API key": GET shows access and role descriptors as stored', async () => {
  const access = {
    search: [
      {
        names: ['logs*'],
        query: { term: { category: 'shared' } },
        field_security: { grant: ['*'], except: ['private'] },
      },
    ],
    replication: [{ names: ['archive'], allow_restricted_indices: false }],
  };
  // (the YAML test sends this combination to a version that accepts it; DLS with replication is refused since, so
  // the DLS part is checked alone and replication separately)
  const dls = (
    await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: 'my-cc-api-key',
      expiration: '1d',
      access: { search: access.search },
      metadata: { answer: 42, tag: 'dev' },
    })
  ).body as { id: string };
  const got = (await call(e.sm, 'GET', `/_security/api_key?id=${dls.id}&with_limited_by=true`)).body.api_keys[0];
  assert.equal(got.type, 'cross_cluster');
  assert.deepEqual(got.metadata, { answer: 42, tag: 'dev' });
  assert.deepEqual(got.access, {
    search: [
      {
        names: ['logs*'],
        field_security: { grant: ['*'], except: ['private'] },
        query: '{"term":{"category":"shared"}}',
        allow_restricted_indices: false,
      },
    ],
  });
  assert.deepEqual(got.role_descriptors, {
    cross_cluster: {
      cluster: ['cross_cluster_search', 'monitor_enrich'],
      indices: [
        {
          names: ['logs*'],
          privileges: ['read', 'read_cross_cluster', 'view_index_metadata'],
          field_security: { grant: ['*'], except: ['private'] },
          query: '{"term":{"category":"shared"}}',
          allow_restricted_indices: false,
        },
      ],
      applications: [],
      run_as: [],
      metadata: {},
      transient_metadata: { enabled: true },
    },
  });
  assert.equal(got.limited_by, undefined);
  // The product's comparison: what GET shows equals what was asked (defaults filled, query as a string), and its
  // prediction of the stored shape is exactly this read-back.
  assert.deepEqual(storedAccessShape({ search: access.search }), got.access);
  assert.ok(sameAccess(got.access, { search: access.search }));
  assert.ok(!sameAccess(got.access, { search: [{ ...access.search[0], query: { term: { category: 'other' } } }] }));
  assert.ok(!sameAccess(got.access, { search: [{ ...access.search[0], allow_restricted_indices: true }] }));
  assert.deepEqual(canonicalAccess(got.access), canonicalAccess({ search: access.search }));

  const repl = (
    await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: 'my-cc-api-key',
      access: { replication: access.replication },
    })
  ).body as { id: string };
  const r = (await call(e.sm, 'GET', `/_security/api_key?id=${repl.id}`)).body.api_keys[0];
  assert.deepEqual(r.access, { replication: [{ names: ['archive'], allow_restricted_indices: false }] });
  assert.deepEqual(r.role_descriptors.cross_cluster.cluster, ['cross_cluster_replication']);
  assert.deepEqual(r.role_descriptors.cross_cluster.indices[0].privileges, [
    'cross_cluster_replication',
    'cross_cluster_replication_internal',
  ]);
});

test('50_cross_cluster.yml "Test update a cross-cluster API Key": resending what GET shows is a no-op (updated:false)', async () => {
  const key = (
    await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: 'upd',
      access: { search: [{ names: ['logs*'], query: { term: { category: 'shared' } } }] },
    })
  ).body as { id: string };
  const shown = (await call(e.sm, 'GET', `/_security/api_key?id=${key.id}`)).body.api_keys[0].access;
  const again = await call(e.sm, 'PUT', `/_security/cross_cluster/api_key/${key.id}`, { access: shown });
  assert.deepEqual(again.body, { updated: false });
});

test('RestCreateCrossClusterApiKeyAction (ConstructingObjectParser): a missing name or access is "Required [...]", before authorization; only POST', async () => {
  const noName = await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
    access: { search: [{ names: ['*'] }] },
  });
  assert.equal(noName.status, 400);
  assert.equal(noName.body.error.type, 'illegal_argument_exception');
  assert.equal(noName.body.error.reason, 'Required [name]');
  assert.equal(
    (await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {})).body.error.reason,
    'Required [name, access]',
  );
  // The route is POST only (routes() = POST /_security/cross_cluster/api_key): PUT is 405 with the allowed method.
  const put = await call(e.sm, 'PUT', '/_security/cross_cluster/api_key', {
    name: 'n',
    access: { search: [{ names: ['*'] }] },
  });
  assert.equal(put.status, 405);
  assert.match(
    put.body.error,
    /^Incorrect HTTP method for uri \[\/_security\/cross_cluster\/api_key\] and method \[PUT\], allowed: \[POST\]/,
  );
});

test('ApiKeyService.getApiKeys: a name or id that matches nothing is 200 {"api_keys": []}', async () => {
  for (const q of ['name=no-such-key', 'id=no-such-id', 'name=no-such-key&active_only=true']) {
    const r = await call(e.sm, 'GET', `/_security/api_key?${q}`);
    assert.deepEqual([r.status, r.body], [200, { api_keys: [] }], q);
  }
});

test('ApiKeyService.invalidateApiKeys: invalidated keys are filtered out first, so invalidating one again answers empty', async () => {
  const key = (
    await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: 'inv',
      access: { search: [{ names: ['*'] }] },
    })
  ).body as { id: string };
  const first = await call(e.sm, 'DELETE', '/_security/api_key', { ids: [key.id] });
  assert.deepEqual(first.body, { invalidated_api_keys: [key.id], previously_invalidated_api_keys: [], error_count: 0 });
  const second = await call(e.sm, 'DELETE', '/_security/api_key', { ids: [key.id] });
  assert.deepEqual(second.body, { invalidated_api_keys: [], previously_invalidated_api_keys: [], error_count: 0 });
  assert.equal((await call(e.sm, 'GET', `/_security/api_key?id=${key.id}`)).body.api_keys[0].invalidated, true);
});

test('LicenseUtils.newComplianceException (Security.ADVANCED_REMOTE_CLUSTER_SECURITY_FEATURE): creating or updating a cross-cluster key below Enterprise/trial is 403', async () => {
  const key = (
    await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: 'lic',
      access: { search: [{ names: ['*'] }] },
    })
  ).body as { id: string };
  for (const license of ['basic', 'gold', 'platinum'] as const) {
    e.sm.setLicense(license);
    try {
      const created = await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
        name: 'lic2',
        access: { search: [{ names: ['*'] }] },
      });
      assert.equal(created.status, 403, license);
      assert.equal(created.body.error.type, 'security_exception');
      assert.equal(created.body.error.reason, LICENSE_REFUSAL);
      assert.equal(created.body.error['license.expired.feature'], 'advanced-remote-cluster-security');
      const updated = await call(e.sm, 'PUT', `/_security/cross_cluster/api_key/${key.id}`, { metadata: { a: 1 } });
      assert.equal(updated.status, 403, license);
      assert.equal(updated.body.error.reason, LICENSE_REFUSAL);
    } finally {
      e.sm.setLicense('enterprise');
    }
  }
  e.sm.setLicense('trial');
  try {
    const ok = await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: 'lic3',
      access: { search: [{ names: ['*'] }] },
    });
    assert.equal(ok.status, 200);
  } finally {
    e.sm.setLicense('enterprise');
  }
});

// ------------------------------------------------------------------------- _resolve/cluster and _remote/info (§4b)

test('TransportResolveClusterAction + ResolveClusterActionResponse: connected remote; index expression vs cluster-info-only form', async () => {
  await connect('ok');
  const withIndex = (await call(e.ech, 'GET', '/_resolve/cluster/ok:logs-*')).body.ok;
  assert.deepEqual(Object.keys(withIndex), ['connected', 'skip_unavailable', 'matching_indices', 'version']);
  assert.equal(withIndex.connected, true);
  assert.equal(withIndex.matching_indices, true);
  assert.deepEqual(Object.keys(withIndex.version), [
    'number',
    'build_flavor',
    'minimum_wire_compatibility_version',
    'minimum_index_compatibility_version',
  ]);
  // clusterInfoOnly (no expression, 8.18+/9.x): no matching_indices, but the version.
  const infoOnly = (await call(e.ech, 'GET', '/_resolve/cluster')).body.ok;
  assert.deepEqual(Object.keys(infoOnly), ['connected', 'skip_unavailable', 'version']);
  // IndexNotFoundException on the remote keeps connected:true with the message.
  const missing = (await call(e.ech, 'GET', '/_resolve/cluster/ok:logs-nothing')).body.ok;
  assert.deepEqual(missing, { connected: true, skip_unavailable: true, error: 'no such index [logs-nothing]' });
});

test('TransportResolveClusterAction.onFailure: a remote-unavailable failure (ExceptionsHelper.isRemoteUnavailableException) has no error; _remote/info says connected:false', async () => {
  const key = await connect('down', { server_name: 'wrong.example.com' });
  assert.ok(key.id);
  const r = (await call(e.ech, 'GET', '/_resolve/cluster/down:logs-*')).body.down;
  assert.deepEqual(r, { connected: false, skip_unavailable: true });
  const info = (await call(e.ech, 'GET', '/_remote/info')).body.down;
  assert.equal(info.connected, false);
  assert.equal(info.num_proxy_sockets_connected, 0);
  assert.equal(info.server_name, 'wrong.example.com');
  assert.equal(info.cluster_credentials, '::es_redacted::');
  // A search with skip_unavailable:false fails with the proxy strategy's exception (ProxyConnectionStrategy
  // getNoSeedNodeLeftException); with skip_unavailable the cluster is skipped, "Unable to connect to [alias]"
  // (RemoteConnectionManager.getAnyRemoteConnection).
  const skipped = await call(e.ech, 'GET', '/down:logs-*/_search');
  assert.equal(skipped.status, 200);
  assert.equal(skipped.body._clusters.details.down.status, 'skipped');
  assert.deepEqual(skipped.body._clusters.details.down.failures[0].reason, {
    type: 'connect_transport_exception',
    reason: 'Unable to connect to [down]',
  });
  await call(e.ech, 'PUT', '/_cluster/settings', { persistent: { 'cluster.remote.down.skip_unavailable': false } });
  const failed = await call(e.ech, 'GET', '/down:logs-*/_search');
  assert.equal(failed.status, 500);
  assert.equal(failed.body.error.type, 'no_seed_node_left_exception');
  assert.match(
    failed.body.error.reason,
    /^Unable to open any proxy connections to cluster \[down\] at address \[127\.0\.0\.1:\d+\]$/,
  );
  assert.doesNotMatch(JSON.stringify(failed.body), /subject alternative|establish trust/);
});

test('TransportResolveClusterAction.onFailure: a security exception over an open connection carries its message and connected:false', async () => {
  const key = await connect('sec');
  assert.equal((await call(e.ech, 'GET', '/_resolve/cluster/sec:logs-*')).body.sec.connected, true);
  await call(e.sm, 'DELETE', '/_security/api_key', { ids: [key.id] });
  const r = (await call(e.ech, 'GET', '/_resolve/cluster/sec:logs-*')).body.sec;
  assert.equal(r.connected, false);
  assert.match(r.error, /^unable to authenticate user \[/);
  // _remote/info stays stale: the socket is open, every request is authenticated.
  assert.equal((await call(e.ech, 'GET', '/_remote/info')).body.sec.connected, true);
});

// ------------------------------------------------------------------------------------ remote cluster settings

test('RemoteClusterService (RemoteConnectionEnabled validator): per-alias settings left for an alias without an address are refused', async () => {
  const put = (persistent: Record<string, unknown>) => call(e.ech, 'PUT', '/_cluster/settings', { persistent });
  assert.equal((await put({ 'cluster.remote.half.mode': 'proxy' })).status, 200, 'mode alone is accepted');
  const lone = await put({ 'cluster.remote.half.skip_unavailable': false });
  assert.equal(lone.status, 400);
  assert.equal(lone.body.error.type, 'illegal_argument_exception');
  assert.equal(
    lone.body.error.reason,
    'Cannot configure setting [cluster.remote.half.skip_unavailable] if remote cluster is not enabled.',
  );
  assert.equal(
    (await put({ 'cluster.remote.half.transport.ping_schedule': '30s' })).body.error.reason,
    'Cannot configure setting [cluster.remote.half.transport.ping_schedule] if remote cluster is not enabled.',
  );
  // With an address it is accepted; removing only the address while skip_unavailable stays is refused, and
  // removing everything in one request (as Kibana and this tool do) is accepted.
  assert.equal(
    (
      await put({
        'cluster.remote.half.proxy_address': e.sm.remoteClusterServerAddress,
        'cluster.remote.half.skip_unavailable': false,
      })
    ).status,
    200,
  );
  const partial = await put({ 'cluster.remote.half.proxy_address': null });
  assert.equal(partial.status, 400);
  assert.equal(
    partial.body.error.reason,
    'Cannot configure setting [cluster.remote.half.skip_unavailable] if remote cluster is not enabled.',
  );
  assert.equal((await put({ 'cluster.remote.half.*': null })).status, 200);
  assert.equal((await call(e.ech, 'GET', '/_remote/info')).body.half, undefined);
});

test('ProxyConnectionStrategy.strategyMustBeRebuilt / RemoteClusterService.updateSkipUnavailable: skip_unavailable alone does not rebuild the connection; server_name does', async () => {
  await connect('live');
  assert.equal((await call(e.ech, 'GET', '/_resolve/cluster/live:logs-*')).body.live.connected, true);
  const handshakes = () => (e.sm.snapshot() as any).inbound.filter((i: any) => i.ok).length;
  const connects = () => (e.ech.snapshot() as any).outbound.filter((o: any) => o.alias === 'live').length;
  const [h0, c0] = [handshakes(), connects()];
  await call(e.ech, 'PUT', '/_cluster/settings', { persistent: { 'cluster.remote.live.skip_unavailable': false } });
  const info = (await call(e.ech, 'GET', '/_remote/info')).body.live;
  assert.equal(info.skip_unavailable, false, 'the new value is live');
  assert.equal(info.num_proxy_sockets_connected, 18, 'the same sockets stay open');
  assert.deepEqual([handshakes(), connects()], [h0, c0], 'no new handshake, no reconnect');
  assert.equal((await call(e.ech, 'GET', '/_resolve/cluster/live:logs-*')).body.live.skip_unavailable, false);
  // server_name is part of the strategy: changing it rebuilds (and here, a wrong name, breaks) the connection.
  await call(e.ech, 'PUT', '/_cluster/settings', {
    persistent: { 'cluster.remote.live.server_name': 'wrong.example.com' },
  });
  assert.ok(connects() > c0, 'rebuilt');
  assert.equal((await call(e.ech, 'GET', '/_remote/info')).body.live.connected, false);
});

// ------------------------------------------------------------------------------------------------------- roles

test('RoleDescriptorRequestValidator / RoleDescriptor.parseRemoteIndex / RemoteClusterPermissions: role privileges validated with ES messages', async () => {
  const put = (body: unknown) => call(e.ech, 'PUT', '/_security/role/conf-role', body);
  const cluster = await put({ cluster: ['monitor', 'bogus_privilege'] });
  assert.equal(cluster.status, 400);
  assert.equal(cluster.body.error.type, 'action_request_validation_exception');
  assert.match(
    cluster.body.error.reason,
    /^Validation Failed: 1: unknown cluster privilege \[bogus_privilege\]\. a privilege must be either one of the predefined cluster privilege names \[all,cancel_task,.*monitor_enrich.*\] or a pattern over one of the available cluster actions;$/,
  );
  const index = await put({ indices: [{ names: ['logs-*'], privileges: ['read', 'reed'] }] });
  assert.match(
    index.body.error.reason,
    /^Validation Failed: 1: unknown index privilege \[reed\]\. a privilege must be either one of the predefined fixed indices privileges \[all,.*read_cross_cluster.*\] or a pattern over one of the available index actions;$/,
  );
  const remoteIndex = await put({ remote_indices: [{ clusters: ['a'], names: ['*'], privileges: ['raed'] }] });
  assert.match(remoteIndex.body.error.reason, /^Validation Failed: 1: unknown index privilege \[raed\]/);
  const noClusters = await put({ remote_indices: [{ names: ['logs-*'], privileges: ['read'] }] });
  assert.equal(noClusters.status, 400);
  assert.equal(noClusters.body.error.type, 'parse_exception');
  assert.equal(
    noClusters.body.error.reason,
    'failed to parse remote indices privileges for role [conf-role]. missing required [clusters] field',
  );
  const rc = await put({ remote_cluster: [{ clusters: ['a'], privileges: ['monitor'] }] });
  assert.equal(
    rc.body.error.reason,
    'Invalid remote_cluster permissions found. Please remove the following: [monitor] Only [monitor_enrich, monitor_stats] are allowed',
  );
  // Raw action patterns are privileges too.
  const raw = await put({
    cluster: ['cluster:monitor/main'],
    indices: [{ names: ['x'], privileges: ['indices:data/read/*'] }],
    remote_indices: [{ clusters: ['a'], names: ['*'], privileges: ['read', 'read_cross_cluster'] }],
    remote_cluster: [{ clusters: ['a'], privileges: ['monitor_enrich'] }],
  });
  assert.equal(raw.status, 200, JSON.stringify(raw.body));
});

// ------------------------------------------------------------------------------------- REST compatibility headers

test('RestCompatibleVersionHelper.getCompatibleVersion + RestRequest (MediaTypeHeaderException): versioned media types', async () => {
  const v8 = 'application/vnd.elasticsearch+json; compatible-with=8';
  const v9 = 'application/vnd.elasticsearch+json; compatible-with=9';
  const json = 'application/json';
  const body = { query: { match_all: {} } };
  const reason = async (headers: Record<string, string>, withBody = true) => {
    const r = await call(e.ech, withBody ? 'POST' : 'GET', '/_search', withBody ? body : undefined, { headers });
    if (r.status === 200) return 'ok';
    assert.equal(r.status, 400);
    assert.equal(r.body.error.type, 'media_type_header_exception');
    assert.equal(r.body.error.reason, 'Invalid media-type value on headers [Accept, Content-Type]');
    return r.body.error.caused_by.reason as string;
  };
  // ECH 9.1: 9 and 8 are accepted, versioned on both headers alike.
  assert.equal(await reason({ accept: v9, 'content-type': v9 }), 'ok');
  assert.equal(await reason({ accept: v8, 'content-type': v8 }), 'ok');
  assert.equal(await reason({ accept: json, 'content-type': json }), 'ok');
  assert.equal(await reason({ accept: v8 }, false), 'ok', 'without a body only Accept counts');
  assert.equal(
    await reason({ accept: 'application/vnd.elasticsearch+json; compatible-with=7' }, false),
    'Accept version must be either version 9 or 8, but found 7. Accept=application/vnd.elasticsearch+json; compatible-with=7',
  );
  // A versioned Accept with a plain JSON body.
  assert.equal(
    await reason({ accept: v9, 'content-type': json }),
    `A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version. Accept=${v9}, Content-Type=${json}`,
  );
  // Different versions on the two headers, with a body.
  assert.equal(
    await reason({ accept: v9, 'content-type': v8 }),
    `A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Accept=${v9}, Content-Type=${v8}`,
  );
  assert.equal(
    await reason({ accept: v9, 'content-type': 'application/vnd.elasticsearch+json; compatible-with=10' }),
    'Content-Type version must be either version 9 or 8, but found 10. Content-Type=application/vnd.elasticsearch+json; compatible-with=10',
  );
});

test('SecurityActionFilter (x-pack/plugin/security/.../action/filter/SecurityActionFilter.java) + XPackLicenseState: an expired license blocks cluster health, keeps data operations, and refuses licensed features', async () => {
  e.sm.licenseExpired = true;
  try {
    const lic = await call(e.sm, 'GET', '/_license');
    assert.equal(lic.body.license.status, 'expired');
    assert.equal(lic.body.license.type, 'enterprise');
    assert.ok(lic.body.license.expiry_date_in_millis < Date.now());
    const health = await call(e.sm, 'GET', '/_cluster/health');
    assert.equal(health.status, 403);
    assert.equal(health.body.error.type, 'security_exception');
    assert.equal(health.body.error.reason, 'current license is non-compliant for [security]');
    assert.equal(health.body.error['license.expired.feature'], 'security');
    // "All data operations (read and write) continue to work."
    assert.equal((await call(e.sm, 'GET', '/logs-app/_doc/1')).status, 200);
    const key = await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: 'expired',
      access: { search: [{ names: ['logs-*'] }] },
    });
    assert.equal(key.status, 403);
    assert.equal(key.body.error.reason, LICENSE_REFUSAL);
  } finally {
    e.sm.licenseExpired = false;
  }
});

test('ClusterHealthStatus from shard routing: yellow = replicas unassigned, red = a primary unassigned', async () => {
  try {
    e.sm.health = 'yellow';
    const yellow = (await call(e.sm, 'GET', '/_cluster/health')).body;
    assert.equal(yellow.status, 'yellow');
    assert.equal(yellow.unassigned_primary_shards, 0);
    assert.ok(yellow.unassigned_shards > 0);
    e.sm.health = 'red';
    const red = (await call(e.sm, 'GET', '/_cluster/health')).body;
    assert.equal(red.status, 'red');
    assert.ok(red.unassigned_primary_shards > 0);
  } finally {
    e.sm.health = 'green';
  }
});
