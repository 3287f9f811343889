/**
 * The sandbox: a simulated Elastic estate on loopback with real TLS — an Elastic Cloud API with one ECH deployment
 * and its Elasticsearch endpoint, a self-managed cluster (HTTP, remote cluster server, transport), and the control API
 * under `/_sandbox` on the Cloud endpoint. `start()` builds it on random free ports and returns a `Sandbox` whose
 * `info` is exactly what sandbox.json holds (contract, "Sandbox"). Product code never imports this module.
 *
 * With `estate: 'every-path'` (what `ech-remote dev` runs) two more self-managed clusters stand beside the scenario's
 * one, so that a sample request of every path works at once: `onprem-metrics` (remote cluster server with a private
 * CA, path B) and `onprem-legacy` (transport port for the TLS-certificate model, path C). Scenarios shape only the
 * first one (`onprem-logs`, `info.selfManaged`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import yaml from 'js-yaml';
import { FaultInjector } from './faults';
import { CloudError } from './cloud/errors';
import { createCertificateAuthority, createPki, loadOrCreatePublicRoot, type PemPair, type SandboxPki } from './pki';
import { SimulatedCluster, type ClusterConfig } from './elasticsearch/cluster';
import { CloudApi, CloudDeployment, cloudId, type PlanSettings } from './cloud';
import { createControlHandler, type ControlTarget } from './control';
import { scenarioSpec, type ScenarioName, type ScenarioSpec, type Versions } from './scenarios';
import type {
  DisconnectRequestInput,
  MigrateRequestInput,
  RotateRequestInput,
  UpdateAccessRequestInput,
} from '../contract/lifecycle';
import type { AuditRequestInput } from '../contract/audit';
import type { FleetRequestInput } from '../contract/fleet';
import type { ConnectRequestInput } from '../contract/request';

export { SCENARIOS, DEFAULT_VERSIONS, type ScenarioName, type Versions } from './scenarios';

export type RequestName = 'api-key-public' | 'api-key-private' | 'tls-certificate';

/** The alias of the scenario's self-managed cluster (`info.selfManaged`) in the sample requests. */
export const PRIMARY_ALIAS = 'onprem-logs';

/**
 * The self-managed clusters an `every-path` estate adds, one per path the scenario's cluster does not serve by
 * default. Each sample request creates its own role and user on ECH, so the samples can all complete side by side.
 */
export const EXTRA_REMOTES = [
  {
    alias: 'onprem-metrics',
    request: 'api-key-private',
    clusterName: 'onprem-metrics',
    serverName: 'metrics.selfmanaged.sandbox',
    role: 'metrics-search',
    user: 'metrics-search-user',
  },
  {
    alias: 'onprem-legacy',
    request: 'tls-certificate',
    clusterName: 'onprem-legacy',
    serverName: 'legacy.selfmanaged.sandbox',
    role: 'legacy-search',
    user: 'legacy-search-user',
  },
] as const;
export type ExtraRemoteAlias = (typeof EXTRA_REMOTES)[number]['alias'];

/** Ports of one self-managed cluster. */
export interface ClusterPorts {
  http: number;
  remoteClusterServer: number;
  transport: number;
}

export interface StartOptions {
  scenario?: ScenarioName;
  versions?: Partial<Versions>;
  /**
   * A public root made beforehand (e.g. one the test process already trusts through NODE_EXTRA_CA_CERTS). Default:
   * the one `npm test` leaves in `$ECH_REMOTE_TEST_PUBLIC_ROOT_DIR` (sandbox-public-root.pem/.key) if set, else new.
   */
  publicRoot?: PemPair;
  /** How long Cloud plans stay pending (default 1500 ms). */
  planPendingMs?: number;
  /** Seed of the fault injector (default 1). */
  seed?: number;
  /** Write sandbox.json here (mode 0600: it holds credentials). */
  outFile?: string;
  /** Where the public root PEM and the secrets env file are written (default: `.ech-remote/` beside outFile, else a temp dir). */
  filesDir?: string;
  /** Host to bind and publish (default 127.0.0.1). */
  host?: string;
  /**
   * Fixed ports instead of random free ones (`ech-remote dev` uses them so the committed examples/ requests work):
   * Cloud API, ECH HTTP, self-managed HTTP, its remote cluster server and transport.
   */
  ports?: {
    cloud: number;
    ech: number;
    selfManaged: number;
    remoteClusterServer: number;
    transport: number;
    /** Ports of the clusters an `every-path` estate adds (default random). */
    remotes?: Partial<Record<ExtraRemoteAlias, ClusterPorts>>;
  };
  /**
   * `scenario` (default): one self-managed cluster, shaped by the scenario. `every-path`: also `onprem-metrics` and
   * `onprem-legacy` (see EXTRA_REMOTES), so that every request of `info.requests` works without switching scenario.
   */
  estate?: 'scenario' | 'every-path';
  /** Called with the new info after every (re)build: start, scenario switch, reset. */
  onInfo?: (info: SandboxInfo) => void;
  /** A fixed deployment id (32 lowercase hex) instead of a random one (dev: stable across restarts). */
  deploymentId?: string;
  /** Start a simulated cluster (default `SimulatedCluster.start`); tests may substitute a stand-in. */
  clusterFactory?: (config: ClusterConfig) => Promise<SimulatedCluster>;
}

export interface SandboxInfo {
  scenario: ScenarioName;
  versions: Versions;
  cloud: {
    endpoint: string;
    apiKey: string;
    deploymentId: string;
    refId: string;
    clusterId: string;
    organizationId: string;
    region: string;
  };
  ech: {
    url: string;
    username: string;
    password: string;
    version: string;
    clusterId: string;
    transport: string;
    remoteClusterServer: string;
  };
  selfManaged: {
    url: string;
    username: string;
    password: string;
    remoteClusterServer: string;
    transport: string;
    serverName: string;
    version: string;
    license: string;
    /** CA of the self-managed HTTP layer (the remote private CA). */
    httpCa: string;
  };
  ca: { publicRoot: string; remotePrivate: string; echTransport: string; selfManagedTransport: string };
  control: string;
  env: {
    EC_API_KEY: string;
    ECH_ES_CREDENTIALS: string;
    ONPREM_ES_CREDENTIALS: string;
    CROSS_SEARCH_USER_PASSWORD: string;
    /** Where the worker may send each of these (src/activities/secretBindings.ts): the sandbox's own endpoints. */
    ECH_REMOTE_SECRET_BINDINGS: string;
    NODE_EXTRA_CA_CERTS: string;
  };
  /** The secrets as `NAME=value` lines a worker can load (also written to `files.secretsEnv`). */
  secretsEnvFile: string;
  files: { publicRootPem: string; secretsEnv: string; sandboxJson?: string };
  /**
   * Ready ConnectRequests, one per path. In a `scenario` estate all go to the one self-managed cluster (alias
   * `onprem-logs`); in an `every-path` estate `api-key-private` and `tls-certificate` go to their own clusters
   * (`remotes`), each with its alias, role and user, so that all complete side by side.
   */
  requests: Record<RequestName, ConnectRequestInput> & {
    /** Day 2, for the alias of `api-key-private` (remote credentials included; the grace period ≤ 10 s). */
    rotate: RotateRequestInput;
    updateAccess: UpdateAccessRequestInput;
    disconnect: DisconnectRequestInput;
    /** auditRemoteClusters over the ECH deployment: every connection of the sample requests, remote credentials included. */
    audit: AuditRequestInput;
    /** connectRemoteClusters: three aliases of the `api-key-private` cluster on the ECH deployment (remote credentials included). */
    fleet: FleetRequestInput;
    /**
     * migrateRemoteClusterToApiKey for the alias of `tls-certificate`: to its cluster's remote cluster server (off at
     * start in the tls-certificate scenario: the run waits for it, enabled through POST /_sandbox/self-managed/apply).
     */
    migrate: MigrateRequestInput;
  };
  /** The request that fits the current scenario. */
  recommendedRequest: RequestName;
  /**
   * The request that fits the current scenario, against the scenario's cluster (`selfManaged`, alias `onprem-logs`):
   * in a `scenario` estate the same as `requests[recommendedRequest]`. After switching to a failure scenario, this is
   * the request that shows it.
   */
  scenarioRequest: ConnectRequestInput;
  /** `scenario` or `every-path` (StartOptions.estate). */
  estate: 'scenario' | 'every-path';
  /**
   * Every simulated self-managed cluster, by the alias its sample request uses: `onprem-logs` (= `selfManaged`) and,
   * in an `every-path` estate, `onprem-metrics` and `onprem-legacy`. The control API's `/_sandbox/self-managed/*`
   * endpoints take `?cluster=<alias>` (default `onprem-logs`).
   */
  remotes: Record<string, RemoteInfo>;
  /** The index pattern seeded on the self-managed cluster. */
  seededIndex: { name: string; pattern: string; documents: number };
}

export interface RemoteInfo {
  /** The sample request (key of `requests`) that connects to this cluster. */
  request: RequestName;
  description: string;
  url: string;
  remoteClusterServer: string;
  /** Whether the remote cluster server is on (`remote_cluster_server.enabled`) at start. */
  remoteClusterServerEnabled: boolean;
  /** Which CA signs its remote cluster server certificate: a publicly trusted one, or the remote private CA. */
  remoteClusterServerCa: 'public' | 'private';
  transport: string;
  serverName: string;
  clusterName: string;
  version: string;
  license: string;
}

export interface Sandbox {
  readonly info: SandboxInfo;
  readonly cloud: CloudApi;
  readonly deployment: CloudDeployment;
  readonly ech: SimulatedCluster;
  readonly selfManaged: SimulatedCluster;
  /** The clusters an `every-path` estate adds, by alias (empty otherwise). */
  readonly extraRemotes: ReadonlyMap<string, SimulatedCluster>;
  readonly pki: SandboxPki;
  readonly faults: FaultInjector;
  /** The control API's operations, callable in-process (the HTTP API under `info.control` does the same). */
  readonly control: ControlTarget;
  /** Rebuild the estate for another scenario in place (same ports, CAs, credentials and deployment id). */
  switchScenario(name: ScenarioName, versions?: Partial<Versions>): Promise<void>;
  /** Write sandbox.json (again) to `file` or the start option `outFile`. */
  writeInfo(file?: string): void;
  stop(): Promise<void>;
}

const SEED_INDEX = 'logs-sandbox-2025.01';
const SEED_DOCS = [
  { '@timestamp': '2025-01-01T10:00:00Z', message: 'user login', service: 'auth', level: 'info' },
  { '@timestamp': '2025-01-01T10:01:00Z', message: 'payment accepted', service: 'billing', level: 'info' },
  { '@timestamp': '2025-01-01T10:02:00Z', message: 'disk almost full', service: 'storage', level: 'warn' },
  { '@timestamp': '2025-01-01T10:03:00Z', message: 'request timed out', service: 'gateway', level: 'error' },
  { '@timestamp': '2025-01-01T10:04:00Z', message: 'user logout', service: 'auth', level: 'info' },
];

const secret = (bytes = 18) => randomBytes(bytes).toString('base64url');

/** Identity of the estate that survives scenario switches. */
interface Identity {
  host: string;
  apiKey: string;
  deploymentId: string;
  clusterId: string;
  orgId: string;
  region: string;
  refId: string;
  echPassword: string;
  selfManagedPassword: string;
  crossSearchUserPassword: string;
  selfManagedClusterName: string;
  selfManagedClusterUuid: string;
  echClusterUuid: string;
  /** Ports fixed after the first start so that endpoints stay put across scenarios. */
  ports?: { ech: ClusterPorts; selfManaged: ClusterPorts; remotes: Partial<Record<string, ClusterPorts>> };
  /** Cluster uuids of the extra remotes, by alias. */
  remoteUuids: Record<string, string>;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

function portsOf(c: SimulatedCluster): ClusterPorts {
  return {
    http: Number(new URL(c.url).port),
    remoteClusterServer: portOf(c.remoteClusterServerAddress),
    transport: portOf(c.transportAddress),
  };
}

// ---- Adapter to the Elasticsearch simulator ----------------------------------------------------------------------
// The only place that knows ClusterConfig's fields; keep scenario → cluster translation here.

/** An extra self-managed cluster's own names and ports (the scenario's cluster uses the identity's). */
interface RemoteOverride {
  clusterName: string;
  clusterUuid: string;
  serverName: string;
  ports?: ClusterPorts;
}

function clusterConfigFor(
  side: 'ech' | 'self-managed',
  spec: ScenarioSpec,
  id: Identity,
  pki: SandboxPki,
  faults: FaultInjector,
  remote?: RemoteOverride,
): ClusterConfig {
  if (side === 'ech') {
    return {
      kind: 'ech',
      clusterName: id.clusterId, // on ECH the Elasticsearch cluster name is the cluster id
      clusterUuid: id.echClusterUuid,
      version: spec.versions.ech,
      license: spec.ech.license,
      elasticPassword: id.echPassword,
      pki,
      faults,
      orgId: id.orgId,
      clusterId: id.clusterId,
      host: id.host,
      ...(id.ports ? { ports: id.ports.ech } : {}),
    };
  }
  const ports = remote ? remote.ports : id.ports?.selfManaged;
  return {
    kind: 'self-managed',
    clusterName: remote?.clusterName ?? id.selfManagedClusterName,
    clusterUuid: remote?.clusterUuid ?? id.selfManagedClusterUuid,
    ...(remote ? { serverName: remote.serverName } : {}),
    version: spec.versions.selfManaged,
    license: spec.selfManaged.license,
    ...(spec.selfManaged.licenseExpired ? { licenseExpired: true } : {}),
    ...(spec.selfManaged.health ? { health: spec.selfManaged.health } : {}),
    elasticPassword: id.selfManagedPassword,
    pki,
    faults,
    rcsEnabled: spec.selfManaged.rcsEnabled,
    rcsCa: spec.selfManaged.rcsCa,
    transportOtherName: spec.selfManaged.transportOtherName,
    // The scenario's cluster only: the other sample clusters keep their one node.
    ...(!remote && spec.selfManaged.nodes ? { nodes: spec.selfManaged.nodes } : {}),
    host: id.host,
    ...(ports ? { ports } : {}),
  };
}

function serverNameOf(c: SimulatedCluster): string {
  return c.serverName;
}

// ---- ConnectRequests ------------------------------------------------------------------------------------------------

/** Where a sample request goes and what it creates on ECH. */
interface RequestTarget {
  alias: string;
  url: string;
  httpCa: string;
  remoteClusterServer: string;
  transport: string;
  serverName: string;
  role: string;
  user: string;
}

type InfoBase = Omit<
  SandboxInfo,
  'requests' | 'recommendedRequest' | 'secretsEnvFile' | 'scenarioRequest' | 'estate' | 'remotes'
>;

function buildRequest(info: InfoBase, name: RequestName, t: RequestTarget): ConnectRequestInput {
  const local = {
    deploymentId: info.cloud.deploymentId,
    refId: info.cloud.refId,
    cloud: { endpoint: info.cloud.endpoint, apiKeySecret: 'EC_API_KEY' },
    elasticsearch: { url: info.ech.url, credentialsSecret: 'ECH_ES_CREDENTIALS' },
  };
  const remoteEs = { url: t.url, credentialsSecret: 'ONPREM_ES_CREDENTIALS', caPem: t.httpCa };
  const privileges = ['read', 'read_cross_cluster', 'view_index_metadata'];
  const users = [{ username: t.user, roles: [t.role], passwordSecret: 'CROSS_SEARCH_USER_PASSWORD' }];
  if (name === 'tls-certificate') {
    return {
      alias: t.alias,
      securityModel: 'tls-certificate',
      local,
      remote: {
        // The transport port; the certificate model verifies node names (otherName), not host names.
        proxyAddress: t.transport,
        ca: { kind: 'private', pem: info.ca.selfManagedTransport },
        elasticsearch: remoteEs,
      },
      roles: [{ name: t.role, remote: { indices: [{ names: ['logs-*'], privileges }] } }],
      users,
      verify: { searchIndex: 'logs-*' },
      onFailure: 'rollback',
    };
  }
  return {
    alias: t.alias,
    securityModel: 'api-key',
    local,
    remote: {
      proxyAddress: t.remoteClusterServer,
      serverName: t.serverName,
      ca: name === 'api-key-public' ? { kind: 'public' } : { kind: 'private', pem: info.ca.remotePrivate },
      elasticsearch: remoteEs,
    },
    access: { search: [{ names: ['logs-*'] }] },
    keyExpiration: '90d',
    roles: [{ name: t.role, remoteIndices: [{ names: ['logs-*'], privileges }] }],
    users,
    verify: { searchIndex: 'logs-*' },
    onFailure: 'rollback',
  };
}

/** Day 2 for the connection `api-key-private` makes: same deployment, secrets and remote credentials. */
function buildDay2Requests(
  connect: ConnectRequestInput,
): Pick<SandboxInfo['requests'], 'rotate' | 'updateAccess' | 'disconnect'> {
  const day2 = {
    alias: connect.alias,
    local: connect.local,
    remote: { elasticsearch: connect.remote.elasticsearch! },
    verify: { searchIndex: 'logs-*' },
  };
  return {
    rotate: { ...day2, gracePeriod: '10s' },
    updateAccess: { ...day2, access: { search: [{ names: ['logs-*'], query: { term: { service: 'auth' } } }] } },
    disconnect: { ...day2 },
  };
}

/** The migration of the `tls-certificate` connection to the API-key model (same alias, its cluster's remote cluster server). */
function buildMigrateRequest(
  connect: ConnectRequestInput,
  t: RequestTarget,
  rcsCa: 'public' | 'private' | undefined,
  info: InfoBase,
): MigrateRequestInput {
  return {
    alias: connect.alias,
    local: connect.local,
    remote: {
      elasticsearch: connect.remote.elasticsearch!,
      remoteClusterServer: {
        proxyAddress: t.remoteClusterServer,
        serverName: t.serverName,
        ca: rcsCa === 'private' ? { kind: 'private', pem: info.ca.remotePrivate } : { kind: 'public' },
      },
    },
    // What the certificate model's same-named remote role granted (buildRequest: read on logs-*).
    access: { search: [{ names: ['logs-*'] }] },
    roles: [
      {
        name: t.role,
        remoteIndices: [{ names: ['logs-*'], privileges: ['read', 'read_cross_cluster', 'view_index_metadata'] }],
      },
    ],
    verify: { searchIndex: 'logs-*' },
  };
}

/** The audit of the one ECH deployment: each self-managed cluster of the sample requests with its aliases and credentials. */
function buildAuditRequest(connects: ConnectRequestInput[]): AuditRequestInput {
  const remotes: NonNullable<AuditRequestInput['deployments'][number]['remotes']> = [];
  for (const c of connects) {
    const es = c.remote.elasticsearch;
    if (!es) continue;
    const same = remotes.find((r) => r.elasticsearch.url === es.url);
    if (!same) remotes.push({ aliases: [c.alias], elasticsearch: es });
    else if (!same.aliases.includes(c.alias)) same.aliases.push(c.alias);
  }
  return { deployments: [{ local: connects[0]!.local, remotes, searchIndex: 'logs-*' }] };
}

/** A fleet: the connection of `api-key-private` three times under distinct aliases, the shared fields in `defaults`. */
function buildFleetRequest(connect: ConnectRequestInput): FleetRequestInput {
  const { alias, roles: _roles, users: _users, ...defaults } = connect;
  return {
    defaults,
    connections: ['a', 'b', 'c'].map((x) => ({ alias: `${alias}-fleet-${x}` })),
    concurrency: 3,
  };
}

/** The bindings a worker needs for the sandbox's secrets: each to the sandbox endpoint it belongs to. */
export function sandboxSecretBindings(
  cloudEndpoint: string,
  deploymentId: string,
  selfManagedUrl: string,
  otherSelfManagedUrls: string[] = [],
) {
  return {
    EC_API_KEY: { use: 'cloud-api-key', endpoint: cloudEndpoint },
    ECH_ES_CREDENTIALS: { use: 'ech-elasticsearch', deployments: [deploymentId] },
    // Every self-managed cluster of the estate has the same `elastic` password: one secret, bound to each of them.
    ONPREM_ES_CREDENTIALS: { use: 'elasticsearch', urls: [selfManagedUrl, ...otherSelfManagedUrls] },
    CROSS_SEARCH_USER_PASSWORD: { use: 'user-password' },
  } as const;
}

function envFile(env: Record<string, string>): string {
  // Values are single-line (keys, passwords, paths); quoting would be read literally by some loaders.
  return `${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

/** Index a few documents on the self-managed cluster through its HTTP API (as any user would). */
async function seedData(c: SimulatedCluster, password: string): Promise<void> {
  const auth = `Basic ${Buffer.from(`elastic:${password}`).toString('base64')}`;
  const call = (method: string, p: string, body: unknown) =>
    new Promise<number>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = https.request(
        `${c.url}${p}`,
        {
          method,
          ca: c.httpCaPem,
          headers: {
            authorization: auth,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  for (const [i, doc] of SEED_DOCS.entries()) {
    const status = await call('PUT', `/${SEED_INDEX}/_doc/${i + 1}?refresh=true`, doc);
    if (status >= 300) throw new Error(`seeding ${SEED_INDEX} failed with HTTP ${status}`);
  }
}

class SandboxImpl implements Sandbox, ControlTarget {
  info!: SandboxInfo;
  cloud!: CloudApi;
  deployment!: CloudDeployment;
  ech!: SimulatedCluster;
  selfManaged!: SimulatedCluster;
  extraRemotes = new Map<string, SimulatedCluster>();
  scenario: ScenarioName;
  versions: Versions;
  faultSeed: number;
  readonly faults: FaultInjector;
  private spec: ScenarioSpec;
  private filesDir: string;
  private publicRootFile: string;
  private secretsFile: string;
  private switching: Promise<void> = Promise.resolve();

  constructor(
    readonly pki: SandboxPki,
    private readonly id: Identity,
    private readonly options: StartOptions,
  ) {
    this.scenario = options.scenario ?? 'api-key-public';
    this.spec = scenarioSpec(this.scenario, options.versions);
    this.versions = this.spec.versions;
    this.faultSeed = options.seed ?? 1;
    this.faults = new FaultInjector(this.faultSeed);
    this.filesDir =
      options.filesDir ??
      (options.outFile
        ? path.join(path.dirname(path.resolve(options.outFile)), '.ech-remote')
        : fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-sandbox-')));
    fs.mkdirSync(this.filesDir, { recursive: true });
    this.publicRootFile = path.join(this.filesDir, 'sandbox-public-root.pem');
    this.secretsFile = path.join(this.filesDir, 'sandbox.env');
  }

  get control(): ControlTarget {
    return this;
  }

  async boot(): Promise<void> {
    fs.writeFileSync(this.publicRootFile, this.pki.publicRoot.certPem);
    const leaf = await this.pki.issue(this.pki.publicRoot, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: [this.id.host],
    });
    const [cloud] = await Promise.all([
      CloudApi.start({
        tls: { key: leaf.keyPem, cert: leaf.certPem },
        apiKey: this.id.apiKey,
        faults: this.faults,
        host: this.id.host,
        ...(this.options.ports ? { port: this.options.ports.cloud } : {}),
      }),
      this.startClusters(),
    ]);
    this.cloud = cloud;
    this.cloud.control = createControlHandler(this);
    this.id.ports = {
      ech: portsOf(this.ech),
      selfManaged: portsOf(this.selfManaged),
      remotes: Object.fromEntries([...this.extraRemotes].map(([alias, c]) => [alias, portsOf(c)])),
    };
    this.attachDeployment();
    this.refreshInfo();
  }

  private get everyPath(): boolean {
    return this.options.estate === 'every-path';
  }

  private async startClusters(): Promise<void> {
    const startCluster = this.options.clusterFactory ?? ((c: ClusterConfig) => SimulatedCluster.start(c));
    // The extra remotes are shaped by their path, never by the scenario (nor its version overrides).
    const extras = this.everyPath
      ? EXTRA_REMOTES.map((r) =>
          startCluster(
            clusterConfigFor('self-managed', scenarioSpec(r.request), this.id, this.pki, this.faults, {
              clusterName: r.clusterName,
              clusterUuid: this.id.remoteUuids[r.alias]!,
              serverName: r.serverName,
              ports: this.id.ports?.remotes[r.alias] ?? this.options.ports?.remotes?.[r.alias],
            }),
          ),
        )
      : [];
    const [ech, selfManaged, ...others] = await Promise.all([
      startCluster(clusterConfigFor('ech', this.spec, this.id, this.pki, this.faults)),
      startCluster(clusterConfigFor('self-managed', this.spec, this.id, this.pki, this.faults)),
      ...extras,
    ]);
    this.ech = ech;
    this.selfManaged = selfManaged;
    this.extraRemotes = new Map(others.map((c, i) => [EXTRA_REMOTES[i]!.alias, c]));
    await Promise.all([selfManaged, ...others].map((c) => seedData(c, this.id.selfManagedPassword)));
  }

  /** A self-managed cluster by the alias of its sample request (`?cluster=` of the control API); default the scenario's. */
  cluster(alias?: string): SimulatedCluster {
    if (alias === undefined || alias === PRIMARY_ALIAS) return this.selfManaged;
    const c = this.extraRemotes.get(alias);
    if (!c) {
      const known = [PRIMARY_ALIAS, ...this.extraRemotes.keys()].join(', ');
      throw new CloudError(404, 'sandbox.not_found', `No self-managed cluster [${alias}] in this estate (${known})`, [
        'cluster',
      ]);
    }
    return c;
  }

  private attachDeployment(plans?: Partial<PlanSettings>): void {
    const previous = this.deployment;
    if (previous) this.cloud.removeDeployment(previous.id);
    const ports = this.id.ports!;
    this.deployment = new CloudDeployment({
      id: this.id.deploymentId,
      name: 'sandbox-ech',
      refId: this.id.refId,
      region: this.id.region,
      clusterId: this.id.clusterId,
      clusterName: this.id.clusterId,
      orgId: this.id.orgId,
      version: this.spec.versions.ech,
      endpoint: { host: this.id.host, httpsPort: ports.ech.http, transportPort: ports.ech.transport },
      caCertificates: [{ pem: this.pki.echTransport.certPem, active: true }],
      ech: this.ech,
      plans: plans ?? (this.options.planPendingMs !== undefined ? { pendingMs: this.options.planPendingMs } : {}),
    });
    this.cloud.addDeployment(this.deployment);
  }

  private refreshInfo(): void {
    const ca = this.pki.caPems();
    const env = {
      EC_API_KEY: this.id.apiKey,
      ECH_ES_CREDENTIALS: `elastic:${this.id.echPassword}`,
      ONPREM_ES_CREDENTIALS: `elastic:${this.id.selfManagedPassword}`,
      CROSS_SEARCH_USER_PASSWORD: this.id.crossSearchUserPassword,
      ECH_REMOTE_SECRET_BINDINGS: JSON.stringify(
        sandboxSecretBindings(
          this.cloud.url,
          this.id.deploymentId,
          this.selfManaged.url,
          [...this.extraRemotes.values()].map((c) => c.url),
        ),
      ),
      NODE_EXTRA_CA_CERTS: this.publicRootFile,
    };
    const base = {
      scenario: this.scenario,
      versions: this.versions,
      cloud: {
        endpoint: this.cloud.url,
        apiKey: this.id.apiKey,
        deploymentId: this.id.deploymentId,
        refId: this.id.refId,
        clusterId: this.id.clusterId,
        organizationId: this.id.orgId,
        region: this.id.region,
      },
      ech: {
        url: this.ech.url,
        username: 'elastic',
        password: this.id.echPassword,
        version: this.versions.ech,
        clusterId: this.id.clusterId,
        transport: this.ech.transportAddress,
        remoteClusterServer: this.ech.remoteClusterServerAddress,
      },
      selfManaged: {
        url: this.selfManaged.url,
        username: 'elastic',
        password: this.id.selfManagedPassword,
        remoteClusterServer: this.selfManaged.remoteClusterServerAddress,
        transport: this.selfManaged.transportAddress,
        serverName: serverNameOf(this.selfManaged),
        version: this.versions.selfManaged,
        license: this.spec.selfManaged.license,
        httpCa: this.selfManaged.httpCaPem,
      },
      ca,
      control: `${this.cloud.url}/_sandbox`,
      env,
      files: {
        publicRootPem: this.publicRootFile,
        secretsEnv: this.secretsFile,
        ...(this.options.outFile ? { sandboxJson: path.resolve(this.options.outFile) } : {}),
      },
      seededIndex: { name: SEED_INDEX, pattern: 'logs-*', documents: SEED_DOCS.length },
    };
    const secretsEnvFile = envFile(env);
    fs.writeFileSync(this.secretsFile, secretsEnvFile, { mode: 0o600 });
    const primary: RequestTarget = {
      alias: PRIMARY_ALIAS,
      url: this.selfManaged.url,
      httpCa: this.selfManaged.httpCaPem,
      remoteClusterServer: this.selfManaged.remoteClusterServerAddress,
      transport: this.selfManaged.transportAddress,
      serverName: serverNameOf(this.selfManaged),
      role: 'remote-search',
      user: 'cross-search-user',
    };
    const targetOf = (name: RequestName): RequestTarget => {
      const extra = EXTRA_REMOTES.find((r) => r.request === name);
      const c = extra && this.extraRemotes.get(extra.alias);
      if (!extra || !c) return primary;
      return {
        alias: extra.alias,
        url: c.url,
        httpCa: c.httpCaPem,
        remoteClusterServer: c.remoteClusterServerAddress,
        transport: c.transportAddress,
        serverName: serverNameOf(c),
        role: extra.role,
        user: extra.user,
      };
    };
    const names: RequestName[] = ['api-key-public', 'api-key-private', 'tls-certificate'];
    const connects = Object.fromEntries(names.map((n) => [n, buildRequest(base, n, targetOf(n))])) as Record<
      RequestName,
      ConnectRequestInput
    >;
    const remoteInfo = (c: SimulatedCluster, spec: ScenarioSpec, request: RequestName): RemoteInfo => ({
      request,
      description: spec.description,
      url: c.url,
      remoteClusterServer: c.remoteClusterServerAddress,
      remoteClusterServerEnabled: spec.selfManaged.rcsEnabled,
      remoteClusterServerCa: spec.selfManaged.rcsCa,
      transport: c.transportAddress,
      serverName: serverNameOf(c),
      clusterName: c.config.clusterName,
      version: spec.versions.selfManaged,
      license: spec.selfManaged.license,
    });
    const remotes: Record<string, RemoteInfo> = {
      [PRIMARY_ALIAS]: remoteInfo(this.selfManaged, this.spec, this.spec.request),
    };
    for (const r of EXTRA_REMOTES) {
      const c = this.extraRemotes.get(r.alias);
      if (c) remotes[r.alias] = remoteInfo(c, scenarioSpec(r.request), r.request);
    }
    const tls = targetOf('tls-certificate');
    const fleet = buildFleetRequest(connects['api-key-private']);
    const requests: SandboxInfo['requests'] = {
      ...connects,
      ...buildDay2Requests(connects['api-key-private']),
      // Every connection of the samples, the fleet's included (its keys are checked like the others').
      audit: buildAuditRequest([
        ...Object.values(connects),
        ...fleet.connections.map((c) => ({ ...connects['api-key-private'], alias: String(c.alias) })),
      ]),
      fleet,
      migrate: buildMigrateRequest(connects['tls-certificate'], tls, remotes[tls.alias]?.remoteClusterServerCa, base),
    };
    this.info = {
      ...base,
      secretsEnvFile,
      requests,
      recommendedRequest: this.spec.request,
      scenarioRequest: buildRequest(base, this.spec.request, primary),
      estate: this.everyPath ? 'every-path' : 'scenario',
      remotes,
    };
    if (this.options.outFile) this.writeInfo();
    this.options.onInfo?.(this.info);
  }

  writeInfo(file = this.options.outFile): void {
    if (!file) throw new Error('no file to write sandbox.json to');
    fs.writeFileSync(file, `${JSON.stringify(this.info, null, 2)}\n`, { mode: 0o600 });
  }

  async switchScenario(name: ScenarioName, versions: Partial<Versions> = {}): Promise<void> {
    // Serialized: two control calls must not interleave their rebuilds.
    const run = this.switching.then(async () => {
      const plans = { ...this.deployment.plans, failNext: 0 };
      this.spec = scenarioSpec(name, versions);
      this.scenario = name;
      this.versions = this.spec.versions;
      this.faults.configure([], this.faultSeed);
      this.deployment.dispose();
      await Promise.all([
        this.ech.stop(),
        this.selfManaged.stop(),
        ...[...this.extraRemotes.values()].map((c) => c.stop()),
      ]);
      await this.startClusters();
      this.attachDeployment(plans);
      this.refreshInfo();
    });
    this.switching = run.catch(() => undefined);
    return run;
  }

  sandboxInfo(): SandboxInfo {
    return this.info;
  }

  summary(): Record<string, unknown> {
    return {
      scenario: this.scenario,
      description: this.spec.description,
      recommendedRequest: this.spec.request,
      versions: this.versions,
      selfManaged: {
        url: this.selfManaged.url,
        remoteClusterServer: this.selfManaged.remoteClusterServerAddress,
        transport: this.selfManaged.transportAddress,
        ...this.spec.selfManaged,
      },
      ech: { url: this.ech.url, transport: this.ech.transportAddress },
      remotes: this.info?.remotes,
      cloud: { endpoint: this.cloud.url, deploymentId: this.id.deploymentId, refId: this.id.refId },
      plans: { ...this.deployment.plans },
      faults: { seed: this.faultSeed, rules: this.faults.activeRules.length },
    };
  }

  async state(): Promise<Record<string, unknown>> {
    await Promise.all([
      this.ech.idle(),
      this.selfManaged.idle(),
      ...[...this.extraRemotes.values()].map((c) => c.idle()),
    ]);
    const ech = this.ech.snapshot();
    const selfManaged = this.selfManaged.snapshot();
    return {
      scenario: this.scenario,
      versions: this.versions,
      cloud: { ...this.deployment.snapshot(), requestCounts: this.cloud.requestCounts },
      ech,
      selfManaged,
      // The other clusters of an `every-path` estate, by alias (`selfManaged` is `onprem-logs`).
      remotes: Object.fromEntries([...this.extraRemotes].map(([alias, c]) => [alias, c.snapshot()])),
      lastRemoteConnection: lastRemoteConnection(ech, selfManaged),
      faults: { seed: this.faultSeed, rules: this.faults.activeRules, history: this.faults.history },
    };
  }

  plans(): PlanSettings & { pending: string | null; history: unknown[] } {
    const snap = this.deployment.snapshot().plans as { pending: string | null; history: unknown[] };
    return { ...this.deployment.plans, pending: snap.pending, history: snap.history };
  }

  setPlans(settings: Partial<PlanSettings>): void {
    Object.assign(this.deployment.plans, settings);
  }

  selfManagedConfig(cluster?: string): Record<string, unknown> {
    const c = this.cluster(cluster).nodeConfig();
    return { ...c, pendingRestart: JSON.stringify(c.effective) !== JSON.stringify(c.pending) };
  }

  async selfManagedApply(
    input: {
      settings?: Record<string, unknown>;
      files?: Record<string, string | null>;
      restart?: boolean;
    },
    cluster?: string,
  ): Promise<Record<string, unknown>> {
    const target = this.cluster(cluster);
    // `null` removes a setting or file (NodeConfig.apply), though the simulator's signature only names strings.
    const result = await target.applyNodeConfig(input as Parameters<SimulatedCluster['applyNodeConfig']>[0]);
    return { ...result, ...target.nodeConfig() };
  }

  async echCaRotation(inactive: 'valid' | 'expired'): Promise<Record<string, unknown>> {
    const now = Date.now();
    const day = 24 * 60 * 60 * 1000;
    const ca = await createCertificateAuthority(
      `ech-transport-${inactive}`,
      `CN=Elastic Cloud Transport CA (${inactive === 'valid' ? 'rotation' : 'expired'}), O=Elastic Cloud Sandbox`,
      inactive === 'valid'
        ? { notBefore: new Date(now - day), notAfter: new Date(now + 3650 * day) }
        : { notBefore: new Date(now - 400 * day), notAfter: new Date(now - 30 * day) },
    );
    this.deployment.addInactiveCa(ca.certPem);
    return this.deployment.renderCertificateAuthority();
  }

  async selfManagedRestart(cluster?: string): Promise<Record<string, unknown>> {
    await this.cluster(cluster).restart();
    return { restarted: true, ...this.selfManagedConfig(cluster) };
  }

  /**
   * The self-managed admin runs `elasticsearch-certutil cert --in instances.yml` (the CA key is theirs: the sandbox's
   * self-managed transport CA) and copies this node's certificate and key into place. `cn` entries become otherName
   * SANs, as certutil makes them.
   */
  async selfManagedCertutil(
    input: {
      instances: string;
      certificate: string;
      key: string;
    },
    cluster?: string,
  ): Promise<Record<string, unknown>> {
    const target = this.cluster(cluster);
    let doc: unknown;
    try {
      doc = yaml.load(input.instances);
    } catch (e) {
      throw new CloudError(400, 'sandbox.invalid_request', `instances.yml is not valid YAML: ${(e as Error).message}`, [
        'instances',
      ]);
    }
    const instances = (doc as { instances?: unknown } | null)?.instances;
    if (!Array.isArray(instances)) {
      throw new CloudError(400, 'sandbox.invalid_request', 'ERROR: instances.yml has no "instances" list', [
        'instances',
      ]);
    }
    const node = target.nodeName;
    const mine = instances.find((i: { name?: unknown }) => i?.name === node) as { cn?: unknown } | undefined;
    if (!mine) {
      throw new CloudError(
        400,
        'sandbox.invalid_request',
        `instances.yml has no instance named [${node}] (the self-managed node)`,
        ['instances'],
      );
    }
    const cnOf = (entry: { cn?: unknown }) =>
      Array.isArray(entry.cn) ? entry.cn.map(String) : typeof entry.cn === 'string' ? [entry.cn] : [];
    const cn = cnOf(mine);
    await target.reissueTransportCertificates({
      otherName: cn.length ? cn : undefined,
      paths: { certificate: input.certificate, key: input.key },
    });
    // The other nodes get what certutil issued under their own names; one without an entry keeps its certificate.
    const peers = await target.reissuePeerTransportCertificates(
      new Map(
        instances
          .filter((i: { name?: unknown }) => typeof i?.name === 'string')
          .map((i: { name: string; cn?: unknown }) => [i.name, cnOf(i)] as [string, string[]]),
      ),
    );
    return {
      name: node,
      otherNames: cn,
      certificate: input.certificate,
      key: input.key,
      ...(target.nodeNames.length > 1
        ? { otherNodes: peers, notIssued: target.nodeNames.slice(1).filter((n) => !peers.some((p) => p.name === n)) }
        : {}),
    };
  }

  async stop(): Promise<void> {
    await this.switching;
    await Promise.all([
      this.cloud?.stop(),
      this.ech?.stop(),
      this.selfManaged?.stop(),
      ...[...this.extraRemotes.values()].map((c) => c.stop()),
    ]);
  }
}

/**
 * Which cross-cluster API key authenticated the last remote connection: the ECH side's record of its last
 * authenticated outbound connection, and the self-managed side's last accepted inbound one.
 */
function lastRemoteConnection(ech: Record<string, unknown>, selfManaged: Record<string, unknown>): unknown {
  const inbound = (selfManaged.inbound as { ok: boolean; apiKeyId?: string }[] | undefined) ?? [];
  const accepted = [...inbound].reverse().find((e) => e.ok);
  const outbound = ech.lastRemoteAuthentication as { apiKeyId?: string } | undefined;
  if (!outbound && !accepted) return null;
  return {
    apiKeyId: outbound?.apiKeyId ?? accepted?.apiKeyId ?? null,
    ...(outbound ? { ech: outbound } : {}),
    ...(accepted ? { selfManaged: accepted } : {}),
  };
}

/** Start the sandbox on random free loopback ports. */
export async function start(options: StartOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const id: Identity = {
    host,
    apiKey: `essu_${secret(24)}`,
    deploymentId: options.deploymentId ?? cloudId(),
    clusterId: cloudId(),
    orgId: String(1_000_000_000 + (randomBytes(4).readUInt32BE(0) % 1_000_000_000)),
    region: 'sandbox-local-1',
    refId: 'main-elasticsearch',
    echPassword: secret(),
    selfManagedPassword: secret(),
    crossSearchUserPassword: secret(),
    selfManagedClusterName: 'onprem-cluster',
    selfManagedClusterUuid: secret(16),
    echClusterUuid: secret(16),
    remoteUuids: Object.fromEntries(EXTRA_REMOTES.map((r) => [r.alias, secret(16)])),
  };
  if (options.ports) {
    const p = options.ports;
    id.ports = {
      ech: { http: p.ech, remoteClusterServer: p.ech + 1000, transport: p.ech + 2000 },
      selfManaged: { http: p.selfManaged, remoteClusterServer: p.remoteClusterServer, transport: p.transport },
      remotes: { ...p.remotes },
    };
  }
  // Under `npm test`, the root scripts/run-tests.ts made and every test process trusts (NODE_EXTRA_CA_CERTS).
  const testRootDir = process.env.ECH_REMOTE_TEST_PUBLIC_ROOT_DIR;
  const publicRoot = options.publicRoot ?? (testRootDir ? await loadOrCreatePublicRoot(testRootDir) : undefined);
  const pki = await createPki(publicRoot ? { publicRoot } : {});
  const sandbox = new SandboxImpl(pki, id, options);
  try {
    await sandbox.boot();
  } catch (e) {
    await sandbox.stop().catch(() => undefined);
    throw e;
  }
  return sandbox;
}
