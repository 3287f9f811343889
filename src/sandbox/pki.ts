/**
 * The sandbox's PKI: every certificate of the simulated estate is generated at start (nothing committed), with a
 * maintained X.509 library (@peculiar/x509) on Node's webcrypto. ECDSA P-256 keeps generation fast.
 *
 * CAs:
 * - publicRoot: stands for the publicly trusted CAs (test processes trust it through NODE_EXTRA_CA_CERTS, the way a
 *   real worker trusts a public CA); signs the ECH HTTP endpoint and, in "public CA" scenarios, the self-managed
 *   remote cluster server.
 * - remotePrivate: the self-managed org's private CA (its HTTP layer and, in private-CA scenarios, its RCS).
 * - echTransport: ECH's transport CA (what the Cloud API's certificate-authority endpoint returns).
 * - selfManagedTransport: the self-managed cluster's transport CA.
 */
import fs from 'node:fs';
import path from 'node:path';
import { webcrypto, X509Certificate as NodeX509Certificate, randomBytes } from 'node:crypto';
// @peculiar/x509 (through tsyringe) needs a Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AsnConvert, AsnUtf8StringConverter } from '@peculiar/asn1-schema';
import { DirectoryString, GeneralName as AsnGeneralName, OtherName, SubjectAlternativeName } from '@peculiar/asn1-x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** OID of commonName: Elasticsearch's trust restrictions read `subjectAltName.otherName.commonName` under this type id. */
export const OTHER_NAME_COMMON_NAME_OID = '2.5.4.3';
const SAN_OID = '2.5.29.17';
const DAY_MS = 24 * 60 * 60 * 1000;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends PemPair {
  /** Short name used in file names and DNs. */
  name: string;
  subject: string;
  cert: x509.X509Certificate;
  privateKey: CryptoKey;
}

export interface LeafOptions {
  commonName: string;
  /** Extra RDNs, e.g. 'O=Example'. */
  organization?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** otherName SANs with type id 2.5.4.3 (commonName) and a UTF8String value, as `elasticsearch-certutil --cn` writes. */
  otherNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Days of validity from notBefore when notAfter is absent (default 365). */
  validityDays?: number;
}

export interface IssuedCertificate extends PemPair {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** Fingerprint SHA-256 of the DER, hex lowercase without colons. */
  fingerprint256: string;
}

/** What Elasticsearch's trust restrictions and ECH's node-name trust can see of a peer certificate. */
export interface PeerIdentity {
  subject: string;
  issuer: string;
  otherNameCommonNames: string[];
  dnsNames: string[];
  ipAddresses: string[];
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

function toPem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  return bytes.toString('hex');
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

function sanExtension(opts: LeafOptions): x509.Extension | undefined {
  const names: AsnGeneralName[] = [];
  for (const cn of opts.otherNames ?? []) {
    names.push(
      new AsnGeneralName({
        otherName: new OtherName({
          typeId: OTHER_NAME_COMMON_NAME_OID,
          value: AsnConvert.serialize(AsnUtf8StringConverter.toASN(cn)),
        }),
      }),
    );
  }
  for (const dns of opts.dnsNames ?? []) names.push(new AsnGeneralName({ dNSName: dns }));
  for (const ip of opts.ipAddresses ?? []) names.push(new AsnGeneralName({ iPAddress: ip }));
  if (names.length === 0) return undefined;
  return new x509.Extension(SAN_OID, false, AsnConvert.serialize(new SubjectAlternativeName(names)));
}

/** Create a self-signed CA (valid from yesterday for ten years, unless `validity` says otherwise). */
export async function createCertificateAuthority(
  name: string,
  subject?: string,
  validity?: { notBefore: Date; notAfter: Date },
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const dn = subject ?? `CN=${name}`;
  const notBefore = validity?.notBefore ?? new Date(Date.now() - DAY_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: dn,
    notBefore,
    notAfter: validity?.notAfter ?? new Date(notBefore.getTime() + 3650 * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    name,
    subject: dn,
    cert,
    privateKey: keys.privateKey,
    certPem: cert.toString('pem') + '\n',
    keyPem: await exportKeyPem(keys.privateKey),
  };
}

/** Load a CA from PEMs (e.g. the pre-made public root that test processes already trust). */
export async function loadCertificateAuthority(name: string, pair: PemPair): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(pair.certPem);
  const der = Buffer.from(pair.keyPem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, EC_ALGORITHM, true, ['sign']);
  return { name, subject: cert.subject, cert, privateKey, certPem: pair.certPem, keyPem: pair.keyPem };
}

/** Issue a leaf certificate (server and client auth) signed by `ca`. */
export async function issueCertificate(ca: CertificateAuthority, opts: LeafOptions): Promise<IssuedCertificate> {
  const keys = await generateKeys();
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + (opts.validityDays ?? 365) * DAY_MS);
  const subject = opts.organization ? `CN=${opts.commonName}, O=${opts.organization}` : `CN=${opts.commonName}`;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  const san = sanExtension(opts);
  if (san) extensions.push(san);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: ca.cert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  const certPem = cert.toString('pem') + '\n';
  return {
    certPem,
    keyPem: await exportKeyPem(keys.privateKey),
    subject,
    issuer: ca.cert.subject,
    serialNumber: cert.serialNumber,
    notBefore,
    notAfter,
    fingerprint256: new NodeX509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

/** The Cloud naming pattern of ECH node certificates (otherName CN); scope_id is the organization id. */
export function cloudNodeName(nodeId: string, clusterId: string, scopeId: string): string {
  return `${nodeId}.node.${clusterId}.cluster.${scopeId}.account`;
}

/** Read otherName CNs, DNS and IP SANs of a certificate (DER bytes, e.g. `getPeerCertificate().raw`, or PEM). */
export function peerIdentity(certificate: Buffer | string): PeerIdentity {
  const cert = new x509.X509Certificate(typeof certificate === 'string' ? certificate : new Uint8Array(certificate));
  const identity: PeerIdentity = {
    subject: cert.subject,
    issuer: cert.issuer,
    otherNameCommonNames: [],
    dnsNames: [],
    ipAddresses: [],
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
  const ext = cert.extensions.find((e) => e.type === SAN_OID);
  if (!ext) return identity;
  // Parsed with the ASN.1 schema directly: @peculiar/x509's GeneralName refuses otherName types other than GUID/UPN.
  const san = AsnConvert.parse(ext.value, SubjectAlternativeName);
  for (const name of san) {
    if (name.dNSName !== undefined) identity.dnsNames.push(name.dNSName);
    else if (name.iPAddress !== undefined) identity.ipAddresses.push(name.iPAddress);
    else if (name.otherName && name.otherName.typeId === OTHER_NAME_COMMON_NAME_OID) {
      identity.otherNameCommonNames.push(AsnConvert.parse(name.otherName.value, DirectoryString).toString());
    }
  }
  return identity;
}

export interface SandboxPki {
  publicRoot: CertificateAuthority;
  remotePrivate: CertificateAuthority;
  echTransport: CertificateAuthority;
  selfManagedTransport: CertificateAuthority;
  issue(ca: CertificateAuthority, opts: LeafOptions): Promise<IssuedCertificate>;
  /** An extra CA (e.g. "some other org's CA" for wrong-CA scenarios). */
  createCa(name: string): Promise<CertificateAuthority>;
  /** PEMs of the four CAs, as sandbox.json's `ca` object. */
  caPems(): { publicRoot: string; remotePrivate: string; echTransport: string; selfManagedTransport: string };
}

/** A fresh public root, created before test processes start so they can trust it via NODE_EXTRA_CA_CERTS. */
export async function createPublicRoot(): Promise<PemPair> {
  const ca = await createCertificateAuthority(
    'Sandbox Public Root CA',
    'CN=Sandbox Public Root CA, O=Sandbox Trust Services',
  );
  return { certPem: ca.certPem, keyPem: ca.keyPem };
}

export async function createPki(options: { publicRoot?: PemPair } = {}): Promise<SandboxPki> {
  const [publicRoot, remotePrivate, echTransport, selfManagedTransport] = await Promise.all([
    options.publicRoot
      ? loadCertificateAuthority('public-root', options.publicRoot)
      : createCertificateAuthority('public-root', 'CN=Sandbox Public Root CA, O=Sandbox Trust Services'),
    createCertificateAuthority('remote-private', 'CN=Self-managed Org Private CA, O=Self-managed Org'),
    createCertificateAuthority('ech-transport', 'CN=Elastic Cloud Transport CA, O=Elastic Cloud Sandbox'),
    createCertificateAuthority('self-managed-transport', 'CN=Elastic Certificate Tool Autogenerated CA'),
  ]);
  return {
    publicRoot,
    remotePrivate,
    echTransport,
    selfManagedTransport,
    issue: issueCertificate,
    createCa: (name) => createCertificateAuthority(name),
    caPems: () => ({
      publicRoot: publicRoot.certPem,
      remotePrivate: remotePrivate.certPem,
      echTransport: echTransport.certPem,
      selfManagedTransport: selfManagedTransport.certPem,
    }),
  };
}

/**
 * The public root kept in `dir` (created on first use, key file mode 0600), so that a process can be re-spawned with
 * NODE_EXTRA_CA_CERTS pointing at `certFile` before any sandbox server starts.
 */
export async function loadOrCreatePublicRoot(dir: string): Promise<PemPair & { certFile: string; keyFile: string }> {
  const certFile = path.join(dir, 'sandbox-public-root.pem');
  const keyFile = path.join(dir, 'sandbox-public-root.key');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    const pair = { certPem: fs.readFileSync(certFile, 'utf8'), keyPem: fs.readFileSync(keyFile, 'utf8') };
    // Regenerate when the stored root is about to expire.
    if (Date.parse(new NodeX509Certificate(pair.certPem).validTo) > Date.now() + 30 * DAY_MS)
      return { ...pair, certFile, keyFile };
  }
  fs.mkdirSync(dir, { recursive: true });
  const pair = await createPublicRoot();
  fs.writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  fs.writeFileSync(certFile, pair.certPem);
  return { ...pair, certFile, keyFile };
}
