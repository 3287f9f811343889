/**
 * The activities the workflows call, by signature. Workflows import this file type-only; implementations live in
 * one module per external system (cloud.ts, elasticsearch.ts, tls.ts) and are assembled by createActivities(deps).
 * Inputs and results carry no secret except the encoded cross-cluster key, which travels only in (encrypted)
 * payloads between the step that obtains it and the step that installs it.
 */
import type { Access } from '../contract/request';
import type {
  CaCheck,
  CloudTarget,
  ClusterFacts,
  ConnectionCheck,
  ConnectionFacts,
  CrossClusterKey,
  CrossClusterKeyInfo,
  CrossClusterOperations,
  OwnershipRecord,
  OwnedSecurityObject,
  DeploymentFacts,
  DirectTrustEntry,
  EsTarget,
  RemoteEvidence,
  SecretReference,
  TlsProbeReport,
} from '../contract/facts';
import type { PlanTurnActivities } from './planTurns';

/** The facts live in src/contract/facts.ts (below domain and activities); re-exported for the activities' callers. */
export type {
  CaCheck,
  CertSummary,
  CloudTarget,
  ClusterFacts,
  ConnectionFacts,
  CrossClusterKey,
  CrossClusterKeyInfo,
  OwnershipRecord,
  DeploymentFacts,
  DirectTrustEntry,
  ElasticsearchSide,
  EsTarget,
  Finding,
  RemoteEvidence,
  SecretReference,
  TlsProbeReport,
} from '../contract/facts';

export interface Activities extends PlanTurnActivities {
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
    /** Other runs' entries written by the same update (one plan for all; src/workflows/deploymentPlans.ts). */
    alsoApply?: DirectTrustEntry[];
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
  /**
   * inspectCluster of a deployment's ECH cluster at the Elasticsearch endpoint the Cloud API reports for it (the only
   * place its credentials go), without the caller reading the deployment first; says which URL it inspected.
   */
  inspectEchCluster(i: {
    deployment: CloudTarget;
    credentialsSecret: string;
    required: { cluster: string[] };
    alias?: string;
  }): Promise<ClusterFacts & { url: string }>;
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
    /** disconnect `adopt: true`: an alias without our record is removed too (its settings only). */
    adopt?: boolean;
    /** disconnect: remove the settings but keep the ownership record (removed last, so a rerun knows the alias). */
    keepRecord?: boolean;
  }): Promise<{ removed: boolean; settings: string[] }>;
  /** _remote/info, _resolve/cluster, a size-0 search; retries briefly (connections are lazy), then fails with the diagnosis. */
  verifyRemoteConnection(i: {
    target: EsTarget;
    alias: string;
    securityModel: 'api-key' | 'tls-certificate';
    searchIndex?: string;
    timeoutMs: number;
    /**
     * The trust ECH was given for proxy_address (the request's remote.ca), for the worker's TLS probe. Absent (day 2):
     * the probe checks against the public roots and an untrusted chain is reported as evidence, not as the diagnosis.
     */
    ca?: { kind: 'public' } | { kind: 'private'; pem: string };
  }): Promise<RemoteEvidence>;
  /**
   * `onlyIfAbsent`: create it, or leave an existing one (of ours, made by another run) untouched and say `deferred`
   * (the caller updates it once the connection is verified). `onlyIfWrittenBy` (a rollback putting a role back): write
   * only while the role there is the one that workflow wrote (`metadata.workflow_id`); else change nothing and say why
   * in `left` (someone changed or removed it since).
   */
  ensureRole(i: {
    target: EsTarget;
    name: string;
    body: Record<string, unknown>;
    onlyIfAbsent?: boolean;
    onlyIfWrittenBy?: string;
  }): Promise<{ created: boolean; deferred?: boolean; left?: string }>;
  /** Only ours; only this run's, unless `alias` is given (disconnect): then any of ours made for that alias. */
  /** `alias`/`workflowId`: only a role of ours made for that alias (and by that run's connection). */
  removeRole(i: { target: EsTarget; name: string; alias?: string; workflowId?: string }): Promise<{ removed: boolean }>;
  /** `onlyIfAbsent`: as for ensureRole. */
  ensureUser(i: {
    target: EsTarget;
    username: string;
    body: Record<string, unknown>;
    passwordSecret: string;
    onlyIfAbsent?: boolean;
  }): Promise<{ created: boolean; deferred?: boolean }>;
  removeUser(i: { target: EsTarget; username: string; alias?: string }): Promise<{ removed: boolean }>;

  // ---- day 2 (elasticsearch.ts)
  /** Read-only: the alias's settings, our record, `_remote/info`, CCR use, the roles and users we made for it. */
  readConnection(i: { target: EsTarget; alias: string }): Promise<ConnectionFacts>;
  /** Read-only: cross-cluster keys by id, or our active ones for `alias`. */
  findCrossClusterApiKeys(i: { target: EsTarget; id?: string; alias?: string }): Promise<CrossClusterKeyInfo[]>;
  /** `PUT /_security/cross_cluster/api_key/<id>` with the new access (ours only); Elasticsearch's `updated`. */
  updateCrossClusterApiKey(i: {
    target: EsTarget;
    id: string;
    access: Access;
    metadata?: Record<string, unknown>;
  }): Promise<{ updated: boolean; before?: unknown; after?: unknown }>;
  /**
   * migrate (and its rollback): the alias's `cluster.remote.<alias>.*` settings and our ownership record replaced in
   * ONE `PUT _cluster/settings`, only while the record there is ours and names `expectWorkflowId` (the connection's
   * run). Idempotent: the same write again changes nothing.
   */
  switchRemoteCluster(i: {
    target: EsTarget;
    alias: string;
    settings: Record<string, unknown>;
    record: OwnershipRecord;
    expectWorkflowId: string;
  }): Promise<{ settings: string[] }>;
  /**
   * Read-only: what on ECH still uses the alias and must be paused before it changes model: CCR follower indices
   * (`_ccr/stats`: a paused follower is not listed), active auto-follow patterns, transforms not stopped and datafeeds
   * started whose source names the alias (`<alias>:<index>`, or a cluster pattern matching it).
   */
  findCrossClusterOperations(i: { target: EsTarget; alias: string }): Promise<CrossClusterOperations>;
  /**
   * Read-only: the named roles as `PUT /_security/role/<name>` takes them back (metadata included, transient metadata
   * left out; absent roles are left out). Role descriptors hold no secret.
   */
  readRoles(i: { target: EsTarget; names: string[] }): Promise<{ name: string; body: Record<string, unknown> }[]>;
  /** Read-only: the `indices` privileges of the named roles (absent roles are left out). */
  readRoleIndices(i: {
    target: EsTarget;
    names: string[];
  }): Promise<{ name: string; indices: { names: string[]; privileges: string[] }[] }[]>;
  /** Rewrite our ownership record of `alias` (only when the one there is ours); `{written:false}` otherwise. */
  putOwnershipRecord(i: { target: EsTarget; alias: string; record: OwnershipRecord }): Promise<{ written: boolean }>;

  // ---- audit (elasticsearch.ts), read-only
  /** Every alias with `cluster.remote.<alias>.*` settings or in `_remote/info`, ours or not. */
  listRemoteClusters(i: { target: EsTarget }): Promise<string[]>;
  /** One round of _remote/info, _resolve/cluster and the size-0 search; a problem is returned, never thrown. */
  checkRemoteConnection(i: {
    target: EsTarget;
    alias: string;
    searchIndex?: string;
    /** The model the alias should use (our record's); absent: the one `_remote/info` shows. */
    securityModel?: 'api-key' | 'tls-certificate';
  }): Promise<ConnectionCheck>;
  /** `POST /_security/_query/api_key`: every cross-cluster key this tool made (metadata.managed_by), any state. */
  queryCrossClusterApiKeys(i: {
    target: EsTarget;
  }): Promise<(CrossClusterKeyInfo & { type?: string; accessHash?: string })[]>;
  /** `GET /_security/role` and `GET /_security/user`: the roles and users this tool made (metadata.managed_by). */
  listOwnedRolesAndUsers(i: { target: EsTarget }): Promise<OwnedSecurityObject[]>;

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
