/**
 * The sandbox plays the self-managed admin re-issuing transport certificates (domain step C2): it runs
 * `elasticsearch-certutil cert --in instances.yml` with its transport CA, turning `cn` entries into otherName SANs,
 * and the node presents them after a restart. Mistakes in instances.yml are refused as certutil would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { start, type Sandbox } from '../../src/sandbox';
import { peerIdentity } from '../../src/sandbox/pki';
import { CloudTestClient } from './cloud-helpers';

let sandbox: Sandbox;
let client: CloudTestClient;
const control = (method: string, p: string, body?: unknown) => client.call(method, `/_sandbox${p}`, body);

before(async () => {
  sandbox = await start({ scenario: 'tls-certificate-no-othername', planPendingMs: 50 });
  client = new CloudTestClient(sandbox.info.cloud.endpoint, sandbox.info.cloud.apiKey, sandbox.info.ca.publicRoot);
});
after(() => sandbox?.stop());

describe('POST /_sandbox/self-managed/certutil', () => {
  it('the scenario starts with out-of-the-box transport certificates (no otherName)', async () => {
    const config = (await control('GET', '/self-managed/config')).body;
    assert.deepEqual(peerIdentity(config.files['certs/transport.crt']).otherNameCommonNames, []);
    assert.equal(sandbox.info.recommendedRequest, 'tls-certificate');
  });

  it('refuses instances.yml that is not YAML, has no instances, or does not list this node', async () => {
    const out = { certificate: 'certs/new.crt', key: 'certs/new.key' };
    for (const [instances, message] of [
      ['instances: [', /not valid YAML/],
      ['nodes: []', /no "instances" list/],
      ['instances:\n  - name: "other-node"\n    cn: ["x.node.c.cluster.s.account"]\n', /no instance named \[node-1\]/],
    ] as const) {
      const res = await control('POST', '/self-managed/certutil', { instances, ...out });
      assert.equal(res.status, 400);
      assert.match(res.body.errors[0].message, message);
    }
    assert.equal((await control('POST', '/self-managed/certutil', { instances: 'instances: []' })).status, 400);
  });

  it('issues the node certificate with the cn as otherName, signed by the transport CA; used after restart', async () => {
    const cn = 'node-1.node.onprem-cluster.cluster.selfmanaged.account';
    const cnOf = (node: string) => cn.replace('node-1', node);
    const instances = (nodes: string[]) =>
      `instances:\n${nodes.map((n) => `  - name: "${n}"\n    cn: ["${cnOf(n)}"]\n`).join('')}`;
    // The path C scenario has three nodes; this instances.yml forgets node-3.
    const res = await control('POST', '/self-managed/certutil', {
      instances: instances(['node-1', 'node-2']),
      certificate: 'certs/transport-node.crt',
      key: 'certs/transport-node.key',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.otherNodes, [{ name: 'node-2', otherNames: [cnOf('node-2')] }]);
    assert.deepEqual(res.body.notIssued, ['node-3']);
    const config = (await control('GET', '/self-managed/config')).body;
    const cert = config.files['certs/transport-node.crt'];
    assert.deepEqual(peerIdentity(cert).otherNameCommonNames, [cn]);
    assert.equal(peerIdentity(cert).issuer, sandbox.pki.selfManagedTransport.subject);
    assert.equal(sandbox.selfManaged.transportNodeNames.length, 0, 'not in use before the settings and a restart');
    const applied = await control('POST', '/self-managed/apply', {
      settings: {
        'xpack.security.transport.ssl.certificate': 'certs/transport-node.crt',
        'xpack.security.transport.ssl.key': 'certs/transport-node.key',
      },
      restart: true,
    });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    // Each node presents what certutil issued under its own name; node-3, without an entry, keeps its certificate
    // without otherName (the admin had nothing to install on it).
    assert.deepEqual(sandbox.selfManaged.transportNodeNames, [cn, cnOf('node-2')]);
    // One entry per node: every node carries its otherName after the restart.
    const all = await control('POST', '/self-managed/certutil', {
      instances: instances(['node-1', 'node-2', 'node-3']),
      certificate: 'certs/transport-node.crt',
      key: 'certs/transport-node.key',
    });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(all.body.notIssued, []);
    assert.equal((await control('POST', '/self-managed/restart')).status, 200);
    assert.deepEqual(sandbox.selfManaged.transportNodeNames, [cn, cnOf('node-2'), cnOf('node-3')]);
  });

  it('8.x auto-configured keystore/truststore next to PEM settings: the node refuses to start, as Elasticsearch does', async () => {
    const autoConfigured = {
      'xpack.security.transport.ssl.certificate': null,
      'xpack.security.transport.ssl.key': null,
      'xpack.security.transport.ssl.certificate_authorities': null,
      'xpack.security.transport.ssl.keystore.path': 'certs/transport.p12',
      'xpack.security.transport.ssl.truststore.path': 'certs/transport.p12',
    };
    assert.equal(
      (await control('POST', '/self-managed/apply', { settings: autoConfigured, restart: true })).status,
      200,
    );
    for (const [settings, message] of [
      [
        { 'xpack.security.transport.ssl.certificate_authorities': ['certs/transport-ca.crt'] },
        'cannot specify both [xpack.security.transport.ssl.certificate_authorities] and [xpack.security.transport.ssl.truststore.path]',
      ],
      [
        {
          'xpack.security.transport.ssl.certificate': 'certs/transport.crt',
          'xpack.security.transport.ssl.key': 'certs/transport.key',
        },
        'cannot specify both [xpack.security.transport.ssl.certificate] and [xpack.security.transport.ssl.keystore.path]',
      ],
    ] as const) {
      const refused = await control('POST', '/self-managed/apply', { settings, restart: true });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.ok(JSON.stringify(refused.body).includes(message), JSON.stringify(refused.body));
      // Undo the pending edit so the next case starts from the auto-configured node.
      const undo = Object.fromEntries(Object.keys(settings).map((k) => [k, null]));
      await control('POST', '/self-managed/apply', { settings: undo });
    }
    // Removing the store paths, as the generated remote-trust artifacts do, lets it start.
    const fixed = await control('POST', '/self-managed/apply', {
      settings: {
        'xpack.security.transport.ssl.certificate_authorities': ['certs/transport-ca.crt'],
        'xpack.security.transport.ssl.truststore.path': null,
      },
      restart: true,
    });
    assert.equal(fixed.status, 200, JSON.stringify(fixed.body));
  });
});
