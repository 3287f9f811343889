/**
 * Path C rules people rely on: which versions talk over transport, how ECH identifies the self-managed nodes, the
 * files the self-managed org installs (read back the way Elasticsearch and certutil read them), the CA check, the
 * handshake diagnosis and the preflight findings.
 */
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import yaml from 'js-yaml';
import type { CertSummary, ClusterFacts, DeploymentFacts, TlsProbeReport } from '../../src/contract/facts';
import { checkCaCertificate } from '../../src/activities/tls';
import { validateConnectRequest, type ConnectRequest } from '../../src/contract/request';
import { diagnoseRemoteError } from '../../src/domain/diagnosis';
import { remoteTrustArtifacts, remoteTrustInstructions } from '../../src/domain/instructions';
import { evaluatePreflight, preflightFailureType } from '../../src/domain/preflight';
import { tlsCertificateTrustEntry } from '../../src/domain/requests';
import {
  certificateMatchesIdentity,
  instancesYml,
  ownNodeWildcard,
  sameIdentity,
  selfManagedIdentity,
  trustRestrictionsFile,
  type SelfManagedIdentity,
} from '../../src/domain/tlsCertificate';
import { transportCompatible } from '../../src/domain/versions';
import { parseTrustRestrictions } from '../../src/sandbox/elasticsearch/nodeConfig';
import { createCertificateAuthority, issueCertificate } from '../../src/sandbox/pki';

const leaf = (over: Partial<CertSummary> = {}): CertSummary => ({
  subject: 'CN=node-1',
  issuer: 'CN=transport-ca',
  validFrom: '2025-01-01T00:00:00.000Z',
  validTo: '2030-01-01T00:00:00.000Z',
  dnsNames: ['node-1.corp.example'],
  ipAddresses: ['10.0.0.1'],
  otherNames: [],
  fingerprint256: 'AA',
  isCa: false,
  ...over,
});

const request = (over: Record<string, unknown> = {}): ConnectRequest => {
  const v = validateConnectRequest({
    alias: 'onprem-logs',
    securityModel: 'tls-certificate',
    local: {
      deploymentId: '0123456789abcdef0123456789abcdef',
      cloud: { apiKeySecret: 'EC_API_KEY' },
      elasticsearch: { credentialsSecret: 'ECH' },
    },
    remote: { proxyAddress: 'es.corp.example:9300', ca: { kind: 'public' } },
    roles: [{ name: 'remote-search', remote: { indices: [{ names: ['logs-*'], privileges: ['read'] }] } }],
    ...over,
  });
  assert.ok(v.ok, JSON.stringify(!v.ok && v.problems));
  return v.request;
};

it('examples/connect-tls-certificate.json is a valid request', () => {
  const file = path.resolve(__dirname, '../../examples/connect-tls-certificate.json');
  const v = validateConnectRequest(JSON.parse(fs.readFileSync(file, 'utf8')));
  assert.ok(v.ok, JSON.stringify(!v.ok && v.problems));
  assert.equal(v.request.securityModel, 'tls-certificate');
});

describe('transport wire compatibility (domain §3)', () => {
  for (const [a, b, ok] of [
    ['8.17.4', '8.2.0', true],
    ['7.17.25', '8.19.0', true],
    ['7.17.25', '9.1.0', false],
    ['8.18.2', '9.0.3', true],
    ['8.18.2', '9.1.0', false],
    ['8.19.3', '9.1.3', true],
    ['8.17.4', '9.1.3', false],
  ] as const) {
    it(`${a} ↔ ${b}: ${ok ? 'compatible' : 'not compatible'}`, () => {
      assert.equal(transportCompatible(a, b), ok);
      assert.equal(transportCompatible(b, a), ok);
    });
  }
});

describe('how ECH identifies the self-managed nodes', () => {
  it('certificates following the Cloud pattern: trusted by scope and cluster id, no re-issue', () => {
    const id = selfManagedIdentity({
      leaf: leaf({ otherNames: ['node-1.node.prod.cluster.corp.account'] }),
      alias: 'a',
    });
    assert.deepEqual(id, {
      kind: 'cloud-pattern',
      scopeId: 'corp',
      clusterId: 'prod',
      reissue: 'no',
      instances: [],
      seenNodes: ['CN=node-1 (otherName node-1.node.prod.cluster.corp.account)'],
    });
    const entry = tlsCertificateTrustEntry('a', 'PEM', id);
    assert.equal(entry.type, 'generic');
    assert.equal(entry.scope_id, 'corp');
    assert.deepEqual(entry.trust_allowlist, ['prod']);
    assert.equal(entry.additional_node_names, undefined);
  });

  it('other otherNames: exact node names, never a wildcard', () => {
    const id = selfManagedIdentity({ leaf: leaf({ otherNames: ['node-1.corp.example'] }), alias: 'a' });
    const entry = tlsCertificateTrustEntry('a', 'PEM', id);
    assert.deepEqual(entry.additional_node_names, ['node-1.corp.example']);
    assert.equal(entry.scope_id, undefined);
  });

  it('no otherName: a re-issue with the Cloud pattern, the node keeping its DNS and IP names', () => {
    const id = selfManagedIdentity({ leaf: leaf(), clusterName: 'Onprem Cluster', alias: 'a' });
    assert.equal(id.kind, 'cloud-pattern');
    assert.equal(id.reissue, 'required');
    const parsed = yaml.load(instancesYml(id.kind === 'cloud-pattern' ? id.instances : [])) as any;
    assert.deepEqual(parsed, {
      instances: [
        {
          name: 'node-1',
          dns: ['node-1.corp.example'],
          ip: ['10.0.0.1'],
          cn: ['node-1.node.onpremcluster.cluster.selfmanaged.account'],
        },
      ],
    });
  });

  it('node names from the request when several nodes must be re-issued; unknown when nothing was seen', () => {
    const id = selfManagedIdentity({ nodeNames: ['es-a', 'es-b'], alias: 'onprem-logs' });
    assert.equal(id.reissue, 'unknown');
    const parsed = yaml.load(instancesYml(id.kind === 'cloud-pattern' ? id.instances : [])) as any;
    assert.deepEqual(
      parsed.instances.map((i: any) => i.cn[0]),
      ['es-a.node.onpremlogs.cluster.selfmanaged.account', 'es-b.node.onpremlogs.cluster.selfmanaged.account'],
    );
  });

  it('cluster ids are lowercase alphanumeric, like scope_id', () => {
    for (const [name, clusterId] of [
      ['Onprem Cluster', 'onpremcluster'],
      ['onprem_logs-2', 'onpremlogs2'],
      ['---', 'selfmanaged'],
    ]) {
      const id = selfManagedIdentity({ leaf: leaf(), clusterName: name, alias: 'a' });
      assert.equal(id.kind === 'cloud-pattern' && id.clusterId, clusterId);
      assert.deepEqual(tlsCertificateTrustEntry('a', 'PEM', id).trust_allowlist, [clusterId]);
    }
  });

  it('nodes the worker did not see get a host-name placeholder (verification_mode full checks it), the seen node its SANs', () => {
    const id = selfManagedIdentity({ leaf: leaf(), nodeNames: ['node-1', 'node-2'], alias: 'a' });
    const parsed = yaml.load(instancesYml(id.kind === 'cloud-pattern' ? id.instances : [])) as any;
    assert.deepEqual(parsed.instances[0].dns, ['node-1.corp.example']);
    assert.deepEqual(parsed.instances[0].ip, ['10.0.0.1']);
    assert.deepEqual(parsed.instances[1].dns, ['<DNS name of node-2>']);
    const text = remoteTrustInstructions(request(), 'wf', ctxFor(id)).instructions;
    assert.match(text, /Replace each `<DNS name of …>` with the host names/);
  });
});

const ctxFor = (identity: SelfManagedIdentity) => ({
  deploymentId: 'dep',
  echCaPems: ['-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----'],
  echPattern: '*.node.abc.cluster.42.account',
  selfManagedCaPem: '-----BEGIN CERTIFICATE-----\nS\n-----END CERTIFICATE-----',
  identity,
  remoteRolesByHand: false,
});

describe('exact node names (otherNames outside the Cloud pattern)', () => {
  const seen = leaf({ otherNames: ['node-1.corp.example'] });

  it('with remote.nodeNames: every node in the ECH entry and in the trust-restrictions file', () => {
    const nodeNames = ['node-1.corp.example', 'node-2.corp.example', 'node-3.corp.example'];
    const id = selfManagedIdentity({ leaf: seen, nodeNames, alias: 'a' });
    assert.deepEqual(tlsCertificateTrustEntry('a', 'PEM', id).additional_node_names, nodeNames);
    const file = remoteTrustArtifacts(request({ remote: { ...request().remote, nodeNames } }), 'wf', ctxFor(id)).files![
      'trust-restrictions.yml'
    ]!;
    assert.deepEqual(parseTrustRestrictions(file), ['*.node.abc.cluster.42.account', ...nodeNames]);
    assert.ok(certificateMatchesIdentity(seen, id));
  });

  it('without: ECH lists only the node seen, the file a wildcard for the own nodes, and the text says so', () => {
    const id = selfManagedIdentity({ leaf: seen, alias: 'a' });
    assert.deepEqual(tlsCertificateTrustEntry('a', 'PEM', id).additional_node_names, ['node-1.corp.example']);
    const { instructions, artifacts } = remoteTrustInstructions(request(), 'wf', ctxFor(id));
    assert.deepEqual(parseTrustRestrictions(artifacts!.files!['trust-restrictions.yml']!), [
      '*.node.abc.cluster.42.account',
      '*.corp.example',
    ]);
    assert.match(instructions, /ECH trusts only the node names listed in its trust entry, never a wildcard/);
    assert.match(instructions, /start again with `remote\.nodeNames`/);
    assert.equal(ownNodeWildcard('node-7'), 'node-*');
  });
});

describe('re-issue: what the worker could not see, the order, 8.x auto-configured security', () => {
  const unknown = selfManagedIdentity({ clusterName: 'onprem', alias: 'a' });

  it('unseen certificates: re-issue unless they carry exactly the assumed pattern; a placeholder entry, as the text says', () => {
    const { instructions, artifacts } = remoteTrustInstructions(request(), 'wf', ctxFor(unknown));
    assert.match(
      instructions,
      /Re-issue the transport certificates, unless they already carry `otherName` `\*\.node\.onprem\.cluster\.selfmanaged\.account` exactly/,
    );
    assert.doesNotMatch(instructions, /Only if your transport certificates have no/);
    const instances = artifacts!.phases![0]!.files!['instances.yml']!;
    assert.deepEqual((yaml.load(instances) as any).instances, [
      {
        name: '<node-name>',
        dns: ['<DNS name of the node>'],
        cn: ['<node-name>.node.onprem.cluster.selfmanaged.account'],
      },
    ]);
    assert.ok(instructions.includes(instances.trimEnd()));
    assert.match(instructions, /replace `<node-name>` with a node's name and repeat the entry for each node/);
  });

  it('two ordered phases: certificates (keystore path removed) with a restart, then CAs and trust restrictions', () => {
    const id = selfManagedIdentity({ leaf: leaf(), nodeNames: ['node-1', 'node-2'], alias: 'a' });
    const a = remoteTrustArtifacts(request(), 'wf', ctxFor(id));
    assert.equal(a.settings, undefined);
    assert.equal(a.files, undefined);
    assert.deepEqual(
      a.phases!.map((p) => [Object.keys(p.settings!), Object.keys(p.files!), p.restartRequired]),
      [
        [
          [
            'xpack.security.transport.ssl.certificate',
            'xpack.security.transport.ssl.key',
            'xpack.security.transport.ssl.keystore.path',
          ],
          ['instances.yml'],
          true,
        ],
        [
          [
            'xpack.security.transport.ssl.certificate_authorities',
            'xpack.security.transport.ssl.trust_restrictions.path',
            'xpack.security.transport.ssl.truststore.path',
          ],
          ['certs/ech-ca.crt', 'certs/self-managed-transport-ca.crt', 'trust-restrictions.yml'],
          true,
        ],
      ],
    );
    assert.equal(a.phases![0]!.settings!['xpack.security.transport.ssl.keystore.path'], null);
    assert.equal(a.phases![1]!.settings!['xpack.security.transport.ssl.truststore.path'], null);
  });

  it('the copy commands are commands, one complete line per node', () => {
    const id = selfManagedIdentity({ leaf: leaf(), nodeNames: ['node-1', 'node-2'], alias: 'a' });
    const text = remoteTrustInstructions(request(), 'wf', ctxFor(id)).instructions;
    for (const n of ['node-1', 'node-2']) {
      const line = text.split('\n').find((l) => l.startsWith(`unzip -o transport-certs.zip '${n}/*'`));
      assert.ok(line, `a line for ${n}`);
      assert.match(
        line!,
        new RegExp(`cp transport-certs/${n}/${n}\\.crt "\\$\\{ES_PATH_CONF:-config\\}"/certs/transport-node\\.crt`),
      );
      assert.match(line!, /cp .*\.key "\$\{ES_PATH_CONF:-config\}"\/certs\/transport-node\.key$/);
    }
    assert.doesNotMatch(text, /^# on node .*: cp /m);
  });

  it('tells how to remove the auto-configured keystore and truststore, with their keystore entries', () => {
    const id = selfManagedIdentity({ leaf: leaf(), alias: 'a' });
    const text = remoteTrustInstructions(request(), 'wf', ctxFor(id)).instructions;
    assert.match(text, /# remove this line if you have it: xpack\.security\.transport\.ssl\.keystore\.path/);
    assert.match(text, /# remove this line if you have it: xpack\.security\.transport\.ssl\.truststore\.path/);
    assert.match(text, /elasticsearch-keystore remove xpack\.security\.transport\.ssl\.keystore\.secure_password/);
    assert.match(text, /elasticsearch-keystore remove xpack\.security\.transport\.ssl\.truststore\.secure_password/);
    assert.match(
      text,
      /cannot specify both \[xpack\.security\.transport\.ssl\.certificate_authorities\] and \[xpack\.security\.transport\.ssl\.truststore\.path\]/,
    );
  });

  it('identities compare by what ECH and the trust file use, not by whether a re-issue was needed', () => {
    const assumed = selfManagedIdentity({ clusterName: 'onprem-cluster', alias: 'a' });
    const carried = (n: string) => selfManagedIdentity({ leaf: leaf({ otherNames: [n] }), alias: 'a' });
    assert.ok(sameIdentity(assumed, carried('node-1.node.onpremcluster.cluster.selfmanaged.account')));
    assert.ok(!sameIdentity(assumed, carried('node-1.node.onprem-cluster.cluster.selfmanaged.account')));
    assert.ok(
      !certificateMatchesIdentity(
        leaf({ otherNames: ['node-1.node.onprem-cluster.cluster.selfmanaged.account'] }),
        assumed,
      ),
    );
  });
});

describe('the files of step remote-trust', () => {
  const id = selfManagedIdentity({ leaf: leaf({ otherNames: ['n1.node.prod.cluster.corp.account'] }), alias: 'a' });

  it('the trust restrictions list the ECH deployment and the own nodes, as Elasticsearch reads them', () => {
    const file = trustRestrictionsFile('*.node.abc.cluster.42.account', id, 'dep');
    assert.deepEqual(parseTrustRestrictions(file), [
      '*.node.abc.cluster.42.account',
      '*.node.prod.cluster.corp.account',
    ]);
  });

  it('artifacts: every ECH CA, both CA paths in certificate_authorities, roles only when done by hand', () => {
    const ctx = {
      deploymentId: 'dep',
      echCaPems: [
        '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----',
        '-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----',
      ],
      echPattern: '*.node.abc.cluster.42.account',
      selfManagedCaPem: '-----BEGIN CERTIFICATE-----\nS\n-----END CERTIFICATE-----',
      identity: id,
    };
    const byHand = remoteTrustArtifacts(request(), 'wf', { ...ctx, remoteRolesByHand: true });
    assert.equal((byHand.files!['certs/ech-ca.crt']!.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
    assert.deepEqual(byHand.settings!['xpack.security.transport.ssl.certificate_authorities'], [
      'certs/self-managed-transport-ca.crt',
      'certs/ech-ca.crt',
    ]);
    assert.equal(byHand.restartRequired, true);
    assert.deepEqual(
      byHand.requests?.map((q) => [q.method, q.path, (q.body as any).indices]),
      [['PUT', '/_security/role/remote-search', [{ names: ['logs-*'], privileges: ['read'] }]]],
    );
    assert.equal(remoteTrustArtifacts(request(), 'wf', { ...ctx, remoteRolesByHand: false }).requests, undefined);
  });
});

describe('the self-managed CA check', () => {
  it('accepts a CA; refuses a node certificate, a private key and an expired CA, saying why', async () => {
    const ca = await createCertificateAuthority('transport-ca');
    assert.deepEqual(checkCaCertificate(ca.certPem), {
      ok: true,
      subject: 'CN=transport-ca',
      validTo: ca.cert.notAfter.toISOString(),
    });
    const node = await issueCertificate(ca, { commonName: 'node-1' });
    const refused = (pem: string) => {
      const c = checkCaCertificate(pem);
      assert.equal(c.ok, false);
      return c.ok ? '' : c.problems.join('; ');
    };
    assert.match(refused(node.certPem), /not a CA certificate/);
    assert.match(refused(ca.certPem + ca.keyPem), /private key/);
    assert.match(refused('hello'), /no PEM certificate/);
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const expired = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=old-ca',
      notBefore: new Date('2020-01-01'),
      notAfter: new Date('2021-01-01'),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
    assert.match(refused(expired.toString('pem')), /expired on 2021-01-01/);
  });
});

describe('handshake diagnosis', () => {
  it('TLS model: the remote ending the handshake points at its trust restrictions and CAs', () => {
    const d = diagnoseRemoteError('Received fatal alert: certificate_unknown', {
      alias: 'a',
      securityModel: 'tls-certificate',
    });
    assert.equal(d.code, 'tls-handshake-rejected');
    assert.match(d.fix, /trust restrictions file/);
    assert.equal(d.transient, false);
  });

  it('API-key model: the same kind of alert still means the transport port', () => {
    const d = diagnoseRemoteError('Received fatal alert: bad_certificate', { alias: 'a', securityModel: 'api-key' });
    assert.equal(d.code, 'transport-port');
  });
});

describe('several nodes behind the transport address (each connection meets one)', () => {
  const node = (i: number, otherNames: string[] = []) =>
    leaf({
      subject: `CN=node-${i}`,
      dnsNames: [`node-${i}.corp.example`],
      ipAddresses: [`10.0.0.${i}`],
      otherNames,
      fingerprint256: `F${i}`,
    });
  const three = [1, 2, 3].map((i) => node(i));

  it('no otherName on three nodes met: instances.yml and the copy lines cover all three, each with its own names', () => {
    const id = selfManagedIdentity({ nodes: three, clusterName: 'onprem', alias: 'a' });
    assert.equal(id.kind === 'cloud-pattern' && id.reissue, 'required');
    const { instructions, artifacts } = remoteTrustInstructions(request(), 'wf', ctxFor(id));
    const parsed = yaml.load(artifacts!.phases![0]!.files!['instances.yml']!) as any;
    assert.deepEqual(
      parsed.instances,
      [1, 2, 3].map((i) => ({
        name: `node-${i}`,
        dns: [`node-${i}.corp.example`],
        ip: [`10.0.0.${i}`],
        cn: [`node-${i}.node.onprem.cluster.selfmanaged.account`],
      })),
    );
    for (const i of [1, 2, 3])
      assert.ok(instructions.includes(`# on node node-${i}\nunzip -o transport-certs.zip 'node-${i}/*'`));
    assert.match(
      instructions,
      /The worker met 3 nodes behind es\.corp\.example:9300 .*`CN=node-1`, `CN=node-2`, `CN=node-3`/,
    );
    assert.doesNotMatch(instructions, /<DNS name of /);
  });

  it('one node met: the instructions say other nodes must be covered too, and how', () => {
    const id = selfManagedIdentity({ nodes: [node(2)], clusterName: 'onprem', alias: 'a' });
    const { instructions } = remoteTrustInstructions(request(), 'wf', ctxFor(id));
    assert.match(instructions, /\*\*The worker met one node behind es\.corp\.example:9300: `CN=node-2`\.\*\*/);
    assert.match(
      instructions,
      /If your cluster has other nodes \(`GET _cat\/nodes`\).*add an entry for each to `instances\.yml`/,
    );
    assert.match(instructions, /start again with `remote\.nodeNames` listing every node/);
    // Certificates with the Cloud pattern: the other nodes must carry it too.
    const pattern = selfManagedIdentity({ nodes: [node(1, ['node-1.node.prod.cluster.corp.account'])], alias: 'a' });
    const text = remoteTrustInstructions(request(), 'wf', ctxFor(pattern)).instructions;
    assert.match(text, /must carry `otherName` `\*\.node\.prod\.cluster\.corp\.account` too/);
  });

  it('one node of three without otherName: every node is re-issued, not just that one', () => {
    const nodes = [
      node(1, ['node-1.node.prod.cluster.corp.account']),
      node(2),
      node(3, ['node-3.node.prod.cluster.corp.account']),
    ];
    const id = selfManagedIdentity({ nodes, clusterName: 'prod', alias: 'a' });
    assert.equal(id.kind === 'cloud-pattern' && id.reissue, 'required');
    assert.deepEqual(id.kind === 'cloud-pattern' && id.instances.map((i) => i.name), ['node-1', 'node-2', 'node-3']);
    // The re-probe's rule: a node still without otherName does not carry the identity.
    assert.equal(certificateMatchesIdentity(node(2), id), false);
    assert.equal(certificateMatchesIdentity(node(2, ['node-2.node.prod.cluster.selfmanaged.account']), id), true);
  });

  it('exact names: ECH lists every otherName met; remote.nodeNames leaving out one met is an error naming it', () => {
    const nodes = [1, 2, 3].map((i) => node(i, [`node-${i}.corp.example`]));
    const id = selfManagedIdentity({ nodes, alias: 'a' });
    assert.deepEqual(tlsCertificateTrustEntry('a', 'PEM', id).additional_node_names, [
      'node-1.corp.example',
      'node-2.corp.example',
      'node-3.corp.example',
    ]);
    const probe: TlsProbeReport = {
      address: 'es.corp.example:9300',
      serverName: 'es.corp.example',
      reachable: true,
      trusted: true,
      hostnameMatches: false,
      requestsClientCertificate: true,
      looksLikeTransportPort: true,
      chain: [nodes[1]!],
      nodes,
      nodeConnections: 13,
      findings: [],
    };
    const short = request({
      remote: { ...request().remote, nodeNames: ['node-1.corp.example', 'node-2.corp.example'] },
    });
    const err = evaluatePreflight(
      short,
      { deployment: preflightDeployment, local: preflightCluster('9.1.3'), probe },
      'wf',
    ).find((f) => f.code === 'remote-node-names');
    assert.equal(err?.level, 'error');
    assert.match(err!.message, /met CN=node-3 carrying node-3\.corp\.example, which is not listed/);
    assert.match(err!.fix!, /"nodeNames": \["node-1\.corp\.example","node-2\.corp\.example","node-3\.corp\.example"\]/);
  });

  it('re-issue: remote.nodeNames leaving out a node met is an error naming it; listing all three is none', () => {
    const probe: TlsProbeReport = {
      address: 'es.corp.example:9300',
      serverName: 'es.corp.example',
      reachable: true,
      trusted: true,
      hostnameMatches: false,
      requestsClientCertificate: true,
      looksLikeTransportPort: true,
      chain: [three[0]!],
      nodes: three,
      nodeConnections: 13,
      findings: [],
    };
    const facts = { deployment: preflightDeployment, local: preflightCluster('9.1.3'), probe };
    const withNames = (nodeNames: string[]) => request({ remote: { ...request().remote, nodeNames } });
    const err = evaluatePreflight(withNames(['node-1', 'node-2']), facts, 'wf').find(
      (f) => f.code === 'remote-node-names',
    );
    assert.equal(err?.level, 'error');
    assert.match(
      err!.message,
      /the worker met CN=node-3, which is not listed: that node would keep a certificate without otherName/,
    );
    assert.equal(preflightFailureType([err!]), 'InvalidRequest');
    const ok = evaluatePreflight(withNames(['node-1', 'node-2', 'node-3']), facts, 'wf');
    assert.deepEqual(
      ok.filter((f) => f.level === 'error'),
      [],
    );
    assert.match(ok.find((f) => f.code === 'transport-no-othername')!.message, /\(3 node\(s\) seen\)/);
  });
});

const preflightDeployment: DeploymentFacts = {
  deploymentId: '0123456789abcdef0123456789abcdef',
  refId: 'main-elasticsearch',
  region: 'r',
  clusterId: 'c1',
  clusterName: 'ech',
  status: 'started',
  healthy: true,
  version: '9.1.3',
  pendingPlan: false,
  directTrustNames: [],
};
const preflightCluster = (version: string): ClusterFacts => ({
  version,
  clusterName: 'c',
  clusterUuid: 'u',
  license: { type: 'basic', status: 'active' },
  principal: { username: 'elastic', authenticationType: 'realm' },
  missingPrivileges: [],
});

describe('path C preflight', () => {
  const deployment: DeploymentFacts = {
    deploymentId: '0123456789abcdef0123456789abcdef',
    refId: 'main-elasticsearch',
    region: 'r',
    clusterId: 'c1',
    clusterName: 'ech',
    status: 'started',
    healthy: true,
    version: '9.1.3',
    pendingPlan: false,
    directTrustNames: [],
  };
  const cluster = (version: string): ClusterFacts => ({
    version,
    clusterName: 'c',
    clusterUuid: 'u',
    license: { type: 'basic', status: 'active' },
    principal: { username: 'elastic', authenticationType: 'realm' },
    missingPrivileges: [],
  });
  const probe: TlsProbeReport = {
    address: 'es.corp.example:9300',
    serverName: 'es.corp.example',
    reachable: true,
    trusted: false,
    hostnameMatches: false,
    requestsClientCertificate: true,
    looksLikeTransportPort: true,
    chain: [leaf()],
    findings: [{ level: 'error', code: 'TLS_UNTRUSTED_CHAIN', message: 'not a public CA' }],
  };

  it('a basic license is fine, the CA not given yet is no error, deprecation and missing otherName are said', () => {
    const f = evaluatePreflight(
      request(),
      { deployment, local: cluster('9.1.3'), remote: cluster('8.19.3'), probe },
      'wf',
    );
    assert.deepEqual(
      f.filter((x) => x.level === 'error'),
      [],
    );
    const warnings = f.filter((x) => x.level === 'warning').map((x) => x.code);
    assert.ok(warnings.includes('tls-model-deprecated'));
    assert.ok(warnings.includes('transport-no-othername'));
  });

  it('preflight: a warning without remote.nodeNames, an error when they do not hold the otherName seen', () => {
    const seen = leaf({ otherNames: ['node-1.corp.example'] });
    const facts = {
      deployment,
      local: cluster('9.1.3'),
      remote: cluster('8.19.3'),
      probe: { ...probe, chain: [seen] },
    };
    const codes = (r: ConnectRequest) => evaluatePreflight(r, facts, 'wf').map((f) => `${f.level}:${f.code}`);
    assert.ok(codes(request()).includes('warning:tls-node-names-incomplete'));
    const short = request({ remote: { ...request().remote, nodeNames: ['node-1', 'node-2'] } });
    const findings = evaluatePreflight(short, facts, 'wf');
    const err = findings.find((f) => f.code === 'remote-node-names');
    assert.equal(err?.level, 'error');
    assert.match(err!.message, /full otherName.*node-1\.corp\.example/);
    assert.equal(preflightFailureType([err!]), 'InvalidRequest');
  });

  it('8.17 self-managed with ECH 9.1: refused before anything changes', () => {
    const f = evaluatePreflight(
      request(),
      { deployment, local: cluster('9.1.3'), remote: cluster('8.17.4'), probe },
      'wf',
    );
    assert.deepEqual(
      f.filter((x) => x.level === 'error').map((x) => x.code),
      ['version-remote'],
    );
  });

  it('a CA given in the request that is not usable is an error naming the problem', () => {
    const f = evaluatePreflight(
      request(),
      {
        deployment,
        local: cluster('9.1.3'),
        probe,
        caCheck: { ok: false, problems: ['the certificate (CN=node-1) is not a CA certificate'] },
      },
      'wf',
    );
    assert.match(f.find((x) => x.code === 'remote-ca-invalid')!.message, /not a CA certificate/);
  });
});
