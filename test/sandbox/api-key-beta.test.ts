/**
 * Elasticsearch 8.10-8.13: the API-key model in beta, as those versions answered. Sources (elastic/elasticsearch):
 * - PR #98307 "Remove RCS 2.0 feature flag for beta release" (8.10): the remote cluster server settings, the
 *   cross-cluster API key API, `remote_indices` in roles and `cluster.remote.<alias>.credentials` exist from 8.10;
 *   the 8.10-8.13 reference marks them `beta::[]` (PR #98472 `remote-cluster-network.asciidoc`,
 *   `security-api-create-cross-cluster-api-key.asciidoc`); before 8.10 the settings are unknown (`SettingsModule`:
 *   "unknown setting [...]") and the REST route does not exist (`RestController`: "no handler found for uri").
 * - PR #102798 "Hot-reloadable remote cluster credentials" and PR #103460 "Re-build remote cluster connections on
 *   credential changes" (both 8.13; issue #111543 "8.13.0 or higher"): before 8.13 the credential is read when the
 *   node starts, so `POST /_nodes/reload_secure_settings` does not pick it up and only a restart does.
 * - `server/src/main/java/org/elasticsearch/Version.java`: V_8_10_4, V_8_11_4, V_8_12_2, V_8_13_4 (the last patches);
 *   `IndexVersions.java`: V_8_10_0 on Lucene 9.7.0.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createPki, type SandboxPki } from '../../src/sandbox/pki';
import { API_KEY_BETA_VERSIONS, scenarioSpec } from '../../src/sandbox/scenarios';
import { startEstate, call, type Estate } from './es-helpers';

let pki: SandboxPki;
before(async () => {
  pki = await createPki();
});

async function withEstate(version: string, fn: (e: Estate) => Promise<void>, rcsEnabled = true): Promise<void> {
  const e = await startEstate({ pki, ech: { version }, sm: { version, rcsEnabled } });
  try {
    await fn(e);
  } finally {
    await e.stop();
  }
}

/** ECH (local) registers `alias` in proxy mode against the self-managed remote cluster server. */
async function connect(e: Estate, alias: string): Promise<void> {
  const r = await call(e.ech, 'PUT', '/_cluster/settings', {
    persistent: {
      [`cluster.remote.${alias}.mode`]: 'proxy',
      [`cluster.remote.${alias}.proxy_address`]: e.sm.remoteClusterServerAddress,
      [`cluster.remote.${alias}.server_name`]: e.sm.serverName,
    },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function remoteInfo(e: Estate, alias: string): Promise<Record<string, unknown>> {
  return ((await call(e.ech, 'GET', '/_remote/info')).body as Record<string, Record<string, unknown>>)[alias]!;
}

test('the beta versions are selectable and GET / answers each one', async () => {
  assert.deepEqual([...API_KEY_BETA_VERSIONS], ['8.10.4', '8.11.4', '8.12.2', '8.13.4']);
  for (const v of API_KEY_BETA_VERSIONS) {
    const spec = scenarioSpec('old-version', { selfManaged: v });
    assert.equal(spec.versions.selfManaged, v);
    // The beta remote cluster server exists there: the scenario runs it, so only the version stands in the way.
    assert.equal(spec.selfManaged.rcsEnabled, true, v);
  }
  // Below 8.10 it does not exist, so the scenario cannot run it.
  assert.equal(scenarioSpec('old-version', { selfManaged: '8.9.2' }).selfManaged.rcsEnabled, false);
  await withEstate('8.10.4', async (e) => {
    const root = (await call(e.sm, 'GET', '/')).body;
    assert.equal(root.version.number, '8.10.4');
    assert.equal(root.version.minimum_wire_compatibility_version, '7.17.0');
    // IndexVersions.V_8_10_0 = def(8_10_00_99, Version.LUCENE_9_7_0)
    assert.equal(root.version.lucene_version, '9.7.0');
  });
});

test('8.12: the cross-cluster key API, remote_indices and the remote cluster server work (beta)', async () => {
  await withEstate('8.12.2', async (e) => {
    const created = await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
      name: 'beta-link',
      access: { search: [{ names: ['logs-*'] }] },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.deepEqual(Object.keys(created.body).sort(), ['api_key', 'encoded', 'id', 'name']);
    const updated = await call(e.sm, 'PUT', `/_security/cross_cluster/api_key/${created.body.id}`, {
      access: { search: [{ names: ['logs-*', 'metrics-*'] }] },
    });
    assert.deepEqual(updated.body, { updated: true });
    const role = await call(e.ech, 'PUT', '/_security/role/remote-search', {
      remote_indices: [{ clusters: ['onprem'], names: ['logs-*'], privileges: ['read'] }],
    });
    assert.deepEqual(role.body, { role: { created: true } });
    // `remote_cluster` came in 8.15 (RoleDescriptor): still unknown at 8.12.
    const rc = await call(e.ech, 'PUT', '/_security/role/remote-monitor', {
      remote_cluster: [{ clusters: ['onprem'], privileges: ['monitor_enrich'] }],
    });
    assert.equal(rc.body.error.reason, 'failed to parse role [remote-monitor]. unexpected field [remote_cluster]');
    // The remote cluster server settings are known: a node starts with them.
    const applied = await e.sm.applyNodeConfig({ settings: { 'remote_cluster.port': 9443 }, restart: true });
    assert.deepEqual(applied, { restarted: true, pendingRestart: false });
    assert.equal((await call(e.sm, 'GET', '/')).status, 200);
  });
});

test('8.9: none of it exists (no route, unknown settings, remote_indices refused)', async () => {
  await withEstate(
    '8.9.2',
    async (e) => {
      const cc = await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
        name: 'k',
        access: { search: [{ names: ['a'] }] },
      });
      assert.equal(cc.status, 400);
      assert.equal(cc.body.error, 'no handler found for uri [/_security/cross_cluster/api_key] and method [POST]');
      const r = await call(e.ech, 'PUT', '/_security/role/remote-search', {
        remote_indices: [{ clusters: ['x'], names: ['a'], privileges: ['read'] }],
      });
      assert.equal(r.body.error.reason, 'failed to parse role [remote-search]. unexpected field [remote_indices]');
      await assert.rejects(
        e.sm.applyNodeConfig({ settings: { 'remote_cluster_server.enabled': true }, restart: true }),
        /unknown setting \[remote_cluster_server\.enabled\]/,
      );
    },
    false,
  );
});

test('8.12: a new cluster.remote.<alias>.credentials needs a restart; reload_secure_settings does not apply it', async () => {
  await withEstate('8.12.2', async (e) => {
    const key = (
      await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
        name: 'k',
        access: { search: [{ names: ['*'] }] },
      })
    ).body;
    await e.ech.setSecureSettings({ 'cluster.remote.onprem.credentials': key.encoded });
    await connect(e, 'onprem');
    const reload = await call(e.ech, 'POST', '/_nodes/reload_secure_settings');
    assert.equal(reload.status, 200);
    await e.ech.idle();
    // Without the credential the alias is a certificate-model remote: no `cluster_credentials`, and the remote
    // cluster server refuses it.
    assert.equal((await remoteInfo(e, 'onprem')).cluster_credentials, undefined);
    assert.equal((await remoteInfo(e, 'onprem')).connected, false);
    await e.ech.restart();
    await call(e.ech, 'GET', '/_resolve/cluster/onprem:*');
    const info = await remoteInfo(e, 'onprem');
    assert.equal(info.cluster_credentials, '::es_redacted::');
    assert.equal(info.connected, true);
  });
});

test('8.13: reload_secure_settings applies the credential and rebuilds the connection, no restart', async () => {
  await withEstate('8.13.4', async (e) => {
    const key = (
      await call(e.sm, 'POST', '/_security/cross_cluster/api_key', {
        name: 'k',
        access: { search: [{ names: ['*'] }] },
      })
    ).body;
    await e.ech.setSecureSettings({ 'cluster.remote.onprem.credentials': key.encoded });
    await connect(e, 'onprem');
    assert.equal((await remoteInfo(e, 'onprem')).cluster_credentials, undefined, 'not yet reloaded');
    const reload = await call(e.ech, 'POST', '/_nodes/reload_secure_settings');
    assert.equal(reload.status, 200);
    await e.ech.idle();
    await call(e.ech, 'GET', '/_resolve/cluster/onprem:*');
    const info = await remoteInfo(e, 'onprem');
    assert.equal(info.cluster_credentials, '::es_redacted::');
    assert.equal(info.connected, true);
  });
});
