/**
 * A self-managed cluster of three nodes (ClusterConfig `nodes`): node identities, not processes. What is simulated and
 * where it comes from (elastic/elasticsearch unless said):
 * - `GET /_nodes` (NodesInfoResponse: `_nodes.total`, `nodes.<id>.name`), `GET /_cat/nodes` (RestNodesAction default
 *   columns, `*` on the elected master) and `_cluster/health` `number_of_nodes` answer three nodes.
 * - Each node has its own transport certificate (instances.yml has one entry per node; domain page C2); the one
 *   transport address is served by each node in turn, as a load balancer spreads connections, so a probe sees one
 *   node's certificate per connection and ECH's 18 proxy sockets (`proxy_socket_connections`, ProxyConnectionStrategy)
 *   reach every node.
 * - Trust restrictions apply to every transport connection, node-to-node included (SSLService /
 *   RestrictedTrustManager; domain page C5 "plus a pattern for the self-managed cluster's own nodes ... Cluster still
 *   forms after restart (GET /_cat/nodes)"): a file that leaves out one of the cluster's own nodes keeps the nodes
 *   apart, and cluster-level APIs fail with `master_not_discovered_exception` (503, MasterNotDiscoveredException).
 * - ECH's trust entry names nodes exactly (`additional_node_names`, domain page path C): a node it does not name is
 *   refused, so only the sockets that reach a named node connect.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { createPki, peerIdentity, type SandboxPki } from '../../src/sandbox/pki';
import { startEstate, call, type Estate } from './es-helpers';

let pki: SandboxPki;
let e: Estate;

const restrictions = (patterns: string[]) => `trust.subject_name:\n${patterns.map((p) => `  - "${p}"`).join('\n')}\n`;
const ECH_PATTERN = '*.node.abc123ech.cluster.org42.account';
const NODE_NAMES = [1, 2, 3].map((i) => `node-${i}.node.onprem.cluster.selfmanaged.account`);

before(async () => {
  pki = await createPki();
  e = await startEstate({ pki, sm: { version: '8.19.0', rcsEnabled: false, transportOtherName: true, nodes: 3 } });
  await e.sm.applyNodeConfig({
    settings: {
      'xpack.security.transport.ssl.certificate_authorities': ['certs/transport-ca.crt', 'certs/ech-ca.crt'],
      'xpack.security.transport.ssl.trust_restrictions.path': 'trust.yml',
    },
    files: { 'certs/ech-ca.crt': pki.echTransport.certPem, 'trust.yml': restrictions([ECH_PATTERN, ...NODE_NAMES]) },
    restart: true,
  });
});
after(() => e.stop());

/** The certificate a TLS client sees on the self-managed transport port (one connection). */
function probe(): Promise<string> {
  const { port } = new URL(`tls://${e.sm.transportAddress}`);
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port: Number(port),
      // Every node's certificate chains to the transport CA and names 127.0.0.1: full verification.
      ca: [pki.selfManagedTransport.certPem],
    });
    s.once('secureConnect', () => {
      const pem = `-----BEGIN CERTIFICATE-----\n${s
        .getPeerCertificate()
        .raw.toString('base64')
        .match(/.{1,64}/g)!
        .join('\n')}\n-----END CERTIFICATE-----\n`;
      s.destroy();
      resolve(pem);
    });
    s.once('error', reject);
  });
}

test('_nodes, _cat/nodes and cluster health answer three nodes', async () => {
  const info = (await call(e.sm, 'GET', '/_nodes')).body;
  assert.deepEqual(info._nodes, { total: 3, successful: 3, failed: 0 });
  assert.deepEqual(
    Object.values(info.nodes as Record<string, { name: string }>)
      .map((n) => n.name)
      .sort(),
    ['node-1', 'node-2', 'node-3'],
  );
  const cat = await call(e.sm, 'GET', '/_cat/nodes', undefined, { headers: { accept: 'text/plain' } });
  assert.equal(cat.status, 200);
  const lines = String(cat.body).trim().split('\n');
  assert.equal(lines.length, 3);
  assert.deepEqual(
    lines.map((l) => l.split(' ').slice(-2).join(' ')),
    ['* node-1', '- node-2', '- node-3'],
  );
  const health = (await call(e.sm, 'GET', '/_cluster/health')).body;
  assert.equal(health.number_of_nodes, 3);
  const reload = (await call(e.sm, 'POST', '/_nodes/reload_secure_settings')).body;
  assert.equal(reload._nodes.total, 3);
});

test('each node has its own transport certificate; a probe sees one node per connection', async () => {
  assert.deepEqual(e.sm.transportNodeNames, NODE_NAMES);
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const id = peerIdentity(await probe());
    assert.equal(id.otherNameCommonNames.length, 1);
    assert.match(id.subject, new RegExp(`CN=${id.otherNameCommonNames[0]!.split('.')[0]}\\b`));
    seen.add(id.otherNameCommonNames[0]!);
  }
  assert.deepEqual([...seen].sort(), NODE_NAMES);
});

test('ECH trusts only the nodes it names: naming one of three connects only the sockets that reach it', async () => {
  const connect = async (alias: string) =>
    call(e.ech, 'PUT', '/_cluster/settings', {
      persistent: {
        [`cluster.remote.${alias}.mode`]: 'proxy',
        [`cluster.remote.${alias}.proxy_address`]: e.sm.transportAddress,
      },
    });
  const sockets = async (alias: string) =>
    ((await call(e.ech, 'GET', '/_remote/info')).body as any)[alias].num_proxy_sockets_connected as number;
  e.ech.setTrust({ cas: [pki.selfManagedTransport.certPem], transportNodeNamePatterns: NODE_NAMES });
  await connect('all3');
  assert.equal(await sockets('all3'), 18);
  e.ech.setTrust({ cas: [pki.selfManagedTransport.certPem], transportNodeNamePatterns: [NODE_NAMES[0]!] });
  await connect('only1');
  // Either the first socket reached node-2/3 (nothing connects) or node-1 (a third of 18 do): never all.
  assert.ok([0, 6].includes(await sockets('only1')), String(await sockets('only1')));
  const refused = (e.ech.snapshot() as any).outbound.filter((o: any) => o.alias === 'only1' && !o.ok);
  for (const r of refused) assert.match(r.reason, /node-[23]\.node\.onprem/);
});

test('a trust-restrictions file that leaves out one of its own nodes: the cluster does not form', async () => {
  const apply = (patterns: string[]) =>
    e.sm.applyNodeConfig({ files: { 'trust.yml': restrictions(patterns) }, restart: true });
  await apply([ECH_PATTERN, NODE_NAMES[0]!, NODE_NAMES[1]!]);
  for (const path of ['/_cat/nodes', '/_nodes', '/_cluster/health']) {
    const r = await call(e.sm, 'GET', path);
    assert.equal(r.status, 503, path);
    assert.equal(r.body.error.type, 'master_not_discovered_exception', path);
  }
  // A pattern for the cluster's own nodes (domain page C5) lets them form again.
  await apply([ECH_PATTERN, '*.node.onprem.cluster.selfmanaged.account']);
  assert.equal((await call(e.sm, 'GET', '/_cat/nodes')).status, 200);
  assert.equal((await call(e.sm, 'GET', '/_cluster/health')).body.number_of_nodes, 3);
});
