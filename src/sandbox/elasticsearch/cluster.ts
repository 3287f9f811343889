/**
 * A simulated Elasticsearch cluster (one node): real HTTPS API, real TLS listeners for the remote cluster server and
 * transport ports, outbound remote connections, and the admin-side node configuration of a self-managed cluster.
 */
import { randomBytes, createHash } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import { Router, serve, BadJson } from '../http';
import type { Reply, Request, RunningServer } from '../http';
import type { FaultInjector } from '../faults';
import type { CertificateAuthority, IssuedCertificate, SandboxPki } from '../pki';
import { cloudNodeName, peerIdentity } from '../pki';
import { EsError, noHandler, wrongMethod, badRequest, indexNotFound } from './errors';
import {
  checkCompatibilityHeaders,
  defaultSkipUnavailable,
  luceneVersion,
  minimumIndexCompatibilityVersion,
  minimumWireCompatibilityVersion,
  hasRemoteClusterSecurity,
  reloadSecureSettingsCoversRemoteCredentials,
  reloadsRemoteCredentials,
  supportsApiKeyModel,
  supportsResolveCluster,
  supportsResolveClusterWithoutExpression,
} from './compat';
import { SecurityRealm, wildcardMatch, INDEX_ACTIONS } from './security';
import type { Authentication, ClusterAction, User } from './security';
import { ClusterSettings, nest } from './settings';
import { IndexStore, splitExpression } from './search';
import type { Hit } from './search';
import { FILE, NodeConfig, NodeStartupError, SETTING } from './nodeConfig';
import type { NodeRuntime } from './nodeConfig';
import {
  RemoteClusters,
  RemoteError,
  RemoteListener,
  causeToString,
  failures,
  isRemoteUnavailable,
  licenseAllowsApiKeyModel,
  namesForFields,
} from './remote';
import type { InboundEvent, License, LocalSideHost, RemoteConnection, RemoteSideHost } from './remote';

export interface TrustConfig {
  /** CA PEMs of the deployment's trusted environments (settings.trust.direct[].certificates[].pem). */
  cas: string[];
  /** Exact node names or wildcard patterns the remote's transport certificates must carry (certificate model). */
  transportNodeNamePatterns?: string[];
  /** Cloud-pattern scopes: `*.node.<cluster_id or *>.cluster.<scope_id>.account`. */
  trustScopes?: { scopeId: string; clusterIds?: string[] }[];
  /** ECH user setting xpack.security.transport.ssl.trust_restrictions.x509_fields (default otherName CN). */
  x509Fields?: string[];
}

export interface ClusterConfig {
  kind: 'ech' | 'self-managed';
  clusterName: string;
  clusterUuid: string;
  version: string;
  license: 'basic' | 'gold' | 'platinum' | 'enterprise' | 'trial';
  /** A paid license past its expiry date (`GET _license` status `expired`); default active. */
  licenseExpired?: boolean;
  /** `GET _cluster/health` status (default green): yellow = replicas unassigned, red = a primary unassigned. */
  health?: 'green' | 'yellow' | 'red';
  elasticPassword: string;
  pki: SandboxPki;
  faults: FaultInjector;
  /** self-managed: initial elasticsearch.yml-style settings (flat keys) and config-dir files (name -> content). */
  nodeSettings?: Record<string, unknown>;
  files?: Record<string, string>;
  /** Node name (default ECH `instance-0000000000`, self-managed `node-1`). */
  nodeName?: string;
  /** ECH: organization id = Cloud cert scope_id (default 'sandbox-org'). */
  orgId?: string;
  /** ECH: node id of the Cloud-pattern certificate (default 'instance-0000000000'). */
  nodeId?: string;
  /** ECH: the Elasticsearch cluster id of the Cloud pattern (default: clusterName). */
  clusterId?: string;
  /** self-managed: otherName CNs of its transport certificate (absent = out-of-the-box certs without otherName). */
  transportOtherNames?: string[];
  /** self-managed: which CA signs the remote cluster server certificate (default 'public'). */
  remoteClusterServerCa?: 'public' | 'private';
  /** The DNS name in the cluster's certificates (self-managed default 'es.selfmanaged.sandbox'). */
  serverName?: string;
  /** Static name resolution for outbound remote connections (the sandbox never uses real DNS). */
  hosts?: Record<string, string>;
  /** Fixed ports (e.g. to keep addresses across a sandbox restart); default random. */
  ports?: { http?: number; remoteClusterServer?: number; transport?: number };
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** self-managed: initial `remote_cluster_server.enabled` (default false, as in Elasticsearch). */
  rcsEnabled?: boolean;
  /** Alias of remoteClusterServerCa. */
  rcsCa?: 'public' | 'private';
  /** self-managed: true = transport certificate carries a Cloud-pattern otherName (domain step C2), see transportNodeNames. */
  transportOtherName?: boolean;
  /** self-managed: scope used in the Cloud-pattern otherName of its nodes (default 'selfmanaged'). */
  transportScopeId?: string;
  /**
   * self-managed: number of nodes (default 1). Nodes 2..n are identities, not processes: each has its own name
   * (`node-2`, ...) and transport certificate (node-1's, re-issued from the same CA with that node's name), they answer
   * `_nodes` / `_cat/nodes`, serve transport connections in turn behind the one transport address, and must match the
   * trust-restrictions file for the cluster to form. See docs/sandbox.md "Fidelity".
   */
  nodes?: number;
}

const DEFAULT_SELF_MANAGED_NAME = 'es.selfmanaged.sandbox';

function nodeIdOf(name: string): string {
  return createHash('sha256').update(name).digest('base64url').slice(0, 22);
}

export class SimulatedCluster {
  readonly kind: 'ech' | 'self-managed';
  readonly security: SecurityRealm;
  readonly store = new IndexStore();
  readonly settings: ClusterSettings;
  readonly remotes: RemoteClusters;
  readonly nodeConfigStore: NodeConfig;
  readonly nodeName: string;
  readonly serverName: string;
  license: License;
  /** Self-managed node refused to start (last startup error) and is down. */
  startupError?: string;
  lastRemoteAuthentication?: { alias: string; apiKeyId: string; at: string };
  readonly inboundLog: (InboundEvent & { at: string })[] = [];
  /** CCR (minimal): follower indices and auto-follow patterns, by name. */
  readonly ccrFollowers = new Map<string, { remoteCluster: string; leaderIndex: string; paused?: boolean }>();
  readonly ccrAutoFollow = new Map<
    string,
    { remoteCluster: string; leaderIndexPatterns: string[]; paused?: boolean }
  >();
  /** Transforms (minimal): their source indices and whether they run, so a migration can see what uses an alias. */
  readonly transforms = new Map<string, { sourceIndex: string[]; destIndex: string; started: boolean }>();
  /** Remote side: the key that authenticated the last cross-cluster request (what the remote sees, per request). */
  lastCrossClusterRequest?: { apiKeyId: string; at: string };
  readonly outboundLog: { at: string; alias: string; ok: boolean; apiKeyId?: string; reason?: string }[] = [];

  private http?: RunningServer;
  private httpPort = 0;
  private httpCert!: IssuedCertificate;
  private readonly rcsListener: RemoteListener;
  private readonly transportListener: RemoteListener;
  private runtime?: NodeRuntime;
  /** Nodes 2..n (config.nodes): name and transport certificate, derived from node-1's effective one at start. */
  private peerNodes: { name: string; certPem: string; keyPem: string }[] = [];
  private peerNodesFrom?: string;
  /**
   * Certificates certutil issued for nodes 2..n from their own instances.yml entries, installed on those nodes at the
   * next restart (nodes without an entry keep theirs): set by {@link reissuePeerTransportCertificates}.
   */
  private pendingPeerCertificates?: Map<string, { certPem: string; keyPem: string }>;
  /** The CA that signed node-1's transport certificate, to issue the other nodes' from (as certutil would). */
  private transportIssuer?: CertificateAuthority;
  /** Whether the nodes found each other: false when the trust restrictions refuse one of the cluster's own nodes. */
  private formed = true;
  private keystore = new Map<string, string>();
  private pendingKeystore = new Map<string, string>();
  private keystoreModified = new Date();
  private trust: TrustConfig = { cas: [] };
  private echNodeCert?: IssuedCertificate;
  private background: Promise<unknown> = Promise.resolve();
  private featureLastUsed?: number;
  licenseExpired: boolean;
  health: 'green' | 'yellow' | 'red';

  private constructor(readonly config: ClusterConfig) {
    this.kind = config.kind;
    this.license = config.license;
    this.licenseExpired = config.licenseExpired ?? false;
    this.health = config.health ?? 'green';
    this.security = new SecurityRealm(config.version, config.elasticPassword);
    this.settings = new ClusterSettings(defaultSkipUnavailable(config.version));
    this.nodeName = config.nodeName ?? (config.kind === 'ech' ? 'instance-0000000000' : 'node-1');
    this.serverName =
      config.serverName ??
      (config.kind === 'ech' ? `${config.clusterName}.es.sandbox.elastic-cloud.com` : DEFAULT_SELF_MANAGED_NAME);
    this.nodeConfigStore = new NodeConfig(config.version, {}, {});
    const remoteSide: RemoteSideHost = {
      clusterName: config.clusterName,
      clusterUuid: config.clusterUuid,
      version: config.version,
      license: () => this.effectiveLicense(),
      security: this.security,
      store: this.store,
      faults: config.faults,
      faultTarget: config.kind,
      recordRequestKey: (apiKeyId) => {
        this.lastCrossClusterRequest = { apiKeyId, at: new Date().toISOString() };
      },
      recordInbound: (e) => {
        this.inboundLog.push({ at: new Date().toISOString(), ...e });
        if (this.inboundLog.length > 200) this.inboundLog.shift();
        if (e.ok && e.apiKeyId) this.featureLastUsed = Date.now();
      },
    };
    this.rcsListener = new RemoteListener(remoteSide, '_remote_cluster', config.host);
    this.transportListener = new RemoteListener(remoteSide, 'default', config.host);
    const localSide: LocalSideHost = {
      version: config.version,
      license: () => this.effectiveLicense(),
      remoteClusterClientCas: () => [config.pki.publicRoot.certPem, ...this.trust.cas],
      transportTrust: () => ({
        cas: [config.pki.echTransport.certPem, ...this.trust.cas],
        nodeNamePatterns: [
          ...(this.trust.transportNodeNamePatterns ?? []),
          ...(this.trust.trustScopes ?? []).flatMap((s) =>
            (s.clusterIds?.length ? s.clusterIds : ['*']).map((c) => `*.node.${c}.cluster.${s.scopeId}.account`),
          ),
        ],
        x509Fields: this.trust.x509Fields ?? ['subjectAltName.otherName.commonName'],
      }),
      transportCertificate: () =>
        this.kind === 'ech'
          ? { certPem: this.echNodeCert!.certPem, keyPem: this.echNodeCert!.keyPem }
          : {
              certPem: this.runtime?.transport.certPem ?? '',
              keyPem: this.runtime?.transport.keyPem ?? '',
            },
      credentials: (alias) => this.keystore.get(`cluster.remote.${alias}.credentials`),
      resolveHost: (host) => (host === 'localhost' ? '127.0.0.1' : config.hosts?.[host]),
      recordOutbound: (e) => {
        this.outboundLog.push({ at: new Date().toISOString(), ...e });
        if (this.outboundLog.length > 200) this.outboundLog.shift();
        if (e.ok && e.apiKeyId) {
          this.lastRemoteAuthentication = { alias: e.alias, apiKeyId: e.apiKeyId, at: new Date().toISOString() };
          this.featureLastUsed = Date.now();
        }
      },
    };
    this.remotes = new RemoteClusters(localSide);
  }

  static async start(config: ClusterConfig): Promise<SimulatedCluster> {
    const c = new SimulatedCluster(config);
    await c.init();
    return c;
  }

  // ---- addresses --------------------------------------------------------------------------------------------------

  private get host(): string {
    return this.config.host ?? '127.0.0.1';
  }
  get url(): string {
    return `https://${this.host}:${this.httpPort}`;
  }
  get httpCaPem(): string {
    return this.kind === 'ech' ? this.config.pki.publicRoot.certPem : this.config.pki.remotePrivate.certPem;
  }
  get remoteClusterServerAddress(): string {
    return `${this.host}:${this.rcsListener.port}`;
  }
  get transportAddress(): string {
    return `${this.host}:${this.transportListener.port}`;
  }
  /** The Cloud-pattern node name of an ECH node (otherName of its transport certificate). */
  get cloudNodeName(): string {
    return cloudNodeName(
      this.config.nodeId ?? 'instance-0000000000',
      this.config.clusterId ?? this.config.clusterName,
      this.config.orgId ?? 'sandbox-org',
    );
  }
  get echTransportCertificatePem(): string | undefined {
    return this.echNodeCert?.certPem;
  }

  // ---- lifecycle --------------------------------------------------------------------------------------------------

  private async init(): Promise<void> {
    const { pki } = this.config;
    const httpCa = this.kind === 'ech' ? pki.publicRoot : pki.remotePrivate;
    this.httpCert = await pki.issue(httpCa, {
      commonName: this.serverName,
      dnsNames: [this.serverName, 'localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    await this.rcsListener.reservePort(this.config.ports?.remoteClusterServer);
    await this.transportListener.reservePort(this.config.ports?.transport);
    this.httpPort = this.config.ports?.http ?? 0;
    if (this.kind === 'ech') {
      this.echNodeCert = await pki.issue(pki.echTransport, {
        commonName: this.config.nodeId ?? 'instance-0000000000',
        otherNames: [this.cloudNodeName],
      });
      const rcsCert = await pki.issue(pki.publicRoot, {
        commonName: this.serverName,
        dnsNames: [this.serverName],
        ipAddresses: ['127.0.0.1'],
      });
      // ECH's own listeners: RCS on by default behind public certs; transport with mutual TLS on its transport CA.
      const files: Record<string, string> = {
        [FILE.transportCertificate]: this.echNodeCert.certPem,
        [FILE.transportKey]: this.echNodeCert.keyPem,
        [FILE.transportCa]: pki.echTransport.certPem,
        [FILE.rcsCertificate]: rcsCert.certPem,
        [FILE.rcsKey]: rcsCert.keyPem,
      };
      this.nodeConfigStore.apply(supportsApiKeyModel(this.config.version) ? { [SETTING.rcsEnabled]: true } : {}, files);
    } else {
      const transport = await this.issueTransportCertificate(this.defaultTransportOtherNames());
      const rcsCert = await this.issueRemoteClusterServerCertificate({});
      const files: Record<string, string> = {
        [FILE.httpCertificate]: this.httpCert.certPem,
        [FILE.httpKey]: this.httpCert.keyPem,
        [FILE.httpCa]: pki.remotePrivate.certPem,
        [FILE.transportCertificate]: transport.certPem,
        [FILE.transportKey]: transport.keyPem,
        [FILE.transportCa]: pki.selfManagedTransport.certPem,
        [FILE.rcsCertificate]: rcsCert.certPem,
        [FILE.rcsKey]: rcsCert.keyPem,
        ...(this.config.files ?? {}),
      };
      this.nodeConfigStore.apply(
        {
          'cluster.name': this.config.clusterName,
          'node.name': this.nodeName,
          'xpack.security.enabled': true,
          'xpack.security.http.ssl.enabled': true,
          'xpack.security.transport.ssl.enabled': true,
          'xpack.security.transport.ssl.verification_mode': 'certificate',
          [SETTING.transportCertificate]: FILE.transportCertificate,
          [SETTING.transportKey]: FILE.transportKey,
          [SETTING.transportCas]: [FILE.transportCa],
          ...(hasRemoteClusterSecurity(this.config.version)
            ? { [SETTING.rcsCertificate]: FILE.rcsCertificate, [SETTING.rcsKey]: FILE.rcsKey }
            : {}),
          ...(this.config.rcsEnabled ? { [SETTING.rcsEnabled]: true } : {}),
          ...(this.config.nodeSettings ?? {}),
        },
        files,
      );
    }
    await this.startNode();
  }

  private defaultTransportOtherNames(): string[] | undefined {
    if (this.config.transportOtherNames) return this.config.transportOtherNames;
    if (!this.config.transportOtherName) return undefined;
    return [cloudNodeName(this.nodeName, this.config.clusterName, this.config.transportScopeId ?? 'selfmanaged')];
  }

  /** otherName CNs of every node's effective transport certificate (what trust entries must name). */
  get transportNodeNames(): string[] {
    const pem = this.runtime?.transport.certPem;
    if (!pem) return [];
    return [pem, ...this.peerNodes.map((n) => n.certPem)].flatMap((p) => peerIdentity(p).otherNameCommonNames);
  }

  /** Node names, node-1 first. */
  get nodeNames(): string[] {
    return [this.nodeName, ...this.peerNodes.map((n) => n.name)];
  }

  /**
   * Nodes 2..n get node-1's transport certificate re-issued under their own name, from the CA that issued node-1's:
   * CN and DNS name with the node's name, and each otherName with its first label replaced by the node's name
   * (`node-1.node.c.cluster.s.account` becomes `node-2.node.c.cluster.s.account`), as instances.yml lists one entry
   * per node. Re-derived only when node-1's certificate changed.
   */
  private async derivePeerNodes(node1CertPem: string): Promise<void> {
    const count = Math.max(1, this.config.nodes ?? 1);
    if (this.kind === 'ech' || count === 1) return;
    if (this.peerNodesFrom === node1CertPem && this.peerNodes.length === count - 1) return;
    const otherNames = peerIdentity(node1CertPem).otherNameCommonNames;
    const ca = this.transportIssuer ?? this.config.pki.selfManagedTransport;
    this.peerNodes = await Promise.all(
      Array.from({ length: count - 1 }, async (_, i) => {
        const name = `node-${i + 2}`;
        const cert = await this.config.pki.issue(ca, {
          commonName: name,
          dnsNames: [`${name}.${this.serverName}`, 'localhost'],
          ipAddresses: ['127.0.0.1'],
          ...(otherNames.length ? { otherNames: otherNames.map((n) => n.replace(/^[^.]+/, name)) } : {}),
        });
        return { name, certPem: cert.certPem, keyPem: cert.keyPem };
      }),
    );
    this.peerNodesFrom = node1CertPem;
  }

  /** Every node's certificate must match the trust restrictions (they apply to node-to-node connections too). */
  private nodesForm(runtime: NodeRuntime): boolean {
    const patterns = runtime.transport.trustRestrictions;
    if (!patterns || this.peerNodes.length === 0) return true;
    return [runtime.transport.certPem, ...this.peerNodes.map((n) => n.certPem)].every((pem) =>
      namesForFields(peerIdentity(pem), runtime.transport.x509Fields).some((n) =>
        patterns.some((p) => wildcardMatch(p, n)),
      ),
    );
  }

  /** Cluster-level APIs need an elected master; without one they fail as MasterNotDiscoveredException (503). */
  private requireMaster(): void {
    if (!this.formed) throw new EsError(503, 'master_not_discovered_exception', null as unknown as string);
  }

  /** Issue (but do not install) a self-managed transport certificate from its transport CA. */
  private issueTransportCertificate(
    otherNames: string[] | undefined,
    ca?: CertificateAuthority,
  ): Promise<IssuedCertificate> {
    return this.config.pki.issue(ca ?? this.config.pki.selfManagedTransport, {
      commonName: this.nodeName,
      dnsNames: [`${this.nodeName}.${this.serverName}`, 'localhost'],
      ipAddresses: ['127.0.0.1'],
      ...(otherNames?.length ? { otherNames } : {}),
    });
  }

  private issueRemoteClusterServerCertificate(opts: RcsCertificateOptions): Promise<IssuedCertificate> {
    const { pki } = this.config;
    const which = opts.ca ?? this.config.remoteClusterServerCa ?? this.config.rcsCa ?? 'public';
    const ca = which === 'public' ? pki.publicRoot : which === 'private' ? pki.remotePrivate : which;
    return pki.issue(ca, {
      commonName: this.serverName,
      dnsNames: opts.dnsNames ?? [this.serverName],
      ipAddresses: opts.ipAddresses ?? ['127.0.0.1'],
      ...(opts.otherNames ? { otherNames: opts.otherNames } : {}),
      ...(opts.notBefore ? { notBefore: opts.notBefore } : {}),
      ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
    });
  }

  /**
   * Re-issue the self-managed node's transport certificate (as `elasticsearch-certutil cert -in instances.yml`
   * would), with or without otherName CNs, and write it to the configured files. Takes effect at restart.
   */
  async reissueTransportCertificates(
    opts: {
      otherName?: string[] | undefined;
      ca?: CertificateAuthority;
      /** Write here instead of over the configured transport certificate and key files. */
      paths?: { certificate: string; key: string };
    } = {},
  ): Promise<IssuedCertificate> {
    const cert = await this.issueTransportCertificate(opts.otherName, opts.ca);
    this.transportIssuer = opts.ca ?? this.config.pki.selfManagedTransport;
    const eff = this.nodeConfigStore.pending;
    this.nodeConfigStore.apply(
      {},
      {
        [opts.paths?.certificate ?? String(eff[SETTING.transportCertificate] ?? FILE.transportCertificate)]:
          cert.certPem,
        [opts.paths?.key ?? String(eff[SETTING.transportKey] ?? FILE.transportKey)]: cert.keyPem,
      },
    );
    return cert;
  }

  /**
   * `elasticsearch-certutil cert --in instances.yml` for nodes 2..n: each node named by an entry gets a certificate
   * from the transport CA with the entry's `cn` as otherName (CN and DNS names the node's own), installed on that node
   * at the next restart; a node without an entry keeps the certificate it has (nobody issued one for it).
   */
  async reissuePeerTransportCertificates(
    entries: Map<string, string[]>,
  ): Promise<{ name: string; otherNames: string[] }[]> {
    const ca = this.config.pki.selfManagedTransport;
    const out: { name: string; otherNames: string[] }[] = [];
    const issued = new Map<string, { certPem: string; keyPem: string }>();
    for (const name of this.nodeNames.slice(1)) {
      const cn = entries.get(name);
      if (!cn) continue;
      const cert = await this.config.pki.issue(ca, {
        commonName: name,
        dnsNames: [`${name}.${this.serverName}`, 'localhost'],
        ipAddresses: ['127.0.0.1'],
        ...(cn.length ? { otherNames: cn } : {}),
      });
      issued.set(name, { certPem: cert.certPem, keyPem: cert.keyPem });
      out.push({ name, otherNames: cn });
    }
    this.pendingPeerCertificates = issued;
    return out;
  }

  /** Re-issue the remote cluster server certificate (other CA, other names, validity window). Takes effect at restart. */
  async reissueRemoteClusterServerCertificate(opts: RcsCertificateOptions = {}): Promise<IssuedCertificate> {
    const cert = await this.issueRemoteClusterServerCertificate(opts);
    const eff = this.nodeConfigStore.pending;
    this.nodeConfigStore.apply(
      {},
      {
        [String(eff[SETTING.rcsCertificate] ?? FILE.rcsCertificate)]: cert.certPem,
        [String(eff[SETTING.rcsKey] ?? FILE.rcsKey)]: cert.keyPem,
      },
    );
    return cert;
  }

  /** (Re)start the node: validate pending node config, (re)bind listeners, reconnect remotes. */
  private async startNode(): Promise<void> {
    await this.stopListeners();
    let runtime: NodeRuntime;
    try {
      runtime = this.nodeConfigStore.promote();
    } catch (e) {
      if (e instanceof NodeStartupError) {
        this.startupError = e.message;
        if (this.http) {
          await this.http.close();
          this.http = undefined;
        }
        throw e;
      }
      throw e;
    }
    this.startupError = undefined;
    this.runtime = runtime;
    if (this.pendingPeerCertificates && this.peerNodes.length > 0) {
      // The admin installed on nodes 2..n what certutil issued for them; the others keep their certificates.
      const issued = this.pendingPeerCertificates;
      this.peerNodes = this.peerNodes.map((n) => ({ name: n.name, ...(issued.get(n.name) ?? n) }));
      this.peerNodesFrom = runtime.transport.certPem;
      this.pendingPeerCertificates = undefined;
    } else await this.derivePeerNodes(runtime.transport.certPem);
    this.formed = this.nodesForm(runtime);
    if (runtime.remoteClusterServer.enabled) {
      await this.rcsListener.start({
        certPem: runtime.remoteClusterServer.certPem,
        keyPem: runtime.remoteClusterServer.keyPem,
        ssl: runtime.remoteClusterServer.ssl,
      });
    }
    await this.transportListener.start({
      certPem: runtime.transport.certPem,
      keyPem: runtime.transport.keyPem,
      clientCas:
        this.kind === 'ech'
          ? [this.config.pki.echTransport.certPem, ...this.trust.cas]
          : runtime.transport.cas.map((c) => c.pem),
      ...(runtime.transport.trustRestrictions ? { trustRestrictions: runtime.transport.trustRestrictions } : {}),
      x509Fields: runtime.transport.x509Fields,
      ...(this.peerNodes.length
        ? {
            nodeCertificates: [
              { certPem: runtime.transport.certPem, keyPem: runtime.transport.keyPem },
              ...this.peerNodes.map((n) => ({ certPem: n.certPem, keyPem: n.keyPem })),
            ],
          }
        : {}),
    });
    if (!this.http) {
      this.http = await serve(
        {
          key: this.httpCert.keyPem,
          cert: this.httpCert.certPem,
          target: this.kind,
          faults: this.config.faults,
          port: this.httpPort,
          host: this.host,
          dispatch: (req, route) => this.dispatch(req, route),
          faultReply: (status) => this.faultReply(status),
        },
        this.router,
      );
      this.httpPort = this.http.port;
    }
    // At node start every configured remote is connected (initial_connect_timeout).
    this.remotes.closeAll();
    await this.remotes.sync(this.settings.remotes(), []);
  }

  private async stopListeners(): Promise<void> {
    this.remotes.closeAll();
    await this.rcsListener.stop();
    await this.transportListener.stop();
  }

  async stop(): Promise<void> {
    await this.background.catch(() => undefined);
    await this.stopListeners();
    if (this.http) await this.http.close();
    this.http = undefined;
  }

  /** Restart the node. ECH: the keystore's pending entries are loaded. Self-managed: pending node config applies. */
  async restart(): Promise<void> {
    this.keystore = new Map(this.pendingKeystore);
    await this.startNode();
  }

  /** Wait for background work (keystore reloads) to settle. */
  async idle(): Promise<void> {
    let current: Promise<unknown>;
    do {
      current = this.background;
      await current.catch(() => undefined);
    } while (current !== this.background);
  }

  // ---- ECH side, driven by the Cloud API simulator -------------------------------------------------------------------

  /** Keystore entries (undefined removes). 8.14+: `cluster.remote.*.credentials` reload without restart. */
  setSecureSettings(entries: Record<string, string | undefined>): Promise<void> {
    const changedAliases: string[] = [];
    for (const [k, v] of Object.entries(entries)) {
      if (v === undefined) this.pendingKeystore.delete(k);
      else this.pendingKeystore.set(k, v);
      const m = /^cluster\.remote\.([^.]+)\.credentials$/.exec(k);
      if (m) changedAliases.push(m[1]!);
    }
    this.keystoreModified = new Date();
    if (!reloadsRemoteCredentials(this.config.version)) return Promise.resolve();
    return this.reloadKeystore(changedAliases);
  }

  private reloadKeystore(changedAliases: string[]): Promise<void> {
    const before = new Map(this.keystore);
    this.keystore = new Map(this.pendingKeystore);
    const changed = [...new Set([...changedAliases, ...this.aliasesWithChangedCredentials(before)])];
    const work = this.remotes.credentialsChanged(changed, this.settings.remotes());
    this.background = this.background.then(
      () => work,
      () => work,
    );
    return work;
  }

  private aliasesWithChangedCredentials(before: Map<string, string>): string[] {
    const keys = new Set([...before.keys(), ...this.keystore.keys()]);
    return [...keys]
      .filter((k) => before.get(k) !== this.keystore.get(k))
      .map((k) => /^cluster\.remote\.([^.]+)\.credentials$/.exec(k)?.[1])
      .filter((a): a is string => !!a);
  }

  /** Trust from the deployment's settings.trust.direct entries. Applies to new connections. */
  setTrust(trust: TrustConfig): void {
    this.trust = { ...trust, cas: [...trust.cas] };
  }

  setLicense(license: License): void {
    this.license = license;
  }

  /** For the Cloud API's remote-clusters `info.connected`: an open connection to the alias, as `_remote/info` says. */
  remoteConnected(alias: string): boolean {
    return this.remotes.connections.get(alias)?.connected ?? false;
  }

  // ---- self-managed admin -------------------------------------------------------------------------------------------

  async applyNodeConfig(input: {
    settings?: Record<string, unknown>;
    files?: Record<string, string>;
    restart?: boolean;
  }): Promise<{ restarted: boolean; pendingRestart: boolean }> {
    this.nodeConfigStore.apply(input.settings ?? {}, input.files ?? {});
    if (input.restart) {
      await this.startNode();
      return { restarted: true, pendingRestart: false };
    }
    return { restarted: false, pendingRestart: this.nodeConfigStore.pendingRestart };
  }

  nodeConfig(): {
    effective: Record<string, unknown>;
    pending: Record<string, unknown>;
    files: Record<string, string>;
    startupError?: string;
  } {
    return {
      effective: { ...this.nodeConfigStore.effective },
      pending: { ...this.nodeConfigStore.pending },
      files: { ...this.nodeConfigStore.files },
      ...(this.startupError ? { startupError: this.startupError } : {}),
    };
  }

  get running(): boolean {
    return !!this.http;
  }

  // ---- read-back --------------------------------------------------------------------------------------------------

  snapshot(): Record<string, unknown> {
    const sec = this.security.snapshot();
    return {
      kind: this.kind,
      clusterName: this.config.clusterName,
      clusterUuid: this.config.clusterUuid,
      version: this.config.version,
      license: this.license,
      running: this.running,
      ...(this.startupError ? { startupError: this.startupError } : {}),
      apiKeys: sec.apiKeys,
      roles: sec.roles,
      users: sec.users,
      clusterSettings: { persistent: { ...this.settings.persistent }, transient: { ...this.settings.transient } },
      indices: Object.fromEntries(
        [...this.store.indices.values()].map((i) => [i.name, { docs: i.docs.size, uuid: i.uuid }]),
      ),
      keystore: [...this.keystore.keys()].sort(),
      pendingKeystore: [...this.pendingKeystore.keys()].sort(),
      trust: {
        cas: this.trust.cas.length,
        transportNodeNamePatterns: this.trust.transportNodeNamePatterns ?? [],
        trustScopes: this.trust.trustScopes ?? [],
      },
      remoteConnections: Object.fromEntries(
        [...this.remotes.connections.values()].map((c) => [
          c.alias,
          {
            ...c.info(this.settings.initialConnectTimeout()),
            model: c.credentials !== undefined ? 'api-key' : 'certificate',
            ...(c.lastFailure ? { lastFailure: c.lastFailure } : {}),
            ...(c.authenticatedApiKeyId ? { authenticatedApiKeyId: c.authenticatedApiKeyId } : {}),
            ...(c.remote ? { remote: c.remote } : {}),
          },
        ]),
      ),
      ...(this.lastRemoteAuthentication ? { lastRemoteAuthentication: this.lastRemoteAuthentication } : {}),
      inbound: this.inboundLog.slice(-20),
      ...(this.lastCrossClusterRequest ? { lastCrossClusterRequest: this.lastCrossClusterRequest } : {}),
      outbound: this.outboundLog.slice(-20),
      listeners: {
        remoteClusterServer: { address: this.remoteClusterServerAddress, listening: this.rcsListener.listening },
        transport: { address: this.transportAddress, listening: this.transportListener.listening },
      },
      ...(this.kind === 'self-managed' ? { node: this.nodeConfig() } : {}),
    };
  }

  // ---- HTTP layer -------------------------------------------------------------------------------------------------

  private faultReply(status: number): Reply {
    const type =
      status === 429 ? 'es_rejected_execution_exception' : status === 503 ? 'cluster_block_exception' : 'exception';
    const reason =
      status === 429 ? 'rejected execution (sandbox fault injection)' : `sandbox injected fault [${status}]`;
    const reply = new EsError(status, type, reason).toReply();
    return { ...reply, headers: { 'x-elastic-product': 'Elasticsearch' } };
  }

  private async dispatch(req: Request, route: ReturnType<Router['match']>): Promise<Reply> {
    let compat: number | undefined;
    let reply: Reply;
    try {
      compat = checkCompatibilityHeaders(this.config.version, req.headers, req.text.length > 0);
      if (!route) reply = noHandler(req.method, req.path);
      else if (route === 'method') reply = wrongMethod(req.method, req.path, this.allowedMethods(req.path));
      else {
        const auth = this.security.authenticateRest(req.headers.authorization, req.path);
        reply = await (route.handler as unknown as AuthedHandler)(req, auth);
      }
    } catch (e) {
      if (e instanceof EsError && e.type === 'no_handler') reply = noHandler(req.method, req.path);
      else if (e instanceof EsError) reply = e.toReply();
      else if (e instanceof RemoteError) reply = e.toEsError().toReply();
      else if (e instanceof BadJson)
        reply = new EsError(400, 'x_content_parse_exception', `[1:1] Unexpected character: ${e.message}`).toReply();
      else reply = new EsError(500, 'exception', String(e)).toReply();
    }
    const headers: Record<string, string> = { 'x-elastic-product': 'Elasticsearch', ...(reply.headers ?? {}) };
    if (reply.status === 401) headers['www-authenticate'] = 'Basic realm="security", charset="UTF-8", ApiKey';
    if (reply.body !== undefined && !reply.raw) {
      headers['content-type'] = compat
        ? `application/vnd.elasticsearch+json;compatible-with=${compat}`
        : 'application/json';
    }
    return { ...reply, headers };
  }

  private allowedMethods(path: string): string[] {
    return ['GET', 'POST', 'PUT', 'DELETE', 'HEAD'].filter((m) => {
      const r = this.router.match(m, path);
      return r && r !== 'method';
    });
  }

  private readonly router = this.buildRouter();

  private buildRouter(): Router {
    const r = new Router();
    const on = (methods: string, pattern: string, fn: AuthedHandler) => {
      for (const m of methods.split('|')) r.on(m, pattern, fn as unknown as (req: Request) => Reply);
    };
    const ok = (body: unknown, status = 200): Reply => ({ status, body });
    const need = (auth: Authentication, action: ClusterAction) => this.security.requireCluster(auth, action);
    const body = (req: Request) => req.json<Record<string, unknown>>();

    on('GET', '/', (_req, auth) => {
      need(auth, 'main');
      return ok(this.rootInfo());
    });
    on('GET', '/_license', (_req, auth) => {
      need(auth, 'license');
      return ok(this.licenseBody());
    });
    on('GET', '/_license/feature_usage', (_req, auth) => {
      need(auth, 'license');
      const features = this.featureLastUsed
        ? [
            {
              family: null,
              name: 'advanced-remote-cluster-security',
              context: null,
              last_used: new Date(this.featureLastUsed).toISOString(),
              license_level: 'enterprise',
            },
          ]
        : [];
      return ok({ features });
    });
    on('GET', '/_cluster/health', () => {
      // SecurityActionFilter: with a license that is not active, cluster:monitor/health (and stats) are blocked with
      // LicenseUtils.newComplianceException(security); data operations continue to work.
      if (this.licenseExpired && this.license !== 'basic') {
        throw new EsError(403, 'security_exception', 'current license is non-compliant for [security]', {
          'license.expired.feature': 'security',
        });
      }
      this.requireMaster();
      const indices = this.store.indices.size;
      // One primary, one replica per index on a one-node cluster: yellow leaves the replicas unassigned; red also one
      // primary (ClusterHealthStatus from the shard routing).
      const unassignedPrimaries = this.health === 'red' && indices > 0 ? 1 : 0;
      return ok({
        cluster_name: this.config.clusterName,
        status: this.health,
        timed_out: false,
        number_of_nodes: this.nodeNames.length,
        number_of_data_nodes: this.nodeNames.length,
        active_primary_shards: indices - unassignedPrimaries,
        active_shards: indices - unassignedPrimaries,
        relocating_shards: 0,
        initializing_shards: 0,
        unassigned_shards: this.health === 'green' ? 0 : indices + unassignedPrimaries,
        unassigned_primary_shards: unassignedPrimaries,
        delayed_unassigned_shards: 0,
        number_of_pending_tasks: 0,
        number_of_in_flight_fetch: 0,
        task_max_waiting_in_queue_millis: 0,
        active_shards_percent_as_number:
          indices === 0 || this.health === 'green' ? 100 : ((indices - unassignedPrimaries) / (indices * 2)) * 100,
      });
    });
    on('GET', '/_security/_authenticate', (_req, auth) => ok(this.authenticateBody(auth)));
    on('GET|POST', '/_security/user/_has_privileges', (req, auth) => ok(this.hasPrivileges(auth, body(req))));
    on('POST', '/_security/cross_cluster/api_key', (req, auth) => {
      this.requireApiKeyModelApi(req);
      // The REST layer parses first (missing name/access: 400), then the action is authorized, then licensed.
      const b = body(req);
      SecurityRealm.requireCrossClusterKeyFields(b);
      need(auth, 'crossClusterKeyCreate');
      this.requireAdvancedRemoteClusterSecurity();
      return ok(this.security.createCrossClusterKey(auth, b));
    });
    on('PUT', '/_security/cross_cluster/api_key/{id}', (req, auth) => {
      this.requireApiKeyModelApi(req);
      need(auth, 'crossClusterKeyUpdate');
      this.requireAdvancedRemoteClusterSecurity();
      return ok(this.security.updateKey(auth, req.params.id!, body(req), 'cross_cluster'));
    });
    on('POST|PUT', '/_security/api_key', (req, auth) => {
      need(auth, 'apiKeyCreate');
      return ok(this.security.createRestKey(auth, body(req)));
    });
    on('GET', '/_security/api_key', (req, auth) => ok(this.security.getKeys(auth, req.query)));
    on('DELETE', '/_security/api_key', (req, auth) => ok(this.security.invalidate(auth, body(req))));
    on('GET|POST', '/_security/_query/api_key', (req, auth) => ok(this.security.queryKeys(auth, body(req))));
    on('PUT', '/_security/api_key/{id}', (req, auth) => {
      need(auth, 'apiKeyCreate');
      return ok(this.security.updateKey(auth, req.params.id!, body(req), 'rest'));
    });
    on('GET', '/_security/role', (_req, auth) => {
      need(auth, 'roleGet');
      return ok(Object.fromEntries(this.security.roles));
    });
    on('GET', '/_security/role/{name}', (req, auth) => {
      need(auth, 'roleGet');
      const out: Record<string, unknown> = {};
      for (const n of req.params.name!.split(',')) {
        const role = this.security.roleDescriptor(n);
        if (role) out[n] = role;
      }
      return ok(out, Object.keys(out).length ? 200 : 404);
    });
    on('PUT|POST', '/_security/role/{name}', (req, auth) => {
      need(auth, 'rolePut');
      return ok({ role: this.security.putRole(req.params.name!, body(req) ?? {}) });
    });
    on('DELETE', '/_security/role/{name}', (req, auth) => {
      need(auth, 'roleDelete');
      const found = this.security.roles.delete(req.params.name!);
      return ok({ found }, found ? 200 : 404);
    });
    on('GET', '/_security/user', (_req, auth) => {
      need(auth, 'userGet');
      return ok(
        Object.fromEntries([...this.security.users.values()].map((u) => [u.username, this.userBody(u.username)])),
      );
    });
    on('GET', '/_security/user/{name}', (req, auth) => {
      need(auth, 'userGet');
      const out: Record<string, unknown> = {};
      for (const n of req.params.name!.split(',')) if (this.security.users.has(n)) out[n] = this.userBody(n);
      return ok(out, Object.keys(out).length ? 200 : 404);
    });
    on('PUT|POST', '/_security/user/{name}', (req, auth) => {
      need(auth, 'userPut');
      return ok(this.security.putUser(req.params.name!, body(req)));
    });
    on('DELETE', '/_security/user/{name}', (req, auth) => {
      need(auth, 'userDelete');
      const user = this.security.users.get(req.params.name!);
      if (user?.realm === 'reserved') throw badRequest(`user [${user.username}] is reserved and cannot be deleted`);
      const found = this.security.users.delete(req.params.name!);
      return ok({ found }, found ? 200 : 404);
    });
    on('GET', '/_cluster/settings', (req, auth) => {
      need(auth, 'settingsGet');
      const flat = req.query.get('flat_settings') === 'true';
      const shape = (s: Record<string, string | string[]>) => (flat ? s : nest(s));
      return ok({
        persistent: shape(this.settings.persistent),
        transient: shape(this.settings.transient),
        ...(req.query.get('include_defaults') === 'true' ? { defaults: shape(this.defaultSettings()) } : {}),
      });
    });
    on('PUT', '/_cluster/settings', async (req, auth) => {
      need(auth, 'settingsPut');
      const result = this.settings.update(body(req));
      await this.remotes.sync(this.settings.remotes(), result.changedAliases);
      const flat = req.query.get('flat_settings') === 'true';
      return ok({
        acknowledged: true,
        persistent: flat ? result.persistent : nest(result.persistent),
        transient: flat ? result.transient : nest(result.transient),
      });
    });
    on('GET', '/_remote/info', (_req, auth) => {
      need(auth, 'remoteInfo');
      const timeout = this.settings.initialConnectTimeout();
      return ok(Object.fromEntries([...this.remotes.connections.values()].map((c) => [c.alias, c.info(timeout)])));
    });
    on('GET', '/_resolve/cluster', (req, auth) => {
      if (!supportsResolveClusterWithoutExpression(this.config.version)) return noHandlerOrIndex(req);
      return this.resolveCluster(auth, undefined, req.query);
    });
    on('GET', '/_resolve/cluster/{expr}', (req, auth) => {
      if (!supportsResolveCluster(this.config.version)) return noHandler(req.method, req.path);
      return this.resolveCluster(auth, req.params.expr!, req.query);
    });
    // ---- CCR, minimal: follower indices and auto-follow patterns, so a disconnect can see what uses an alias. ES
    // does not stop the alias being removed while they exist (domain page §4c); neither does the sandbox.
    on('PUT', '/{index}/_ccr/follow', (req, auth) => {
      need(auth, 'ccrFollow');
      const b = body(req) ?? {};
      const remote = typeof b.remote_cluster === 'string' ? b.remote_cluster : '';
      const leader = typeof b.leader_index === 'string' ? b.leader_index : '';
      if (!remote || !leader)
        throw new EsError(
          400,
          'action_request_validation_exception',
          'Validation Failed: 1: [remote_cluster] and [leader_index] are missing;',
        );
      if (!this.settings.remote(remote))
        throw new EsError(404, 'no_such_remote_cluster_exception', `no such remote cluster: [${remote}]`);
      this.ccrFollowers.set(req.params.index!, { remoteCluster: remote, leaderIndex: leader });
      return ok({ follow_index_created: true, follow_index_shards_acked: true, index_following_started: true });
    });
    on('POST', '/{index}/_ccr/unfollow', (req, auth) => {
      need(auth, 'ccrFollow');
      if (!this.ccrFollowers.delete(req.params.index!)) throw indexNotFound(req.params.index!);
      return ok({ acknowledged: true });
    });
    on('GET', '/_ccr/stats', (_req, auth) => {
      need(auth, 'ccrStats');
      return ok({
        auto_follow_stats: {
          number_of_failed_follow_indices: 0,
          number_of_failed_remote_cluster_state_requests: 0,
          number_of_successful_follow_indices: 0,
          recent_auto_follow_errors: [],
          auto_followed_clusters: [],
        },
        follow_stats: {
          // A paused follower has no shard-follow tasks, so ES's follow stats leave it out (FollowStatsAction).
          indices: [...this.ccrFollowers]
            .filter(([, f]) => !f.paused)
            .map(([index, f]) => ({
              index,
              total_global_checkpoint_lag: 0,
              shards: [
                { remote_cluster: f.remoteCluster, leader_index: f.leaderIndex, follower_index: index, shard_id: 0 },
              ],
            })),
        },
      });
    });
    on('PUT', '/_ccr/auto_follow/{name}', (req, auth) => {
      need(auth, 'ccrAutoFollowPut');
      const b = body(req) ?? {};
      const remote = typeof b.remote_cluster === 'string' ? b.remote_cluster : '';
      if (!remote)
        throw new EsError(
          400,
          'action_request_validation_exception',
          'Validation Failed: 1: [remote_cluster] is missing;',
        );
      const patterns = Array.isArray(b.leader_index_patterns) ? (b.leader_index_patterns as string[]) : [];
      this.ccrAutoFollow.set(req.params.name!, { remoteCluster: remote, leaderIndexPatterns: patterns });
      return ok({ acknowledged: true });
    });
    on('GET', '/_ccr/auto_follow', (_req, auth) => {
      need(auth, 'ccrAutoFollowGet');
      return ok({
        patterns: [...this.ccrAutoFollow].map(([name, p]) => ({
          name,
          pattern: {
            active: !p.paused,
            remote_cluster: p.remoteCluster,
            leader_index_patterns: p.leaderIndexPatterns,
            follow_index_pattern: '{{leader_index}}',
            leader_index_exclusion_patterns: [],
          },
        })),
      });
    });
    // Pausing (ES: POST /<index>/_ccr/pause_follow, POST /_ccr/auto_follow/<name>/pause and /resume) is what a
    // migration asks the ECH org to do before the alias switches model (Elasticsearch's migration guide, step 3).
    on('POST', '/{index}/_ccr/pause_follow', (req, auth) => {
      need(auth, 'ccrFollow');
      const f = this.ccrFollowers.get(req.params.index!);
      if (!f) throw indexNotFound(req.params.index!);
      f.paused = true;
      return ok({ acknowledged: true });
    });
    on('POST', '/{index}/_ccr/resume_follow', (req, auth) => {
      need(auth, 'ccrFollow');
      const f = this.ccrFollowers.get(req.params.index!);
      if (!f) throw indexNotFound(req.params.index!);
      f.paused = false;
      return ok({ acknowledged: true });
    });
    for (const action of ['pause', 'resume'] as const) {
      on('POST', `/_ccr/auto_follow/{name}/${action}`, (req, auth) => {
        need(auth, 'ccrAutoFollowPut');
        const p = this.ccrAutoFollow.get(req.params.name!);
        if (!p) {
          throw new EsError(404, 'resource_not_found_exception', `auto-follow pattern [${req.params.name}] is missing`);
        }
        p.paused = action === 'pause';
        return ok({ acknowledged: true });
      });
    }
    // Transforms, minimal (ES RestPutTransformAction / TransportPutTransformAction: source.index and dest.index are
    // required, and a pivot or latest; the sandbox runs nothing and does not check the source exists, as with
    // defer_validation=true). GET lists the configs, _stats the state (`started` / `stopped`), as ES answers them.
    on('PUT', '/_transform/{id}', (req, auth) => {
      need(auth, 'transformPut');
      const b = body(req) ?? {};
      const source = (b.source ?? {}) as { index?: unknown };
      const dest = (b.dest ?? {}) as { index?: unknown };
      const sourceIndex = Array.isArray(source.index)
        ? source.index.map(String)
        : source.index
          ? [String(source.index)]
          : [];
      const problems = [
        ...(sourceIndex.length ? [] : ['source.index is missing']),
        ...(typeof dest.index === 'string' && dest.index ? [] : ['dest.index is missing']),
        ...(b.pivot !== undefined || b.latest !== undefined
          ? []
          : ['Transform configuration must specify exactly 1 function']),
      ];
      if (problems.length) {
        throw new EsError(
          400,
          'action_request_validation_exception',
          `Validation Failed: ${problems.map((p, i) => `${i + 1}: ${p};`).join('')}`,
        );
      }
      const id = req.params.id!;
      if (this.transforms.has(id)) {
        throw new EsError(409, 'resource_already_exists_exception', `Transform with id [${id}] already exists`);
      }
      this.transforms.set(id, { sourceIndex, destIndex: dest.index as string, started: false });
      return ok({ acknowledged: true });
    });
    for (const action of ['_start', '_stop'] as const) {
      on('POST', `/_transform/{id}/${action}`, (req, auth) => {
        need(auth, 'transformPut');
        const t = this.transforms.get(req.params.id!);
        if (!t)
          throw new EsError(
            404,
            'resource_not_found_exception',
            `Transform with id [${req.params.id}] could not be found`,
          );
        t.started = action === '_start';
        return ok({ acknowledged: true });
      });
    }
    on('GET', '/_transform', (_req, auth) => {
      need(auth, 'transformGet');
      const transforms = [...this.transforms].map(([id, t]) => ({
        id,
        source: { index: t.sourceIndex, query: { match_all: {} } },
        dest: { index: t.destIndex },
      }));
      return ok({ count: transforms.length, transforms });
    });
    on('GET', '/_transform/_stats', (_req, auth) => {
      need(auth, 'transformGet');
      const transforms = [...this.transforms].map(([id, t]) => ({ id, state: t.started ? 'started' : 'stopped' }));
      return ok({ count: transforms.length, transforms });
    });
    // ML datafeeds: none in the sandbox (they need anomaly detection jobs); the read APIs answer as on a cluster
    // without any (ES RestGetDatafeedsAction / RestGetDatafeedStatsAction: `count` and an empty list).
    on('GET', '/_ml/datafeeds', (_req, auth) => {
      need(auth, 'datafeedsGet');
      return ok({ count: 0, datafeeds: [] });
    });
    on('GET', '/_ml/datafeeds/_stats', (_req, auth) => {
      need(auth, 'datafeedsGet');
      return ok({ count: 0, datafeeds: [] });
    });
    on('DELETE', '/_ccr/auto_follow/{name}', (req, auth) => {
      need(auth, 'ccrAutoFollowPut');
      if (!this.ccrAutoFollow.delete(req.params.name!)) {
        throw new EsError(404, 'resource_not_found_exception', `auto-follow pattern [${req.params.name}] is missing`);
      }
      return ok({ acknowledged: true });
    });
    on('GET', '/_ssl/certificates', (_req, auth) => {
      need(auth, 'sslCertificates');
      return ok(this.sslCertificates());
    });
    on('GET', '/_nodes', (_req, auth) => {
      need(auth, 'nodesInfo');
      this.requireMaster();
      return ok(this.nodesInfo());
    });
    on('GET', '/_cat/nodes', (req, auth) => {
      need(auth, 'nodesInfo');
      this.requireMaster();
      return this.catNodes(req);
    });
    on('POST', '/_nodes/reload_secure_settings', (_req, auth) => this.reloadSecureSettings(auth));
    on('POST', '/_nodes/{nodeId}/reload_secure_settings', (_req, auth) => this.reloadSecureSettings(auth));
    on('POST|PUT', '/_bulk', (req, auth) => ok(this.bulk(auth, req.text, undefined)));
    on('POST|PUT', '/{index}/_bulk', (req, auth) => ok(this.bulk(auth, req.text, req.params.index)));
    on('GET|POST', '/_search', (req, auth) => this.search(auth, '_all', req));
    on('GET|POST', '/{target}/_search', (req, auth) => this.search(auth, req.params.target!, req));
    on('POST', '/{index}/_refresh', (req) => {
      this.guardIndexName(req);
      return ok({ _shards: { total: 1, successful: 1, failed: 0 } });
    });
    on('POST', '/{index}/_doc', (req, auth) => this.indexDoc(auth, req, undefined));
    on('PUT|POST', '/{index}/_doc/{id}', (req, auth) => this.indexDoc(auth, req, req.params.id));
    on('PUT|POST', '/{index}/_create/{id}', (req, auth) => this.indexDoc(auth, req, req.params.id));
    on('GET', '/{index}/_doc/{id}', (req, auth) => {
      this.guardIndexName(req);
      this.security.requireIndex(auth, 'search', [req.params.index!]);
      const idx = this.store.indices.get(req.params.index!);
      if (!idx) throw indexNotFound(req.params.index!);
      const doc = idx.docs.get(req.params.id!);
      return ok(
        {
          _index: idx.name,
          _id: req.params.id,
          found: !!doc,
          ...(doc ? { _version: 1, _seq_no: 0, _primary_term: 1, _source: doc } : {}),
        },
        doc ? 200 : 404,
      );
    });
    on('PUT', '/{index}', (req, auth) => {
      this.guardIndexName(req);
      this.security.requireIndex(auth, 'create', [req.params.index!]);
      this.store.create(req.params.index!, body(req));
      return ok({ acknowledged: true, shards_acknowledged: true, index: req.params.index });
    });
    on('GET', '/{index}', (req, auth) => {
      this.guardIndexName(req);
      const names = this.store.resolve(req.params.index!.split(','));
      this.security.requireIndex(auth, 'resolve', names);
      return ok(
        Object.fromEntries(
          names.map((n) => [
            n,
            {
              aliases: {},
              mappings: this.store.indices.get(n)!.mappings,
              settings: { index: { uuid: this.store.indices.get(n)!.uuid } },
            },
          ]),
        ),
      );
    });
    on('DELETE', '/{index}', (req, auth) => {
      this.guardIndexName(req);
      const names = this.store.resolve(req.params.index!.split(','));
      this.security.requireIndex(auth, 'create', names);
      for (const n of names) this.store.indices.delete(n);
      return ok({ acknowledged: true });
    });
    return r;

    function noHandlerOrIndex(req: Request): Reply {
      return noHandler(req.method, req.path);
    }
  }

  private guardIndexName(req: Request): void {
    const index = req.params.index ?? req.params.target ?? '';
    if (index.startsWith('_')) throw new NoRoute();
  }

  /**
   * Creating or updating a cross-cluster API key is the licensed feature `advanced-remote-cluster-security`
   * (Enterprise or trial): LicenseUtils.newComplianceException, 403 with the feature in `license.expired.feature`.
   */
  private requireAdvancedRemoteClusterSecurity(): void {
    if (licenseAllowsApiKeyModel(this.effectiveLicense())) return;
    throw new EsError(403, 'security_exception', failures.license().reason, {
      'license.expired.feature': 'advanced-remote-cluster-security',
    });
  }

  private requireApiKeyModelApi(req: Request): void {
    if (!hasRemoteClusterSecurity(this.config.version))
      throw new EsError(400, 'no_handler', `no handler found for uri [${req.path}] and method [${req.method}]`);
  }

  private rootInfo(): Record<string, unknown> {
    const v = this.config.version;
    return {
      name: this.nodeName,
      cluster_name: this.config.clusterName,
      cluster_uuid: this.config.clusterUuid,
      version: {
        number: v,
        build_flavor: 'default',
        build_type: this.kind === 'ech' ? 'docker' : 'tar',
        build_hash: createHash('sha1').update(v).digest('hex'),
        build_date: '2025-07-09T22:10:13.578182715Z',
        build_snapshot: false,
        lucene_version: luceneVersion(v),
        minimum_wire_compatibility_version: minimumWireCompatibilityVersion(v),
        minimum_index_compatibility_version: minimumIndexCompatibilityVersion(v),
      },
      tagline: 'You Know, for Search',
    };
  }

  /**
   * The license as licensed features see it. An expired paid license keeps its type but is not active, and
   * XPackLicenseState allows no feature that needs an active license (advanced-remote-cluster-security included): the
   * same refusals as below Enterprise.
   */
  private effectiveLicense(): ClusterConfig['license'] {
    return this.licenseExpired && this.license !== 'basic' ? 'basic' : this.license;
  }

  private licenseBody(): Record<string, unknown> {
    const expired = this.licenseExpired && this.license !== 'basic';
    const issue = expired ? Date.now() - 400 * 86_400_000 : Date.parse('2025-01-01T00:00:00.000Z');
    const expiry = expired ? Date.now() - 7 * 86_400_000 : issue + 365 * 86_400_000 * 5;
    return {
      license: {
        status: expired ? 'expired' : 'active',
        uid: createHash('md5')
          .update(this.config.clusterUuid)
          .digest('hex')
          .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'),
        type: this.license,
        issue_date: new Date(issue).toISOString(),
        issue_date_in_millis: issue,
        ...(this.license !== 'basic'
          ? { expiry_date: new Date(expiry).toISOString(), expiry_date_in_millis: expiry }
          : {}),
        max_nodes: this.license === 'enterprise' ? null : 1000,
        max_resource_units: this.license === 'enterprise' ? 100 : null,
        issued_to: this.config.clusterName,
        issuer: this.license === 'basic' ? 'elasticsearch' : 'API',
        start_date_in_millis: this.license === 'basic' ? -1 : issue,
      },
    };
  }

  private authenticateBody(auth: Authentication): Record<string, unknown> {
    if (auth.apiKey) {
      return {
        username: auth.username,
        roles: [],
        full_name: null,
        email: null,
        metadata: {},
        enabled: true,
        authentication_realm: { name: '_es_api_key', type: '_es_api_key' },
        lookup_realm: { name: '_es_api_key', type: '_es_api_key' },
        authentication_type: 'api_key',
        api_key: { id: auth.apiKey.id, name: auth.apiKey.name, managed_by: 'elasticsearch' },
      };
    }
    return {
      ...userFields(auth.user!),
      authentication_realm: auth.realm,
      lookup_realm: auth.realm,
      authentication_type: 'realm',
    };
  }

  private userBody(name: string): Record<string, unknown> {
    return userFields(this.security.users.get(name)!);
  }

  private hasPrivileges(auth: Authentication, b: Record<string, unknown> | undefined): Record<string, unknown> {
    const cluster: Record<string, boolean> = {};
    for (const p of (b?.cluster as string[] | undefined) ?? []) cluster[p] = this.security.hasClusterPrivilege(auth, p);
    const index: Record<string, Record<string, boolean>> = {};
    for (const entry of (b?.index as { names: string[] | string; privileges: string[] }[] | undefined) ?? []) {
      for (const name of Array.isArray(entry.names) ? entry.names : [entry.names]) {
        index[name] ??= {};
        for (const p of entry.privileges) index[name][p] = this.security.hasIndexPrivilege(auth, name, p);
      }
    }
    const all =
      Object.values(cluster).every(Boolean) && Object.values(index).every((i) => Object.values(i).every(Boolean));
    return { username: auth.username, has_all_requested: all, cluster, index, application: {} };
  }

  private defaultSettings(): Record<string, string> {
    return {
      'cluster.remote.initial_connect_timeout': '30s',
      'cluster.remote.connect': 'true',
      'cluster.remote.node.attr': '',
      'remote_cluster_server.enabled': String(this.runtime?.remoteClusterServer.enabled ?? false),
      'remote_cluster.port': String(this.nodeConfigStore.effective[SETTING.rcsPort] ?? '9443'),
      'xpack.security.enabled': 'true',
    };
  }

  private sslCertificates(): Record<string, unknown>[] {
    const entry = (path: string, pem: string, hasKey: boolean) => {
      const x = new X509Certificate(pem);
      return {
        path,
        format: 'PEM',
        alias: null,
        subject_dn: x.subject.split('\n').reverse().join(', '),
        serial_number: x.serialNumber.toLowerCase(),
        has_private_key: hasKey,
        expiry: new Date(x.validTo).toISOString(),
        issuer: x.issuer.split('\n').reverse().join(', '),
      };
    };
    const out = [entry(FILE.httpCertificate, this.httpCert.certPem, true), entry(FILE.httpCa, this.httpCaPem, false)];
    const rt = this.runtime;
    if (rt) {
      out.push(entry(rt.transport.certPath, rt.transport.certPem, true));
      for (const ca of rt.transport.cas) out.push(entry(ca.path, ca.pem, false));
      if (rt.remoteClusterServer.enabled && rt.remoteClusterServer.ssl)
        out.push(entry(rt.remoteClusterServer.certPath, rt.remoteClusterServer.certPem, true));
    }
    return out;
  }

  /** `GET /_nodes` (NodesInfoResponse), the fields a client reads to tell the nodes apart. */
  private nodesInfo(): Record<string, unknown> {
    const v = this.config.version;
    const nodes = Object.fromEntries(
      this.nodeNames.map((name, i) => [
        nodeIdOf(name + this.config.clusterUuid),
        {
          name,
          transport_address: `127.0.0.1:${this.transportListener.port + i}`,
          host: '127.0.0.1',
          ip: '127.0.0.1',
          version: v,
          build_flavor: 'default',
          build_type: 'tar',
          build_hash: createHash('sha1').update(v).digest('hex'),
          roles: ['data', 'ingest', 'master', 'remote_cluster_client'],
          attributes: {},
        },
      ]),
    );
    const n = this.nodeNames.length;
    return { _nodes: { total: n, successful: n, failed: 0 }, cluster_name: this.config.clusterName, nodes };
  }

  /** `GET /_cat/nodes`: text with the default columns (RestNodesAction), or JSON with `format=json`. */
  private catNodes(req: Request): Reply {
    const rows = this.nodeNames.map((name, i) => ({
      ip: '127.0.0.1',
      'heap.percent': '30',
      'ram.percent': '60',
      cpu: '2',
      load_1m: '0.10',
      load_5m: '0.10',
      load_15m: '0.10',
      'node.role': 'dimr',
      master: i === 0 ? '*' : '-',
      name,
    }));
    if (req.query.get('format') === 'json') return { status: 200, body: rows };
    const text = rows.map((r) => Object.values(r).join(' ') + '\n').join('');
    return { status: 200, body: text, raw: true, headers: { 'content-type': 'text/plain; charset=UTF-8' } };
  }

  private reloadSecureSettings(auth: Authentication): Reply {
    this.security.requireCluster(auth, 'reloadSecureSettings');
    if (reloadSecureSettingsCoversRemoteCredentials(this.config.version)) void this.reloadKeystore([]);
    // Every node reloads its own keystore (the same entries on every node, as ES requires).
    const node = {
      secure_setting_names: ['keystore.seed', ...[...this.keystore.keys()].sort()],
      keystore_path: '/app/config/elasticsearch.keystore',
      keystore_digest: createHash('sha256')
        .update(JSON.stringify([...this.keystore.keys()].sort()))
        .digest('hex'),
      keystore_last_modified_time: this.keystoreModified.toISOString(),
    };
    const names = this.nodeNames;
    return {
      status: 200,
      body: {
        _nodes: { total: names.length, successful: names.length, failed: 0 },
        cluster_name: this.config.clusterName,
        nodes: Object.fromEntries(names.map((name) => [nodeIdOf(name + this.config.clusterUuid), { name, ...node }])),
      },
    };
  }

  private indexDoc(auth: Authentication, req: Request, id: string | undefined): Reply {
    this.guardIndexName(req);
    const index = req.params.index!;
    this.security.requireIndex(auth, 'index', [index]);
    if (!this.store.indices.has(index)) {
      this.security.requireIndex(auth, 'create', [index]);
      IndexStore.validateName(index);
    }
    const r = this.store.put(index, id, req.json<Record<string, unknown>>() ?? {});
    return {
      status: r.result === 'created' ? 201 : 200,
      body: {
        _index: index,
        _id: r.id,
        _version: r.version,
        result: r.result,
        _shards: { total: 1, successful: 1, failed: 0 },
        _seq_no: 0,
        _primary_term: 1,
      },
    };
  }

  private bulk(auth: Authentication, text: string, defaultIndex: string | undefined): Record<string, unknown> {
    const lines = text.split('\n').filter((l) => l.trim());
    const items: unknown[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      const action = JSON.parse(lines[i]!) as Record<string, { _index?: string; _id?: string }>;
      const [op, meta] = Object.entries(action)[0] ?? ['index', {}];
      const index = meta._index ?? defaultIndex ?? '';
      if (op === 'delete') {
        this.store.indices.get(index)?.docs.delete(meta._id ?? '');
        items.push({ delete: { _index: index, _id: meta._id, status: 200, result: 'deleted' } });
        continue;
      }
      const source = JSON.parse(lines[++i] ?? '{}') as Record<string, unknown>;
      try {
        this.security.requireIndex(auth, 'index', [index]);
        const r = this.store.put(
          index,
          meta._id,
          op === 'update' ? ((source.doc as Record<string, unknown>) ?? {}) : source,
        );
        items.push({
          [op]: {
            _index: index,
            _id: r.id,
            _version: 1,
            result: r.result,
            status: r.result === 'created' ? 201 : 200,
            _shards: { total: 1, successful: 1, failed: 0 },
          },
        });
      } catch (e) {
        errors = true;
        const err = e instanceof EsError ? e : new EsError(500, 'exception', String(e));
        items.push({ [op]: { _index: index, _id: meta._id, status: err.status, error: err.body() } });
      }
    }
    return { errors, took: 1, items };
  }

  // ---- search and resolve -----------------------------------------------------------------------------------------

  /** Aliases a cluster pattern targets; unknown concrete aliases are an error as in ES. */
  private aliasesFor(pattern: string): string[] {
    const configured = [...this.remotes.connections.keys()];
    if (pattern.includes('*') || pattern.includes('?')) return configured.filter((a) => wildcardMatch(pattern, a));
    if (!configured.includes(pattern))
      throw new EsError(404, 'no_such_remote_cluster_exception', `no such remote cluster: [${pattern}]`);
    return [pattern];
  }

  private remoteUser(
    auth: Authentication,
    conn: RemoteConnection,
    action: string,
  ): { username: string; roles: string[]; remoteIndices?: unknown } {
    const roles = auth.apiKey ? Object.keys(auth.apiKey.limited_by ?? {}) : auth.roles;
    if (conn.credentials === undefined) return { username: auth.username, roles };
    const sets = this.security.remoteIndicesFor(auth, conn.alias);
    if (sets.some((s) => s.length === 0))
      throw new RemoteError(failures.noRemoteIndicesPrivileges(action, conn.alias, auth.username, roles));
    return { username: auth.username, roles, remoteIndices: sets };
  }

  private async search(auth: Authentication, target: string, req: Request): Promise<Reply> {
    if (target.startsWith('_') && target !== '_all') throw new NoRoute();
    const started = Date.now();
    const b = { ...(req.json<Record<string, unknown>>() ?? {}) };
    for (const p of ['size', 'from']) if (req.query.has(p)) b[p] = Number(req.query.get(p));
    if (req.query.has('q')) {
      const [f, v] = (req.query.get('q') ?? '').split(':');
      b.query = v === undefined ? { match_all: {} } : { match: { [f!]: v } };
    }
    const { local, remote } = splitExpression(target);
    const ignoreUnavailable = req.query.get('ignore_unavailable') === 'true';
    const localIndices = local.length
      ? this.store
          .resolve(local, ignoreUnavailable)
          .filter((n) => !local.some((e) => e.includes('*')) || this.security.canOnIndex(auth, 'search', n))
      : [];
    const concreteLocal = local.filter((e) => !e.includes('*') && !e.startsWith('-'));
    if (concreteLocal.length)
      this.security.requireIndex(
        auth,
        'search',
        concreteLocal.filter((e) => localIndices.includes(e)),
      );
    const byAlias = new Map<string, string[]>();
    for (const r of remote)
      for (const alias of this.aliasesFor(r.clusterPattern))
        byAlias.set(alias, [...(byAlias.get(alias) ?? []), r.index]);
    const localResult = this.store.search(localIndices, { ...b, from: 0, size: 10_000 });
    let total = localResult.total;
    const hits: Hit[] = [...localResult.hits];
    const details: Record<string, unknown> = {};
    let skipped = 0;
    let successful = 0;
    let shards = localIndices.length;
    if (local.length && byAlias.size) {
      details['(local)'] = {
        status: 'successful',
        indices: local.join(','),
        took: Date.now() - started,
        timed_out: false,
        _shards: { total: localIndices.length, successful: localIndices.length, skipped: 0, failed: 0 },
      };
      successful++;
    }
    const timeoutMs = 30_000;
    await Promise.all(
      [...byAlias].map(async ([alias, indices]) => {
        const conn = this.remotes.connections.get(alias)!;
        try {
          const user = this.remoteUser(auth, conn, INDEX_ACTIONS.search[0]);
          const result = (await conn.request(
            'search',
            { indices, body: { ...b, from: 0, size: 10_000 }, user },
            timeoutMs,
          )) as { total: number; hits: Hit[]; shards: number };
          total += result.total;
          hits.push(...result.hits.map((h) => ({ ...h, _index: `${alias}:${h._index}` })));
          shards += result.shards;
          successful++;
          details[alias] = {
            status: 'successful',
            indices: indices.join(','),
            took: Date.now() - started,
            timed_out: false,
            _shards: { total: result.shards, successful: result.shards, skipped: 0, failed: 0 },
          };
        } catch (e) {
          if (!(e instanceof RemoteError)) throw e;
          const unavailable = isRemoteUnavailable(e) && e.failure.type !== 'illegal_argument_exception';
          if (!conn.settings.skipUnavailable) {
            // A connect failure reaches the search as the proxy strategy's NoSeedNodeLeftException (the TLS or
            // handshake cause only in the node's log); a failure over an open connection as the remote's exception.
            if (unavailable) throw noSeedNodeLeft(conn);
            throw e.toEsError();
          }
          skipped++;
          // skip_unavailable: a cluster known to be disconnected is not reconnected for this search
          // (RemoteConnectionManager.getAnyRemoteConnection: "Unable to connect to [alias]").
          const reason = unavailable
            ? { type: 'connect_transport_exception', reason: `Unable to connect to [${alias}]` }
            : { type: e.failure.type, reason: e.failure.reason };
          details[alias] = {
            status: 'skipped',
            indices: indices.join(','),
            timed_out: false,
            failures: [{ shard: -1, index: null, reason }],
          };
        }
      }),
    );
    const from = Number(b.from ?? 0);
    const size = Number(b.size ?? 10);
    const responseBody: Record<string, unknown> = {
      took: Date.now() - started,
      timed_out: false,
      ...(byAlias.size ? { num_reduce_phases: 1 + byAlias.size } : {}),
      _shards: { total: shards, successful: shards, skipped: 0, failed: 0 },
      ...(byAlias.size
        ? {
            _clusters: {
              total: byAlias.size + (local.length ? 1 : 0),
              successful,
              skipped,
              running: 0,
              partial: 0,
              failed: 0,
              details,
            },
          }
        : {}),
      hits: {
        total: { value: total, relation: 'eq' },
        max_score: hits.length && size > 0 ? 1.0 : null,
        hits: hits.slice(from, from + size),
      },
    };
    return { status: 200, body: responseBody };
  }

  private async resolveCluster(
    auth: Authentication,
    expression: string | undefined,
    query: URLSearchParams,
  ): Promise<Reply> {
    const timeoutMs = query.has('timeout') ? parseTimeout(query.get('timeout')!) : 30_000;
    const out: Record<string, unknown> = {};
    const ownVersion = {
      number: this.config.version,
      build_flavor: 'default',
      minimum_wire_compatibility_version: minimumWireCompatibilityVersion(this.config.version),
      minimum_index_compatibility_version: minimumIndexCompatibilityVersion(this.config.version),
    };
    const byAlias = new Map<string, string[]>();
    if (expression === undefined) {
      for (const alias of this.remotes.connections.keys()) byAlias.set(alias, []);
    } else {
      const { local, remote } = splitExpression(expression);
      if (local.length) {
        try {
          const names = this.store.resolve(local);
          out['(local)'] = {
            connected: true,
            skip_unavailable: false,
            matching_indices: names.length > 0,
            version: ownVersion,
          };
        } catch (e) {
          out['(local)'] = {
            connected: true,
            skip_unavailable: false,
            error: e instanceof EsError ? e.reason : String(e),
          };
        }
      }
      for (const r of remote)
        for (const alias of this.aliasesFor(r.clusterPattern))
          byAlias.set(alias, [...(byAlias.get(alias) ?? []), r.index]);
    }
    // Shaped as TransportResolveClusterAction does: a remote that cannot be connected to (any TCP, TLS or handshake
    // failure) is only `connected: false`, without `error`; a timeout (only with ?timeout) and security exceptions
    // carry their message; an IndexNotFoundException keeps `connected: true`; anything else is reported as the
    // cause's toString(). The reasons the sandbox knows stay in the node's log (outbound log), as in ES.
    await Promise.all(
      [...byAlias].map(async ([alias, indices]) => {
        const conn = this.remotes.connections.get(alias)!;
        const skip = conn.settings.skipUnavailable;
        const remoteVersion = (): unknown =>
          conn.remote && supportsResolveCluster(conn.remote.version)
            ? {
                number: conn.remote.version,
                build_flavor: 'default',
                minimum_wire_compatibility_version: minimumWireCompatibilityVersion(conn.remote.version),
                minimum_index_compatibility_version: minimumIndexCompatibilityVersion(conn.remote.version),
              }
            : undefined;
        try {
          if (expression === undefined) {
            // clusterInfoOnly: no index expression is checked, matching_indices is left out.
            await conn.ensureConnected(timeoutMs);
            const version = remoteVersion();
            out[alias] = { connected: true, skip_unavailable: skip, ...(version ? { version } : {}) };
            return;
          }
          const user = this.remoteUser(auth, conn, INDEX_ACTIONS.resolve[0]);
          const result = (await conn.request('resolve', { indices, user }, timeoutMs)) as {
            matching_indices?: boolean;
            version?: unknown;
            error?: string;
          };
          if (result.error !== undefined) {
            out[alias] = { connected: true, skip_unavailable: skip, error: result.error };
            return;
          }
          // A remote older than 8.13 has no _resolve/cluster: the fallback to _resolve/index gives no version.
          const version = remoteVersion();
          out[alias] = {
            connected: true,
            skip_unavailable: skip,
            matching_indices: result.matching_indices,
            ...(version ? { version } : {}),
          };
        } catch (e) {
          if (!(e instanceof RemoteError)) throw e;
          const f = e.failure;
          if (f.type === 'receive_timeout_transport_exception' && query.has('timeout')) {
            out[alias] = { connected: false, skip_unavailable: skip, error: f.reason };
          } else if (isRemoteUnavailable(e)) {
            out[alias] = { connected: false, skip_unavailable: skip };
          } else if (f.type === 'security_exception') {
            out[alias] = { connected: false, skip_unavailable: skip, error: f.reason };
          } else if (f.type === 'index_not_found_exception') {
            out[alias] = { connected: true, skip_unavailable: skip, error: f.reason };
          } else {
            out[alias] = { connected: false, skip_unavailable: skip, error: causeToString(f) };
          }
        }
      }),
    );
    return { status: 200, body: out };
  }
}

export interface RcsCertificateOptions {
  /** 'public' (publicRoot), 'private' (remotePrivate) or any CA, e.g. the transport CA when an admin reuses it. */
  ca?: 'public' | 'private' | CertificateAuthority;
  dnsNames?: string[];
  ipAddresses?: string[];
  otherNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
}

type AuthedHandler = (req: Request, auth: Authentication) => Reply | Promise<Reply>;

/** Thrown by generic `/{index}` routes for `_`-prefixed paths ES has no handler for. */
class NoRoute extends EsError {
  constructor() {
    super(400, 'no_handler', 'no handler found');
  }
}

/** ProxyConnectionStrategy: every connect attempt failed with a retryable (connect/TLS/handshake) exception. */
function noSeedNodeLeft(conn: RemoteConnection): EsError {
  const target = conn.settings.mode === 'proxy' ? conn.resolvedAddress() : conn.address;
  return new EsError(
    500,
    'no_seed_node_left_exception',
    conn.settings.mode === 'proxy'
      ? `Unable to open any proxy connections to cluster [${conn.alias}] at address [${target}]`
      : `Unable to open any connections to remote cluster [${conn.alias}]`,
  );
}

function parseTimeout(v: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(v);
  if (!m)
    throw badRequest(
      `failed to parse setting [timeout] with value [${v}] as a time value: unit is missing or unrecognized`,
    );
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
}

export { NodeStartupError };
export function randomClusterUuid(): string {
  return randomBytes(16).toString('base64url').slice(0, 22);
}

/** A user as GET /_security/user and _authenticate show it (never the password). */
function userFields(u: User): Record<string, unknown> {
  return {
    username: u.username,
    roles: u.roles,
    full_name: u.full_name,
    email: u.email,
    metadata: u.metadata,
    enabled: u.enabled,
  };
}
