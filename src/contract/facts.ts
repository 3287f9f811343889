/**
 * The facts the activities report and the domain reasons about: targets, what the clusters and the deployment are,
 * TLS probe reports, findings, and the shapes both sides write (a direct trust entry). Types only, below both
 * src/domain and src/activities, so neither imports the other's types (the workflow bundle imports this file).
 */

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
  /**
   * `GET _cluster/health` status, when it could be read (needs `monitor`; Elasticsearch blocks it while the license is
   * expired, and then the license finding says why).
   */
  health?: 'green' | 'yellow' | 'red';
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
  /**
   * Transport probes (`expect: 'transport'`) only: the leaf certificate of every distinct node seen behind the address
   * over `nodeConnections` connections (a load balancer or DNS round robin hands each connection to one node, as it
   * does ECH's proxy sockets), sorted so a workflow gets the same data whatever the order they were met in. Absent in
   * reports recorded before it existed: then `chain[0]` is the only node known.
   */
  nodes?: CertSummary[];
  nodeConnections?: number;
}

export interface RemoteEvidence {
  remoteInfo: unknown;
  resolveCluster?: unknown;
  searchHits?: number;
  /** The cross-cluster search's failure as Elasticsearch answered it (HTTP status, `type: reason`), when it failed. */
  searchFailure?: { status: number; error: string };
  /** The search answered but the remote's part was `partial` (some of its shards failed): the first reason. */
  searchPartial?: string;
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

/** Result of checking a CA certificate (PEM, a CA, no private key, not expired). */
export type CaCheck = { ok: true; subject: string; validTo: string } | { ok: false; problems: string[] };

export interface DirectTrustEntry {
  type: 'proxy' | 'generic';
  name: string;
  certificates: { pem: string }[];
  trust_all: boolean;
  scope_id?: string;
  trust_allowlist?: string[];
  additional_node_names?: string[];
  uid?: string;
}

/** Where a secret is about to be used. `url` is the destination the request (or the workflow) chose. */
export type SecretUse =
  | { use: 'cloud-api-key'; endpoint?: string }
  | { use: 'ech-elasticsearch'; deploymentId: string; url?: string; reportedUrl?: string }
  | { use: 'elasticsearch'; url: string }
  | { use: 'user-password' };

/** The `cluster.metadata` record this tool writes beside an alias's settings (what it made, for day 2). */
export interface OwnershipRecord {
  managed_by?: string;
  workflow_id?: string;
  security_model?: string;
  /** The cross-cluster API key the alias uses, once a rotation (or an update) recorded it. */
  api_key_id?: string;
  /** The run that last rotated the key. */
  rotated_by?: string;
  /** The migrateRemoteClusterToApiKey run that moved the alias from the certificate model to the API-key model. */
  migrated_by?: string;
}

/** A cross-cluster API key as Elasticsearch reports it (never its secret). */
export interface CrossClusterKeyInfo {
  id: string;
  name?: string;
  invalidated: boolean;
  expiration?: number;
  /** `managed_by` is this tool's. */
  managed: boolean;
  /** The alias and workflow in the key's metadata (ours only). */
  alias?: string;
  workflowId?: string;
  /** The access as Elasticsearch stores it (allow_restricted_indices filled in, a DLS query as a JSON string). */
  access?: unknown;
}

/** An alias's `_remote/info` entry as day 2 and the audit keep it. */
export interface RemoteInfoSummary {
  connected: boolean;
  mode?: string;
  /** `cluster_credentials` is present: the API-key model. */
  credentials: boolean;
  /** Proxy mode: sockets open of those configured (`num_proxy_sockets_connected` / `max_proxy_socket_connections`). */
  sockets?: { connected: number; max: number };
}

/** A role or user this tool made (metadata `managed_by`), and the alias it was made for. */
export interface OwnedSecurityObject {
  kind: 'role' | 'user';
  name: string;
  alias?: string;
  workflowId?: string;
}

/** An alias on the ECH deployment as day 2 sees it. */
export interface ConnectionFacts {
  /** Non-null `cluster.remote.<alias>.*` settings. */
  settings: Record<string, unknown>;
  record?: OwnershipRecord;
  /** `_remote/info` of the alias, when it is there. */
  remoteInfo?: RemoteInfoSummary;
  /** CCR use of the alias: follower indices and auto-follow patterns whose remote cluster it is. */
  ccr: { followerIndices: string[]; autoFollowPatterns: string[] };
  /** Roles and users this tool made for the alias (metadata managed_by + alias). */
  roles: string[];
  users: string[];
}

/** One audit round of an alias seen from ECH (domain page §4b: what ECH's APIs show). */
export interface ConnectionCheck {
  ok: boolean;
  /** `_remote/info` of the alias (absent: not there). */
  remoteInfo?: RemoteInfoSummary;
  resolveCluster?: unknown;
  searchHits?: number;
  /** The size-0 search answered, but the remote's part was `partial` (some shards failed): why. */
  searchPartial?: string;
  /** Why the round failed: the diagnosis (cause; fix) and the error ECH answered. */
  problem?: string;
}

/** What on ECH still uses an alias (active ones only): the migration pauses them first. */
export interface CrossClusterOperations {
  followerIndices: string[];
  autoFollowPatterns: string[];
  transforms: string[];
  datafeeds: string[];
}
