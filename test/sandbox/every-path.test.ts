/**
 * The `every-path` estate `ech-remote dev` runs: beside the scenario's self-managed cluster (`onprem-logs`), one cluster
 * per other path — `onprem-metrics` (remote cluster server, private CA) and `onprem-legacy` (transport port for the
 * certificate model) — each with its own sample request, and the control API's self-managed endpoints per cluster.
 * (That every sample then completes is test/dev.test.ts.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { start, type Sandbox } from '../../src/sandbox';
import { connectRequestSchema } from '../../src/contract/request';
import { CloudTestClient, httpsJson } from './cloud-helpers';

let sandbox: Sandbox;
let client: CloudTestClient;
let dir: string;

const control = <T = any>(method: string, p: string, body?: unknown) => client.call<T>(method, `/_sandbox${p}`, body);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-every-path-'));
  sandbox = await start({ estate: 'every-path', outFile: path.join(dir, 'sandbox.json'), planPendingMs: 50 });
  client = new CloudTestClient(sandbox.info.cloud.endpoint, sandbox.info.cloud.apiKey, sandbox.info.ca.publicRoot);
});

after(async () => {
  await sandbox?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function es(url: string, p: string) {
  return httpsJson(`${url}${p}`, {
    ca: sandbox.info.selfManaged.httpCa,
    headers: { authorization: `Basic ${Buffer.from(sandbox.info.env.ONPREM_ES_CREDENTIALS).toString('base64')}` },
  });
}

describe('every-path estate', () => {
  it('has one self-managed cluster per path, each the target of its own sample request', () => {
    const { info } = sandbox;
    assert.equal(info.estate, 'every-path');
    assert.deepEqual(Object.keys(info.remotes).sort(), ['onprem-legacy', 'onprem-logs', 'onprem-metrics']);
    assert.equal(info.remotes['onprem-logs']!.url, info.selfManaged.url);
    const expected = {
      'api-key-public': { alias: 'onprem-logs', listener: 'remoteClusterServer', rcs: [true, 'public'] },
      'api-key-private': { alias: 'onprem-metrics', listener: 'remoteClusterServer', rcs: [true, 'private'] },
      'tls-certificate': { alias: 'onprem-legacy', listener: 'transport', rcs: [false, 'public'] },
    } as const;
    const roles = new Set<string>();
    const users = new Set<string>();
    for (const [name, e] of Object.entries(expected)) {
      const req = info.requests[name as keyof typeof expected];
      assert.ok(connectRequestSchema.safeParse(req).success, name);
      assert.ok(req.roles && req.users);
      const remote = info.remotes[e.alias]!;
      assert.equal(req.alias, e.alias);
      assert.equal(remote.request, name);
      assert.equal(req.remote.proxyAddress, remote[e.listener]);
      assert.equal(req.remote.elasticsearch?.url, remote.url);
      assert.deepEqual([remote.remoteClusterServerEnabled, remote.remoteClusterServerCa], e.rcs);
      roles.add(req.roles[0]!.name);
      users.add(req.users![0]!.username);
    }
    // Each sample creates its own role and user on ECH: they can all complete side by side.
    assert.equal(roles.size, 3);
    assert.equal(users.size, 3);
    // The worker may send the self-managed credentials to each of the three clusters, and only there.
    const bindings = JSON.parse(info.env.ECH_REMOTE_SECRET_BINDINGS);
    assert.deepEqual(
      bindings.ONPREM_ES_CREDENTIALS.urls.sort(),
      Object.values(info.remotes)
        .map((r) => r.url)
        .sort(),
    );
    assert.deepEqual(info.scenarioRequest, info.requests['api-key-public']);
  });

  it('every cluster is seeded and answers with its own version', async () => {
    for (const [alias, remote] of Object.entries(sandbox.info.remotes)) {
      const found = await es(remote.url, `/${sandbox.info.seededIndex.pattern}/_search`);
      assert.equal(found.body.hits.total.value, sandbox.info.seededIndex.documents, alias);
      const rootInfo = await es(remote.url, '/');
      assert.equal(rootInfo.body.version.number, remote.version, alias);
      assert.equal(rootInfo.body.cluster_name, remote.clusterName, alias);
    }
  });

  it('the self-managed control endpoints act on the cluster ?cluster= names, and only there', async () => {
    const legacy = await control('GET', '/self-managed/config?cluster=onprem-legacy');
    assert.equal(legacy.status, 200, legacy.text);
    const rcsOn = (cfg: any) => String(cfg.body.effective['remote_cluster_server.enabled']) === 'true';
    assert.equal(rcsOn(legacy), false, JSON.stringify(legacy.body.effective));
    const metrics = await control('GET', '/self-managed/config?cluster=onprem-metrics');
    assert.equal(rcsOn(metrics), true, JSON.stringify(metrics.body.effective));

    const applied = await control('POST', '/self-managed/apply?cluster=onprem-legacy', {
      settings: { 'cluster.remote.connect': 'false' },
      restart: true,
    });
    assert.equal(applied.status, 200, applied.text);
    assert.equal(applied.body.restarted, true);
    const after = (cluster: string) => control('GET', `/self-managed/config${cluster}`);
    const key = 'cluster.remote.connect';
    assert.equal((await after('?cluster=onprem-legacy')).body.effective[key], 'false');
    assert.equal((await after('')).body.effective[key], undefined);

    const unknown = await control('GET', '/self-managed/config?cluster=onprem-nowhere');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errors[0].code, 'sandbox.not_found');
    assert.match(unknown.body.errors[0].message, /onprem-logs, onprem-metrics, onprem-legacy/);
  });

  it('a scenario switch reshapes the scenario cluster only; the other paths keep their set-up and addresses', async () => {
    const before = sandbox.info;
    const res = await control('POST', '/scenario', { name: 'old-version' });
    assert.equal(res.status, 200, res.text);
    const after = sandbox.info;
    assert.equal(after.remotes['onprem-logs']!.version, '8.12.2');
    for (const alias of ['onprem-metrics', 'onprem-legacy']) {
      assert.deepEqual(after.remotes[alias], before.remotes[alias], alias);
    }
    assert.deepEqual(after.requests['api-key-private'], before.requests['api-key-private']);
    assert.deepEqual(after.requests['tls-certificate'], before.requests['tls-certificate']);
    // The request that shows the failure scenario goes to the scenario's cluster.
    assert.equal(after.scenarioRequest.alias, 'onprem-logs');
    assert.equal(after.scenarioRequest.remote.proxyAddress, after.selfManaged.remoteClusterServer);
    const rootInfo = await es(after.remotes['onprem-legacy']!.url, '/');
    assert.equal(rootInfo.body.version.number, '8.19.3');
    await control('POST', '/scenario', { name: 'api-key-public' });
  });
});
