/** Valid ConnectRequests to start from (the committed examples, and the shape the sandbox writes), and path helpers. */
import fs from 'node:fs';
import path from 'node:path';

const examples = path.resolve(__dirname, '../../examples');
const read = (name: string): Record<string, any> => JSON.parse(fs.readFileSync(path.join(examples, name), 'utf8'));

/** Fresh copies each call: cases mutate them. */
export const bases = {
  /** Public CA, no remote credentials: the `npm run dev` example. */
  apiKeyPublic: () => read('connect-api-key-public.json'),
  /** Private CA, remote credentials (certutil command in the instructions). */
  apiKeyPrivate: () => read('connect-api-key-private.json'),
  /** TLS model with nodeNames. */
  tls: () => read('connect-tls-certificate.json'),
  /** What src/sandbox buildRequests writes for api-key-private (loopback addresses, a roles/users/verify set). */
  sandbox: () => ({
    alias: 'onprem-logs',
    securityModel: 'api-key',
    local: {
      deploymentId: '0123456789abcdef0123456789abcdef',
      refId: 'main-elasticsearch',
      cloud: { endpoint: 'https://127.0.0.1:19243', apiKeySecret: 'EC_API_KEY' },
      elasticsearch: { url: 'https://127.0.0.1:19200', credentialsSecret: 'ECH_ES_CREDENTIALS' },
    },
    remote: {
      proxyAddress: '127.0.0.1:19443',
      serverName: 'es.selfmanaged.sandbox',
      ca: { kind: 'private', pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
      elasticsearch: {
        url: 'https://127.0.0.1:19201',
        credentialsSecret: 'ONPREM_ES_CREDENTIALS',
        caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      },
    },
    access: { search: [{ names: ['logs-*'] }] },
    keyExpiration: '90d',
    roles: [
      {
        name: 'remote-search',
        remoteIndices: [{ names: ['logs-*'], privileges: ['read', 'read_cross_cluster', 'view_index_metadata'] }],
      },
    ],
    users: [{ username: 'cross-search-user', roles: ['remote-search'], passwordSecret: 'CROSS_SEARCH_USER_PASSWORD' }],
    verify: { searchIndex: 'logs-*' },
    onFailure: 'rollback',
  }),
};
export type BaseName = keyof typeof bases;

export type Segment = string | number;

/** `$.a.b[0]["x y"]` (as validateConnectRequest writes paths) to segments; a `… (N levels deep)` tail is dropped. */
export function parsePath(p: string): Segment[] {
  const body = p.replace(/… \(\d+ levels deep\)$/, '');
  const out: Segment[] = [];
  const re = /\.([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  if (!body.startsWith('$')) throw new Error(`not a path: ${p}`);
  let at = 1; // after "$"
  while (at < body.length) {
    re.lastIndex = at;
    const m = re.exec(body);
    if (!m) throw new Error(`unparsed path ${p} at ${at}`);
    out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string)));
    at = re.lastIndex;
  }
  return out;
}

/** Whether `segments` lead to an own property of `root` (the root itself for none). */
export function exists(root: unknown, segments: Segment[]): boolean {
  let cur: unknown = root;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, s)) return false;
    cur = (cur as Record<Segment, unknown>)[s];
  }
  return true;
}

/** Sets (or with `undefined`, deletes) the value at `segments`, creating objects on the way. */
export function setAt(root: Record<string, any>, segments: Segment[], value: unknown): void {
  let cur: any = root;
  for (const s of segments.slice(0, -1)) {
    if (cur[s] === undefined || cur[s] === null || typeof cur[s] !== 'object') cur[s] = typeof s === 'number' ? [] : {};
    cur = cur[s];
  }
  const last = segments[segments.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

/** Every path of a JSON value (containers and leaves), iteratively. */
export function allPaths(root: unknown): Segment[][] {
  const out: Segment[][] = [];
  const stack: { v: unknown; p: Segment[] }[] = [{ v: root, p: [] }];
  while (stack.length) {
    const { v, p } = stack.pop()!;
    out.push(p);
    if (v && typeof v === 'object') {
      for (const [k, c] of Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v)) {
        stack.push({ v: c, p: [...p, k] });
      }
    }
  }
  return out;
}
