/**
 * A `fetch` that trusts an extra CA, for tests: NODE_EXTRA_CA_CERTS cannot be set once the process runs, so tests swap
 * the transport (an undici Agent whose `connect.ca` is the system roots plus the given PEM), never the logic, and
 * never disable verification.
 */
import tls from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';

export interface TrustingFetch {
  fetch: typeof globalThis.fetch;
  close(): Promise<void>;
}

export function trustingFetch(caPem: string | string[]): TrustingFetch {
  const extra = Array.isArray(caPem) ? caPem : [caPem];
  const agent = new Agent({ connect: { ca: [...tls.rootCertificates, ...extra] } });
  const f = async (input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit): Promise<Response> => {
    // openapi-fetch hands over a global Request; undici's own fetch wants its own, so pass the parts.
    const req = new Request(input, init);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const res = await undiciFetch(req.url, {
      method: req.method,
      headers: [...req.headers.entries()],
      body,
      signal: req.signal,
      redirect: req.redirect,
      dispatcher: agent,
    });
    return res as unknown as Response;
  };
  return { fetch: f as typeof globalThis.fetch, close: () => agent.close() };
}
