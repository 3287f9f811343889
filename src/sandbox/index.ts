/**
 * The sandbox: a simulated Elastic estate on loopback with real TLS — an Elastic Cloud API with one ECH deployment
 * and its Elasticsearch endpoint, a self-managed cluster (HTTP, remote cluster server, transport), and the control API
 * under `/_sandbox` on the Cloud endpoint. `start()` builds it on random free ports and returns a `Sandbox` whose
 * `info` is exactly what sandbox.json holds (contract, "Sandbox"). Product code never imports this module.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import yaml from 'js-yaml';
import { FaultInjector } from './faults';
import { CloudError } from './cloud/errors';
import { createPki, loadOrCreatePublicRoot, type PemPair, type SandboxPki } from './pki';
import { SimulatedCluster, type ClusterConfig } from './elasticsearch/cluster';
import { CloudApi, CloudDeployment, cloudId, type PlanSettings } from './cloud';
import { createControlHandler, type ControlTarget } from './control';
import { scenarioSpec, type ScenarioName, type ScenarioSpec, type Versions } from './scenarios';
import type { DisconnectRequestInput, RotateRequestInput, UpdateAccessRequestInput } from '../contract/lifecycle';
import type { ConnectRequestInput } from '../contract/request';

export { SCENARIOS, DEFAULT_VERSIONS, type ScenarioName, type Versions } from './scenarios';

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
  ports?: { cloud: number; ech: number; selfManaged: number; remoteClusterServer: number; transport: number };
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
  /** Ready ConnectRequests, one per path. */
  requests: Record<'api-key-public' | 'api-key-private' | 'tls-certificate', ConnectRequestInput> & {
    /** Day 2, for the alias of `api-key-private` (remote credentials included; the grace period ≤ 10 s). */
    rotate: RotateRequestInput;
    updateAccess: UpdateAccessRequestInput;
    disconnect: DisconnectRequestInput;
  };
  /** The request that fits the current scenario. */
  recommendedRequest: 'api-key-public' | 'api-key-private' | 'tls-certificate';
  /** The index pattern seeded on the self-managed cluster. */
  seededIndex: { name: string; pattern: string; documents: number };
}

export interface Sandbox {
  readonly info: SandboxInfo;
  readonly cloud: CloudApi;
  readonly deployment: CloudDeployment;
  readonly ech: SimulatedCluster;
  readonly selfManaged: SimulatedCluster;
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
  ports?: { ech: ClusterPorts; selfManaged: ClusterPorts };
}

interface ClusterPorts {
  http: number;
  remoteClusterServer: number;
  transport: number;
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

function clusterConfigFor(
  side: 'ech' | 'self-managed',
  spec: ScenarioSpec,
  id: Identity,
  pki: SandboxPki,
  faults: FaultInjector,
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
  return {
    kind: 'self-managed',
    clusterName: id.selfManagedClusterName,
    clusterUuid: id.selfManagedClusterUuid,
    version: spec.versions.selfManaged,
    license: spec.selfManaged.license,
    elasticPassword: id.selfManagedPassword,
    pki,
    faults,
    rcsEnabled: spec.selfManaged.rcsEnabled,
    rcsCa: spec.selfManaged.rcsCa,
    transportOtherName: spec.selfManaged.transportOtherName,
    host: id.host,
    ...(id.ports ? { ports: id.ports.selfManaged } : {}),
  };
}

function serverNameOf(c: SimulatedCluster): string {
  return c.serverName;
}

// ---- ConnectRequests ------------------------------------------------------------------------------------------------

function buildRequests(
  info: Omit<SandboxInfo, 'requests' | 'recommendedRequest' | 'secretsEnvFile'>,
): SandboxInfo['requests'] {
  const local = {
    deploymentId: info.cloud.deploymentId,
    refId: info.cloud.refId,
    cloud: { endpoint: info.cloud.endpoint, apiKeySecret: 'EC_API_KEY' },
    elasticsearch: { url: info.ech.url, credentialsSecret: 'ECH_ES_CREDENTIALS' },
  };
  const remoteEs = {
    url: info.selfManaged.url,
    credentialsSecret: 'ONPREM_ES_CREDENTIALS',
    caPem: info.selfManaged.httpCa,
  };
  const privileges = ['read', 'read_cross_cluster', 'view_index_metadata'];
  const users = [
    { username: 'cross-search-user', roles: ['remote-search'], passwordSecret: 'CROSS_SEARCH_USER_PASSWORD' },
  ];
  const apiKey = (ca: ConnectRequestInput['remote']['ca']): ConnectRequestInput => ({
    alias: 'onprem-logs',
    securityModel: 'api-key',
    local,
    remote: {
      proxyAddress: info.selfManaged.remoteClusterServer,
      serverName: info.selfManaged.serverName,
      ca,
      elasticsearch: remoteEs,
    },
    access: { search: [{ names: ['logs-*'] }] },
    keyExpiration: '90d',
    roles: [{ name: 'remote-search', remoteIndices: [{ names: ['logs-*'], privileges }] }],
    users,
    verify: { searchIndex: 'logs-*' },
    onFailure: 'rollback',
  });
  const private_ = apiKey({ kind: 'private', pem: info.ca.remotePrivate });
  // Day 2 for the connection `api-key-private` makes: same deployment, secrets and remote credentials.
  const day2 = {
    alias: private_.alias,
    local,
    remote: { elasticsearch: remoteEs },
    verify: { searchIndex: 'logs-*' },
  };
  return {
    'api-key-public': apiKey({ kind: 'public' }),
    'api-key-private': private_,
    rotate: { ...day2, gracePeriod: '10s' },
    updateAccess: {
      ...day2,
      access: { search: [{ names: ['logs-*'], query: { term: { service: 'auth' } } }] },
    },
    disconnect: { ...day2 },
    'tls-certificate': {
      alias: 'onprem-logs',
      securityModel: 'tls-certificate',
      local,
      remote: {
        // The transport port; the certificate model verifies node names (otherName), not host names.
        proxyAddress: info.selfManaged.transport,
        ca: { kind: 'private', pem: info.ca.selfManagedTransport },
        elasticsearch: remoteEs,
      },
      roles: [{ name: 'remote-search', remote: { indices: [{ names: ['logs-*'], privileges }] } }],
      users,
      verify: { searchIndex: 'logs-*' },
      onFailure: 'rollback',
    },
  };
}

/** The bindings a worker needs for the sandbox's secrets: each to the sandbox endpoint it belongs to. */
export function sandboxSecretBindings(cloudEndpoint: string, deploymentId: string, selfManagedUrl: string) {
  return {
    EC_API_KEY: { use: 'cloud-api-key', endpoint: cloudEndpoint },
    ECH_ES_CREDENTIALS: { use: 'ech-elasticsearch', deployments: [deploymentId] },
    ONPREM_ES_CREDENTIALS: { use: 'elasticsearch', urls: [selfManagedUrl] },
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
    this.id.ports = { ech: portsOf(this.ech), selfManaged: portsOf(this.selfManaged) };
    this.attachDeployment();
    this.refreshInfo();
  }

  private async startClusters(): Promise<void> {
    const startCluster = this.options.clusterFactory ?? ((c: ClusterConfig) => SimulatedCluster.start(c));
    const [ech, selfManaged] = await Promise.all([
      startCluster(clusterConfigFor('ech', this.spec, this.id, this.pki, this.faults)),
      startCluster(clusterConfigFor('self-managed', this.spec, this.id, this.pki, this.faults)),
    ]);
    this.ech = ech;
    this.selfManaged = selfManaged;
    await seedData(selfManaged, this.id.selfManagedPassword);
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
        sandboxSecretBindings(this.cloud.url, this.id.deploymentId, this.selfManaged.url),
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
    this.info = { ...base, secretsEnvFile, requests: buildRequests(base), recommendedRequest: this.spec.request };
    if (this.options.outFile) this.writeInfo();
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
      await Promise.all([this.ech.stop(), this.selfManaged.stop()]);
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
      cloud: { endpoint: this.cloud.url, deploymentId: this.id.deploymentId, refId: this.id.refId },
      plans: { ...this.deployment.plans },
      faults: { seed: this.faultSeed, rules: this.faults.activeRules.length },
    };
  }

  async state(): Promise<Record<string, unknown>> {
    await Promise.all([this.ech.idle(), this.selfManaged.idle()]);
    const ech = this.ech.snapshot();
    const selfManaged = this.selfManaged.snapshot();
    return {
      scenario: this.scenario,
      versions: this.versions,
      cloud: { ...this.deployment.snapshot(), requestCounts: this.cloud.requestCounts },
      ech,
      selfManaged,
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

  selfManagedConfig(): Record<string, unknown> {
    const c = this.selfManaged.nodeConfig();
    return { ...c, pendingRestart: JSON.stringify(c.effective) !== JSON.stringify(c.pending) };
  }

  async selfManagedApply(input: {
    settings?: Record<string, unknown>;
    files?: Record<string, string | null>;
    restart?: boolean;
  }): Promise<Record<string, unknown>> {
    // `null` removes a setting or file (NodeConfig.apply), though the simulator's signature only names strings.
    const result = await this.selfManaged.applyNodeConfig(input as Parameters<SimulatedCluster['applyNodeConfig']>[0]);
    return { ...result, ...this.selfManaged.nodeConfig() };
  }

  async selfManagedRestart(): Promise<Record<string, unknown>> {
    await this.selfManaged.restart();
    return { restarted: true, ...this.selfManagedConfig() };
  }

  /**
   * The self-managed admin runs `elasticsearch-certutil cert --in instances.yml` (the CA key is theirs: the sandbox's
   * self-managed transport CA) and copies this node's certificate and key into place. `cn` entries become otherName
   * SANs, as certutil makes them.
   */
  async selfManagedCertutil(input: {
    instances: string;
    certificate: string;
    key: string;
  }): Promise<Record<string, unknown>> {
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
    const node = this.selfManaged.nodeName;
    const mine = instances.find((i: { name?: unknown }) => i?.name === node) as { cn?: unknown } | undefined;
    if (!mine) {
      throw new CloudError(
        400,
        'sandbox.invalid_request',
        `instances.yml has no instance named [${node}] (the self-managed node)`,
        ['instances'],
      );
    }
    const cn = Array.isArray(mine.cn) ? mine.cn.map(String) : typeof mine.cn === 'string' ? [mine.cn] : [];
    await this.selfManaged.reissueTransportCertificates({
      otherName: cn.length ? cn : undefined,
      paths: { certificate: input.certificate, key: input.key },
    });
    return { name: node, otherNames: cn, certificate: input.certificate, key: input.key };
  }

  async stop(): Promise<void> {
    await this.switching;
    await Promise.all([this.cloud?.stop(), this.ech?.stop(), this.selfManaged?.stop()]);
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
  };
  if (options.ports) {
    const p = options.ports;
    id.ports = {
      ech: { http: p.ech, remoteClusterServer: p.ech + 1000, transport: p.ech + 2000 },
      selfManaged: { http: p.selfManaged, remoteClusterServer: p.remoteClusterServer, transport: p.transport },
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
