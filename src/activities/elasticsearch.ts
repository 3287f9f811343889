/**
 * Elasticsearch activities, for both sides (ECH = local, self-managed = remote), over the version-aware client
 * factory. Every side-effecting activity is idempotent: it reads the current state first and converges, so a retried
 * or repeated call creates nothing twice. Everything created carries `managed_by: ech-remote-clusters`, and every
 * removal checks it, so nothing this tool did not create is ever changed or deleted.
 */
import { Context } from '@temporalio/activity';
import { errors } from '@elastic/elasticsearch';
import type { TransportRequestParams } from '@elastic/elasticsearch';
import {
  classifyElasticsearchError,
  createElasticsearchClientFactory,
  elasticsearchErrorOf,
  type ElasticsearchClientDeps,
  type ElasticsearchClientFactory,
  type EsConnection,
} from '../clients/elasticsearch';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FAILURE_TYPES, isRetryableFailure, permanent, requestedRetryDelayMs } from '../clients/errors';
import { MANAGED_BY } from '../contract/steps';
import {
  describeRemoteInfo,
  diagnoseRemoteError,
  diagnoseRemoteInfo,
  diagnoseUnconnected,
  type Diagnosis,
  type DiagnosisContext,
} from '../domain/diagnosis';
import {
  crossClusterApiKeyName,
  crossClusterApiKeyRequest,
  disconnectRequest,
  ownershipSettingKey,
} from '../domain/requests';
import { heartbeat } from './heartbeat';
import {
  redact,
  registerEncodedApiKey,
  registerSecret,
  resolveSecret,
  resolveTargetCredentials,
  type Credentials,
  type EchEndpointLookup,
} from './secrets';
import { createTlsActivities, type TlsActivityDeps } from './tls';
import type { RemoteInfoSummary } from '../contract/facts';
import type { Activities, ClusterFacts, CrossClusterKey, EsTarget, RemoteEvidence, TlsProbeReport } from './types';

export type ElasticsearchActivities = Pick<
  Activities,
  | 'inspectCluster'
  | 'inspectEchCluster'
  | 'findOrCreateCrossClusterApiKey'
  | 'invalidateCrossClusterApiKey'
  | 'putRemoteCluster'
  | 'removeRemoteCluster'
  | 'verifyRemoteConnection'
  | 'ensureRole'
  | 'removeRole'
  | 'ensureUser'
  | 'removeUser'
  | 'readConnection'
  | 'findCrossClusterApiKeys'
  | 'updateCrossClusterApiKey'
  | 'putOwnershipRecord'
  | 'switchRemoteCluster'
  | 'findCrossClusterOperations'
  | 'readRoleIndices'
  | 'readRoles'
  | 'listRemoteClusters'
  | 'checkRemoteConnection'
  | 'queryCrossClusterApiKeys'
  | 'listOwnedRolesAndUsers'
>;

export interface ElasticsearchActivityDeps {
  /** The client factory (default: createElasticsearchClientFactory(client)). */
  clients?: ElasticsearchClientFactory;
  /** Options for the default factory (extra trusted CAs, Connection class, timeouts). */
  client?: ElasticsearchClientDeps;
  /** The Elasticsearch endpoint the Cloud API reports for a deployment (where ECH credentials may go). */
  echEndpoint?: EchEndpointLookup;
  /** Backoff of verifyRemoteConnection between attempts (defaults 500 ms doubling to 5 s). */
  verifyBackoff?: { initialMs?: number; maxMs?: number };
  /** Options of the worker's TLS probe that verifyRemoteConnection re-runs (same as the TLS activities'). */
  tls?: TlsActivityDeps;
  /** The probe itself (default: the TLS activities' probeRemoteClusterServer over `tls`). */
  tlsProbe?: Activities['probeRemoteClusterServer'];
}

type ProbeInput = Parameters<Activities['probeRemoteClusterServer']>[0];

// ---------------------------------------------------------------- helpers

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // called outside an activity (scripts, unit tests without the mock environment)
  }
}

function logInfo(message: string, attrs: Record<string, unknown> = {}): void {
  activityContext()?.log.info(redact(message), attrs);
}

function logWarn(message: string, attrs: Record<string, unknown> = {}): void {
  activityContext()?.log.warn(redact(message), attrs);
}

async function sleep(ms: number): Promise<void> {
  const ctx = activityContext();
  if (ctx) return ctx.sleep(ms); // throws CancelledFailure when the activity is cancelled
  await new Promise((r) => setTimeout(r, ms));
}

function isOurs(metadata: unknown, workflowId?: string): boolean {
  const m = metadata as { managed_by?: unknown; workflow_id?: unknown } | undefined;
  if (!m || m.managed_by !== MANAGED_BY) return false;
  return workflowId === undefined || m.workflow_id === workflowId;
}

interface RawOutcome<T> {
  ok: boolean;
  status: number;
  body: T | undefined;
  /** ES error text (type: reason) for non-2xx answers. */
  errorText?: string;
}

const ECH_API_TRANSIENT_STATUSES = new Set([408, 429, 502, 503, 504]);

/** One request whose HTTP errors are returned (for diagnosis) instead of thrown; network errors are still thrown. */
async function tryRequest<T>(
  conn: EsConnection,
  operation: string,
  params: TransportRequestParams,
): Promise<RawOutcome<T>> {
  try {
    const res = await conn.client.transport.request<T>(params, { meta: true });
    return { ok: true, status: res.statusCode ?? 200, body: res.body };
  } catch (err) {
    // The ECH cluster's own API overloaded or unavailable (429, 502-504, 408) says nothing about the remote: thrown as
    // a retryable failure, not returned as a verdict. Remote failures come as 500 or 4xx with the ES error.
    if (err instanceof errors.ResponseError && !ECH_API_TRANSIENT_STATUSES.has(err.meta?.statusCode ?? 0)) {
      const { type, reason } = elasticsearchErrorOf(err.body);
      return {
        ok: false,
        status: err.meta?.statusCode ?? 0,
        body: err.body as T,
        errorText: redact(type ? `${type}: ${reason}` : reason),
      };
    }
    // Connection problems with the cluster we talk to (not the remote): classified like every other call.
    throw classifyElasticsearchError(conn.system, operation, err, conn.url);
  }
}

interface FlatSettings {
  persistent?: Record<string, unknown>;
  transient?: Record<string, unknown>;
}

interface AliasState {
  /** Non-null `cluster.remote.<alias>.*` settings (persistent and transient). */
  settings: Record<string, unknown>;
  /** Parsed ownership record, when present. */
  record?: { managed_by?: string; workflow_id?: string; security_model?: string };
  recordRaw?: unknown;
}

async function readAlias(conn: EsConnection, alias: string): Promise<AliasState> {
  const body = await conn.request<FlatSettings>('read cluster settings', {
    method: 'GET',
    path: '/_cluster/settings',
    querystring: { flat_settings: true },
  });
  const prefix = `cluster.remote.${alias}.`;
  const recordKey = ownershipSettingKey(alias);
  const settings: Record<string, unknown> = {};
  let recordRaw: unknown;
  for (const scope of [body.persistent ?? {}, body.transient ?? {}]) {
    for (const [k, v] of Object.entries(scope)) {
      if (k.startsWith(prefix) && v !== null && v !== undefined) settings[k] = v;
      if (k === recordKey && v !== null && v !== undefined) recordRaw = v;
    }
  }
  let record: AliasState['record'];
  if (typeof recordRaw === 'string') {
    try {
      record = JSON.parse(recordRaw) as AliasState['record'];
    } catch {
      record = undefined;
    }
  }
  return { settings, record, recordRaw };
}

function aliasExists(state: AliasState, alias: string): boolean {
  const p = `cluster.remote.${alias}.`;
  return [`${p}mode`, `${p}proxy_address`, `${p}seeds`].some((k) => state.settings[k] !== undefined);
}

// ---------------------------------------------------------------- factory

export function createElasticsearchActivities(deps: ElasticsearchActivityDeps = {}): ElasticsearchActivities {
  const credentialsFor = (t: EsTarget): Promise<Credentials> => resolveTargetCredentials(t, deps.echEndpoint);
  const clients = deps.clients ?? createElasticsearchClientFactory({ credentialsFor, ...(deps.client ?? {}) });
  const initialBackoff = deps.verifyBackoff?.initialMs ?? 500;
  const maxBackoff = deps.verifyBackoff?.maxMs ?? 5_000;
  const tlsProbe = deps.tlsProbe ?? createTlsActivities(deps.tls).probeRemoteClusterServer;

  async function withCluster<T>(target: EsTarget, fn: (conn: EsConnection) => Promise<T>): Promise<T> {
    const conn = await clients.connect(target);
    try {
      return await fn(conn);
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  async function getManaged(
    conn: EsConnection,
    kind: 'role' | 'user',
    name: string,
  ): Promise<{ exists: boolean; metadata?: Record<string, unknown> }> {
    const res = await conn.requestWithStatus<Record<string, { metadata?: Record<string, unknown> }>>(
      `get ${kind} ${name}`,
      { method: 'GET', path: `/_security/${kind}/${encodeURIComponent(name)}` },
      [404],
    );
    if (res.status === 404) return { exists: false };
    const entry = res.body?.[name];
    return { exists: entry !== undefined, metadata: entry?.metadata };
  }

  /**
   * The metadata a role or user is written with: ours, and which run first created it (kept on every update). "Created
   * by this run" then survives a retried attempt whose first PUT created it but whose result was lost (Elasticsearch
   * says `created: false` the second time), so a rollback still removes it, and never removes one an earlier run made.
   */
  function ownedMetadata(
    body: Record<string, unknown>,
    existing: { exists: boolean; metadata?: Record<string, unknown> },
  ): { metadata: Record<string, unknown>; createdByThisRun: boolean } {
    const runId = activityContext()?.info.workflowExecution?.runId;
    const createdBy = existing.exists ? existing.metadata?.created_by_run : runId;
    const { created_by_run: _ignored, ...given } = (body.metadata as Record<string, unknown> | undefined) ?? {};
    const metadata = {
      ...given,
      managed_by: MANAGED_BY,
      ...(typeof createdBy === 'string' ? { created_by_run: createdBy } : {}),
    };
    return { metadata, createdByThisRun: runId !== undefined && createdBy === runId };
  }

  /** Made by an earlier attempt of this very run (a retry after a lost answer): still this run's to write. */
  function madeByThisRun(metadata: Record<string, unknown> | undefined): boolean {
    const runId = activityContext()?.info.workflowExecution?.runId;
    return runId !== undefined && metadata?.created_by_run === runId;
  }

  function refuseForeign(kind: 'role' | 'user', name: string, metadata: Record<string, unknown> | undefined): never {
    const reserved = metadata?._reserved === true;
    throw permanent(
      FAILURE_TYPES.notOurs,
      `${kind === 'role' ? 'Role' : 'User'} "${name}" already exists on this cluster and was not created by ${MANAGED_BY}` +
        `${reserved ? ' (it is a reserved, built-in one)' : ''}: refusing to overwrite it → choose another ${kind} name in the` +
        ` request, or delete/rename the existing ${kind} yourself if it is no longer needed.`,
      { kind, name },
    );
  }

  const activities: ElasticsearchActivities = {
    // ------------------------------------------------------------ inspect (read-only)
    async inspectCluster({ target, required, alias }): Promise<ClusterFacts> {
      return withCluster(target, async (conn) => {
        // Every read at once (they are independent, and one round trip costs less than seven in a row), but decided
        // in the order a person needs: privileges first. `_authenticate` and `_has_privileges` work for any user, so a
        // user lacking one is told which, by name, and the other reads' 403s are not what is reported.
        const settled = <T>(p: Promise<T>): Promise<PromiseSettledResult<T>> =>
          p.then(
            (value) => ({ status: 'fulfilled', value }),
            (reason: unknown) => ({ status: 'rejected', reason }),
          );
        const valueOf = <T>(r: PromiseSettledResult<T>): T => {
          if (r.status === 'rejected') throw r.reason;
          return r.value;
        };
        // Known version given by the caller, or GET / was forbidden: ask again (a 403 now fails with its reason).
        const needRoot = !conn.version || conn.clusterName === undefined;
        const [authR, hasR, rootR, licenseR, healthR, aliasR, certsR] = await Promise.all([
          settled(
            conn.request<{ username?: string; authentication_type?: string }>('authenticate', {
              method: 'GET',
              path: '/_security/_authenticate',
            }),
          ),
          settled(
            required.cluster.length > 0
              ? conn.request<{ cluster?: Record<string, boolean> }>('check privileges', {
                  method: 'POST',
                  path: '/_security/user/_has_privileges',
                  body: { cluster: required.cluster },
                })
              : Promise.resolve(undefined),
          ),
          settled(
            needRoot
              ? conn.request<{ version?: { number?: string }; cluster_name?: string; cluster_uuid?: string }>('GET /', {
                  method: 'GET',
                  path: '/',
                })
              : Promise.resolve(undefined),
          ),
          settled(
            conn.request<{ license?: { type?: string; status?: string } }>('read license', {
              method: 'GET',
              path: '/_license',
            }),
          ),
          settled(
            conn.request<{ status?: string }>('read cluster health', { method: 'GET', path: '/_cluster/health' }),
          ),
          settled(alias ? readAlias(conn, alias) : Promise.resolve(undefined)),
          settled(
            conn.request<ClusterFacts['sslCertificates']>('read _ssl/certificates', {
              method: 'GET',
              path: '/_ssl/certificates',
            }),
          ),
        ]);
        const auth = valueOf(authR);
        const principal = { username: auth.username ?? '', authenticationType: auth.authentication_type ?? 'unknown' };
        const missingPrivileges: string[] = [];
        const has = valueOf(hasR);
        for (const p of required.cluster) if (has?.cluster?.[p] !== true) missingPrivileges.push(`cluster:${p}`);
        if (missingPrivileges.length > 0) {
          const unknown = { type: 'unknown', status: 'unknown' };
          return {
            version: conn.version ?? 'unknown',
            clusterName: conn.clusterName ?? '',
            clusterUuid: conn.clusterUuid ?? '',
            license: unknown,
            principal,
            missingPrivileges,
          };
        }
        let version = conn.version;
        let clusterName = conn.clusterName;
        let clusterUuid = conn.clusterUuid;
        const root = valueOf(rootR);
        if (root) {
          version ??= root.version?.number ?? 'unknown';
          clusterName = root.cluster_name;
          clusterUuid = root.cluster_uuid;
        }
        const license = valueOf(licenseR);
        const facts: ClusterFacts = {
          version: version ?? 'unknown',
          clusterName: clusterName ?? '',
          clusterUuid: clusterUuid ?? '',
          license: { type: license.license?.type ?? 'unknown', status: license.license?.status ?? 'unknown' },
          principal,
          missingPrivileges,
        };
        if (healthR.status === 'fulfilled') {
          const status = healthR.value.status;
          if (status === 'green' || status === 'yellow' || status === 'red') facts.health = status;
        } else if (isRetryableFailure(healthR.reason)) {
          // Best-effort, like _ssl/certificates: an expired license blocks cluster health (SecurityActionFilter), and
          // the license finding reports that; a transient failure is retried as any other.
          throw healthR.reason;
        }
        const state = valueOf(aliasR);
        if (alias && state) {
          facts.remote = {
            settings: state.settings,
            ...(state.record?.managed_by === MANAGED_BY && state.record.workflow_id
              ? { ownedBy: { workflowId: state.record.workflow_id } }
              : {}),
          };
        }
        // Best-effort: _ssl/certificates needs the `monitor` privilege and is not exposed on every deployment.
        if (certsR.status === 'fulfilled' && Array.isArray(certsR.value)) facts.sslCertificates = certsR.value;
        logInfo(`inspected ${target.side} cluster ${facts.clusterName} ${facts.version}`, {
          license: facts.license.type,
          missingPrivileges,
        });
        return facts;
      });
    },

    async inspectEchCluster({ deployment, credentialsSecret, required, alias }) {
      // The endpoint the Cloud API reports (the worker's lookup, cached briefly), as resolveTargetCredentials checks it:
      // the caller need not read the deployment first, so this runs beside that read.
      const url = deps.echEndpoint ? await deps.echEndpoint(deployment) : undefined;
      if (!url) {
        throw permanent(
          'DeploymentNotHealthy',
          `The Cloud API reports no Elasticsearch endpoint for deployment ${deployment.deploymentId}, so the worker has` +
            ' nowhere to send the ECH credentials: check the deployment in the Cloud console.',
        );
      }
      const facts = await activities.inspectCluster({
        target: { side: 'ech', url, credentialsSecret, deployment },
        required,
        ...(alias ? { alias } : {}),
      });
      return { ...facts, url };
    },

    // ------------------------------------------------------------ cross-cluster API key (self-managed side)
    async findOrCreateCrossClusterApiKey({ target, alias, workflowId, access, expiration }): Promise<CrossClusterKey> {
      const credentials = await credentialsFor(target);
      if ('apiKey' in credentials) {
        throw permanent(
          FAILURE_TYPES.unsupportedCredentials,
          `The credentials in secret "${target.credentialsSecret}" are an API key, but Elasticsearch only lets a user` +
            ' (username:password) create cross-cluster API keys → put "username:password" of a user with the' +
            ' manage_security privilege into that secret, or leave remote.elasticsearch out and let the self-managed' +
            ' org create the key (the workflow then waits for provideCrossClusterApiKey).',
        );
      }
      const request = crossClusterApiKeyRequest({ alias, access, keyExpiration: expiration }, workflowId);
      return withCluster(target, async (conn) => {
        const name = crossClusterApiKeyName(alias);
        const found = await conn.requestWithStatus<{ api_keys?: ApiKeyInfo[] }>(
          'look up cross-cluster API keys',
          { method: 'GET', path: '/_security/api_key', querystring: { name, active_only: true } },
          [404],
        );
        // Only keys of this very run: another run of the same workflow id (`--new-run`) may have made a live one.
        const runId = activityContext()?.info.workflowExecution?.runId;
        const ours = (found.body?.api_keys ?? []).filter(
          (k) =>
            k.invalidated !== true &&
            (k.type === undefined || k.type === 'cross_cluster') &&
            isOurs(k.metadata, workflowId) &&
            runId !== undefined &&
            k.metadata?.run_id === runId &&
            (k.metadata?.alias === undefined || k.metadata.alias === alias),
        );
        // ES never returns a key's secret again: a key of ours that is still active was made by an attempt whose
        // result was lost. Invalidate it, so exactly one active key exists for this run: the one returned now.
        const invalidatedIds: string[] = [];
        if (ours.length > 0) {
          const ids = ours.map((k) => k.id);
          const res = await conn.request<InvalidateResponse>('invalidate lost cross-cluster API keys', {
            method: 'DELETE',
            path: '/_security/api_key',
            body: { ids },
          });
          assertNoInvalidationErrors(res);
          invalidatedIds.push(...ids);
          logWarn(`invalidated ${ids.length} cross-cluster API key(s) of this workflow left by an earlier attempt`, {
            ids,
          });
        }
        const created = await conn.request<{
          id: string;
          name: string;
          api_key?: string;
          encoded: string;
          expiration?: number;
        }>('create cross-cluster API key', {
          method: request.method,
          path: request.path,
          body: { ...request.body, metadata: { ...request.body.metadata, ...(runId ? { run_id: runId } : {}) } },
        });
        registerEncodedApiKey(created.encoded);
        registerSecret(created.api_key);
        logInfo(`created cross-cluster API key ${created.id} (${name})`, { id: created.id });
        return {
          id: created.id,
          name: created.name ?? name,
          encoded: created.encoded,
          created: true,
          invalidatedIds,
          ...(created.expiration !== undefined ? { expiration: created.expiration } : {}),
        };
      });
    },

    async invalidateCrossClusterApiKey({ target, id }) {
      return withCluster(target, async (conn) => {
        const res = await conn.requestWithStatus<{ api_keys?: ApiKeyInfo[] }>(
          'look up cross-cluster API key',
          { method: 'GET', path: '/_security/api_key', querystring: { id } },
          [404],
        );
        const key = (res.body?.api_keys ?? []).find((k) => k.id === id);
        if (!key) return { invalidated: false, reason: 'not-found' as const };
        if (!isOurs(key.metadata)) {
          logWarn(`not invalidating API key ${id}: it was not created by ${MANAGED_BY}`);
          return { invalidated: false, reason: 'not-managed' as const };
        }
        if (key.invalidated === true) return { invalidated: true, reason: 'already-invalidated' as const };
        const out = await conn.request<InvalidateResponse>('invalidate cross-cluster API key', {
          method: 'DELETE',
          path: '/_security/api_key',
          body: { ids: [id] },
        });
        assertNoInvalidationErrors(out);
        logInfo(`invalidated cross-cluster API key ${id}`);
        return { invalidated: true };
      });
    },

    // ------------------------------------------------------------ remote cluster settings (ECH side)
    async putRemoteCluster({ target, body, alias, workflowId }) {
      const recordKey = ownershipSettingKey(alias);
      const prefix = `cluster.remote.${alias}.`;
      const keys = Object.keys(body.persistent);
      const stray = keys.filter((k) => !k.startsWith(prefix) && k !== recordKey);
      if (stray.length > 0) {
        throw permanent(
          FAILURE_TYPES.invalidRequest,
          `putRemoteCluster for alias "${alias}" may only write ${prefix}* and ${recordKey}; found ${stray.join(', ')}`,
        );
      }
      const recordValue = body.persistent[recordKey];
      let record: { workflow_id?: string; managed_by?: string } | undefined;
      try {
        record = typeof recordValue === 'string' ? (JSON.parse(recordValue) as typeof record) : undefined;
      } catch {
        record = undefined;
      }
      if (!record || record.managed_by !== MANAGED_BY || record.workflow_id !== workflowId) {
        throw permanent(
          FAILURE_TYPES.invalidRequest,
          `putRemoteCluster for alias "${alias}" needs the ownership record ${recordKey} of workflow ${workflowId} in the` +
            ' same request (build the body with connectRequest)',
        );
      }
      return withCluster(target, async (conn) => {
        // Both reads at once: _remote/info is needed only when the settings show no such alias (the usual case).
        const remoteInfo = conn
          .request<Record<string, unknown>>('read remote info', { method: 'GET', path: '/_remote/info' })
          .then(
            (info) => ({ info }),
            (error: unknown) => ({ error }),
          );
        const before = await readAlias(conn, alias);
        let exists = aliasExists(before, alias);
        if (!exists) {
          // A remote configured in elasticsearch.yml (user settings) does not show in _cluster/settings.
          const read = await remoteInfo;
          if ('error' in read) throw read.error;
          if (read.info[alias] !== undefined) {
            throw aliasInUse(
              alias,
              'it is configured outside the cluster settings API (elasticsearch.yml / user settings)',
            );
          }
        }
        const ownedByUs = before.record?.managed_by === MANAGED_BY && before.record.workflow_id === workflowId;
        if (exists && !ownedByUs) {
          const owner =
            before.record?.managed_by === MANAGED_BY
              ? `it was created by another ${MANAGED_BY} workflow (${before.record.workflow_id ?? 'unknown id'}); disconnect it with disconnectRemoteCluster first or choose another alias`
              : 'it was not created by this tool (no ownership record); choose another alias, or remove that remote yourself if it is no longer used';
          throw aliasInUse(alias, owner);
        }
        if (!exists && before.recordRaw !== undefined && !ownedByUs) {
          logWarn(`replacing a stale ownership record for alias ${alias} (no remote settings left)`);
        }
        await conn.request('put remote cluster settings', { method: 'PUT', path: '/_cluster/settings', body });
        exists = exists && ownedByUs;
        const written = Object.entries(body.persistent)
          .filter(([, v]) => v !== null && v !== undefined)
          .map(([k]) => k);
        logInfo(`${exists ? 'updated' : 'registered'} remote cluster ${alias}`, { settings: written });
        return { settings: written, existed: exists };
      });
    },

    async removeRemoteCluster(input: {
      target: EsTarget;
      alias: string;
      workflowId?: string;
      adopt?: boolean;
      keepRecord?: boolean;
    }) {
      const { target, alias, workflowId, adopt, keepRecord } = input;
      return withCluster(target, async (conn) => {
        const state = await readAlias(conn, alias);
        const settings = Object.keys(state.settings);
        if (!state.record || state.record.managed_by !== MANAGED_BY) {
          if (!adopt || !aliasExists(state, alias)) {
            if (aliasExists(state, alias))
              logWarn(`not removing remote cluster ${alias}: it is not managed by ${MANAGED_BY}`);
            return { removed: false, settings: [] };
          }
        } else if (workflowId !== undefined && state.record.workflow_id !== workflowId) {
          logWarn(`not removing remote cluster ${alias}: it belongs to workflow ${state.record.workflow_id ?? '?'}`);
          return { removed: false, settings: [] };
        }
        // Every cluster.remote.<alias>.* setting in ONE request (ES refuses skip_unavailable without an address),
        // the ones the tool writes and any other set on the alias, with our record.
        const req = disconnectRequest(alias);
        const persistent: Record<string, unknown> = {
          ...req.body.persistent,
          ...Object.fromEntries(settings.map((k) => [k, null])),
        };
        if (keepRecord) delete persistent[ownershipSettingKey(alias)];
        const body = { persistent };
        await conn.request('remove remote cluster settings', { method: req.method, path: req.path, body });
        logInfo(`removed remote cluster ${alias}`);
        return { removed: true, settings };
      });
    },

    // ------------------------------------------------------------ verification
    async verifyRemoteConnection({
      target,
      alias,
      securityModel,
      searchIndex,
      timeoutMs,
      ca,
    }): Promise<RemoteEvidence> {
      const started = Date.now();
      const deadline = started + timeoutMs;
      let conn: EsConnection | undefined;
      let dctx: DiagnosisContext | undefined;
      let attempt = 0;
      let previous: Diagnosis['code'] | undefined;
      let last: AttemptOutcome | undefined;
      // The latest transient failure of the ECH cluster's own API (429, 5xx, reset, timeout): not a verdict.
      let apiFailure: ApplicationFailure | undefined;
      try {
        for (;;) {
          attempt++;
          let outcome: AttemptOutcome | undefined;
          let waitMs = 0;
          try {
            conn ??= await clients.connect(target);
            if (!dctx) {
              // Only for the diagnosis' wording: a permanent failure to read it (privileges) is not fatal.
              const configured = await readAlias(conn, alias).catch((e: unknown) => {
                if (isRetryableFailure(e)) throw e;
                return undefined;
              });
              dctx = {
                alias,
                securityModel,
                proxyAddress: configured?.settings[`cluster.remote.${alias}.proxy_address`] as string | undefined,
                serverName: configured?.settings[`cluster.remote.${alias}.server_name`] as string | undefined,
                ...(ca ? {} : { caUnknown: true }),
              };
            }
            const probeInput: ProbeInput | undefined = dctx.proxyAddress
              ? {
                  proxyAddress: dctx.proxyAddress,
                  ...(dctx.serverName ? { serverName: dctx.serverName } : {}),
                  ca: ca ?? { kind: 'public' },
                  expect: securityModel === 'api-key' ? 'remote-cluster-server' : 'transport',
                }
              : undefined;
            outcome = await verifyOnce(conn, alias, dctx, searchIndex, probeInput && (() => tlsProbe(probeInput)));
          } catch (err) {
            if (!isRetryableFailure(err)) throw err;
            apiFailure = err;
            waitMs = requestedRetryDelayMs(err) ?? 0;
            heartbeat({ attempt, apiFailure: err.type ?? 'transient' });
            logWarn(`verify ${alias}: the ECH cluster's API failed transiently (attempt ${attempt}): ${err.message}`);
          }
          if (outcome) {
            last = outcome;
            if (outcome.ok) {
              logInfo(`remote cluster ${alias} verified after ${attempt} attempt(s)`, {
                searchHits: outcome.evidence.searchHits,
              });
              return outcome.evidence;
            }
            const d = outcome.diagnosis;
            heartbeat({ attempt, diagnosis: d.code });
            // A permanent diagnosis seen twice in a row will not go away by waiting.
            if (!d.transient && previous === d.code) break;
            previous = d.code;
          }
          const remaining = deadline - Date.now();
          if (remaining <= 0) break;
          const backoff = Math.min(maxBackoff, initialBackoff * 2 ** (attempt - 1));
          await sleep(Math.min(remaining, Math.max(backoff, waitMs)));
        }
      } finally {
        await conn?.close().catch(() => undefined);
      }
      const seconds = Math.round((Date.now() - started) / 1000);
      if (!last || last.ok) {
        // No verdict at all: the ECH cluster's API failed to the end. Retryable: the workflow's retry policy decides.
        throw ApplicationFailure.create({
          message:
            `Remote cluster "${alias}" could not be verified in ${seconds}s (${attempt} attempt(s)): the ECH cluster's API` +
            ` kept failing transiently. Last error: ${apiFailure?.message ?? 'none'}`,
          type: FAILURE_TYPES.transient,
          nonRetryable: false,
        });
      }
      const d = last.diagnosis;
      throw permanent(
        FAILURE_TYPES.connection,
        `Remote cluster "${alias}" is not usable after ${attempt} attempt(s) in ${seconds}s. Diagnosis: ${d.cause}.` +
          ` Fix: ${d.fix}.${d.lookFor ? ` To confirm: ${d.lookFor}.` : ''} Evidence: ${d.evidence.join('; ')}.` +
          `${last.errorText ? ` Last error: ${last.errorText}` : ''}`,
        { diagnosis: d, evidence: last.evidence },
      );
    },

    // ------------------------------------------------------------ roles and users
    async ensureRole({ target, name, body, onlyIfAbsent, onlyIfWrittenBy }) {
      return withCluster(target, async (conn) => {
        const existing = await getManaged(conn, 'role', name);
        if (existing.exists && !isOurs(existing.metadata)) refuseForeign('role', name, existing.metadata);
        if (onlyIfWrittenBy !== undefined && existing.metadata?.workflow_id !== onlyIfWrittenBy) {
          const left = existing.exists
            ? `role ${name} is not this run's write (now ${String(existing.metadata?.workflow_id)}'s): left as it is`
            : `role ${name} no longer exists: not recreated`;
          logWarn(left);
          return { created: false, left };
        }
        if (onlyIfAbsent && existing.exists && !madeByThisRun(existing.metadata))
          return { created: false, deferred: true };
        const { metadata, createdByThisRun } = ownedMetadata(body, existing);
        const res = await conn.request<{ role?: { created?: boolean } }>(`put role ${name}`, {
          method: 'PUT',
          path: `/_security/role/${encodeURIComponent(name)}`,
          body: { ...body, metadata },
        });
        logInfo(`${res.role?.created === true ? 'created' : 'updated'} role ${name}`);
        return { created: createdByThisRun };
      });
    },

    async removeRole({ target, name, alias, workflowId }) {
      return withCluster(target, (conn) => removeManaged(conn, 'role', name, alias, workflowId));
    },

    async ensureUser({ target, username, body, passwordSecret, onlyIfAbsent }) {
      const password = resolveSecret(passwordSecret, { use: 'user-password' });
      return withCluster(target, async (conn) => {
        const existing = await getManaged(conn, 'user', username);
        if (existing.exists && !isOurs(existing.metadata)) refuseForeign('user', username, existing.metadata);
        if (onlyIfAbsent && existing.exists && !madeByThisRun(existing.metadata)) {
          return { created: false, deferred: true };
        }
        const { metadata, createdByThisRun } = ownedMetadata(body, existing);
        const res = await conn.request<{ created?: boolean }>(`put user ${username}`, {
          method: 'PUT',
          path: `/_security/user/${encodeURIComponent(username)}`,
          body: { ...body, metadata, password },
        });
        logInfo(`${res.created === true ? 'created' : 'updated'} user ${username}`);
        return { created: createdByThisRun };
      });
    },

    async removeUser({ target, username, alias }) {
      return withCluster(target, (conn) => removeManaged(conn, 'user', username, alias));
    },

    // ------------------------------------------------------------ day 2
    async readConnection({ target, alias }) {
      return withCluster(target, async (conn) => {
        const state = await readAlias(conn, alias);
        const info = await conn.request<Record<string, RemoteInfoEntry>>('read remote info', {
          method: 'GET',
          path: '/_remote/info',
        });
        const entry = info[alias];
        const ccr = await readCcrUse(conn, alias);
        const [roles, users] = await Promise.all([
          managedNamesFor(conn, 'role', alias),
          managedNamesFor(conn, 'user', alias),
        ]);
        return {
          settings: state.settings,
          ...(state.record?.managed_by === MANAGED_BY ? { record: state.record } : {}),
          ...(entry ? { remoteInfo: summariseRemoteInfo(entry) } : {}),
          ccr,
          roles,
          users,
        };
      });
    },

    async findCrossClusterApiKeys({ target, id, alias }) {
      return withCluster(target, async (conn) => {
        const querystring: Record<string, string | boolean> = id
          ? { id }
          : { name: crossClusterApiKeyName(alias ?? ''), active_only: true };
        const res = await conn.requestWithStatus<{ api_keys?: (ApiKeyInfo & { access?: unknown })[] }>(
          'look up cross-cluster API keys',
          { method: 'GET', path: '/_security/api_key', querystring },
          [404],
        );
        return (res.body?.api_keys ?? [])
          .filter((k) => k.type === undefined || k.type === 'cross_cluster')
          .filter((k) => id !== undefined || (isOurs(k.metadata) && k.metadata?.alias === alias))
          .map((k) => ({
            id: k.id,
            ...(k.name !== undefined ? { name: k.name } : {}),
            invalidated: k.invalidated === true,
            ...(k.expiration !== undefined ? { expiration: k.expiration } : {}),
            managed: isOurs(k.metadata),
            ...(typeof k.metadata?.alias === 'string' ? { alias: k.metadata.alias } : {}),
            ...(typeof k.metadata?.workflow_id === 'string' ? { workflowId: k.metadata.workflow_id } : {}),
            ...(k.access !== undefined ? { access: k.access } : {}),
          }));
      });
    },

    async updateCrossClusterApiKey({ target, id, access, metadata }) {
      return withCluster(target, async (conn) => {
        const res = await conn.requestWithStatus<{ api_keys?: (ApiKeyInfo & { access?: unknown })[] }>(
          'look up cross-cluster API key',
          { method: 'GET', path: '/_security/api_key', querystring: { id } },
          [404],
        );
        const key = (res.body?.api_keys ?? []).find((k) => k.id === id);
        if (!key || key.invalidated === true) {
          throw permanent(
            FAILURE_TYPES.notFound,
            `Cross-cluster API key ${id} is not on the self-managed cluster or is invalidated → run rotateRemoteClusterKey to give the connection a new key.`,
          );
        }
        if (!isOurs(key.metadata)) {
          throw permanent(
            FAILURE_TYPES.notOurs,
            `Cross-cluster API key ${id} was not created by ${MANAGED_BY}; refusing to change its access → change it yourself (PUT /_security/cross_cluster/api_key/${id}).`,
          );
        }
        // Elasticsearch replaces access whole; metadata is kept (with ours merged in).
        const out = await conn.request<{ updated?: boolean }>('update cross-cluster API key', {
          method: 'PUT',
          path: `/_security/cross_cluster/api_key/${encodeURIComponent(id)}`,
          body: { access, ...(metadata ? { metadata: { ...key.metadata, ...metadata } } : {}) },
        });
        const after = await conn.request<{ api_keys?: (ApiKeyInfo & { access?: unknown })[] }>(
          'read cross-cluster API key',
          { method: 'GET', path: '/_security/api_key', querystring: { id } },
        );
        logInfo(`updated cross-cluster API key ${id}`, { updated: out.updated === true });
        return {
          updated: out.updated === true,
          ...(key.access !== undefined ? { before: key.access } : {}),
          ...(after.api_keys?.[0]?.access !== undefined ? { after: after.api_keys[0].access } : {}),
        };
      });
    },

    // ------------------------------------------------------------ audit (read-only)
    async listRemoteClusters({ target }) {
      return withCluster(target, async (conn) => {
        const body = await conn.request<FlatSettings>('read cluster settings', {
          method: 'GET',
          path: '/_cluster/settings',
          querystring: { flat_settings: true },
        });
        const aliases = new Set<string>();
        for (const scope of [body.persistent ?? {}, body.transient ?? {}]) {
          for (const [k, v] of Object.entries(scope)) {
            const m = /^cluster\.remote\.([^.]+)\.(mode|proxy_address|seeds)$/.exec(k);
            if (m && v !== null && v !== undefined) aliases.add(m[1] as string);
          }
        }
        const info = await conn.request<Record<string, RemoteInfoEntry>>('read remote info', {
          method: 'GET',
          path: '/_remote/info',
        });
        for (const a of Object.keys(info)) aliases.add(a);
        return [...aliases].sort();
      });
    },

    async checkRemoteConnection({ target, alias, searchIndex, securityModel }) {
      return withCluster(target, async (conn) => {
        const configured = await readAlias(conn, alias);
        let last: AttemptOutcome | undefined;
        // Connections are lazy: the first _resolve/cluster may open it. A transient verdict gets two more rounds.
        for (let attempt = 1; attempt <= 3; attempt++) {
          const entry = await readRemoteInfo(conn, alias);
          const dctx: DiagnosisContext = {
            alias,
            securityModel: securityModel ?? (entry?.cluster_credentials !== undefined ? 'api-key' : 'tls-certificate'),
            proxyAddress: configured.settings[`cluster.remote.${alias}.proxy_address`] as string | undefined,
            serverName: configured.settings[`cluster.remote.${alias}.server_name`] as string | undefined,
          };
          last = await verifyOnce(conn, alias, dctx, searchIndex, undefined);
          if (last.ok || !last.diagnosis.transient) break;
          heartbeat({ alias, attempt });
          await sleep(1000 * attempt);
        }
        const outcome = last as AttemptOutcome;
        const entry = outcome.evidence.remoteInfo as RemoteInfoEntry | null;
        return {
          ok: outcome.ok,
          ...(entry ? { remoteInfo: summariseRemoteInfo(entry) } : {}),
          ...(outcome.evidence.resolveCluster !== undefined ? { resolveCluster: outcome.evidence.resolveCluster } : {}),
          ...(outcome.evidence.searchHits !== undefined ? { searchHits: outcome.evidence.searchHits } : {}),
          ...(outcome.evidence.searchPartial !== undefined ? { searchPartial: outcome.evidence.searchPartial } : {}),
          ...(outcome.ok
            ? {}
            : {
                problem: redact(
                  `${outcome.diagnosis.cause} → ${outcome.diagnosis.fix}${outcome.errorText ? ` (ECH answered: ${outcome.errorText})` : ''}`,
                ),
              }),
        };
      });
    },

    async queryCrossClusterApiKeys({ target }) {
      return withCluster(target, async (conn) => {
        const res = await conn.request<{ api_keys?: (ApiKeyInfo & { access?: unknown })[] }>(
          'query cross-cluster API keys',
          {
            method: 'POST',
            path: '/_security/_query/api_key',
            body: { query: { bool: { filter: [{ term: { 'metadata.managed_by': MANAGED_BY } }] } }, size: 10_000 },
          },
        );
        return (res.api_keys ?? []).map((k) => ({
          id: k.id,
          ...(k.name !== undefined ? { name: k.name } : {}),
          ...(k.type !== undefined ? { type: k.type } : {}),
          invalidated: k.invalidated === true,
          ...(k.expiration !== undefined ? { expiration: k.expiration } : {}),
          managed: isOurs(k.metadata),
          ...(typeof k.metadata?.alias === 'string' ? { alias: k.metadata.alias } : {}),
          ...(typeof k.metadata?.workflow_id === 'string' ? { workflowId: k.metadata.workflow_id } : {}),
          ...(k.access !== undefined ? { access: k.access } : {}),
          // What the tool granted, as it recorded it on the key (connect, updateRemoteClusterAccess).
          ...(typeof k.metadata?.access_hash === 'string' ? { accessHash: k.metadata.access_hash } : {}),
        }));
      });
    },

    async listOwnedRolesAndUsers({ target }) {
      return withCluster(target, async (conn) => {
        type Described = { metadata?: Record<string, unknown> };
        const [roles, users] = await Promise.all([
          conn.request<Record<string, Described>>('list roles', { method: 'GET', path: '/_security/role' }),
          conn.request<Record<string, Described>>('list users', { method: 'GET', path: '/_security/user' }),
        ]);
        const owned = (kind: 'role' | 'user', all: Record<string, Described>) =>
          Object.entries(all ?? {})
            .filter(([, d]) => isOurs(d?.metadata))
            .map(([name, d]) => ({
              kind,
              name,
              ...(typeof d.metadata?.alias === 'string' ? { alias: d.metadata.alias } : {}),
              ...(typeof d.metadata?.workflow_id === 'string' ? { workflowId: d.metadata.workflow_id } : {}),
            }));
        return [...owned('role', roles), ...owned('user', users)].sort((a, b) =>
          `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`),
        );
      });
    },

    async switchRemoteCluster({ target, alias, settings, record, expectWorkflowId }) {
      const prefix = `cluster.remote.${alias}.`;
      const stray = Object.keys(settings).filter((k) => !k.startsWith(prefix));
      if (stray.length > 0) {
        throw permanent(
          FAILURE_TYPES.invalidRequest,
          `switchRemoteCluster for alias "${alias}" may only write ${prefix}*; found ${stray.join(', ')}`,
        );
      }
      return withCluster(target, async (conn) => {
        const state = await readAlias(conn, alias);
        // Looked up before the write: only the connection this run read in its preflight is changed.
        if (state.record?.managed_by !== MANAGED_BY || state.record.workflow_id !== expectWorkflowId) {
          throw permanent(
            'NotManagedByUs',
            `Remote cluster "${alias}" is no longer the connection of ${expectWorkflowId} (its ownership record changed ` +
              'since the preflight); nothing was written → check who changed it, then start again.',
          );
        }
        const persistent = {
          ...settings,
          [ownershipSettingKey(alias)]: JSON.stringify({ ...record, managed_by: MANAGED_BY }),
        };
        await conn.request('switch remote cluster settings', {
          method: 'PUT',
          path: '/_cluster/settings',
          body: { persistent },
        });
        const written = Object.entries(settings)
          .filter(([, v]) => v !== null && v !== undefined)
          .map(([k]) => k);
        logInfo(`switched remote cluster ${alias}`, { settings: written });
        return { settings: written };
      });
    },

    async findCrossClusterOperations({ target, alias }) {
      return withCluster(target, async (conn) => {
        const ccr = await readCcrUse(conn, alias, { activeOnly: true });
        const usesAlias = (indices: unknown): boolean =>
          (Array.isArray(indices) ? indices : typeof indices === 'string' ? indices.split(',') : []).some(
            (i) => typeof i === 'string' && namesRemoteCluster(i, alias),
          );
        // A feature that is off (ML disabled) has no handler: nothing of it can use the alias.
        const transforms = await conn.requestWithStatus<{
          transforms?: { id: string; source?: { index?: unknown } }[];
        }>('read transforms', { method: 'GET', path: '/_transform', querystring: { size: 1000 } }, [400, 404]);
        const transformStats = await conn.requestWithStatus<{ transforms?: { id: string; state?: string }[] }>(
          'read transform stats',
          { method: 'GET', path: '/_transform/_stats', querystring: { size: 1000 } },
          [400, 404],
        );
        const running = new Set(
          (transformStats.body?.transforms ?? []).filter((t) => t.state !== 'stopped').map((t) => t.id),
        );
        // More transforms than one page: what was not read could use the alias. Refuse rather than guess.
        const total = (transforms.body as { count?: number } | undefined)?.count;
        if (typeof total === 'number' && total > (transforms.body?.transforms?.length ?? 0)) {
          throw permanent(
            'OperationsActive',
            `The deployment has ${total} transforms, more than the ${transforms.body?.transforms?.length ?? 0} the tool reads: it cannot tell whether one reads through "${alias}", so it does not switch the connection → migrate this alias by hand (docs/workflows.md), or remove unused transforms first.`,
          );
        }
        const datafeeds = await conn.requestWithStatus<{ datafeeds?: { datafeed_id: string; indices?: unknown }[] }>(
          'read datafeeds',
          { method: 'GET', path: '/_ml/datafeeds' },
          [400, 404],
        );
        const datafeedStats = await conn.requestWithStatus<{ datafeeds?: { datafeed_id: string; state?: string }[] }>(
          'read datafeed stats',
          { method: 'GET', path: '/_ml/datafeeds/_stats' },
          [400, 404],
        );
        const started = new Set(
          (datafeedStats.body?.datafeeds ?? [])
            .filter((d) => d.state === 'started' || d.state === 'starting')
            .map((d) => d.datafeed_id),
        );
        return {
          followerIndices: ccr.followerIndices,
          autoFollowPatterns: ccr.autoFollowPatterns,
          transforms: (transforms.body?.transforms ?? [])
            .filter((t) => running.has(t.id) && usesAlias(t.source?.index))
            .map((t) => t.id)
            .sort(),
          datafeeds: (datafeeds.body?.datafeeds ?? [])
            .filter((d) => started.has(d.datafeed_id) && usesAlias(d.indices))
            .map((d) => d.datafeed_id)
            .sort(),
        };
      });
    },

    async readRoleIndices({ target, names }) {
      if (names.length === 0) return [];
      return withCluster(target, async (conn) =>
        Object.entries(await readRoleBodies(conn, names)).map(([name, role]) => ({
          name,
          indices: ((role.indices ?? []) as { names?: string[] | string; privileges?: string[] }[]).map((i) => ({
            names: Array.isArray(i.names) ? i.names : i.names ? [i.names] : [],
            privileges: i.privileges ?? [],
          })),
        })),
      );
    },

    async readRoles({ target, names }) {
      if (names.length === 0) return [];
      return withCluster(target, async (conn) =>
        Object.entries(await readRoleBodies(conn, names)).map(([name, role]) => {
          // transient_metadata (e.g. `enabled`) is Elasticsearch's own: a PUT ignores it, so it is not carried.
          const { transient_metadata: _transient, ...body } = role;
          return { name, body };
        }),
      );
    },

    async putOwnershipRecord({ target, alias, record }) {
      return withCluster(target, async (conn) => {
        const state = await readAlias(conn, alias);
        if (state.record?.managed_by !== MANAGED_BY || !aliasExists(state, alias)) return { written: false };
        await conn.request('put ownership record', {
          method: 'PUT',
          path: '/_cluster/settings',
          body: { persistent: { [ownershipSettingKey(alias)]: JSON.stringify({ ...record, managed_by: MANAGED_BY }) } },
        });
        return { written: true };
      });
    },
  };

  /** Names of the roles or users whose metadata says this tool made them for `alias`. */
  async function managedNamesFor(conn: EsConnection, kind: 'role' | 'user', alias: string): Promise<string[]> {
    const all = await conn.request<Record<string, { metadata?: Record<string, unknown> }>>(`list ${kind}s`, {
      method: 'GET',
      path: `/_security/${kind}`,
    });
    return Object.entries(all)
      .filter(([, v]) => isOurs(v.metadata) && v.metadata?.alias === alias)
      .map(([name]) => name)
      .sort();
  }
  /** Delete a role or user only when its metadata says this tool made it. */
  async function removeManaged(
    conn: EsConnection,
    kind: 'role' | 'user',
    name: string,
    alias?: string,
    workflowId?: string,
  ): Promise<{ removed: boolean }> {
    const existing = await getManaged(conn, kind, name);
    if (!existing.exists) return { removed: false };
    if (!isOurs(existing.metadata)) {
      logWarn(`not deleting ${kind} ${name}: it was not created by ${MANAGED_BY}`);
      return { removed: false };
    }
    if (alias !== undefined && existing.metadata?.alias !== alias) {
      logWarn(`not deleting ${kind} ${name}: it was made for another alias`);
      return { removed: false };
    }
    if (workflowId !== undefined && existing.metadata?.workflow_id !== workflowId) {
      logWarn(`not deleting ${kind} ${name}: another connection (${String(existing.metadata?.workflow_id)}) made it`);
      return { removed: false };
    }
    // A rollback removes only what its own run created; another run's role or user stays (disconnect: any of ours for
    // the alias, above).
    const runId = activityContext()?.info.workflowExecution?.runId;
    const createdBy = existing.metadata?.created_by_run;
    if (alias === undefined && typeof createdBy === 'string' && runId !== undefined && createdBy !== runId) {
      logWarn(`not deleting ${kind} ${name}: another run (${createdBy}) created it`);
      return { removed: false };
    }
    const res = await conn.requestWithStatus<{ found?: boolean }>(
      `delete ${kind} ${name}`,
      { method: 'DELETE', path: `/_security/${kind}/${encodeURIComponent(name)}` },
      [404],
    );
    logInfo(`deleted ${kind} ${name}`);
    return { removed: res.status !== 404 && res.body?.found !== false };
  }

  return activities;
}

// ---------------------------------------------------------------- verification internals

interface ApiKeyInfo {
  id: string;
  name?: string;
  type?: string;
  invalidated?: boolean;
  expiration?: number;
  metadata?: Record<string, unknown>;
}

interface InvalidateResponse {
  invalidated_api_keys?: string[];
  previously_invalidated_api_keys?: string[];
  error_count?: number;
  error_details?: unknown[];
}

function assertNoInvalidationErrors(res: InvalidateResponse): void {
  if ((res.error_count ?? 0) > 0) {
    throw permanent(
      FAILURE_TYPES.validation,
      `invalidating API keys reported ${res.error_count} error(s): ${redact(JSON.stringify(res.error_details ?? []))}`,
    );
  }
}

function aliasInUse(alias: string, why: string) {
  return permanent(
    FAILURE_TYPES.aliasInUse,
    `Remote cluster alias "${alias}" already exists on the ECH deployment and is not owned by this workflow: ${why}.`,
    { alias },
  );
}

interface RemoteInfoEntry {
  connected?: boolean;
  mode?: string;
  num_proxy_sockets_connected?: number;
  max_proxy_socket_connections?: number;
  cluster_credentials?: unknown;
  [k: string]: unknown;
}

interface ResolveEntry {
  connected?: boolean;
  skip_unavailable?: boolean;
  matching_indices?: boolean;
  error?: string;
  version?: unknown;
}

interface SearchBody {
  hits?: { total?: number | { value?: number } };
  _clusters?: {
    skipped?: number;
    failed?: number;
    details?: Record<string, { status?: string; failures?: { reason?: { type?: string; reason?: string } }[] }>;
  };
  _shards?: { failed?: number; failures?: { reason?: { type?: string; reason?: string } }[] };
}

type AttemptOutcome =
  | { ok: true; evidence: RemoteEvidence }
  | { ok: false; diagnosis: Diagnosis; errorText?: string; evidence: RemoteEvidence };

/** `GET /_security/role/<names>`: the roles that exist, by name (a 404 when none does). */
async function readRoleBodies(conn: EsConnection, names: string[]): Promise<Record<string, Record<string, unknown>>> {
  const res = await conn.requestWithStatus<Record<string, Record<string, unknown>>>(
    'read roles',
    { method: 'GET', path: `/_security/role/${names.map(encodeURIComponent).join(',')}` },
    [404],
  );
  return res.status === 404 ? {} : (res.body ?? {});
}

/** What day 2 and the audit keep of an alias's `_remote/info` entry (never the credentials' redacted value). */
function summariseRemoteInfo(entry: RemoteInfoEntry): RemoteInfoSummary {
  return {
    connected: entry.connected === true,
    ...(typeof entry.mode === 'string' ? { mode: entry.mode } : {}),
    credentials: entry.cluster_credentials !== undefined,
    ...(typeof entry.num_proxy_sockets_connected === 'number' && typeof entry.max_proxy_socket_connections === 'number'
      ? { sockets: { connected: entry.num_proxy_sockets_connected, max: entry.max_proxy_socket_connections } }
      : {}),
  };
}

async function readRemoteInfo(conn: EsConnection, alias: string): Promise<RemoteInfoEntry | undefined> {
  const info = await conn.request<Record<string, RemoteInfoEntry>>('read remote info', {
    method: 'GET',
    path: '/_remote/info',
  });
  return info[alias];
}

function connectedPerModel(
  entry: RemoteInfoEntry | undefined,
  securityModel: DiagnosisContext['securityModel'],
): boolean {
  if (!entry || entry.connected !== true) return false;
  const hasCredentials = entry.cluster_credentials !== undefined;
  if (securityModel === 'api-key') {
    return hasCredentials && (entry.mode !== 'proxy' || Number(entry.num_proxy_sockets_connected) > 0);
  }
  return !hasCredentials;
}

/** ECH's answer for a connection it cannot make (§4b): no reason, only not connected. */
const CONNECTION_FAILURE_TYPES =
  /^(?:no_seed_node_left_exception|connect_transport_exception|node_disconnected_exception|node_not_connected_exception)\b/;

function describeResolve(entry: ResolveEntry | undefined, alias: string): string {
  if (!entry) return `_resolve/cluster: no entry for ${alias}`;
  return (
    `_resolve/cluster: connected=${String(entry.connected)}, skip_unavailable=${String(entry.skip_unavailable)}` +
    (entry.error !== undefined ? `, error "${entry.error}"` : ', no error')
  );
}

/**
 * One verification round: _remote/info, _resolve/cluster (connects lazily), _remote/info again, then the search.
 * ECH's answers are read as real Elasticsearch gives them (§4b): a connection failure carries no reason, so its cause
 * comes from the worker's TLS probe (`probe`), re-run now; error texts are diagnosed only where ES returns them.
 */
async function verifyOnce(
  conn: EsConnection,
  alias: string,
  dctx: DiagnosisContext,
  searchIndex: string | undefined,
  probe: (() => Promise<TlsProbeReport>) | undefined,
): Promise<AttemptOutcome> {
  let remoteInfo = await readRemoteInfo(conn, alias);
  const pattern = searchIndex ?? '*';
  const resolve = await tryRequest<Record<string, ResolveEntry>>(conn, 'resolve cluster', {
    method: 'GET',
    path: `/_resolve/cluster/${encodeURIComponent(alias)}:${encodeURIComponent(pattern)}`,
  });
  const resolveEntry = resolve.ok ? resolve.body?.[alias] : undefined;
  if (!connectedPerModel(remoteInfo, dctx.securityModel)) remoteInfo = await readRemoteInfo(conn, alias);
  const evidence: RemoteEvidence = {
    remoteInfo: remoteInfo ?? null,
    ...(resolve.ok
      ? { resolveCluster: resolveEntry ?? resolve.body }
      : { resolveCluster: { error: resolve.errorText } }),
  };
  const echSays = [
    describeRemoteInfo(remoteInfo, alias),
    resolve.ok
      ? describeResolve(resolveEntry, alias)
      : `_resolve/cluster: HTTP ${resolve.status} ${resolve.errorText ?? ''}`,
  ];
  const fail = (diagnosis: Diagnosis, errorText?: string): AttemptOutcome => ({
    ok: false,
    diagnosis,
    ...(errorText ? { errorText } : {}),
    evidence,
  });
  /** Not connected and no reason from ECH: the worker's probe, re-run now, says why. */
  const unconnected = async (extra: string[] = []): Promise<AttemptOutcome> => {
    let report: TlsProbeReport | undefined;
    let probeError: string | undefined;
    if (probe) {
      try {
        report = await probe();
        evidence.tlsProbe = report;
      } catch (e) {
        if (e instanceof CancelledFailure) throw e;
        probeError = `failed: ${redact(e instanceof Error ? e.message : String(e))}`;
      }
    }
    return fail(diagnoseUnconnected(dctx, [...echSays, ...extra], report, probeError));
  };

  // The security model the alias actually uses comes first: without cluster.remote.<alias>.credentials ES falls back
  // to the certificate model, and every failure after that is only a consequence.
  const stateProblem = diagnoseRemoteInfo(remoteInfo, dctx);
  if (
    stateProblem &&
    (stateProblem.code === 'credentials-missing' || stateProblem.code === 'credentials-on-tls-model')
  ) {
    return fail({ ...stateProblem, evidence: echSays });
  }
  if (!resolve.ok) {
    const text = resolve.errorText ?? `HTTP ${resolve.status}`;
    return fail(diagnoseRemoteError(text, dctx, `_resolve/cluster HTTP ${resolve.status}`), text);
  }
  // An `error` is there only for a timeout, a security exception over an open connection, index-not-found, or an
  // unclassified failure (TransportResolveClusterAction): its text is Elasticsearch's own.
  if (resolveEntry?.error !== undefined) {
    const d = diagnoseRemoteError(resolveEntry.error, dctx, '_resolve/cluster error');
    return fail({ ...d, evidence: [...echSays.slice(0, 1), ...d.evidence] }, resolveEntry.error);
  }
  if (stateProblem?.code === 'no-such-remote') return fail({ ...stateProblem, evidence: echSays });
  if (resolveEntry?.connected !== true || stateProblem) return unconnected();

  if (searchIndex) {
    const search = await tryRequest<SearchBody>(conn, 'cross-cluster search', {
      method: 'GET',
      path: `/${encodeURIComponent(alias)}:${encodeURIComponent(searchIndex)}/_search`,
      querystring: { size: 0 },
    });
    const source = `search ${alias}:${searchIndex}`;
    if (!search.ok) {
      const text = search.errorText ?? `HTTP ${search.status}`;
      evidence.searchFailure = { status: search.status, error: text };
      // The connection dropped between resolve and search: again no reason from ECH.
      if (CONNECTION_FAILURE_TYPES.test(text)) return unconnected([`${source}: HTTP ${search.status} ${text}`]);
      const d = diagnoseRemoteError(text, dctx, `${source}: HTTP ${search.status}`);
      return fail({ ...d, evidence: [...echSays, ...d.evidence] }, text);
    }
    // With skip_unavailable the search answers 200 and reports the remote as skipped: look inside.
    const cluster = search.body?._clusters?.details?.[alias];
    const failure = cluster?.failures?.[0]?.reason ?? search.body?._shards?.failures?.[0]?.reason;
    if (
      cluster?.status === 'skipped' ||
      cluster?.status === 'failed' ||
      (search.body?._clusters?.details === undefined &&
        ((search.body?._clusters?.skipped ?? 0) > 0 || (search.body?._clusters?.failed ?? 0) > 0))
    ) {
      const text = redact(
        failure
          ? `${failure.type ?? 'error'}: ${failure.reason ?? ''}`
          : `remote cluster ${alias} was ${cluster?.status ?? 'skipped'}`,
      );
      evidence.searchFailure = { status: 200, error: text };
      const line = `${source}: HTTP 200, ${alias} ${cluster?.status ?? 'skipped'} (${text})`;
      if (!failure || CONNECTION_FAILURE_TYPES.test(text)) return unconnected([line]);
      const d = diagnoseRemoteError(text, dctx, line);
      return fail({ ...d, evidence: [...echSays, ...d.evidence] }, text);
    }
    const total = search.body?.hits?.total;
    evidence.searchHits = typeof total === 'number' ? total : (total?.value ?? 0);
    // Usable, but some of the remote's shards failed (`_clusters.details.<alias>.status: partial`): say why.
    if (cluster?.status === 'partial') {
      evidence.searchPartial = redact(
        failure ? `${failure.type ?? 'error'}: ${failure.reason ?? ''}` : `some shards of ${alias} failed`,
      );
    }
  }
  return { ok: true, evidence };
}

/**
 * Follower indices and auto-follow patterns whose remote cluster is `alias` (`GET /_ccr/stats`, `GET /_ccr/auto_follow`).
 * Elasticsearch does not stop an alias CCR uses from being removed, so disconnect looks first.
 */
async function readCcrUse(
  conn: EsConnection,
  alias: string,
  opts: { activeOnly?: boolean } = {},
): Promise<{ followerIndices: string[]; autoFollowPatterns: string[] }> {
  const stats = await conn.request<{
    follow_stats?: { indices?: { index: string; shards?: { remote_cluster?: string }[] }[] };
  }>('read CCR stats', { method: 'GET', path: '/_ccr/stats' });
  const followerIndices = (stats.follow_stats?.indices ?? [])
    .filter((i) => (i.shards ?? []).some((sh) => sh.remote_cluster === alias))
    .map((i) => i.index)
    .sort();
  const auto = await conn.requestWithStatus<{
    patterns?: { name: string; pattern?: { remote_cluster?: string; active?: boolean } }[];
  }>('read CCR auto-follow patterns', { method: 'GET', path: '/_ccr/auto_follow' }, [404]);
  const autoFollowPatterns = (auto.body?.patterns ?? [])
    .filter((p) => p.pattern?.remote_cluster === alias && (!opts.activeOnly || p.pattern.active !== false))
    .map((p) => p.name)
    .sort();
  return { followerIndices, autoFollowPatterns };
}

/** `<cluster>:<index>` whose cluster part is `alias` or a wildcard pattern matching it (`*:logs`, `on*:logs`). */
export function namesRemoteCluster(expression: string, alias: string): boolean {
  const i = expression.indexOf(':');
  if (i <= 0) return false;
  const cluster = expression.slice(0, i).replace(/^-/, '');
  if (!cluster.includes('*')) return cluster === alias;
  const re = new RegExp(
    `^${cluster
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(alias);
}
