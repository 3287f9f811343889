/**
 * TLS probe of `remote.proxyAddress` from the worker: is the address reachable, is the chain trusted (public roots,
 * or the private CA given), does the certificate cover the name ECH will verify, when does it expire, and is this a
 * transport port (mutual TLS) rather than the remote cluster server?
 *
 * Two connections, neither of which ever disables verification:
 * 1. The verdict: `tls.connect` with default verification (`ca` = the private PEM, or nothing = the process trust:
 *    Node's roots plus NODE_EXTRA_CA_CERTS) and a `checkServerIdentity` that records the chain and returns the result
 *    of `tls.checkServerIdentity` (Node calls it only after the chain verified). Only this connection decides
 *    `trusted`. After the handshake it listens briefly: a transport port asks for a client certificate and, getting
 *    none, sends `certificate_required` / `bad_certificate` or closes. When the description (2.) shows the server
 *    asked for none, no such alert can come and the probe ends at once (no fixed window on the critical path).
 * 2. The description: a TLS 1.2 ClientHello over a tap that records the bytes the server sends. In TLS 1.2 the
 *    server's first flight (Certificate, CertificateRequest) is plaintext, so the chain and whether the server asks
 *    for a client certificate can be read even when the chain is untrusted, without completing anything on trust:
 *    the TLS client on top still verifies (and rejects) as usual, and no application data is ever sent.
 *
 * A transport address (path C) usually stands for several nodes (a load balancer, DNS round robin): each connection
 * meets one of them, as each of ECH's proxy sockets does. So after the verdict the probe keeps opening description
 * connections, a few at a time, until many in a row show no certificate it has not seen (bounded by a count and a
 * time budget), and reports every distinct node certificate (`nodes`), each checked for expiry and, with a private
 * CA, for being issued by it.
 */
import crypto from 'node:crypto';
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { AsnConvert } from '@peculiar/asn1-schema';
// @peculiar/x509 (through tsyringe) needs a Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { Certificate, SubjectAlternativeName } from '@peculiar/asn1-x509';
import type { Activities, CertSummary, Finding, TlsProbeReport } from './types';
import type { CaCheck } from '../contract/facts';
import { FAILURE_TYPES } from '../clients/errors';
import { heartbeat } from './heartbeat';
import { nodeLabel } from '../domain/tlsCertificate';

export type TlsActivities = Pick<Activities, 'probeRemoteClusterServer' | 'inspectCaCertificate'>;

export interface TlsActivityDeps {
  /**
   * Extra CAs trusted as "public" (added to Node's roots): what NODE_EXTRA_CA_CERTS does for a real worker, injectable
   * because tests cannot set that variable after the process started.
   */
  extraCaPems?: string[];
  /** Connect + handshake timeout (default 10 s). */
  timeoutMs?: number;
  /** How long to wait after the handshake for a transport port's client-certificate alert (default 1 s). */
  clientCertWindowMs?: number;
  /** Days before expiry that produce a warning (default 30). */
  expiryWarningDays?: number;
  /** Observations at most before the probe concludes (default 5): a reset or timeout is not an answer. */
  attempts?: number;
  /** Delay before the second observation, doubling after (default 250 ms). */
  retryDelayMs?: number;
  /** How a transport address is surveyed for the nodes behind it (see {@link NodeSurveyOptions}). */
  nodeSurvey?: Partial<NodeSurveyOptions>;
}

export interface NodeSurveyOptions {
  /**
   * Stop after this many connections in a row showed no new certificate (default 12: with three nodes spread at
   * random, the chance that an unseen one hides that long is (2/3)^12 < 1 %; in turn, it never does).
   */
  quietConnections: number;
  /** Connections at most (default 36, twice ECH's 18 proxy sockets). */
  maxConnections: number;
  /** Connections opened together (default 6): a least-connections balancer spreads only connections open at once. */
  parallel: number;
  /** Time budget of the survey (default 5 s); what was seen by then is reported. */
  budgetMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const SAN_OID = '2.5.29.17';
const OTHER_NAME_COMMON_NAME_OID = '2.5.4.3';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'PROBE_TIMEOUT',
]);

/** Alerts a server sends when it wanted a client certificate and got none. */
const CLIENT_CERT_ALERT_RE =
  /CERTIFICATE_REQUIRED|BAD_CERTIFICATE|certificate required|bad certificate|HANDSHAKE_FAILURE|handshake failure/i;

const NOT_TLS_RE =
  /WRONG_VERSION_NUMBER|wrong version number|packet length too long|unknown protocol|record layer failure|http request/i;

export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim());
  if (!m) throw new Error(`not host:port: ${address}`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

// ---------------------------------------------------------------- certificate summaries

/** Read a DER length at `p` (short or long form). */
function derLength(buf: Uint8Array, p: number): { len: number; next: number } {
  const first = buf[p] ?? 0;
  if (first < 0x80) return { len: first, next: p + 1 };
  const n = first & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (buf[p + 1 + i] ?? 0);
  return { len, next: p + 1 + n };
}

/** otherName value: `[0] EXPLICIT` wrapper (sometimes already unwrapped) around a string type. */
function decodeOtherNameValue(value: ArrayBuffer): string {
  let buf = new Uint8Array(value);
  if (buf[0] === 0xa0) {
    const { len, next } = derLength(buf, 1);
    buf = buf.subarray(next, next + len);
  }
  const tag = buf[0];
  const { len, next } = derLength(buf, 1);
  const bytes = buf.subarray(next, next + len);
  if (tag === 0x0c || tag === 0x13 || tag === 0x16 || tag === 0x14) return Buffer.from(bytes).toString('utf8');
  return Buffer.from(buf).toString('hex');
}

function subjectAltNames(cert: crypto.X509Certificate): { dns: string[]; ip: string[]; other: string[] } {
  const out = { dns: [] as string[], ip: [] as string[], other: [] as string[] };
  try {
    const ext = findExtension(cert.raw, SAN_OID);
    if (!ext) return out;
    const san = AsnConvert.parse(ext, SubjectAlternativeName);
    for (const name of san) {
      if (name.dNSName !== undefined) out.dns.push(name.dNSName);
      else if (name.iPAddress !== undefined) out.ip.push(name.iPAddress);
      else if (name.otherName) {
        const v = decodeOtherNameValue(name.otherName.value);
        out.other.push(name.otherName.typeId === OTHER_NAME_COMMON_NAME_OID ? v : `${name.otherName.typeId}=${v}`);
      }
    }
  } catch {
    // fall back to Node's rendering (otherName shows as "<unsupported>")
    for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
      if (part.startsWith('DNS:')) out.dns.push(part.slice(4));
      else if (part.startsWith('IP Address:')) out.ip.push(part.slice(11));
      else if (/^othername:/i.test(part)) out.other.push(part.replace(/^othername:\s*/i, ''));
    }
  }
  return out;
}

/** The value (extnValue contents) of an extension, parsed with the X.509 ASN.1 schema. */
function findExtension(der: Buffer, oid: string): ArrayBuffer | undefined {
  const cert = AsnConvert.parse(new Uint8Array(der), Certificate);
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === oid);
  if (!ext) return undefined;
  const bytes = new Uint8Array(ext.extnValue.buffer);
  return bytes.slice().buffer;
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

export function summarizeCertificate(der: Buffer): CertSummary {
  const cert = new crypto.X509Certificate(der);
  const san = subjectAltNames(cert);
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    dnsNames: san.dns,
    ipAddresses: san.ip,
    otherNames: san.other,
    fingerprint256: cert.fingerprint256,
    isCa: cert.ca,
  };
}

/** The chain as Node reports it (leaf first), without the self-loop of a root. */
function chainFromPeer(peer: tls.DetailedPeerCertificate | undefined): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let c: tls.DetailedPeerCertificate | undefined = peer;
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(c.raw);
    c = c.issuerCertificate;
  }
  return out;
}

// ---------------------------------------------------------------- connection 1: the verdict

interface Verdict {
  /** TCP connected (and the server answered something). */
  reachable: boolean;
  errorCode?: string;
  errorMessage?: string;
  /** Handshake completed with verification (chain + name). */
  authorized: boolean;
  /** The chain verified (checkServerIdentity was reached). */
  chainVerified: boolean;
  hostnameError?: string;
  chain: Buffer[];
  peer?: tls.PeerCertificate;
  /** After the handshake: the server sent a client-certificate alert or closed at once. */
  clientCertAlert?: string;
  closedRightAfterHandshake: boolean;
  /** That close was a reset (ECONNRESET / EPIPE), which the network also does: not an answer on its own. */
  resetAfterHandshake?: boolean;
}

function verdictConnection(opts: {
  host: string;
  port: number;
  servername?: string;
  identityName: string;
  ca?: string | string[];
  timeoutMs: number;
  windowMs: number;
  /**
   * The description connection's first flight, when it arrives: a complete flight without a CertificateRequest
   * means the server does not ask for a client certificate, so no alert can come and the window ends at once.
   */
  firstFlight?: Promise<FirstFlight | undefined>;
}): Promise<Verdict> {
  return new Promise((resolve) => {
    const v: Verdict = {
      reachable: false,
      authorized: false,
      chainVerified: false,
      chain: [],
      closedRightAfterHandshake: false,
    };
    let handshakeDone = false;
    let settled = false;
    let windowTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (settled) return;
      settled = true;
      if (windowTimer) clearTimeout(windowTimer);
      socket.destroy();
      resolve(v);
    };
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(opts.ca ? { ca: opts.ca } : {}),
      // Called by Node only after the chain verified; the verdict keeps Node's own name check.
      checkServerIdentity: (_hostname, cert) => {
        v.chainVerified = true;
        v.peer = cert;
        v.chain = chainFromPeer(cert as tls.DetailedPeerCertificate);
        const err = tls.checkServerIdentity(opts.identityName, cert);
        if (err) v.hostnameError = err.message;
        return err;
      },
    });
    socket.setTimeout(opts.timeoutMs, () => {
      if (!handshakeDone) {
        v.errorCode ??= 'PROBE_TIMEOUT';
        v.errorMessage ??= `no TLS handshake within ${opts.timeoutMs} ms`;
      }
      finish();
    });
    socket.once('connect', () => (v.reachable = true));
    socket.once('secureConnect', () => {
      handshakeDone = true;
      v.reachable = true;
      v.authorized = socket.authorized;
      if (v.chain.length === 0) v.chain = chainFromPeer(socket.getPeerCertificate(true));
      // Read, send nothing: a transport port (client auth required) rejects our empty client certificate now.
      socket.resume();
      windowTimer = setTimeout(finish, opts.windowMs);
      void opts.firstFlight?.then((flight) => {
        if (flight?.serverHelloDone && !flight.certificateRequested) setImmediate(finish);
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const text = `${err.code ?? ''} ${err.message}`;
      if (handshakeDone) {
        if (CLIENT_CERT_ALERT_RE.test(text)) v.clientCertAlert = err.code ?? err.message;
        else {
          v.closedRightAfterHandshake = true;
          if (err.code === 'ECONNRESET' || err.code === 'EPIPE') v.resetAfterHandshake = true;
        }
      } else {
        v.errorCode = err.code ?? 'ERROR';
        v.errorMessage = err.message;
        if (!UNREACHABLE_CODES.has(v.errorCode)) v.reachable = true;
      }
      finish();
    });
    socket.once('end', () => {
      if (handshakeDone && !settled) v.closedRightAfterHandshake = true;
      finish();
    });
    socket.once('close', finish);
  });
}

// ---------------------------------------------------------------- connection 2: the description (TLS 1.2 first flight)

interface FirstFlight {
  chain: Buffer[];
  certificateRequested: boolean;
  serverHelloDone: boolean;
  /** A plaintext alert from the server (e.g. protocol_version when it only speaks TLS 1.3). */
  alert?: number;
}

/** Parse TLS records (plaintext part of a TLS 1.2 handshake) sent by the server. */
export function parseServerFirstFlight(data: Buffer): FirstFlight {
  const out: FirstFlight = { chain: [], certificateRequested: false, serverHelloDone: false };
  const handshake: Buffer[] = [];
  let off = 0;
  while (off + 5 <= data.length) {
    const type = data[off]!;
    const len = data.readUInt16BE(off + 3);
    if (off + 5 + len > data.length) break;
    const frag = data.subarray(off + 5, off + 5 + len);
    off += 5 + len;
    if (type === 22) handshake.push(frag);
    else if (type === 21 && frag.length >= 2) out.alert = frag[1];
    else if (type === 20)
      break; // ChangeCipherSpec: everything after it is encrypted
    else if (type !== 22) break;
  }
  const hs = Buffer.concat(handshake);
  let p = 0;
  while (p + 4 <= hs.length) {
    const t = hs[p]!;
    const l = hs.readUIntBE(p + 1, 3);
    if (p + 4 + l > hs.length) break;
    const body = hs.subarray(p + 4, p + 4 + l);
    p += 4 + l;
    if (t === 11 && body.length >= 3) {
      const total = body.readUIntBE(0, 3);
      let q = 3;
      while (q + 3 <= Math.min(body.length, 3 + total)) {
        const cl = body.readUIntBE(q, 3);
        out.chain.push(Buffer.from(body.subarray(q + 3, q + 3 + cl)));
        q += 3 + cl;
      }
    } else if (t === 13) out.certificateRequested = true;
    else if (t === 14) out.serverHelloDone = true;
  }
  return out;
}

function describeConnection(opts: {
  host: string;
  port: number;
  servername?: string;
  timeoutMs: number;
}): Promise<FirstFlight | undefined> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let settled = false;
    const raw = net.connect({ host: opts.host, port: opts.port });
    const tap = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (raw.destroyed) return cb();
        raw.write(chunk, () => cb());
      },
      final(cb) {
        raw.end();
        cb();
      },
      destroy(err, cb) {
        raw.destroy();
        cb(err);
      },
    });
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      tlsSocket.destroy();
      raw.destroy();
      const flight = parseServerFirstFlight(Buffer.concat(received));
      resolve(
        flight.chain.length > 0 || flight.certificateRequested || flight.alert !== undefined ? flight : undefined,
      );
    };
    const timer = setTimeout(finish, opts.timeoutMs);
    raw.on('data', (d: Buffer) => {
      received.push(d);
      tap.push(d);
      if (parseServerFirstFlight(Buffer.concat(received)).serverHelloDone) setImmediate(finish);
    });
    raw.on('end', () => tap.push(null));
    raw.on('error', finish);
    raw.on('close', finish);
    // A normal, verifying TLS client on top of the tap (TLS 1.2 so the server's first flight is plaintext).
    const tlsSocket = tls.connect({
      socket: tap,
      ...(opts.servername ? { servername: opts.servername } : {}),
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    tlsSocket.on('error', () => setImmediate(finish));
    tlsSocket.on('secureConnect', () => setImmediate(finish));
  });
}

// ---------------------------------------------------------------- retrying until the answer is consistent

/**
 * How the network cut an observation short before the handshake: `unreachable` (refused, no route, DNS not answering),
 * `timeout` (TCP accepted, no handshake in time), `interrupted` (reset or closed mid-handshake). None of them is an
 * answer about the port on its own; a failed certificate verification or a client-certificate alert is.
 */
type Disturbance = 'unreachable' | 'timeout' | 'interrupted';

const INTERRUPTED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const UNREACHABLE_NOW_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const INTERRUPTED_RE = /disconnected before secure TLS connection|socket hang up|ECONNRESET|EPIPE/i;

function disturbanceOf(v: Verdict): Disturbance | undefined {
  if (v.resetAfterHandshake) return 'interrupted';
  if (v.errorCode === undefined) return undefined; // set only for failures before the handshake completed
  if (v.errorCode === 'PROBE_TIMEOUT') return 'timeout';
  if (INTERRUPTED_CODES.has(v.errorCode) || INTERRUPTED_RE.test(v.errorMessage ?? '')) return 'interrupted';
  if (UNREACHABLE_NOW_CODES.has(v.errorCode)) return 'unreachable';
  return undefined;
}

/** What must agree between two observations for a negative answer to stand. */
function signature(r: TlsProbeReport): string {
  return JSON.stringify([
    r.reachable,
    r.trusted,
    r.hostnameMatches,
    r.requestsClientCertificate,
    r.looksLikeTransportPort,
    r.findings.filter((f) => f.level !== 'info').map((f) => f.code),
  ]);
}

async function pause(ms: number): Promise<void> {
  const ctx = activityContext();
  if (ctx) return ctx.sleep(ms); // throws CancelledFailure when the activity is cancelled
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Observe until the answer can be trusted: a clean pass at once (a fault cannot forge a verified handshake); a
 * negative answer (wrong port, untrusted, not TLS) only when two undisturbed observations in a row agree; a network
 * disturbance never. Persistent refusal is the unreachable report and persistent handshake timeouts the "no TLS"
 * report, both consistent answers; anything else (resets, answers that keep changing) is a retryable TransientError.
 */
async function observeUntilConsistent(opts: {
  attempts: number;
  retryDelayMs: number;
  proxyAddress: string;
  observe: () => Promise<{ verdict: Verdict; report: TlsProbeReport }>;
}): Promise<TlsProbeReport> {
  const seen: { disturbance?: Disturbance; report: TlsProbeReport; sig: string; what: string }[] = [];
  for (let i = 1; i <= opts.attempts; i++) {
    const { verdict, report } = await opts.observe();
    const disturbance = disturbanceOf(verdict);
    const sig = signature(report);
    const what = disturbance
      ? `${disturbance} (${verdict.errorCode})`
      : report.findings
          .filter((f) => f.level === 'error')
          .map((f) => f.code)
          .join('+') || 'ok';
    const prev = seen[seen.length - 1];
    seen.push({ ...(disturbance ? { disturbance } : {}), report, sig, what });
    if (!disturbance) {
      if (report.reachable && report.trusted && !report.findings.some((f) => f.level === 'error')) return report;
      if (prev && !prev.disturbance && prev.sig === sig) return report;
    }
    if (i < opts.attempts) {
      heartbeat({ probeAttempt: i });
      await pause(opts.retryDelayMs * 2 ** (i - 1));
    }
  }
  const last = seen[seen.length - 1]!;
  const all = (d: Disturbance) => seen.every((o) => o.disturbance === d);
  if (all('unreachable') || all('timeout')) return last.report;
  // A server that resets every connection without a client certificate, after asking for one: that is an answer.
  const before = seen[seen.length - 2];
  if (before && before.sig === last.sig && last.report.requestsClientCertificate && last.report.looksLikeTransportPort)
    return last.report;
  throw ApplicationFailure.create({
    message:
      `TLS probe of ${opts.proxyAddress}: no consistent answer in ${seen.length} attempts (${seen.map((o) => o.what).join(', ')}):` +
      ' the connection was reset or timed out, which says nothing about the port yet; the probe is retried',
    type: FAILURE_TYPES.transient,
    nonRetryable: false,
  });
}

// ---------------------------------------------------------------- every node behind a transport address

/** The host's addresses (DNS round robin spreads nodes over them), or the host itself when it is an IP or unresolvable. */
async function addressesOf(host: string): Promise<string[]> {
  if (net.isIP(host)) return [host];
  try {
    const all = await dns.promises.lookup(host, { all: true });
    const unique = [...new Set(all.map((a) => a.address))].sort();
    return unique.length > 0 ? unique : [host];
  } catch {
    return [host];
  }
}

/**
 * Open connections to the address until `quietConnections` in a row bring no certificate not seen before, at most
 * `maxConnections`, within `budgetMs`. Each is a description connection (the plaintext TLS 1.2 first flight, read
 * without trusting it); a server that only speaks TLS 1.3 is asked again by a verifying connection, which yields the
 * chain only when it is trusted. Returns each distinct chain (leaf first) by leaf fingerprint.
 */
async function surveyNodes(opts: {
  host: string;
  port: number;
  servername?: string;
  identityName: string;
  trust?: string | string[];
  timeoutMs: number;
  known: Buffer[][];
  survey: NodeSurveyOptions;
}): Promise<{ chains: Buffer[][]; connections: number }> {
  const { survey } = opts;
  const fingerprint = (der: Buffer) => crypto.createHash('sha256').update(der).digest('hex');
  const chains = new Map<string, Buffer[]>();
  for (const chain of opts.known) if (chain[0]) chains.set(fingerprint(chain[0]), chain);
  const addresses = await addressesOf(opts.host);
  const deadline = Date.now() + survey.budgetMs;
  const sample = async (host: string): Promise<Buffer[]> => {
    const timeoutMs = Math.max(1, Math.min(opts.timeoutMs, deadline - Date.now()));
    const flight = await describeConnection({ host, port: opts.port, servername: opts.servername, timeoutMs }).catch(
      () => undefined,
    );
    if (flight?.chain.length) return flight.chain;
    const verdict = await verdictConnection({
      host,
      port: opts.port,
      servername: opts.servername,
      identityName: opts.identityName,
      ca: opts.trust,
      timeoutMs,
      windowMs: 0,
    });
    return verdict.chain;
  };
  let connections = 0;
  let quiet = 0;
  while (quiet < survey.quietConnections && connections < survey.maxConnections && Date.now() < deadline) {
    const batch = Math.min(survey.parallel, survey.maxConnections - connections);
    const results = await Promise.all(
      Array.from({ length: batch }, (_, i) => sample(addresses[(connections + i) % addresses.length]!)),
    );
    connections += batch;
    for (const chain of results) {
      const leaf = chain[0];
      const fp = leaf && fingerprint(leaf);
      if (fp && !chains.has(fp)) {
        chains.set(fp, chain);
        quiet = 0;
      } else quiet++;
    }
    heartbeat({ nodeSurveyConnections: connections, nodesSeen: chains.size });
  }
  return { chains: [...chains.values()], connections };
}

/** True when some certificate of `chainDer`, walking up from the leaf, is issued and signed by one of `caPems`. */
function chainsToCa(chainDer: Buffer[], caPems: string): boolean {
  const blocks = caPems.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const cas = blocks.flatMap((b) => {
    try {
      return [new crypto.X509Certificate(b)];
    } catch {
      return [];
    }
  });
  const certs = chainDer.flatMap((d) => {
    try {
      return [new crypto.X509Certificate(d)];
    } catch {
      return [];
    }
  });
  const issuedBy = (c: crypto.X509Certificate, by: crypto.X509Certificate) =>
    c.checkIssued(by) && c.verify(by.publicKey);
  let current = certs[0];
  for (let hops = 0; current && hops <= certs.length; hops++) {
    const cur: crypto.X509Certificate = current;
    if (cas.some((ca) => issuedBy(cur, ca))) return true;
    current = certs.slice(1).find((c) => c !== cur && issuedBy(cur, c));
  }
  return false;
}

/** Sorted by what tells nodes apart (otherName, subject), then fingerprint: one order whatever the order met. */
export function sortNodeCertificates(nodes: CertSummary[]): CertSummary[] {
  const key = (c: CertSummary) => [c.otherNames.join(','), c.subject, c.fingerprint256];
  return [...nodes].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
    return 0;
  });
}

/**
 * Findings about the nodes met by the survey: what was seen (info), and every node certificate that ECH's sockets
 * reaching that node would fail on: expired or not yet valid, or (private CA given) not issued by that CA.
 */
function nodeFindings(opts: {
  proxyAddress: string;
  chains: Buffer[][];
  connections: number;
  ca: { kind: 'public' } | { kind: 'private'; pem: string };
  firstLeafFingerprint?: string;
}): { nodes: CertSummary[]; findings: Finding[] } {
  const now = Date.now();
  const described = opts.chains.flatMap((chain) => {
    try {
      return [{ chain, summary: summarizeCertificate(chain[0]!) }];
    } catch {
      return [];
    }
  });
  const nodes = sortNodeCertificates(described.map((d) => d.summary));
  const findings: Finding[] = [];
  for (const { chain, summary } of described) {
    // The first node's own problems are already reported by the verdict.
    if (summary.fingerprint256 === opts.firstLeafFingerprint) continue;
    const problems: string[] = [];
    if (new Date(summary.validTo).getTime() < now) problems.push(`it expired on ${summary.validTo}`);
    if (new Date(summary.validFrom).getTime() > now) problems.push(`it is not valid before ${summary.validFrom}`);
    if (opts.ca.kind === 'private' && !chainsToCa(chain, opts.ca.pem))
      problems.push(`it is issued by ${summary.issuer}, not by the CA given`);
    if (problems.length > 0) {
      findings.push({
        level: 'error',
        code: 'TLS_NODE_CERTIFICATE',
        message: `Behind ${opts.proxyAddress}, the node presenting ${nodeLabel(summary)} cannot be trusted: ${problems.join('; ')}. ECH's proxy sockets that reach this node fail.`,
        fix: 're-issue that node’s transport certificate from the transport CA (elasticsearch-certutil cert …), install it on that node and restart it',
      });
    }
  }
  findings.push({
    level: 'info',
    code: 'TLS_NODES_SEEN',
    message:
      `${nodes.length} distinct transport certificate(s) behind ${opts.proxyAddress} in ${opts.connections + 1} connection(s): ` +
      nodes.map(nodeLabel).join('; ') +
      '.',
  });
  return { nodes, findings };
}

// ---------------------------------------------------------------- the activity

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

export function createTlsActivities(deps: TlsActivityDeps = {}): TlsActivities {
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const windowMs = deps.clientCertWindowMs ?? 1_000;
  const warnDays = deps.expiryWarningDays ?? 30;
  const attempts = Math.max(1, deps.attempts ?? 5);
  const retryDelayMs = deps.retryDelayMs ?? 250;
  const survey: NodeSurveyOptions = {
    quietConnections: 12,
    maxConnections: 36,
    parallel: 6,
    budgetMs: 5_000,
    ...deps.nodeSurvey,
  };

  return {
    async inspectCaCertificate({ pem }) {
      return checkCaCertificate(pem);
    },

    async probeRemoteClusterServer({ proxyAddress, serverName, ca, expect }): Promise<TlsProbeReport> {
      const { host, port } = parseHostPort(proxyAddress);
      const identityName = serverName ?? host;
      const servername = net.isIP(identityName) ? undefined : identityName; // no SNI for IP literals (RFC 6066)
      const trust =
        ca.kind === 'private'
          ? ca.pem
          : deps.extraCaPems?.length
            ? [...tls.rootCertificates, ...deps.extraCaPems]
            : undefined;

      /** The chain (DER) behind each observation's report, for the node survey. */
      const leafChains = new Map<TlsProbeReport, Buffer[]>();

      /**
       * Path C: every node behind the transport address, when the first one could be read. The verdict stays the first
       * observation's; the survey adds `nodes` and a finding per node certificate ECH could not use.
       */
      const withNodes = async (first: TlsProbeReport): Promise<TlsProbeReport> => {
        const firstChain = leafChains.get(first) ?? [];
        if (!first.reachable || firstChain.length === 0) return first;
        const { chains, connections } = await surveyNodes({
          host,
          port,
          servername,
          identityName,
          trust,
          timeoutMs,
          known: [firstChain],
          survey,
        });
        const { nodes, findings } = nodeFindings({
          proxyAddress,
          chains,
          connections,
          ca,
          firstLeafFingerprint: first.chain[0]?.fingerprint256,
        });
        const errors = findings.some((f) => f.level === 'error');
        const all = [...first.findings.filter((f) => !(errors && f.code === 'TLS_OK')), ...findings];
        const rank = (f: Finding) => (f.level === 'error' ? 1 : f.level === 'warning' ? 2 : 3);
        all.sort((a, b) => rank(a) - rank(b));
        return { ...first, findings: all, nodes, nodeConnections: connections + 1 };
      };

      /** What one observation (the verdict and the description connections) says, as a report. */
      const reportOf = (verdict: Verdict, flight: FirstFlight | undefined): TlsProbeReport => {
        const chainDer = verdict.chain.length > 0 ? verdict.chain : (flight?.chain ?? []);
        const chain = chainDer.flatMap((d) => {
          try {
            return [summarizeCertificate(d)];
          } catch {
            return [];
          }
        });
        const leafDer = chainDer[0];
        const leaf = leafDer ? new crypto.X509Certificate(leafDer) : undefined;
        const now = Date.now();
        const expiresInDays = leaf ? Math.floor((new Date(leaf.validTo).getTime() - now) / DAY_MS) : undefined;
        const notYetValid = leaf ? new Date(leaf.validFrom).getTime() > now : false;

        let hostnameMatches = false;
        if (verdict.peer) hostnameMatches = tls.checkServerIdentity(identityName, verdict.peer) === undefined;
        else if (leaf)
          hostnameMatches = net.isIP(identityName)
            ? leaf.checkIP(identityName) !== undefined
            : leaf.checkHost(identityName) !== undefined;

        const requestsClientCertificate =
          flight?.certificateRequested === true ||
          verdict.clientCertAlert !== undefined ||
          (verdict.errorMessage !== undefined &&
            CLIENT_CERT_ALERT_RE.test(`${verdict.errorCode} ${verdict.errorMessage}`));
        const errText = `${verdict.errorCode ?? ''} ${verdict.errorMessage ?? ''}`;
        const trusted = verdict.authorized;
        // A TLS 1.2 server that requires a client certificate aborts the handshake before the chain verdict is known.
        const rejectedForClientCert = verdict.errorCode !== undefined && CLIENT_CERT_ALERT_RE.test(errText);
        // Mutual TLS *required* (a transport port): the server rejected our empty client certificate or hung up. When
        // the verdict connection could not get that far (untrusted chain), the CertificateRequest alone decides. A
        // server that asks but completes without one (optional client auth) is not a transport port.
        const optionalClientAuth =
          flight?.certificateRequested === true &&
          trusted &&
          verdict.clientCertAlert === undefined &&
          !verdict.closedRightAfterHandshake;
        const looksLikeTransportPort =
          verdict.clientCertAlert !== undefined ||
          rejectedForClientCert ||
          verdict.closedRightAfterHandshake ||
          (flight?.certificateRequested === true && !optionalClientAuth);
        const timedOutInHandshake = verdict.errorCode === 'PROBE_TIMEOUT' && verdict.reachable;
        const unreachable = !verdict.reachable && UNREACHABLE_CODES.has(verdict.errorCode ?? '');
        const notTls = !unreachable && (NOT_TLS_RE.test(errText) || timedOutInHandshake);

        const findings: Finding[] = [];
        const where = `${proxyAddress}${serverName ? ` (server name ${serverName})` : ''}`;
        if (unreachable) {
          findings.push({
            level: 'warning',
            code: 'TLS_UNREACHABLE_FROM_WORKER',
            message: `${where} is not reachable from the worker (${verdict.errorCode}: ${verdict.errorMessage ?? ''}). This does not prove ECH cannot reach it: firewalls often admit only the ECH egress IPs.`,
            fix: `make sure ${proxyAddress} accepts connections from the ECH egress IPs (https://ips.cld.elstc.co/) on port ${port}; the connection check after "connect" is the proof`,
          });
        } else if (notTls) {
          findings.push({
            level: 'error',
            code: 'TLS_NOT_TLS',
            message: timedOutInHandshake
              ? `${where} accepted the TCP connection but completed no TLS handshake within ${timeoutMs} ms (not a TLS port, or something in between holds the connection).`
              : `${where} does not speak TLS (${verdict.errorMessage ?? verdict.errorCode}).`,
            fix: `point remote.proxyAddress at the ${expect === 'transport' ? 'transport port (9300)' : 'remote cluster server (port 9443)'} with TLS enabled (xpack.security.${expect === 'transport' ? 'transport' : 'remote_cluster_server'}.ssl.enabled: true)`,
          });
        } else if (!trusted && !verdict.chainVerified && !rejectedForClientCert) {
          const expired =
            /CERT_HAS_EXPIRED|expired/i.test(errText) || (expiresInDays !== undefined && expiresInDays < 0);
          const future = /CERT_NOT_YET_VALID/i.test(errText) || notYetValid;
          if (expired || future) {
            findings.push({
              level: 'error',
              code: 'TLS_CERT_EXPIRED',
              message: `The certificate of ${where} ${future ? `is not valid before ${leaf?.validFrom}` : `expired on ${leaf?.validTo}`} (subject ${chain[0]?.subject ?? '?'}).`,
              fix: 're-issue the certificate (elasticsearch-certutil cert …) with a valid period, install it on every node and reload it',
            });
          } else {
            findings.push(untrustedFinding(where, ca, chain, chainDer, errText, expect));
          }
        }
        // The certificate model does not verify host names (verification_mode certificate + node names), so only the
        // remote cluster server's name matters.
        if (expect === 'remote-cluster-server' && !unreachable && !notTls && leaf && !hostnameMatches) {
          const names = [...(chain[0]?.dnsNames ?? []), ...(chain[0]?.ipAddresses ?? [])];
          findings.push({
            level: 'error',
            code: 'TLS_NAME_MISMATCH',
            message: `The certificate of ${proxyAddress} does not cover "${identityName}" (it names ${names.length ? names.join(', ') : `only ${chain[0]?.subject ?? 'no SANs'}`}).`,
            fix: names.length
              ? `set remote.serverName to one of ${names.join(', ')}, or re-issue the certificate with a SAN for ${identityName}`
              : `re-issue the certificate with a SAN for ${identityName}`,
          });
        }
        if (expect === 'remote-cluster-server' && looksLikeTransportPort) {
          findings.push({
            level: 'error',
            code: 'TLS_TRANSPORT_PORT',
            message: `${proxyAddress} ${requestsClientCertificate ? 'asks for a client certificate' : 'closes the connection right after the handshake'}: this is a transport port (mutual TLS), not the remote cluster server the API-key model needs.`,
            fix: 'use the remote cluster server port (default 9443) in remote.proxyAddress, not the transport port 9300; enable remote_cluster_server.enabled: true on the self-managed nodes if needed',
          });
        }
        if (
          expect === 'transport' &&
          !unreachable &&
          !notTls &&
          !requestsClientCertificate &&
          (trusted || flight !== undefined)
        ) {
          // An Elasticsearch transport port always asks (client_authentication required): this is another port, most
          // likely the remote cluster server (9443) of the API-key model, where the certificate model cannot connect.
          findings.push({
            level: 'error',
            code: 'TLS_NOT_TRANSPORT_PORT',
            message: `${proxyAddress} does not ask for a client certificate, which an Elasticsearch transport port does (mutual TLS): it is not the transport port${port === 9443 ? ' (9443 is the default remote cluster server port of the API-key model)' : ''}.`,
            fix: 'for the TLS-certificate model use the transport port (default 9300) in remote.proxyAddress; port 9443 is the remote cluster server of the API-key model (securityModel "api-key")',
          });
        }
        if (expiresInDays !== undefined && expiresInDays >= 0 && expiresInDays < warnDays) {
          findings.push({
            level: 'warning',
            code: 'TLS_CERT_EXPIRES_SOON',
            message: `The certificate of ${proxyAddress} expires in ${expiresInDays} day(s) (${leaf?.validTo}).`,
            fix: 're-issue it before then; the remote connection fails when it expires',
          });
        }
        if (optionalClientAuth) {
          findings.push({
            level: 'info',
            code: 'TLS_OPTIONAL_CLIENT_AUTH',
            message: `${proxyAddress} asks for a client certificate but accepts connections without one (client authentication "optional").`,
          });
        }
        if (!unreachable && chain.length === 0) {
          findings.push({
            level: 'info',
            code: 'TLS_CHAIN_UNREADABLE',
            message:
              'The certificate chain could not be read for the report (the server may only speak TLS 1.3 and the chain was not trusted).',
          });
        }
        if (!findings.some((f) => f.level === 'error') && !unreachable) {
          findings.push({
            level: 'info',
            code: 'TLS_OK',
            message: `${where}: chain trusted${ca.kind === 'private' ? ' by the private CA given' : ' by the public roots'}, ${expect === 'transport' ? 'host name not checked (the certificate model identifies nodes by otherName)' : 'name matches'}${expiresInDays !== undefined ? `, expires in ${expiresInDays} days` : ''}.`,
          });
        }

        // The root cause first: on a transport port the chain and name findings are consequences of the wrong port.
        const rank = (f: Finding) =>
          f.code === 'TLS_TRANSPORT_PORT' ? 0 : f.level === 'error' ? 1 : f.level === 'warning' ? 2 : 3;
        findings.sort((a, b) => rank(a) - rank(b));

        const report: TlsProbeReport = {
          address: proxyAddress,
          serverName: identityName,
          reachable: !unreachable,
          trusted,
          hostnameMatches,
          requestsClientCertificate,
          looksLikeTransportPort,
          chain,
          ...(expiresInDays !== undefined ? { expiresInDays } : {}),
          findings,
        };
        return report;
      };

      const observed = await observeUntilConsistent({
        attempts,
        retryDelayMs,
        proxyAddress,
        observe: async () => {
          const described = describeConnection({ host, port, servername, timeoutMs }).catch(() => undefined);
          const [verdict, flight] = await Promise.all([
            verdictConnection({
              host,
              port,
              servername,
              identityName,
              ca: trust,
              timeoutMs,
              windowMs,
              firstFlight: described,
            }),
            described,
          ]);
          const report = reportOf(verdict, flight);
          leafChains.set(report, verdict.chain.length > 0 ? verdict.chain : (flight?.chain ?? []));
          return { verdict, report };
        },
      });
      const report = expect === 'transport' ? await withNodes(observed) : observed;
      activityContext()?.log.info(`TLS probe of ${proxyAddress}`, {
        reachable: report.reachable,
        trusted: report.trusted,
        hostnameMatches: report.hostnameMatches,
        looksLikeTransportPort: report.looksLikeTransportPort,
        findings: report.findings.map((f) => f.code),
        ...(report.nodes ? { nodes: report.nodes.length, nodeConnections: report.nodeConnections } : {}),
      });
      return report;
    },
  };
}

function untrustedFinding(
  where: string,
  ca: { kind: 'public' } | { kind: 'private'; pem: string },
  chain: CertSummary[],
  chainDer: Buffer[],
  errText: string,
  expect: 'remote-cluster-server' | 'transport',
): Finding {
  const issuer = chain[0]?.issuer ?? 'an unknown issuer';
  const top = chain[chain.length - 1];
  if (ca.kind === 'public') {
    return {
      level: 'error',
      code: 'TLS_UNTRUSTED_CHAIN',
      message: `The certificate of ${where} is issued by ${issuer}, which is not a publicly trusted CA (${errText.trim()}).`,
      fix:
        'if it is your private CA, add it to the request: remote.ca = {"kind": "private", "pem": "<the CA certificate>"}' +
        ' (path B: ECH gets a trust entry for it); otherwise install a certificate from a publicly trusted CA on the remote cluster server',
    };
  }
  let given = 'the private CA given';
  let signedByGiven = false;
  try {
    const caCert = new crypto.X509Certificate(ca.pem);
    given = `the private CA given (${oneLine(caCert.subject)})`;
    signedByGiven = chainDer.some((d) => {
      const c = new crypto.X509Certificate(d);
      return c.checkIssued(caCert) && c.verify(caCert.publicKey);
    });
  } catch {
    // unparsable CA: reported as untrusted below
  }
  return {
    level: 'error',
    code: 'TLS_UNTRUSTED_CHAIN',
    message:
      `The certificate chain of ${where} (issued by ${issuer}${top && top !== chain[0] ? `, top ${top.subject}` : ''}) does not verify` +
      ` against ${given}${signedByGiven ? ' although it names it as issuer (intermediate missing from the chain?)' : ''} (${errText.trim()}).`,
    fix: signedByGiven
      ? 'configure the remote cluster server to send the full chain (leaf + intermediates), or give the intermediate CA'
      : `give the CA that signed the ${expect === 'transport' ? 'transport' : 'remote cluster server'} certificate (${issuer}) in remote.ca.pem`,
  };
}

/**
 * Is `pem` usable as a CA to trust: PEM certificate(s) only (no private key), each a CA (basicConstraints cA), none
 * expired or not yet valid. Every problem is listed, for the person who provided it.
 */
export function checkCaCertificate(pem: string): CaCheck {
  const problems: string[] = [];
  if (/PRIVATE KEY-----/.test(pem))
    problems.push('it contains a private key: send the certificate only, never its key');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    problems.push('it has no PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)');
  const now = Date.now();
  let first: x509.X509Certificate | undefined;
  for (const [i, block] of blocks.entries()) {
    const which = blocks.length > 1 ? `certificate ${i + 1}` : 'the certificate';
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(block);
    } catch (e) {
      problems.push(`${which} cannot be parsed (${(e as Error).message})`);
      continue;
    }
    first ??= cert;
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    if (!bc?.ca)
      problems.push(
        `${which} (${cert.subject}) is not a CA certificate (basicConstraints cA is not set): send the CA that signs the transport certificates, not a node certificate`,
      );
    if (cert.notAfter.getTime() < now)
      problems.push(`${which} (${cert.subject}) expired on ${cert.notAfter.toISOString()}`);
    if (cert.notBefore.getTime() > now)
      problems.push(`${which} (${cert.subject}) is not valid before ${cert.notBefore.toISOString()}`);
  }
  if (problems.length > 0 || !first) return { ok: false, problems };
  return { ok: true, subject: first.subject, validTo: first.notAfter.toISOString() };
}
