/**
 * Remote cluster connections, for real: TLS listeners on the remote side (the dedicated remote cluster server port
 * for the API-key model, the transport port with mutual TLS for the certificate model) and TLS client connections on
 * the local side, speaking a small newline-delimited JSON protocol (handshake, then search / resolve requests).
 *
 * Failures surface with the texts of the domain page's failure table (§4), built in `failures` below so that a wrong
 * text is corrected in one place.
 */
import tls from 'node:tls';
import fs from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { EsError } from './errors';
import { peerIdentity } from '../pki';
import type { PeerIdentity } from '../pki';
import type { FaultInjector, FaultTarget, SocketFaultTarget } from '../faults';
import { parseHostPort } from './settings';
import type { RemoteClusterSettings } from './settings';
import type { ApiKey, IndicesPrivileges, SecurityRealm } from './security';
import { wildcardMatch, INDEX_ACTIONS } from './security';
import type { IndexStore } from './search';
import { expandIndexPattern } from './search';
import {
  minimumWireCompatibilityVersion,
  minimumIndexCompatibilityVersion,
  wireCompatible,
  hasRemoteClusterSecurity,
  versionAtLeast,
} from './compat';
import { X509_FIELD_DNS_NAME, X509_FIELD_OTHER_NAME } from './nodeConfig';

export type License = 'basic' | 'gold' | 'platinum' | 'enterprise' | 'trial';

/** Licensed feature `advanced-remote-cluster-security` needs ENTERPRISE (or trial). */
export const licenseAllowsApiKeyModel = (l: License) => l === 'enterprise' || l === 'trial';

export interface RemoteFailure {
  status: number;
  type: string;
  reason: string;
  /** What the other side logs (read-back only). */
  remoteLog?: string;
}

/** Every failure text of the domain page §4, in one place. */
export const failures = {
  connectRefused: (alias: string, addr: string): RemoteFailure => ({
    status: 500,
    type: 'connect_transport_exception',
    reason: `failed to open any proxy connections to cluster [${alias}]: [][${addr}] connect_exception: Connection refused: /${addr}`,
  }),
  connectTimeout: (alias: string, addr: string, timeout: string): RemoteFailure => ({
    status: 500,
    type: 'connect_transport_exception',
    reason: `failed to open any proxy connections to cluster [${alias}]: [][${addr}] connect_timeout[${timeout}]`,
  }),
  unknownHost: (host: string): RemoteFailure => ({
    status: 400,
    type: 'illegal_argument_exception',
    reason: `unknown host [${host}]`,
  }),
  closedByRemote: (addr: string): RemoteFailure => ({
    status: 500,
    type: 'node_disconnected_exception',
    reason: `transport connection to [${addr}] closed by remote`,
  }),
  untrustedServer: (target: string, peer: PeerIdentity | undefined, detail: string): RemoteFailure => ({
    status: 500,
    type: 'connect_transport_exception',
    reason:
      `failed to establish trust with server at [${target}]; ` +
      (peer
        ? `the server provided a certificate with subject name [${peer.subject}] and subjectAltNames [${[
            ...peer.dnsNames.map((d) => `DNS:${d}`),
            ...peer.ipAddresses.map((i) => `IP:${i}`),
            ...peer.otherNameCommonNames.map((o) => `otherName:${o}`),
          ].join(', ')}] issued by [${peer.issuer}]; `
        : '') +
      detail,
    remoteLog: "client did not trust this server's certificate, closing connection",
  }),
  fatalAlert: (alert: string, remoteLog: string): RemoteFailure => ({
    status: 500,
    type: 'connect_transport_exception',
    reason: `Received fatal alert: ${alert}`,
    remoteLog,
  }),
  notTls: (addr: string): RemoteFailure => ({
    status: 500,
    type: 'connect_transport_exception',
    reason: `[][${addr}] general node connection failure: Unsupported or unrecognized SSL message`,
  }),
  missingCredentials: (): RemoteFailure => ({
    status: 401,
    type: 'security_exception',
    reason:
      'Cross cluster requests through the dedicated remote cluster server port require transport header [_cross_cluster_access_credentials] but none found. Make sure you have configured remote cluster credentials in the cluster settings.',
  }),
  wrongProfile: (): RemoteFailure => ({
    status: 500,
    type: 'illegal_argument_exception',
    reason: 'remote cluster handshake action requires channel profile to be [_remote_cluster], but got [default]',
  }),
  restKey: (id: string): RemoteFailure => ({
    status: 401,
    type: 'security_exception',
    reason: `authentication expected API key type of [cross_cluster], but API key [${id}] has type [rest]`,
  }),
  badKey: (id: string, remoteReason: string): RemoteFailure => ({
    status: 401,
    type: 'security_exception',
    reason: `unable to authenticate user [${id}] for action [cluster:internal/remote_cluster/handshake]`,
    remoteLog: `Authentication using apikey failed - ${remoteReason}`,
  }),
  license: (): RemoteFailure => ({
    status: 403,
    type: 'security_exception',
    reason: 'current license is non-compliant for [advanced-remote-cluster-security]',
  }),
  /** The side whose minimum wire version is not met rejects the other (TransportHandshaker). */
  incompatibleVersion: (remote: string, local: string): RemoteFailure => {
    const [older, newer] = versionAtLeast(local, minimumWireCompatibilityVersion(remote))
      ? [remote, local]
      : [local, remote];
    return {
      status: 500,
      type: 'illegal_state_exception',
      reason: `Received message from unsupported version: [${older}] minimal compatible version is: [${minimumWireCompatibilityVersion(newer)}]`,
    };
  },
  anonymousUnauthorized: (): RemoteFailure => ({
    status: 403,
    type: 'security_exception',
    reason:
      'action [cluster:internal/remote_cluster/handshake] is unauthorized for user [_anonymous] with effective roles [], this action is granted by the cluster privileges [cross_cluster_search,cross_cluster_replication,all]',
  }),
  noRemoteIndicesPrivileges: (action: string, alias: string, username: string, roles: string[]): RemoteFailure => ({
    status: 403,
    type: 'security_exception',
    reason: `action [${action}] towards remote cluster [${alias}] is unauthorized for user [${username}] with effective roles [${roles.join(',')}] because no remote indices privileges apply for the target cluster`,
  }),
  keyIntersectionUnauthorized: (
    action: string,
    username: string,
    roles: string[],
    key: ApiKey,
    indices: string[],
    privileges: readonly string[],
  ): RemoteFailure => ({
    status: 403,
    type: 'security_exception',
    reason: `action [${action}] towards remote cluster is unauthorized for user [${username}] with assigned roles [${roles.join(',')}] authenticated by API key id [${key.id}] of user [${key.username}] on indices [${indices.join(',')}], this action is granted by the index privileges [${privileges.join(',')}]`,
  }),
  tlsModelUnauthorized: (
    action: string,
    username: string,
    roles: string[],
    indices: string[],
    privileges: readonly string[],
  ): RemoteFailure => ({
    status: 403,
    type: 'security_exception',
    reason: `action [${action}] is unauthorized for user [${username}] with effective roles [${roles.join(',')}] on indices [${indices.join(',')}], this action is granted by the index privileges [${privileges.join(',')}]`,
  }),
  indexNotFound: (index: string): RemoteFailure => ({
    status: 404,
    type: 'index_not_found_exception',
    reason: `no such index [${index}]`,
  }),
  timeout: (): RemoteFailure => ({
    status: 500,
    type: 'receive_timeout_transport_exception',
    reason: 'Request timed out before receiving a response from the remote cluster',
  }),
};

/**
 * Where a remote failure happened. `connect`: while opening the connection (TCP, TLS, handshake); Elasticsearch's
 * proxy strategy then reports only "Unable to open any proxy connections" (a NoSeedNodeLeftException, or the
 * handshake's exception wrapped as a connect failure), and `_resolve/cluster` only `connected: false`.
 * `request`: a request over an open connection failed with the remote's (or the local interceptor's) exception.
 */
export type RemotePhase = 'connect' | 'request';

/** Types `ExceptionsHelper.isRemoteUnavailableException` counts as "cannot connect" (ConnectTransportException family). */
const UNAVAILABLE_TYPES = new Set([
  'connect_transport_exception',
  'node_disconnected_exception',
  'node_not_connected_exception',
  'no_seed_node_left_exception',
  'no_such_remote_cluster_exception',
]);

/** `ExceptionsHelper.isRemoteUnavailableException`, for a failure of the sandbox's remote connection. */
export function isRemoteUnavailable(e: RemoteError): boolean {
  if (e.phase === 'connect') return true;
  const { type, reason } = e.failure;
  if (UNAVAILABLE_TYPES.has(type)) return true;
  return (
    (type === 'illegal_state_exception' || type === 'illegal_argument_exception') &&
    /Unable to open any connections|unknown host/.test(reason)
  );
}

const JAVA_LANG: Record<string, string> = {
  illegal_argument_exception: 'java.lang.IllegalArgumentException',
  illegal_state_exception: 'java.lang.IllegalStateException',
};

/**
 * `Throwable.toString()` of the unwrapped cause, which `TransportResolveClusterAction` reports for failures it cannot
 * classify: `java.lang.X: message` for JDK exceptions, `SimpleName[message]` for Elasticsearch's own
 * (`ElasticsearchException.toString` → `ExceptionsHelper.detailedMessage`).
 */
export function causeToString(f: RemoteFailure): string {
  const jdk = JAVA_LANG[f.type];
  if (jdk) return `${jdk}: ${f.reason}`;
  const simple = f.type
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
  return `${simple}[${f.reason}]`;
}

export class RemoteError extends Error {
  constructor(
    readonly failure: RemoteFailure,
    readonly phase: RemotePhase = 'request',
  ) {
    super(failure.reason);
  }
  toEsError(): EsError {
    return new EsError(this.failure.status, this.failure.type, this.failure.reason);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Wire protocol: one JSON object per line.

type Frame = Record<string, unknown>;

class Channel {
  private buffer = '';
  private waiters = new Map<number, { resolve: (f: Frame) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  onFrame: (f: Frame) => void = () => {};
  closed = false;
  closeError?: Error;

  constructor(readonly socket: tls.TLSSocket | net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (!line.trim()) continue;
        let frame: Frame;
        try {
          frame = JSON.parse(line) as Frame;
        } catch {
          socket.destroy();
          return;
        }
        const id = typeof frame.replyTo === 'number' ? frame.replyTo : undefined;
        const waiter = id !== undefined ? this.waiters.get(id) : undefined;
        if (waiter && id !== undefined) {
          this.waiters.delete(id);
          waiter.resolve(frame);
        } else this.onFrame(frame);
      }
    });
    socket.on('error', (e) => (this.closeError ??= e));
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.values()) w.reject(this.closeError ?? new Error('closed'));
      this.waiters.clear();
    });
  }

  send(frame: Frame): void {
    if (!this.closed) this.socket.write(JSON.stringify(frame) + '\n');
  }

  request(frame: Frame, timeoutMs: number): Promise<Frame> {
    const id = this.nextId++;
    return new Promise<Frame>((resolve, reject) => {
      if (this.closed) return reject(this.closeError ?? new Error('closed'));
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new RemoteError(failures.timeout()));
      }, timeoutMs);
      this.waiters.set(id, {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send({ ...frame, id });
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Remote side: what a cluster exposes to others.

/** One handshake attempt as the receiving (remote) node saw it. */
export interface InboundEvent {
  profile: string;
  ok: boolean;
  apiKeyId?: string;
  peer?: string;
  reason?: string;
  remoteLog?: string;
}

export interface RemoteSideHost {
  clusterName: string;
  clusterUuid: string;
  version: string;
  license(): License;
  security: SecurityRealm;
  store: IndexStore;
  faults: FaultInjector;
  faultTarget: FaultTarget;
  /** Called after every handshake attempt (read-back and logs). */
  recordInbound(event: InboundEvent): void;
  /** Called for every authorised cross-cluster request with the key that authenticated it (read-back). */
  recordRequestKey?(apiKeyId: string): void;
}

type ChannelContext = { kind: 'api_key'; apiKey: ApiKey } | { kind: 'certificate'; peerNames: string[] };

export interface RemoteUser {
  username: string;
  roles: string[];
  /** API-key model: the caller's remote_indices that apply to this alias, one list per role set that must grant. */
  remoteIndices?: IndicesPrivileges[][];
}

/** Patterns of a trust-restrictions-style check against a peer certificate's names. */
export function namesForFields(peer: PeerIdentity, fields: string[]): string[] {
  return [
    ...(fields.includes(X509_FIELD_OTHER_NAME) ? peer.otherNameCommonNames : []),
    ...(fields.includes(X509_FIELD_DNS_NAME) ? peer.dnsNames : []),
  ];
}

export interface ListenerTls {
  certPem: string;
  keyPem: string;
  /** Transport profile: client certificates are required and verified against these CAs. */
  clientCas?: string[];
  trustRestrictions?: string[];
  x509Fields?: string[];
  /** false = a plain TCP listener (xpack.security.remote_cluster_server.ssl.enabled: false). */
  ssl?: boolean;
  /**
   * Several nodes behind this one address (self-managed, `nodes` > 1): each accepted connection is served by the next
   * node in turn, with that node's own certificate, as a load balancer in front of every node spreads them.
   */
  nodeCertificates?: { certPem: string; keyPem: string }[];
}

/** A listener that is bound to a fixed port only while enabled (connections are refused otherwise). */
/** The kernel's range for outgoing connections' local ports (Linux; elsewhere the usual IANA range). */
function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = fs
      .readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high) return [low, high];
  } catch {
    // not Linux
  }
  return [49152, 65535];
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

export class RemoteListener {
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  private nodeContexts?: tls.SecureContextOptions[];
  private nextNode = 0;
  port = 0;

  constructor(
    private readonly host: RemoteSideHost,
    readonly profile: '_remote_cluster' | 'default',
    private readonly bindHost = '127.0.0.1',
  ) {}

  /**
   * Pick a free port once, so the address is stable across restarts and disable/enable. Below the kernel's ephemeral
   * range: the port is free between this probe and the listen (and while the listener is stopped), and a port of the
   * ephemeral range would be taken meanwhile by some outgoing connection's local end (ECH's 18 sockets per alias
   * make thousands of them in a test run: EADDRINUSE at start).
   */
  async reservePort(fixed?: number): Promise<number> {
    if (fixed) return (this.port = fixed);
    const [low] = ephemeralPortRange();
    const lowest = 10_000;
    for (let attempt = 0; attempt < 100 && low > lowest + 1000; attempt++) {
      const port = lowest + Math.floor(Math.random() * (low - lowest));
      if (await canListen(port, this.bindHost)) return (this.port = port);
    }
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, this.bindHost, r));
    this.port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    return this.port;
  }

  get listening(): boolean {
    return !!this.server;
  }

  async start(config: ListenerTls): Promise<void> {
    await this.stop();
    const onConnection = (socket: net.Socket) => this.accept(socket, config);
    this.nodeContexts =
      config.ssl !== false && (config.nodeCertificates?.length ?? 0) > 1
        ? config.nodeCertificates!.map((c) => ({
            key: c.keyPem,
            cert: c.certPem,
            ...(this.profile === 'default' ? { ca: config.clientCas } : {}),
          }))
        : undefined;
    this.nextNode = 0;
    let server: net.Server;
    if (config.ssl === false) {
      server = net.createServer(onConnection);
    } else if (this.profile === 'default') {
      // Transport: mutual TLS; the TLS layer itself rejects clients without a certificate from a trusted CA.
      server = tls.createServer(
        { key: config.keyPem, cert: config.certPem, ca: config.clientCas, requestCert: true, rejectUnauthorized: true },
        onConnection,
      );
      server.on('tlsClientError', (err: Error & { code?: string }) =>
        this.host.recordInbound({
          profile: this.profile,
          ok: false,
          reason:
            err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'
              ? 'Empty client certificate chain'
              : `client certificate rejected: ${err.message}`,
        }),
      );
    } else {
      server = tls.createServer({ key: config.keyPem, cert: config.certPem }, onConnection);
    }
    // The self-managed listeners take socket-level faults at accept, before any TLS (src/sandbox/faults.ts).
    const socketTarget: SocketFaultTarget | undefined =
      this.host.faultTarget === 'self-managed'
        ? this.profile === 'default'
          ? 'transport'
          : 'remote-cluster-server'
        : undefined;
    const listening = socketTarget ? net.createServer((s) => this.admit(s, server, socketTarget)) : server;
    listening.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(this.port, this.bindHost, () => resolve());
    });
    this.server = listening;
  }

  /** A socket fault decided at accept: reset (RST), hang (held, never answered), or handed to TLS after the latency. */
  private admit(socket: net.Socket, server: net.Server, target: SocketFaultTarget): void {
    const path = this.profile === 'default' ? '/_transport' : '/_remote_cluster';
    const decision = this.host.faults.decide(target, 'ACCEPT', path);
    socket.on('error', () => undefined);
    if (decision.kind === 'hang') return; // destroyed when the listener stops
    if (decision.kind === 'reset' || decision.kind === 'status') {
      socket.resetAndDestroy();
      return;
    }
    const handOver = () => {
      if (socket.destroyed) return;
      // The next node serves this connection: its certificate is the one the TLS handshake presents.
      if (this.nodeContexts && server instanceof tls.Server) {
        server.setSecureContext(this.nodeContexts[this.nextNode++ % this.nodeContexts.length]!);
      }
      server.emit('connection', socket);
    };
    if (decision.delayMs > 0) setTimeout(handOver, decision.delayMs);
    else handOver();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((r) => server.close(() => r()));
  }

  private accept(socket: net.Socket, config: ListenerTls): void {
    const decision = this.host.faults.decide(
      this.host.faultTarget,
      'CONNECT',
      this.profile === 'default' ? '/_transport' : '/_remote_cluster',
    );
    if (decision.kind === 'hang') return;
    if (decision.kind === 'reset' || decision.kind === 'status') {
      socket.destroy();
      return;
    }
    const channel = new Channel(socket);
    let context: ChannelContext | undefined;
    if (this.profile === 'default' && socket instanceof tls.TLSSocket) {
      const peer = peerIdentity(socket.getPeerCertificate().raw);
      const names = namesForFields(peer, config.x509Fields ?? [X509_FIELD_OTHER_NAME]);
      if (config.trustRestrictions && !names.some((n) => config.trustRestrictions!.some((p) => wildcardMatch(p, n)))) {
        // ES's restricted trust manager fails the handshake; the client sees certificate_unknown.
        const reason = `Certificate for ${peer.subject} with names [${names.join(', ')}] does not match trust restrictions [${config.trustRestrictions.join(', ')}]`;
        this.host.recordInbound({ profile: this.profile, ok: false, peer: peer.subject, reason });
        channel.send({ type: 'alert', alert: 'certificate_unknown', remoteLog: reason });
        socket.end();
        return;
      }
      context = { kind: 'certificate', peerNames: names };
    }
    channel.onFrame = (frame) => {
      void (async () => {
        await delay(decision.kind === 'pass' ? decision.delayMs : 0);
        const reply = (body: Frame) => channel.send({ replyTo: frame.id, ...body });
        try {
          if (frame.type === 'handshake') {
            context = this.handshake(frame, context);
            const apiKeyId = context.kind === 'api_key' ? context.apiKey.id : undefined;
            this.host.recordInbound({ profile: this.profile, ok: true, ...(apiKeyId ? { apiKeyId } : {}) });
            reply({
              ok: true,
              cluster_name: this.host.clusterName,
              cluster_uuid: this.host.clusterUuid,
              version: this.host.version,
              ...(apiKeyId ? { apiKeyId } : {}),
            });
            return;
          }
          if (!context || (context.kind === 'certificate' && frame.type !== 'search' && frame.type !== 'resolve')) {
            throw new RemoteError(failures.anonymousUnauthorized());
          }
          reply({ ok: true, result: this.execute(frame, context) });
        } catch (e) {
          const failure = e instanceof RemoteError ? e.failure : { status: 500, type: 'exception', reason: String(e) };
          if (frame.type === 'handshake') {
            this.host.recordInbound({
              profile: this.profile,
              ok: false,
              reason: failure.reason,
              ...(failure.remoteLog ? { remoteLog: failure.remoteLog } : {}),
            });
          }
          reply({ ok: false, error: failure });
        }
      })();
    };
  }

  private handshake(frame: Frame, context: ChannelContext | undefined): ChannelContext {
    const credentials = typeof frame.credentials === 'string' ? frame.credentials : undefined;
    if (this.profile === 'default') {
      if (credentials) throw new RemoteError(failures.wrongProfile());
      const localVersion = String(frame.version ?? '');
      if (!wireCompatible(this.host.version, localVersion))
        throw new RemoteError(failures.incompatibleVersion(this.host.version, localVersion));
      return context ?? { kind: 'certificate', peerNames: [] };
    }
    if (!credentials) throw new RemoteError(failures.missingCredentials());
    if (!licenseAllowsApiKeyModel(this.host.license())) throw new RemoteError(failures.license());
    const verified = this.host.security.verifyApiKey(credentials);
    if ('failure' in verified) throw new RemoteError(failures.badKey(verified.id ?? '<unknown>', verified.failure));
    if (verified.apiKey.type !== 'cross_cluster') throw new RemoteError(failures.restKey(verified.apiKey.id));
    return { kind: 'api_key', apiKey: verified.apiKey };
  }

  /** Authorize and run a cross-cluster request on this (remote) cluster. */
  private execute(frame: Frame, context: ChannelContext): unknown {
    // Re-check the key on every request: an invalidated or expired key stops working on open connections too. The
    // request's own credential (ES sends it with every cross-cluster request) is the one authenticated.
    if (context.kind === 'api_key') {
      if (typeof frame.credentials === 'string') {
        const verified = this.host.security.verifyApiKey(frame.credentials);
        if ('failure' in verified) throw new RemoteError(failures.badKey(verified.id ?? '<unknown>', verified.failure));
        if (verified.apiKey.type !== 'cross_cluster') throw new RemoteError(failures.restKey(verified.apiKey.id));
        context = { kind: 'api_key', apiKey: verified.apiKey };
      }
      const current = this.host.security.apiKeys.get(context.apiKey.id);
      if (!current || current.invalidated || (current.expiration !== undefined && current.expiration <= Date.now())) {
        throw new RemoteError(
          failures.badKey(
            context.apiKey.id,
            current?.invalidated ? 'api key has been invalidated' : 'api key is expired',
          ),
        );
      }
      if (!licenseAllowsApiKeyModel(this.host.license())) throw new RemoteError(failures.license());
      context = { kind: 'api_key', apiKey: current };
      this.host.recordRequestKey?.(current.id);
    }
    const user = frame.user as RemoteUser;
    const expression = (frame.indices as string[]) ?? [];
    const action = frame.type === 'resolve' ? 'resolve' : 'search';
    const [actionName, privileges] = INDEX_ACTIONS[action];
    const privilege = action === 'resolve' ? 'view_index_metadata' : 'read';
    const allowed = (index: string): { ok: boolean; dls: unknown[] } =>
      this.authorizeIndex(context, user, index, privilege);
    const names = [...this.host.store.indices.keys()].sort();
    const concrete = new Set<string>();
    const denied: string[] = [];
    const missing: string[] = [];
    for (const entry of expression) {
      if (entry.startsWith('-')) {
        for (const n of expandIndexPattern(entry.slice(1), names)) concrete.delete(n);
        continue;
      }
      const wildcard = entry.includes('*') || entry.includes('?');
      if (wildcard) {
        // Wildcards silently expand to authorized indices only, as Elasticsearch does.
        for (const n of expandIndexPattern(entry, names)) if (allowed(n).ok) concrete.add(n);
      } else if (!allowed(entry).ok) denied.push(entry);
      else if (!names.includes(entry)) {
        if (action === 'search') throw new RemoteError(failures.indexNotFound(entry));
        missing.push(entry);
      } else concrete.add(entry);
    }
    if (denied.length) {
      throw new RemoteError(
        context.kind === 'api_key'
          ? failures.keyIntersectionUnauthorized(
              actionName,
              user.username,
              user.roles,
              context.apiKey,
              denied,
              privileges,
            )
          : failures.tlsModelUnauthorized(actionName, user.username, user.roles, denied, privileges),
      );
    }
    if (action === 'resolve') {
      // A concrete name that does not exist: the remote's own entry is `{connected: true, error: "no such index [x]"}`
      // (TransportResolveClusterAction catches the IndexNotFoundException of hasMatchingIndices).
      if (missing.length) return { error: failures.indexNotFound(missing[0]!).reason };
      return {
        matching_indices: concrete.size > 0,
        version: {
          number: this.host.version,
          build_flavor: 'default',
          minimum_wire_compatibility_version: minimumWireCompatibilityVersion(this.host.version),
          minimum_index_compatibility_version: minimumIndexCompatibilityVersion(this.host.version),
        },
      };
    }
    const body = (frame.body as Record<string, unknown> | undefined) ?? {};
    const hits: unknown[] = [];
    let total = 0;
    for (const index of concrete) {
      const { dls } = allowed(index);
      const r = this.host.store.search([index], { ...body, from: 0, size: 10_000 }, dls);
      total += r.total;
      hits.push(...r.hits);
    }
    return { total, hits, shards: concrete.size };
  }

  private authorizeIndex(
    context: ChannelContext,
    user: RemoteUser,
    index: string,
    privilege: string,
  ): { ok: boolean; dls: unknown[] } {
    const grants = (p: IndicesPrivileges) =>
      p.names.some((n) => wildcardMatch(n, index)) &&
      p.privileges.some(
        (held) => held === privilege || held === 'all' || (privilege === 'view_index_metadata' && held === 'manage'),
      );
    if (context.kind === 'api_key') {
      const keyIndices = Object.values(context.apiKey.role_descriptors).flatMap((d) => d.indices ?? []);
      const keyGrant = keyIndices.filter(grants);
      if (keyGrant.length === 0) return { ok: false, dls: [] };
      const dls: unknown[] = [];
      // DLS of the key: a document is visible if any granting entry's query matches (no query = all).
      if (keyGrant.every((g) => g.query !== undefined))
        dls.push({ bool: { should: keyGrant.map((g) => parseQuery(g.query)) } });
      for (const set of user.remoteIndices ?? [[]]) {
        const userGrant = set.filter(grants);
        if (userGrant.length === 0) return { ok: false, dls: [] };
        if (userGrant.every((g) => g.query !== undefined))
          dls.push({ bool: { should: userGrant.map((g) => parseQuery(g.query)) } });
      }
      return { ok: true, dls };
    }
    const roles = user.roles.map((r) => this.host.security.roleDescriptor(r)).filter((r) => !!r);
    const grant = roles.flatMap((r) => r!.indices ?? []).filter(grants);
    return {
      ok: grant.length > 0,
      dls:
        grant.length && grant.every((g) => g.query !== undefined)
          ? [{ bool: { should: grant.map((g) => parseQuery(g.query)) } }]
          : [],
    };
  }
}

function parseQuery(q: unknown): unknown {
  if (typeof q === 'string') return JSON.parse(q) as unknown;
  return q;
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

// ---------------------------------------------------------------------------------------------------------------
// Local side: outbound connections of the cluster that searches (ECH).

export interface LocalSideHost {
  alias?: never;
  version: string;
  license(): License;
  /** CAs the remote cluster client trusts (API-key model): public roots + trusted environments' CAs. */
  remoteClusterClientCas(): string[];
  /** Transport trust (certificate model): own transport CA + trusted environments' CAs, node-name patterns, fields. */
  transportTrust(): { cas: string[]; nodeNamePatterns: string[]; x509Fields: string[] };
  /** The node's transport certificate (Cloud-pattern otherName), presented in the certificate model. */
  transportCertificate(): { certPem: string; keyPem: string };
  /** Effective keystore credential for an alias (cluster.remote.<alias>.credentials). */
  credentials(alias: string): string | undefined;
  /** Static host resolution (the sandbox never asks real DNS). */
  resolveHost(host: string): string | undefined;
  recordOutbound(event: { alias: string; ok: boolean; apiKeyId?: string; reason?: string }): void;
}

export interface RemoteClusterInfo {
  clusterName: string;
  clusterUuid: string;
  version: string;
}

const TRUST_ERROR_DETAIL: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    'the certificate is issued by a CA that is not trusted by this node; PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    'the certificate is issued by a CA that is not trusted by this node; PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target',
  SELF_SIGNED_CERT_IN_CHAIN:
    'the certificate chain ends in a self-signed CA that is not trusted by this node; PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target',
  DEPTH_ZERO_SELF_SIGNED_CERT:
    'the certificate is self-signed and not trusted by this node; PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target',
  CERT_HAS_EXPIRED:
    'the certificate is expired; PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed',
  CERT_NOT_YET_VALID:
    'the certificate is not yet valid; PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed',
};

export class RemoteConnection {
  private channels: Channel[] = [];
  private next = 0;
  private connecting?: Promise<void>;
  lastFailure?: RemoteFailure;
  remote?: RemoteClusterInfo;
  authenticatedApiKeyId?: string;
  private closedByUs = false;

  constructor(
    /** Replaced in place when only skip_unavailable changes (no rebuild, as RemoteClusterService does). */
    public settings: RemoteClusterSettings,
    private readonly local: LocalSideHost,
    /** The keystore credential; replaced in place on a reload that keeps the alias on the API-key model. */
    public credentials: string | undefined,
  ) {}

  get alias(): string {
    return this.settings.alias;
  }
  get connectedSockets(): number {
    return this.channels.filter((c) => !c.closed).length;
  }
  get connected(): boolean {
    return this.connectedSockets > 0;
  }
  get address(): string {
    return this.settings.mode === 'proxy' ? (this.settings.proxyAddress ?? '') : (this.settings.seeds[0] ?? '');
  }

  /** The address as ES prints a resolved TransportAddress (`ip:port`), or as configured when it does not resolve. */
  resolvedAddress(): string {
    try {
      const { host, port } = parseHostPort(this.address);
      const ip = net.isIP(host) ? host : this.local.resolveHost(host);
      return ip ? `${ip}:${port}` : this.address;
    } catch {
      return this.address;
    }
  }

  /** Open the connection (all proxy sockets). Resolves even on failure; the failure is kept in lastFailure. */
  connect(timeoutMs = 30_000): Promise<void> {
    this.connecting ??= this.doConnect(timeoutMs).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async ensureConnected(timeoutMs = 30_000): Promise<void> {
    if (!this.connected) await this.connect(timeoutMs);
    if (!this.connected) throw new RemoteError(this.lastFailure ?? failures.closedByRemote(this.address), 'connect');
  }

  private async doConnect(timeoutMs: number): Promise<void> {
    this.closedByUs = false;
    const wanted =
      this.settings.mode === 'proxy' ? this.settings.proxySocketConnections : this.settings.nodeConnections;
    try {
      const first = await this.openChannel(timeoutMs);
      this.channels = this.channels.filter((c) => !c.closed);
      this.channels.push(first);
      const rest = await Promise.allSettled(
        Array.from({ length: Math.max(0, wanted - this.connectedSockets) }, () => this.openChannel(timeoutMs)),
      );
      for (const r of rest) if (r.status === 'fulfilled') this.channels.push(r.value);
      this.lastFailure = undefined;
      this.local.recordOutbound({
        alias: this.alias,
        ok: true,
        ...(this.authenticatedApiKeyId ? { apiKeyId: this.authenticatedApiKeyId } : {}),
      });
    } catch (e) {
      this.lastFailure = e instanceof RemoteError ? e.failure : { status: 500, type: 'exception', reason: String(e) };
      this.local.recordOutbound({ alias: this.alias, ok: false, reason: this.lastFailure.reason });
    }
  }

  private async openChannel(timeoutMs: number): Promise<Channel> {
    const { host, port } = parseHostPort(this.address);
    const ip = net.isIP(host) ? host : this.local.resolveHost(host);
    if (!ip) throw new RemoteError(failures.unknownHost(host));
    const addr = `${ip}:${port}`;
    const apiKeyModel = this.credentials !== undefined;
    const serverName = this.settings.serverName ?? (net.isIP(host) ? undefined : host);
    const verifyName = serverName ?? host;
    const transportTrust = this.local.transportTrust();
    let peer: PeerIdentity | undefined;
    let nodeNameMismatch: string | undefined;
    const options: tls.ConnectionOptions = apiKeyModel
      ? {
          host: ip,
          port,
          ca: this.local.remoteClusterClientCas(),
          ...(serverName ? { servername: serverName } : {}),
          checkServerIdentity: (_name, cert) => {
            peer = peerIdentity(cert.raw);
            return tls.checkServerIdentity(verifyName, cert);
          },
        }
      : {
          host: ip,
          port,
          ca: transportTrust.cas,
          ...(this.local.transportCertificate().certPem
            ? { cert: this.local.transportCertificate().certPem, key: this.local.transportCertificate().keyPem }
            : {}),
          ...(serverName ? { servername: serverName } : {}),
          // Certificate model: the chain is verified against the transport CAs; instead of a host name, the peer's
          // node names must match the trusted environments (verification_mode: certificate + trust restrictions).
          checkServerIdentity: (_name, cert) => {
            peer = peerIdentity(cert.raw);
            const names = namesForFields(peer, transportTrust.x509Fields);
            if (names.some((n) => transportTrust.nodeNamePatterns.some((p) => wildcardMatch(p, n)))) return undefined;
            nodeNameMismatch = `the certificate names [${names.join(', ')}] do not match any trusted node name [${transportTrust.nodeNamePatterns.join(', ')}]; certificate_unknown`;
            return new Error(nodeNameMismatch);
          },
        };
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect(options);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new RemoteError(failures.connectTimeout(this.alias, addr, `${Math.round(timeoutMs / 1000)}s`)));
      }, timeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err: Error & { code?: string }) => {
        clearTimeout(timer);
        reject(new RemoteError(this.mapTlsError(err, addr, verifyName, peer, nodeNameMismatch)));
      });
    });
    const channel = new Channel(socket);
    channel.onFrame = (frame) => {
      if (frame.type === 'alert') {
        channel.closeError = Object.assign(new Error(String(frame.alert)), {
          alert: frame.alert,
          remoteLog: frame.remoteLog,
        });
      }
    };
    let reply: Frame;
    try {
      reply = await channel.request(
        {
          type: 'handshake',
          version: this.local.version,
          ...(this.credentials ? { credentials: this.credentials } : {}),
        },
        timeoutMs,
      );
    } catch (e) {
      socket.destroy();
      if (e instanceof RemoteError) throw e;
      if (!apiKeyModel && !channel.closeError) {
        // Node's TLS server drops a client whose certificate it does not trust without sending an alert; Elasticsearch's
        // client would report the alert, so say what it would say.
        throw new RemoteError(
          failures.fatalAlert('certificate_unknown', 'client certificate is not trusted by the transport CAs'),
        );
      }
      throw new RemoteError(
        this.mapTlsError(channel.closeError ?? (e as Error), addr, verifyName, peer, nodeNameMismatch),
      );
    }
    if (!reply.ok) {
      socket.destroy();
      throw new RemoteError(reply.error as RemoteFailure);
    }
    this.remote = {
      clusterName: String(reply.cluster_name),
      clusterUuid: String(reply.cluster_uuid),
      version: String(reply.version),
    };
    if (typeof reply.apiKeyId === 'string') this.authenticatedApiKeyId = reply.apiKeyId;
    socket.on('close', () => {
      // No background reconnect: _remote/info stays as stale as Elasticsearch's until a request reconnects.
      if (!this.closedByUs && this.connectedSockets === 0) this.lastFailure = failures.closedByRemote(addr);
    });
    return channel;
  }

  private mapTlsError(
    err: Error & { code?: string; alert?: unknown; remoteLog?: unknown },
    addr: string,
    target: string,
    peer: PeerIdentity | undefined,
    nodeNameMismatch: string | undefined,
  ): RemoteFailure {
    const code = err.code ?? '';
    if (typeof err.alert === 'string') return failures.fatalAlert(err.alert, String(err.remoteLog ?? ''));
    if (code === 'ECONNREFUSED') return failures.connectRefused(this.alias, addr);
    if (nodeNameMismatch) return failures.untrustedServer(target, peer, nodeNameMismatch);
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return failures.untrustedServer(
        target,
        peer,
        `the certificate does not have any subject alternative names that match the server name; No subject alternative DNS name matching ${target} found.`,
      );
    }
    const detail = TRUST_ERROR_DETAIL[code];
    if (detail) return failures.untrustedServer(target, peer, detail);
    if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || code === 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE') {
      return failures.fatalAlert('bad_certificate', 'Empty client certificate chain');
    }
    if (code.includes('ALERT_UNKNOWN_CA') || code.includes('CERTIFICATE_UNKNOWN'))
      return failures.fatalAlert('certificate_unknown', 'client certificate is not trusted');
    if (code === 'EPROTO' || code.includes('WRONG_VERSION_NUMBER') || code.includes('PACKET_LENGTH_TOO_LONG'))
      return failures.notTls(addr);
    if (code === 'ECONNRESET' || err.message === 'closed') return failures.closedByRemote(addr);
    return {
      status: 500,
      type: 'connect_transport_exception',
      reason: `[][${addr}] connect_exception: ${err.message}`,
    };
  }

  /** Send a search/resolve request over an open socket (connecting first if needed). */
  async request(type: 'search' | 'resolve', payload: Frame, timeoutMs = 30_000): Promise<unknown> {
    await this.ensureConnected(timeoutMs);
    // The local security interceptor refuses to send a request with cross-cluster credentials below Enterprise
    // (SecurityServerTransportInterceptor): a security exception on an open connection, not a connect failure.
    if (this.credentials !== undefined && !licenseAllowsApiKeyModel(this.local.license()))
      throw new RemoteError(failures.license());
    const open = this.channels.filter((c) => !c.closed);
    const channel = open[this.next++ % open.length]!;
    let reply: Frame;
    try {
      // The credential travels with each request (as in ES's cross-cluster access header), so a reloaded key is used
      // from the next request on without rebuilding the connection.
      reply = await channel.request(
        { type, ...payload, ...(this.credentials ? { credentials: this.credentials } : {}) },
        timeoutMs,
      );
    } catch (e) {
      if (e instanceof RemoteError) throw e;
      throw new RemoteError(failures.closedByRemote(this.address), 'connect');
    }
    if (!reply.ok) throw new RemoteError(reply.error as RemoteFailure);
    return reply.result;
  }

  close(): void {
    this.closedByUs = true;
    for (const c of this.channels) c.socket.destroy();
    this.channels = [];
  }

  /** One `_remote/info` entry. */
  info(initialConnectTimeout: string): Record<string, unknown> {
    const s = this.settings;
    if (s.mode === 'sniff') {
      return {
        connected: this.connected,
        mode: 'sniff',
        seeds: s.seeds,
        num_nodes_connected: this.connected ? 1 : 0,
        max_connections_per_cluster: s.nodeConnections,
        initial_connect_timeout: initialConnectTimeout,
        skip_unavailable: s.skipUnavailable,
        ...(this.credentials !== undefined ? { cluster_credentials: '::es_redacted::' } : {}),
      };
    }
    return {
      connected: this.connected,
      mode: 'proxy',
      proxy_address: s.proxyAddress,
      server_name: s.serverName ?? '',
      num_proxy_sockets_connected: this.connectedSockets,
      max_proxy_socket_connections: s.proxySocketConnections,
      initial_connect_timeout: initialConnectTimeout,
      skip_unavailable: s.skipUnavailable,
      ...(this.credentials !== undefined ? { cluster_credentials: '::es_redacted::' } : {}),
    };
  }
}

/** All outbound remote connections of a local cluster, kept in step with its settings and keystore. */
export class RemoteClusters {
  readonly connections = new Map<string, RemoteConnection>();

  constructor(private readonly local: LocalSideHost) {}

  /** Rebuild connections for changed aliases and drop removed ones; waits (≤10 s, like ES's settings applier) for connects. */
  async sync(remotes: RemoteClusterSettings[], changed: string[]): Promise<void> {
    const wanted = new Map(remotes.map((r) => [r.alias, r]));
    const toConnect: RemoteConnection[] = [];
    for (const [alias, conn] of this.connections) {
      if (!wanted.has(alias) || changed.includes(alias)) {
        conn.close();
        this.connections.delete(alias);
      }
    }
    for (const [alias, settings] of wanted) {
      const open = this.connections.get(alias);
      if (open) {
        open.settings = settings; // e.g. skip_unavailable, updated on the live connection
        continue;
      }
      const credentials = hasRemoteClusterSecurity(this.local.version) ? this.local.credentials(alias) : undefined;
      const conn = new RemoteConnection(settings, this.local, credentials);
      this.connections.set(alias, conn);
      toConnect.push(conn);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(toConnect.map((c) => c.connect())),
      new Promise<void>((r) => (timer = setTimeout(r, 10_000))),
    ]);
    clearTimeout(timer);
  }

  /**
   * Keystore credentials changed (reload). As in ES (RemoteClusterService.updateRemoteClusterCredentials): only aliases
   * that gain or lose credentials are rebuilt; an alias whose credential is replaced keeps its connection and sends
   * the new credential from the next request on (domain page §4c; RemoteClusterSecurityReloadCredentialsRestIT).
   */
  async credentialsChanged(aliases: string[], remotes: RemoteClusterSettings[]): Promise<void> {
    const rebuild: string[] = [];
    for (const alias of aliases) {
      const conn = this.connections.get(alias);
      if (!conn) continue;
      const now = hasRemoteClusterSecurity(this.local.version) ? this.local.credentials(alias) : undefined;
      if (conn.credentials !== undefined && now !== undefined) conn.credentials = now;
      else rebuild.push(alias);
    }
    await this.sync(remotes, rebuild);
  }

  closeAll(): void {
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }
}
