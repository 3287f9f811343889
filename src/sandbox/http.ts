/**
 * A minimal HTTPS router shared by the simulated Cloud API and the simulated Elasticsearch clusters: real TLS, JSON
 * bodies, path parameters, and fault injection applied before any handler runs.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { phaseOf, type FaultDecision, type FaultInjector, type FaultTarget } from './faults';

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** Raw body text ('' when none). */
  text: string;
  /** Parsed JSON body, or undefined when the body is empty. Throws BadJson when the body is not JSON. */
  json<T = unknown>(): T | undefined;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send `body` as-is (a string) instead of JSON. */
  raw?: boolean;
}

export type Handler = (req: Request) => Reply | Promise<Reply>;

export class BadJson extends Error {}

interface Route {
  method: string;
  re: RegExp;
  names: string[];
  handler: Handler;
}

export class Router {
  private routes: Route[] = [];

  /** `pattern` uses `{name}` for one path segment and `{name*}` for the rest of the path. */
  on(method: string, pattern: string, handler: Handler): this {
    const names: string[] = [];
    const source = pattern.replace(/\{(\w+)(\*)?\}/g, (_m, name: string, rest?: string) => {
      names.push(name);
      return rest ? '(.+)' : '([^/]+)';
    });
    this.routes.push({ method: method.toUpperCase(), re: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'method' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.re.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method && !(route.method === 'GET' && method === 'HEAD')) continue;
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] ?? '')));
      return { handler: route.handler, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}

export interface ServeOptions {
  key: string;
  cert: string;
  /** Fault-injection target name for this server. */
  target: FaultTarget;
  faults: FaultInjector;
  /** Called for every request before routing; may answer (e.g. authentication failure). */
  dispatch: (req: Request, route: ReturnType<Router['match']>) => Promise<Reply>;
  /** The reply for an injected error status, in this server's own error envelope. */
  faultReply: (status: number) => Reply;
  /** Paths that faults never touch (e.g. the sandbox control API, so a fault rule cannot lock out its own removal). */
  faultExempt?: (path: string) => boolean;
  host?: string;
  port?: number;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: Reply, head: boolean): void {
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  let payload = '';
  if (reply.body !== undefined) {
    payload = reply.raw ? String(reply.body) : JSON.stringify(reply.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = reply.raw ? 'text/plain; charset=UTF-8' : 'application/json';
    }
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(head ? undefined : payload);
}

export interface RunningServer {
  server: https.Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Start an HTTPS server on loopback (random port unless given) that applies faults, then `dispatch`. */
export async function serve(options: ServeOptions, router: Router): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const server = https.createServer({ key: options.key, cert: options.cert }, (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'https://sandbox');
      const method = (req.method ?? 'GET').toUpperCase();
      const decision: FaultDecision = options.faultExempt?.(url.pathname)
        ? { kind: 'pass', delayMs: 0 }
        : options.faults.decide(options.target, method, url.pathname);
      const after = phaseOf(decision) === 'after';
      const delayMs = decision.kind === 'hang' ? 0 : decision.delayMs;
      if (decision.kind === 'hang' && !after) return; // never answered; closed when the server stops
      if (delayMs > 0 && !after) await new Promise((r) => setTimeout(r, delayMs));
      if (decision.kind === 'reset' && !after) {
        req.socket.destroy();
        return;
      }
      const text = await readBody(req);
      const request: Request = {
        method,
        path: url.pathname,
        query: url.searchParams,
        params: {},
        headers: req.headers,
        text,
        json<T>() {
          if (!text.trim()) return undefined;
          try {
            return JSON.parse(text) as T;
          } catch (e) {
            throw new BadJson((e as Error).message);
          }
        },
      };
      // A held request has arrived whole (and, `after`, been applied) before it waits for its release.
      const release = async (): Promise<'continue' | 'drop'> => {
        if (decision.kind !== 'hold') return 'continue';
        const held = options.faults.hold(decision, options.target, method, url.pathname);
        req.socket.once('close', held.clientGone);
        return held.released;
      };
      if (decision.kind === 'status' && !after) {
        send(res, options.faultReply(decision.status), false);
        return;
      }
      if (!after && (await release()) === 'drop') {
        req.socket.destroy();
        return;
      }
      const route = router.match(method, url.pathname);
      if (route && route !== 'method') request.params = route.params;
      const reply = await options.dispatch(request, route);
      if (after) {
        // The simulated cluster applied the request; now the fault happens to its answer.
        if (decision.kind === 'hang') return;
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        if (decision.kind === 'reset' || (await release()) === 'drop') {
          req.socket.destroy();
          return;
        }
        if (decision.kind === 'status') {
          send(res, options.faultReply(decision.status), false);
          return;
        }
      }
      send(res, reply, method === 'HEAD');
    })().catch((err: unknown) => {
      if (!res.headersSent) send(res, { status: 500, body: { error: String(err) } }, false);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `https://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
