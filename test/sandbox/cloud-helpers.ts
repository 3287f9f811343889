/** Test helpers for the sandbox: an HTTPS JSON client that verifies TLS against a given CA (never disabled). */
import https from 'node:https';
import assert from 'node:assert/strict';
import { cloudSwagger } from './swagger';

export interface HttpResult<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export function httpsJson<T = any>(
  url: string,
  options: { method?: string; body?: unknown; headers?: Record<string, string>; ca: string; timeoutMs?: number },
): Promise<HttpResult<T>> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = https.request(
      url,
      {
        method: options.method ?? 'GET',
        ca: options.ca,
        headers: {
          accept: 'application/json',
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON: keep the text */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T, text });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/**
 * A Cloud API client for tests: every `/api/v1` response is validated against the swagger for its operation and
 * status, and the operation+status pairs seen are recorded (so a test can assert coverage).
 */
export class CloudTestClient {
  readonly seen = new Set<string>();

  constructor(
    readonly baseUrl: string,
    readonly apiKey: string,
    readonly ca: string,
  ) {}

  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    opts: { apiKey?: string | null; validate?: boolean } = {},
  ): Promise<HttpResult<T>> {
    const headers: Record<string, string> = {};
    const key = opts.apiKey === undefined ? this.apiKey : opts.apiKey;
    if (key !== null) headers.authorization = `ApiKey ${key}`;
    const res = await httpsJson<T>(`${this.baseUrl}${path}`, { method, body, headers, ca: this.ca });
    if (path.startsWith('/api/v1/') && opts.validate !== false) {
      const v = cloudSwagger().validate(method, path, res.status, res.body, res.headers);
      assert.ok(
        v.ok,
        `${method} ${path} -> ${res.status} does not validate against the swagger:\n${v.errors.join('\n')}\n${res.text.slice(0, 2000)}`,
      );
      this.seen.add(`${v.operationId} ${res.status}`);
    }
    return res;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns a truthy value (or time out). */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('waitFor: timed out');
    await sleep(intervalMs);
  }
}
