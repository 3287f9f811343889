/**
 * `ech-remote codec-server`: Temporal's remote codec protocol (`POST /encode`, `POST /decode`, body
 * `{ payloads: [{ metadata: { k: base64 }, data: base64 }] }`, header `X-Namespace`) over the same AES-GCM codec as
 * the worker, so the Temporal Web UI and `temporal … --codec-endpoint` show decrypted values.
 *
 * Authentication, two equivalent ways to present the one token:
 * - `Authorization: Bearer <token>` — the `temporal` CLI (`--codec-auth 'Bearer <token>'`), scripts;
 * - the token as the first path segment, `<endpoint>/<token>/decode` — the Web UI. Its browser code can only send
 *   an SSO access token (`passAccessToken`, needs HTTPS and an OIDC login, which the dev server has not) or cookies
 *   (`includeCredentials`, a per-browser setting the dev server cannot preset), so the one credential that works in
 *   any browser without a manual step, and survives reloads, is a secret in the endpoint URL itself.
 * CORS preflights are answered only for the configured UI origins; any other origin is refused outright.
 *
 * `X-Namespace`: one key ring serves every namespace, so the header is ignored unless `namespaces` (env
 * ECH_REMOTE_CODEC_NAMESPACES) lists the namespaces this server decodes for; then any other (or none) gets 403.
 * Malformed requests get a 4xx, never a crash: bodies over 8 MiB are cut off at once (413).
 */
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { AesGcmPayloadCodec } from './aesGcmCodec';
import { EncryptionKeyError, ENCRYPTION_KEYS_ENV, ENCRYPTION_KEYS_FILE_ENV, loadEncryptionKeys } from './keys';

export const CODEC_LISTEN_ENV = 'ECH_REMOTE_CODEC_LISTEN';
export const CODEC_TOKEN_ENV = 'ECH_REMOTE_CODEC_TOKEN';
export const CODEC_TOKEN_FILE_ENV = 'ECH_REMOTE_CODEC_TOKEN_FILE';
export const CODEC_CORS_ORIGINS_ENV = 'ECH_REMOTE_CODEC_CORS_ORIGINS';
export const CODEC_NAMESPACES_ENV = 'ECH_REMOTE_CODEC_NAMESPACES';
export const DEFAULT_CODEC_LISTEN = '127.0.0.1:8888';
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The bearer token every request must present (at least 16 characters). */
  token: string;
  /** Browser origins (scheme://host:port) allowed to call from a page, e.g. the Temporal Web UI. */
  corsOrigins: string[];
  /** When given (non-empty), the only `X-Namespace` values served; otherwise the header is ignored. */
  namespaces?: string[];
  host?: string;
  port?: number;
}

export interface CodecServer {
  /** Base URL for `--codec-endpoint` (with the `Authorization: Bearer` header). */
  url: string;
  /** Base URL with the token in the path, for the Web UI's codec endpoint. Secret: treat like the token. */
  browserUrl: string;
  close(): Promise<void>;
}

export class CodecServerConfigError extends Error {
  override name = 'CodecServerConfigError';
}

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const payloadsBody = z.object({
  payloads: z.array(
    z.object({ metadata: z.record(z.string(), base64).nullish(), data: base64.nullish() }).passthrough(),
  ),
});

type JsonPayload = z.infer<typeof payloadsBody>['payloads'][number];

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Splits `/<token>/decode` or `/decode` into the path token (if any) and the operation; undefined when the path cannot
 * be parsed (e.g. a malformed percent-escape).
 */
function route(url: string): { pathToken?: string; operation?: string } | undefined {
  try {
    const segments = new URL(url, 'http://codec').pathname.split('/').filter(Boolean);
    if (segments.length === 1) return { operation: segments[0] };
    if (segments.length === 2) return { pathToken: decodeURIComponent(segments[0]!), operation: segments[1] };
    return {};
  } catch {
    return undefined;
  }
}

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  if (opts.token.length < 16) throw new CodecServerConfigError('the codec server token must be at least 16 characters');
  const origins = new Set(opts.corsOrigins.map((o) => new URL(o).origin));
  const namespaces = opts.namespaces?.length ? new Set(opts.namespaces) : undefined;

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const origin = req.headers.origin;
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      if (res.headersSent) return;
      res.writeHead(status, {
        'cache-control': 'no-store',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(origin && origins.has(origin) ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {}),
        ...headers,
      });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    // A page from any other origin gets nothing, not even a preflight answer.
    if (origin !== undefined && !origins.has(origin)) return send(403, { error: 'origin not allowed' });
    if (req.method === 'OPTIONS') {
      if (!origin) return send(403, { error: 'CORS preflight without an Origin' });
      return send(204, undefined, {
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type, x-namespace',
        'access-control-max-age': '600',
      });
    }
    const routed = route(req.url ?? '/');
    if (!routed) return send(400, { error: 'malformed request path' });
    const { pathToken, operation } = routed;
    if (operation !== 'encode' && operation !== 'decode') return send(404, { error: 'POST /encode or /decode' });
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const presented = pathToken ?? bearer;
    if (!presented || !sameSecret(presented, opts.token)) {
      return send(401, { error: 'a valid bearer token is required' }, { 'www-authenticate': 'Bearer' });
    }
    if (req.method !== 'POST') return send(405, { error: 'POST only' }, { allow: 'POST, OPTIONS' });
    if (namespaces) {
      const namespace = req.headers['x-namespace'];
      if (typeof namespace !== 'string' || !namespaces.has(namespace)) {
        return send(403, {
          error: `X-Namespace must be one of the namespaces this codec server serves (${[...namespaces].join(', ')})`,
        });
      }
    }

    // Too large: answer 413 at once and stop reading (the connection is closed, nothing more is buffered).
    const tooLarge = () => {
      send(413, { error: `body larger than ${MAX_BODY_BYTES} bytes` }, { connection: 'close' });
      req.removeAllListeners('data');
      req.removeAllListeners('end');
      req.resume(); // drain what is already in flight until the socket closes
      res.once('finish', () => req.socket.destroy());
    };
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) return tooLarge();
      chunks.push(c);
    });
    req.on('error', () => req.socket.destroy());
    req.on('end', () => {
      let body: z.infer<typeof payloadsBody>;
      try {
        body = payloadsBody.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        return send(400, { error: 'expected {"payloads":[{"metadata":{…base64},"data":"base64"}]}' });
      }
      const payloads = body.payloads.map(fromJson);
      const converted = Promise.resolve().then(() =>
        operation === 'encode' ? opts.codec.encode(payloads) : opts.codec.decode(payloads),
      );
      converted.then(
        (out) => send(200, { payloads: out.map(toJson) }),
        // The codec's messages name key ids and what to do, never key material or payload contents.
        (err: unknown) => send(422, { error: err instanceof Error ? err.message : String(err) }),
      );
    });
  };

  const server = http.createServer((req, res) => {
    try {
      handle(req, res);
    } catch {
      // A bug or an input nobody foresaw costs this request, never the server (nor a stack trace to the caller).
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ error: 'internal error' }));
    }
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    browserUrl: `${url}/${encodeURIComponent(opts.token)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The codec server's settings from the environment (names fixed by the contract). */
export function codecServerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  host: string;
  port: number;
  token: string;
  corsOrigins: string[];
  namespaces: string[];
} {
  const listen = env[CODEC_LISTEN_ENV] || DEFAULT_CODEC_LISTEN;
  const m = /^(.+):(\d{1,5})$/.exec(listen);
  if (!m) throw new CodecServerConfigError(`${CODEC_LISTEN_ENV}="${listen}" is not host:port`);
  let token = env[CODEC_TOKEN_ENV];
  const tokenFile = env[CODEC_TOKEN_FILE_ENV];
  if (!token && tokenFile) token = fs.readFileSync(tokenFile, 'utf8').trim();
  if (!token) {
    throw new CodecServerConfigError(
      `The codec server decrypts for whoever calls it: set ${CODEC_TOKEN_ENV} (or ${CODEC_TOKEN_FILE_ENV}) to a ` +
        'random token of at least 16 characters, e.g. "$(openssl rand -hex 24)".',
    );
  }
  const corsOrigins = (env[CODEC_CORS_ORIGINS_ENV] ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of corsOrigins) {
    if (!URL.canParse(o)) throw new CodecServerConfigError(`${CODEC_CORS_ORIGINS_ENV}: "${o}" is not an origin URL`);
  }
  const namespaces = (env[CODEC_NAMESPACES_ENV] ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), token, corsOrigins, namespaces };
}

/** `ech-remote codec-server`: settings from the environment, runs until SIGINT/SIGTERM. */
export async function runCodecServer(opts: { listen?: string } = {}): Promise<void> {
  const settings = codecServerSettingsFromEnv(
    opts.listen ? { ...process.env, [CODEC_LISTEN_ENV]: opts.listen } : process.env,
  );
  const keys = loadEncryptionKeys();
  if (!keys) {
    throw new EncryptionKeyError(
      `The codec server needs the workers' keys: set ${ENCRYPTION_KEYS_ENV} or ${ENCRYPTION_KEYS_FILE_ENV} as on the worker.`,
    );
  }
  const server = await startCodecServer({ codec: new AesGcmPayloadCodec(keys, { plaintext: 'allow' }), ...settings });
  console.error(
    [
      `ech-remote codec server on ${server.url} (keys: ${[...keys.byId.keys()].join(', ')}; encrypts with ${keys.current.id})`,
      `  CLI:    temporal workflow show --workflow-id ID --codec-endpoint ${server.url} --codec-auth "Bearer $${CODEC_TOKEN_ENV}"`,
      `  Web UI: codec endpoint ${server.url}/<token>   (CORS origins: ${settings.corsOrigins.join(', ') || 'none: set ' + CODEC_CORS_ORIGINS_ENV})`,
      `  Namespaces: ${settings.namespaces.join(', ') || `any (X-Namespace ignored; set ${CODEC_NAMESPACES_ENV} to restrict)`}`,
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
}
