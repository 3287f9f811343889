/** Helpers for the simulated Elasticsearch tests: start an ECH + self-managed pair and call them over real TLS. */
import https from 'node:https';
import { Client } from '@elastic/elasticsearch';
import { createPki, type SandboxPki } from '../../src/sandbox/pki';
import { FaultInjector } from '../../src/sandbox/faults';
import { SimulatedCluster, type ClusterConfig } from '../../src/sandbox/elasticsearch';

export const ECH_PASSWORD = 'ech-elastic-pw';
export const SM_PASSWORD = 'sm-elastic-pw';

export interface Estate {
  pki: SandboxPki;
  faults: FaultInjector;
  ech: SimulatedCluster;
  sm: SimulatedCluster;
  stop(): Promise<void>;
}

export async function startEstate(
  opts: { pki?: SandboxPki; ech?: Partial<ClusterConfig>; sm?: Partial<ClusterConfig> } = {},
): Promise<Estate> {
  const pki = opts.pki ?? (await createPki());
  const faults = new FaultInjector(7);
  const [ech, sm] = await Promise.all([
    SimulatedCluster.start({
      kind: 'ech',
      clusterName: 'abc123ech',
      clusterUuid: 'ech-uuid-0000000000000',
      version: '9.1.0',
      license: 'enterprise',
      elasticPassword: ECH_PASSWORD,
      pki,
      faults,
      orgId: 'org42',
      clusterId: 'abc123ech',
      ...opts.ech,
    }),
    SimulatedCluster.start({
      kind: 'self-managed',
      clusterName: 'onprem',
      clusterUuid: 'sm-uuid-00000000000000',
      version: '8.17.0',
      license: 'enterprise',
      elasticPassword: SM_PASSWORD,
      pki,
      faults,
      rcsEnabled: true,
      rcsCa: 'public',
      ...opts.sm,
    }),
  ]);
  return { pki, faults, ech, sm, stop: async () => void (await Promise.all([ech.stop(), sm.stop()])) };
}

export interface EsResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/** Plain HTTPS call (real verification against the cluster's HTTP CA). */
export function call<T = any>(
  cluster: SimulatedCluster,
  method: string,
  path: string,
  body?: unknown,
  opts: { auth?: string; headers?: Record<string, string>; raw?: string } = {},
): Promise<EsResponse<T>> {
  const password = cluster.kind === 'ech' ? ECH_PASSWORD : SM_PASSWORD;
  const auth = opts.auth ?? `Basic ${Buffer.from(`elastic:${password}`).toString('base64')}`;
  const payload = opts.raw ?? (body === undefined ? '' : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${cluster.url}${path}`,
      {
        method,
        ca: cluster.httpCaPem,
        headers: {
          ...(auth ? { authorization: auth } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            // `_cat` APIs answer text unless asked for JSON.
            body: !text ? undefined : /^text\/plain/.test(res.headers['content-type'] ?? '') ? text : JSON.parse(text),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload || undefined);
  });
}

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The official client with TLS verification on. */
export function client(
  cluster: SimulatedCluster,
  auth?: { username: string; password: string } | { apiKey: string },
  headers?: Record<string, string>,
): Client {
  const password = cluster.kind === 'ech' ? ECH_PASSWORD : SM_PASSWORD;
  return new Client({
    node: cluster.url,
    auth: auth ?? { username: 'elastic', password },
    tls: { ca: cluster.httpCaPem },
    ...(headers ? { headers } : {}),
  });
}
