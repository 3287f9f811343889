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
import type { CertSummary, ClusterFacts, DeploymentFacts, TlsProbeReport } from '../../src/activities/types';
import { checkCaCertificate } from '../../src/activities/tls';
import { validateConnectRequest, type ConnectRequest } from '../../src/contract/request';
import { diagnoseRemoteError } from '../../src/domain/diagnosis';
import { remoteTrustArtifacts } from '../../src/domain/instructions';
import { evaluatePreflight } from '../../src/domain/preflight';
import { tlsCertificateTrustEntry } from '../../src/domain/requests';
import { instancesYml, selfManagedIdentity, trustRestrictionsFile } from '../../src/domain/tlsCertificate';
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
    assert.deepEqual(id, { kind: 'cloud-pattern', scopeId: 'corp', clusterId: 'prod', reissue: 'no', instances: [] });
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
          cn: ['node-1.node.onprem-cluster.cluster.selfmanaged.account'],
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
      ['es-a.node.onprem-logs.cluster.selfmanaged.account', 'es-b.node.onprem-logs.cluster.selfmanaged.account'],
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
