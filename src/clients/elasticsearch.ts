/**
 * A version-aware Elasticsearch client factory.
 *
 * `@elastic/elasticsearch` 9.x hard-codes its REST-compatibility headers (`compatible-with=9`) and hands them to the
 * transport as `vendoredHeaders` (lib/client.js); every 8.x server rejects them (400 media_type_header_exception).
 * So a cluster is first asked `GET /` with plain `application/json` (accepted by every version), and then a client is
 * built whose transport uses `compatible-with=<major the cluster reported>`. The override is a Transport subclass
 * (passed as the client's `Transport` option) that replaces `vendoredHeaders` in its constructor: the transport then
 * uses them exactly where it would have used the 9.x ones (JSON bodies, NDJSON bodies, Accept, empty bodies), and
 * per-request headers still win.
 *
 * TLS verification is never disabled: a cluster's own CA (`caPem`) is passed explicitly; otherwise the process trust
 * applies (Node's default roots plus NODE_EXTRA_CA_CERTS). Tests inject extra trusted CAs through the factory deps.
 */
import crypto from 'node:crypto';
import tls from 'node:tls';
import { Client, SniffingTransport, errors, type BaseConnection } from '@elastic/elasticsearch';
import type { TransportOptions, TransportRequestOptions, TransportRequestParams } from '@elastic/elasticsearch';
import { redact, registerSecret, resolveTargetCredentials, type Credentials } from '../activities/secrets';
import type { EsTarget } from '../activities/types';
import {
  FAILURE_TYPES,
  httpFailure,
  isRetryableFailure,
  networkFailure,
  parseRetryAfter,
  permanent,
  requestedRetryDelayMs,
  originOf,
  type ExternalSystem,
} from './errors';

export interface VendoredHeaders {
  jsonContentType: string;
  ndjsonContentType: string;
  accept: string;
}

/** Plain media types: every Elasticsearch version accepts them (used for the version discovery call). */
export const PLAIN_HEADERS: VendoredHeaders = {
  jsonContentType: 'application/json',
  ndjsonContentType: 'application/x-ndjson',
  accept: 'application/json, text/plain',
};

/** Major version of an Elasticsearch version string ("8.17.2" → 8, "9.1.0-SNAPSHOT" → 9). */
export function majorOf(version: string): number {
  const m = /^(\d+)\./.exec(version.trim());
  if (!m) throw new Error(`not an Elasticsearch version: "${version}"`);
  return Number(m[1]);
}

/**
 * The REST-compatibility headers for a cluster of the given version: `compatible-with=<its own major>` (7 for 7.17,
 * 8 for 8.x, 9 for 9.x). A cluster always accepts its own major (and the previous one), so requests and responses
 * are in the cluster's native format. The one place to change if a cluster ever needs something else.
 */
export function compatibilityHeaders(version: string): VendoredHeaders {
  const major = majorOf(version);
  if (major < 7) return PLAIN_HEADERS; // no vendored media types before 7.x REST compatibility
  return {
    jsonContentType: `application/vnd.elasticsearch+json; compatible-with=${major}`,
    ndjsonContentType: `application/vnd.elasticsearch+x-ndjson; compatible-with=${major}`,
    accept: `application/vnd.elasticsearch+json; compatible-with=${major},text/plain`,
  };
}

/** A Transport class that sends the given vendored headers instead of the client's built-in `compatible-with=9`. */
export function transportWithHeaders(headers: VendoredHeaders): typeof SniffingTransport {
  return class CompatibilityTransport extends SniffingTransport {
    constructor(opts: TransportOptions) {
      super({ ...opts, vendoredHeaders: { ...headers } });
    }
  };
}

export interface ElasticsearchClientDeps {
  /**
   * The credentials for a target (default: its secret, only where the worker's bindings allow that target's URL;
   * an ECH target needs `echEndpoint` to learn the deployment's reported endpoint).
   */
  credentialsFor?: (target: EsTarget) => Promise<Credentials>;
  /**
   * Extra trusted CA PEMs added to the default roots when a target has no `caPem`: what NODE_EXTRA_CA_CERTS does for
   * a real worker, injectable because tests cannot set that variable after the process started.
   */
  extraCaPems?: string[];
  /** Connection class for the transport (tests may pass HttpConnection or a mock). Default: the client's own. */
  Connection?: typeof BaseConnection;
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number;
  /**
   * Clients kept per target for reuse across activities (keep-alive connections, no `GET /` each time); 0 = a new
   * client per call. Default 32.
   */
  poolSize?: number;
  /** A pooled client unused this long is closed (default 60 s). */
  poolIdleMs?: number;
}

export interface EsConnection {
  client: Client;
  /**
   * Version the cluster reported (`GET /` → version.number) or the target's known version; undefined when the
   * credentials may not call `GET /` (it needs the `monitor` cluster privilege): the client then speaks plain
   * `application/json`, which every version accepts.
   */
  version?: string;
  major?: number;
  clusterName?: string;
  clusterUuid?: string;
  system: ExternalSystem;
  /** The cluster's URL (origin only), named in connection errors. */
  url: string;
  /** Whether the credentials are an API key (never the secret itself). */
  authKind: 'basic' | 'api-key';
  headers: VendoredHeaders;
  /** Send one request; failures are classified (retryable transient, non-retryable typed permanent). */
  request<T = unknown>(
    operation: string,
    params: TransportRequestParams,
    options?: TransportRequestOptions,
  ): Promise<T>;
  /** Like `request`, but returns the status and body for statuses in `ignore` (e.g. 404) instead of throwing. */
  requestWithStatus<T = unknown>(
    operation: string,
    params: TransportRequestParams,
    ignore: number[],
  ): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export interface ElasticsearchClientFactory {
  /** `GET /` with plain headers, then a client speaking the cluster's major. */
  connect(target: EsTarget): Promise<EsConnection>;
}

export function systemOf(target: EsTarget): ExternalSystem {
  return target.side === 'ech' ? 'ech-elasticsearch' : 'self-managed-elasticsearch';
}

/** Classify anything the client throws: ResponseError → httpFailure (with ES error.type/reason), network → networkFailure. */
export function classifyElasticsearchError(
  system: ExternalSystem,
  operation: string,
  err: unknown,
  /** The cluster's URL, named when the connection fails. */
  url?: string,
): Error {
  if (err instanceof errors.ResponseError) {
    const status = err.meta?.statusCode ?? err.statusCode ?? 0;
    const { type, reason } = elasticsearchErrorOf(err.body);
    const retryAfter = err.meta?.headers?.['retry-after'];
    return httpFailure({
      system,
      operation,
      status,
      reason: type ? `${type}: ${reason}` : reason,
      errorType: type,
      retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
    });
  }
  if (err instanceof errors.ProductNotSupportedError) {
    return permanent(
      FAILURE_TYPES.validation,
      `${operation}: the server at this URL did not identify itself as Elasticsearch (no "x-elastic-product: Elasticsearch" header)` +
        ' → check the URL (is it Kibana, a proxy, or a load balancer page?)',
    );
  }
  if (
    err instanceof errors.ConnectionError ||
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoLivingConnectionsError ||
    err instanceof errors.RequestAbortedError
  ) {
    return networkFailure(system, operation, err, url);
  }
  if (err instanceof errors.DeserializationError) {
    return permanent(FAILURE_TYPES.validation, `${operation}: the response was not valid JSON: ${redact(err.message)}`);
  }
  return networkFailure(system, operation, err, url);
}

/** `{error:{type,reason,caused_by}}`, `{error:"text"}` or raw text → type and a reason including the cause. */
export function elasticsearchErrorOf(body: unknown): { type?: string; reason: string } {
  if (typeof body === 'string') return { reason: body.slice(0, 2000) };
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') return { reason: error };
  if (error && typeof error === 'object') {
    const e = error as { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } };
    let reason = e.reason ?? JSON.stringify(error);
    if (e.caused_by?.reason && !reason.includes(e.caused_by.reason)) {
      reason += ` (caused by ${e.caused_by.type ?? 'error'}: ${e.caused_by.reason})`;
    }
    return { type: e.type, reason };
  }
  return { reason: body === undefined ? 'no response body' : JSON.stringify(body).slice(0, 2000) };
}

/** Attempts of a read (GET / HEAD) that fails transiently, before the failure goes to the activity's retry policy. */
export const READ_ATTEMPTS = 3;

/**
 * Reads are retried here, briefly (200 ms, 400 ms; a Retry-After up to 5 s): an activity that reads six things would
 * otherwise fail as a whole on any one transient failure (at a 20% fault rate, 3 attempts in 4), and its retries would
 * back off for minutes. Writes are left to the activity, which is idempotent as a whole.
 */
async function retryReads<T>(method: string | undefined, fn: () => Promise<T>): Promise<T> {
  const read = ['GET', 'HEAD'].includes((method ?? 'GET').toUpperCase());
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!read || attempt >= READ_ATTEMPTS || !isRetryableFailure(err) || err.type !== FAILURE_TYPES.transient)
        throw err;
      const wanted = requestedRetryDelayMs(err);
      if (wanted !== undefined && wanted > 5_000) throw err; // a long Retry-After: the retry policy waits that long
      await new Promise((r) => setTimeout(r, wanted ?? 200 * 2 ** (attempt - 1)));
    }
  }
}

function tlsOptions(target: EsTarget, deps: ElasticsearchClientDeps): tls.ConnectionOptions | undefined {
  if (target.caPem) return { ca: target.caPem };
  if (deps.extraCaPems?.length) return { ca: [...tls.rootCertificates, ...deps.extraCaPems] };
  return undefined; // process trust: default roots + NODE_EXTRA_CA_CERTS
}

function authOf(credentials: Credentials) {
  return 'apiKey' in credentials
    ? { apiKey: credentials.apiKey }
    : { username: credentials.username, password: credentials.password };
}

/**
 * The identity of a pooled client: URL, trust and the credentials themselves (hashed with a per-process salt, never
 * kept in clear as a key). Two targets share a client only when all three are the same, so a client is never used
 * with other credentials than the ones it was built with (a rotated secret gets a new client).
 */
const POOL_SALT = crypto.randomBytes(16);
function poolKey(
  target: EsTarget,
  credentials: Credentials,
  extraCaPems: string[] | undefined,
  headers: VendoredHeaders,
): string {
  const h = crypto.createHmac('sha256', POOL_SALT);
  for (const part of [
    target.side,
    target.url,
    target.caPem ?? '',
    (extraCaPems ?? []).join('\n'),
    JSON.stringify(headers),
    'apiKey' in credentials ? `apikey:${credentials.apiKey}` : `basic:${credentials.username}:${credentials.password}`,
  ]) {
    h.update(part);
    h.update('\0');
  }
  return h.digest('hex');
}

export function createElasticsearchClientFactory(deps: ElasticsearchClientDeps = {}): ElasticsearchClientFactory {
  const resolve = deps.credentialsFor ?? ((t: EsTarget) => resolveTargetCredentials(t));
  const poolSize = Math.max(0, deps.poolSize ?? 32);
  const poolIdleMs = deps.poolIdleMs ?? 60_000;
  /** Insertion order = least recently used first. */
  const pool = new Map<string, { client: Client; usedAt: number }>();

  function evict(key: string): void {
    const hit = pool.get(key);
    if (!hit) return;
    pool.delete(key);
    void hit.client.close().catch(() => undefined);
  }
  let sweeper: NodeJS.Timeout | undefined;
  function sweep(now: number): void {
    for (const [key, hit] of pool) if (now - hit.usedAt > poolIdleMs) evict(key);
    while (pool.size > poolSize) evict(pool.keys().next().value as string);
    if (pool.size > 0 && !sweeper) {
      // Idle clients are closed even when no activity comes (unref'd: never keeps the process alive).
      sweeper = setInterval(() => sweep(Date.now()), Math.max(1_000, poolIdleMs / 2));
      sweeper.unref();
    } else if (pool.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  function build(target: EsTarget, credentials: Credentials, headers: VendoredHeaders): Client {
    const tlsOpts = tlsOptions(target, deps);
    return new Client({
      node: target.url,
      auth: authOf(credentials),
      ...(tlsOpts ? { tls: tlsOpts } : {}),
      ...(deps.Connection ? { Connection: deps.Connection } : {}),
      Transport: transportWithHeaders(headers),
      requestTimeout: deps.requestTimeoutMs ?? 30_000,
      maxRetries: 0, // Temporal's retry policy retries, not the client
      sniffOnStart: false,
      sniffOnConnectionFault: false,
      compression: false,
      name: 'ech-remote-clusters',
    });
  }

  function wrap(
    client: Client,
    target: EsTarget,
    credentials: Credentials,
    headers: VendoredHeaders,
    info: { version?: string; clusterName?: string; clusterUuid?: string },
  ): EsConnection {
    const system = systemOf(target);
    const requestWithStatus = <T>(operation: string, params: TransportRequestParams, ignore: number[]) =>
      retryReads(params.method, async () => {
        try {
          const res = await client.transport.request<T>(params, { meta: true, ignore });
          return { status: res.statusCode ?? 200, body: res.body };
        } catch (err) {
          throw classifyElasticsearchError(system, operation, err, target.url);
        }
      });
    return {
      client,
      version: info.version,
      major: info.version ? majorOf(info.version) : undefined,
      clusterName: info.clusterName,
      clusterUuid: info.clusterUuid,
      system,
      url: originOf(target.url) ?? target.url,
      authKind: 'apiKey' in credentials ? 'api-key' : 'basic',
      headers,
      request<T>(operation: string, params: TransportRequestParams, options?: TransportRequestOptions) {
        return retryReads(params.method, async () => {
          try {
            return (await client.transport.request<T>(params, { ...options, meta: false })) as T;
          } catch (err) {
            throw classifyElasticsearchError(system, operation, err, target.url);
          }
        });
      },
      requestWithStatus,
      close: () => client.close(),
    };
  }

  /** A client for the target, its credentials and headers: the pooled one, or a new one (pooled when poolSize > 0). */
  function clientFor(target: EsTarget, credentials: Credentials, headers: VendoredHeaders): Client {
    if (poolSize === 0) return build(target, credentials, headers);
    const now = Date.now();
    sweep(now);
    const key = poolKey(target, credentials, target.caPem ? undefined : deps.extraCaPems, headers);
    const hit = pool.get(key);
    if (hit) pool.delete(key); // re-inserted last: most recently used
    const entry = hit ?? { client: build(target, credentials, headers), usedAt: now };
    entry.usedAt = now;
    pool.set(key, entry);
    sweep(now);
    return entry.client;
  }
  /** A pooled client is given back, not closed: it keeps its connections for the next activity. */
  const release = async (client: Client) => {
    if (poolSize === 0) await client.close();
  };

  async function open(target: EsTarget, credentials: Credentials): Promise<EsConnection> {
    const system = systemOf(target);

    // Asked every time (never cached): a cluster upgraded between two activities is seen as it is now.
    let version = target.version;
    let clusterName: string | undefined;
    let clusterUuid: string | undefined;
    if (!version) {
      const probe = clientFor(target, credentials, PLAIN_HEADERS);
      try {
        const root = await retryReads('GET', async () => {
          try {
            return (await probe.transport.request({ method: 'GET', path: '/' })) as {
              version?: { number?: string };
              cluster_name?: string;
              cluster_uuid?: string;
            };
          } catch (err) {
            // 403 (no `monitor`) is handled below, unclassified
            if (err instanceof errors.ResponseError && err.statusCode === 403) throw err;
            throw classifyElasticsearchError(system, 'GET /', err, target.url);
          }
        });
        version = root.version?.number;
        clusterName = root.cluster_name;
        clusterUuid = root.cluster_uuid;
      } catch (err) {
        // 403: these credentials lack `monitor` (e.g. an end user); plain JSON works on every version.
        if (!(err instanceof errors.ResponseError && err.statusCode === 403)) throw err;
      } finally {
        await release(probe);
      }
      if (version !== undefined && !/^\d+\./.test(version)) {
        throw permanent(FAILURE_TYPES.version, `GET / on ${target.url} did not report a version (version.number)`);
      }
    }
    const headers = version ? compatibilityHeaders(version) : PLAIN_HEADERS;
    const client = clientFor(target, credentials, headers);
    const conn = wrap(client, target, credentials, headers, { version, clusterName, clusterUuid });
    return { ...conn, close: () => release(client) };
  }

  return {
    async connect(target: EsTarget): Promise<EsConnection> {
      // Resolved on every call: the worker's secret bindings decide each time where a secret may go.
      const credentials = await resolve(target);
      if ('apiKey' in credentials) registerSecret(credentials.apiKey);
      else registerSecret(`${credentials.username}:${credentials.password}`);
      return open(target, credentials);
    },
  };
}
