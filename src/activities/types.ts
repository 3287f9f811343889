/**
 * The activities the workflows call, by signature. Workflows import this file type-only; implementations live in
 * one module per external system (cloud.ts, elasticsearch.ts, tls.ts) and are assembled by createActivities(deps).
 * Inputs and results carry no secret except the encoded cross-cluster key, which travels only in (encrypted)
 * payloads between the step that obtains it and the step that installs it.
 */
import type { Access } from '../contract/request';
import type { CaCheck } from '../domain/preflight';
import type { DirectTrustEntry } from '../domain/requests';
import type { SecretUse } from './secretBindings';

/** The ECH deployment as the Cloud API addresses it. */
export interface CloudTarget {
  /** The Cloud API; absent = the endpoint the worker binds the API key secret to. */
  endpoint?: string;
  apiKeySecret: string;
  deploymentId: string;
  /** Elasticsearch resource ref_id; discovered by describeDeployment when absent. */
  refId?: string;
}

export type ElasticsearchSide = 'ech' | 'self-managed';

/** One Elasticsearch cluster's HTTP API. */
export interface EsTarget {
  side: ElasticsearchSide;
  url: string;
  credentialsSecret: string;
  /** Extra CA for this cluster's HTTP layer (never disables verification). */
  caPem?: string;
  /** Version as reported by the cluster; chooses the client's REST-compatibility headers. Discovered when absent. */
  version?: string;
  /**
   * ECH side: the deployment whose Elasticsearch endpoint (as the Cloud API reports it) `url` must be, for the ECH
   * credentials to be sent (the worker's secret bindings).
   */
  deployment?: CloudTarget;
}

export interface DeploymentFacts {
  deploymentId: string;
  refId: string;
  region: string;
  clusterId: string;
  clusterName: string;
  /** `info.status`: initializing | stopping | stopped | rebooting | restarting | reconfiguring | started */
  status: string;
  healthy: boolean;
  version: string;
  /** Elasticsearch HTTPS endpoint from the deployment metadata, e.g. https://<id>.<region>.<domain>:443 */
  esUrl?: string;
  pendingPlan: boolean;
  /** Names of direct trust entries currently set (for the plan and for ownership checks). */
  directTrustNames: string[];
}

export interface ClusterFacts {
  version: string;
  clusterName: string;
  clusterUuid: string;
  license: { type: string; status: string };
  principal: { username: string; authenticationType: string };
  /** Privileges from `required` that the credentials lack, by name (`cluster:manage_security`, …). */
  missingPrivileges: string[];
  /** Existing `cluster.remote.<alias>.*` settings and our ownership record for the alias, if any. */
  remote?: { settings: Record<string, unknown>; ownedBy?: { workflowId: string } };
  /** Result of `_ssl/certificates` when readable (self-managed): which files are loaded. */
  sslCertificates?: { path: string; format: string; subject_dn: string; expiry: string; has_private_key: boolean }[];
}

export interface CrossClusterKey {
  id: string;
  name: string;
  /** The `encoded` value (secret). */
  encoded: string;
  created: boolean;
  /** Our own keys found active for this run whose secret was lost (a crashed attempt), invalidated. */
  invalidatedIds: string[];
  expiration?: number;
}

export interface CertSummary {
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  dnsNames: string[];
  ipAddresses: string[];
  otherNames: string[];
  fingerprint256: string;
  isCa: boolean;
}

export interface Finding {
  level: 'error' | 'warning' | 'info';
  code: string;
  message: string;
  fix?: string;
}

export interface TlsProbeReport {
  address: string;
  serverName: string;
  reachable: boolean;
  /** Handshake completed and the chain verified against the trust given (public roots or the private CA). */
  trusted: boolean;
  hostnameMatches: boolean;
  /** The server asked for a client certificate (a transport port does; the remote cluster server does not). */
  requestsClientCertificate: boolean;
  looksLikeTransportPort: boolean;
  chain: CertSummary[];
  expiresInDays?: number;
  findings: Finding[];
}

export interface RemoteEvidence {
  remoteInfo: unknown;
  resolveCluster?: unknown;
  searchHits?: number;
  /** The cross-cluster search's failure as Elasticsearch answered it (HTTP status, `type: reason`), when it failed. */
  searchFailure?: { status: number; error: string };
  /**
   * The worker's TLS probe of proxy_address, re-run when ECH reported the remote not connected without a reason (seen
   * from the worker's network, which may differ from ECH's egress).
   */
  tlsProbe?: TlsProbeReport;
}

/** A secret named by the request, and the request field that names it (for errors a person can act on). */
export interface SecretReference {
  field: string;
  name: string;
  /** What the secret is for and where it would be sent (checked against the worker's bindings). */
  use: SecretUse;
  /** The request field that chose the destination, when there is one (`remote.elasticsearch.url`, …). */
  destinationField?: string;
}

export interface Activities {
  // ---- Cloud API (cloud.ts)
  describeDeployment(i: { target: CloudTarget }): Promise<DeploymentFacts>;
  listKeystoreKeys(i: { target: CloudTarget }): Promise<string[]>;
  putRemoteClusterCredentials(i: {
    target: CloudTarget;
    alias: string;
    encoded: string;
  }): Promise<{ keystoreEntry: string; existed: boolean }>;
  removeRemoteClusterCredentials(i: { target: CloudTarget; alias: string }): Promise<{ removed: boolean }>;
  /** Read-modify-write of the whole trust object: add or update our entry (by name), keep every other entry. */
  ensureDirectTrust(i: {
    target: CloudTarget;
    entry: DirectTrustEntry;
  }): Promise<{ name: string; changed: boolean; previousAttemptId?: string }>;
  /** Remove our entry (by name, only names this tool creates). */
  removeDirectTrust(i: {
    target: CloudTarget;
    name: string;
  }): Promise<{ removed: boolean; previousAttemptId?: string }>;
  /**
   * Poll the deployment until no plan is pending and the current plan is healthy; heartbeats while waiting.
   * `notBefore` (ISO time of the change waited for): a failed plan that started well before it (an old, unrelated
   * failure still shown as current) does not fail this wait.
   */
  waitForPlan(i: {
    target: CloudTarget;
    notBefore?: string;
    /** The plan attempt shown before the change (from ensure/removeDirectTrust): never judged as the change's plan. */
    afterAttemptId?: string;
  }): Promise<{ attemptId?: string; healthy: true }>;
  /** ECH < 8.14 only: restart to reload the keystore. */
  restartElasticsearch(i: { target: CloudTarget }): Promise<{ started: boolean }>;
  getCertificateAuthority(i: {
    target: CloudTarget;
  }): Promise<{ pems: string[]; activePem?: string; recommendedTrustRestriction?: string }>;

  // ---- Elasticsearch (elasticsearch.ts), both sides
  /** Read-only: GET /, _license, _security/_authenticate, _has_privileges, the alias's settings. */
  inspectCluster(i: { target: EsTarget; required: { cluster: string[] }; alias?: string }): Promise<ClusterFacts>;
  /** Look up ours by name + metadata (workflow id, access hash) before creating; never creates a second key. */
  findOrCreateCrossClusterApiKey(i: {
    target: EsTarget;
    alias: string;
    workflowId: string;
    access: Access;
    expiration?: string;
  }): Promise<CrossClusterKey>;
  /** Invalidate a key only if its metadata says we created it. */
  invalidateCrossClusterApiKey(i: {
    target: EsTarget;
    id: string;
  }): Promise<{ invalidated: boolean; reason?: 'not-found' | 'not-managed' | 'already-invalidated' }>;
  /** PUT _cluster/settings with the remote and the ownership record; refuses an alias owned by someone else. */
  putRemoteCluster(i: {
    target: EsTarget;
    body: { persistent: Record<string, unknown> };
    alias: string;
    workflowId: string;
  }): Promise<{ settings: string[]; existed: boolean }>;
  /** Remove the remote's settings and ownership record, only if the record says we own the alias. */
  removeRemoteCluster(i: {
    target: EsTarget;
    alias: string;
    /** When given, remove only if this workflow owns the alias (rollback); else any ownership record of ours. */
    workflowId?: string;
  }): Promise<{ removed: boolean }>;
  /** _remote/info, _resolve/cluster, a size-0 search; retries briefly (connections are lazy), then fails with the diagnosis. */
  verifyRemoteConnection(i: {
    target: EsTarget;
    alias: string;
    securityModel: 'api-key' | 'tls-certificate';
    searchIndex?: string;
    timeoutMs: number;
    /** The trust ECH was given for proxy_address (the request's remote.ca), for the worker's TLS probe. Default public. */
    ca?: { kind: 'public' } | { kind: 'private'; pem: string };
  }): Promise<RemoteEvidence>;
  ensureRole(i: { target: EsTarget; name: string; body: Record<string, unknown> }): Promise<{ created: boolean }>;
  removeRole(i: { target: EsTarget; name: string }): Promise<{ removed: boolean }>;
  ensureUser(i: {
    target: EsTarget;
    username: string;
    body: Record<string, unknown>;
    passwordSecret: string;
  }): Promise<{ created: boolean }>;
  removeUser(i: { target: EsTarget; username: string }): Promise<{ removed: boolean }>;

  // ---- Secrets (secrets.ts)
  /**
   * Preflight: every secret the request names resolves on this worker (values never leave the activity). Fails with
   * one non-retryable failure naming each request field whose secret is missing or not allowed.
   */
  checkSecrets(i: { secrets: SecretReference[] }): Promise<{ checked: number }>;

  // ---- TLS (tls.ts)
  /** Read-only: is this PEM a CA certificate (no private key, not expired)? Problems are listed, never thrown. */
  inspectCaCertificate(i: { pem: string }): Promise<CaCheck>;
  /** From the worker: connect to proxy_address with SNI, verify the chain and names, detect a transport port. */
  probeRemoteClusterServer(i: {
    proxyAddress: string;
    serverName?: string;
    ca: { kind: 'public' } | { kind: 'private'; pem: string };
    expect: 'remote-cluster-server' | 'transport';
  }): Promise<TlsProbeReport>;
}
