/**
 * One simulated ECH deployment as the Cloud control plane holds it: its Elasticsearch resource, trust settings,
 * keystore, plans (pending for a configurable time, able to fail) and certificate authority. HTTP lives in api.ts;
 * this file is the state machine and the rendering into the Cloud API's models.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { CloudError, CloudErrorCodes, CloudValidationError } from './errors';
import { certificateMetadata } from './certs';
import { wireCompatible } from '../elasticsearch/compat';
import { nodeNamePattern, renderTrust, sameTrust, trustForCluster, validateTrust, type TrustSettings } from './trust';

/** The few methods of the simulated ECH Elasticsearch cluster the control plane drives (SimulatedCluster has them). */
export interface EchClusterPort {
  /** May reload asynchronously (8.14+ rebuilds remote connections); awaited so the Cloud answer follows the reload. */
  setSecureSettings(entries: Record<string, string | undefined>): void | Promise<void>;
  setTrust(trust: { cas: string[]; transportNodeNamePatterns?: string[] }): void;
  restart(): Promise<void>;
  /** Whether the cluster has an open connection to the remote `alias` (`_remote/info` connected). */
  remoteConnected?(alias: string): boolean;
}

/**
 * One certificate-based remote cluster as the Cloud API's `RemoteResourceRef` holds it: another ECH deployment of the
 * organization, by deployment id and Elasticsearch ref_id. Self-managed remotes are never listed here (they are set
 * with Elasticsearch's cluster settings API; domain page §3, "not usable for self-managed remotes").
 */
export interface RemoteResourceRef {
  deployment_id: string;
  elasticsearch_ref_id: string;
  alias: string;
  skip_unavailable?: boolean;
}

export interface DeploymentConfig {
  id: string;
  name: string;
  refId: string;
  region: string;
  clusterId: string;
  clusterName: string;
  /** The organization id: the `scope_id` of the ECH node certificates. */
  orgId: string;
  /** Elasticsearch version of the resource. */
  version: string;
  /** How the ES endpoint is published (`info.metadata`). */
  endpoint: { host: string; httpsPort: number; transportPort: number };
  /** The deployment's transport CA certificates (the first active one signs the node certificates). */
  caCertificates: { pem: string; active: boolean }[];
  ech: EchClusterPort;
  plans?: Partial<PlanSettings>;
}

export interface PlanSettings {
  /** How long a plan stays pending before it completes. */
  pendingMs: number;
  /** The next n plans fail. */
  failNext: number;
  /** Message of failing plans. */
  failureMessage: string;
}

type AttemptKind = 'create' | 'update' | 'restart';

interface Attempt {
  id: string;
  name: string;
  kind: AttemptKind;
  action: string;
  startedAt: Date;
  endedAt?: Date;
  outcome?: 'success' | 'failed' | 'cancelled';
  error?: { message: string; failureType: string; at: Date };
  /** The trust the plan applies (update plans). */
  trust: TrustSettings;
  transient?: unknown;
  timer?: NodeJS.Timeout;
  done?: Promise<void>;
  resolve?: () => void;
}

export interface KeystoreEntry {
  value: string;
  asFile: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `a >= b` for dotted versions (`8.14.0`, `9.1.3`). */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** ECH reloads API keys from the keystore by itself from 8.14; before that a restart is needed (domain page §3). */
export function keystoreReloadsWithoutRestart(version: string): boolean {
  return versionAtLeast(version, '8.14.0');
}

export interface QueryFlags {
  showPlans: boolean;
  showPlanLogs: boolean;
  showPlanHistory: boolean;
  showSettings: boolean;
  showMetadata: boolean;
  clearTransient: boolean;
}

export class CloudDeployment {
  readonly createdAt = new Date();
  lastModified = new Date();
  /** Optimistic-concurrency version (`x-cloud-resource-version`): bumped on every stored change. */
  resourceVersion = 1;
  /** Trust as stored (what GET shows; the desired state while a plan is pending). */
  trust: TrustSettings;
  /** Trust the nodes run with (the result of the last successful plan). */
  appliedTrust: TrustSettings;
  readonly keystore = new Map<string, KeystoreEntry>();
  /** Keystore changes not yet seen by the nodes (ECH < 8.14 until a restart). */
  private staged: Record<string, string | undefined> = {};
  readonly plans: PlanSettings;
  private attempts: Attempt[] = [];
  private current: Attempt;
  private pending: Attempt | undefined;
  private attemptSeq = 0;
  /** Every change seen, for `/_sandbox/state`. */
  readonly log: { at: string; event: string; detail?: unknown }[] = [];
  private disposed = false;
  /** Certificate-based remote clusters set with `PUT …/remote-clusters` (the whole list, replaced each time). */
  private remoteResources: RemoteResourceRef[] = [];

  constructor(readonly config: DeploymentConfig) {
    this.plans = {
      pendingMs: 1500,
      failNext: 0,
      failureMessage: 'Plan failed (injected by the sandbox)',
      ...config.plans,
    };
    // A fresh ECH deployment trusts its own organization (the doc example re-sends this `accounts` entry).
    this.trust = { accounts: [{ account_id: config.orgId, trust_all: true }] };
    this.appliedTrust = this.trust;
    const now = new Date();
    this.current = {
      id: randomUUID(),
      name: this.nextAttemptName(),
      kind: 'create',
      action: 'deployments.create-deployment',
      startedAt: now,
      endedAt: now,
      outcome: 'success',
      trust: this.trust,
    };
    this.attempts.push(this.current);
  }

  get id(): string {
    return this.config.id;
  }

  /** Resource lookup; `_main` is accepted where the Cloud API accepts it (keystore endpoints). */
  resolveRef(refId: string, allowMain = false): void {
    if (refId === this.config.refId || (allowMain && refId === '_main')) return;
    throw new CloudError(
      404,
      CloudErrorCodes.resourceNotFound,
      `The Resource specified by [${refId}] cannot be found.`,
    );
  }

  private nextAttemptName(): string {
    return `attempt-${String(this.attemptSeq++).padStart(10, '0')}`;
  }

  private touch(event: string, detail?: unknown): void {
    this.resourceVersion++;
    this.lastModified = new Date();
    this.log.push({ at: this.lastModified.toISOString(), event, ...(detail !== undefined ? { detail } : {}) });
  }

  // ---- plans ---------------------------------------------------------------------------------------------------

  private startPlan(kind: AttemptKind, action: string, trust: TrustSettings, transient?: unknown): Attempt {
    const attempt: Attempt = {
      id: randomUUID(),
      name: this.nextAttemptName(),
      kind,
      action,
      startedAt: new Date(),
      trust,
      ...(transient !== undefined ? { transient } : {}),
    };
    this.pending = attempt;
    this.attempts.push(attempt);
    attempt.done = new Promise<void>((resolve) => (attempt.resolve = resolve));
    attempt.timer = setTimeout(() => void this.finishPlan(attempt), this.plans.pendingMs);
    this.touch('plan-started', { attempt: attempt.id, kind });
    return attempt;
  }

  private async finishPlan(attempt: Attempt): Promise<void> {
    if (this.pending !== attempt || this.disposed) return;
    let error: string | undefined;
    if (this.plans.failNext > 0) {
      this.plans.failNext--;
      error = this.plans.failureMessage;
    } else {
      try {
        if (attempt.kind === 'restart') {
          // A restart reloads the whole keystore, which is how ECH < 8.14 picks up new API keys.
          await this.flushKeystore();
          await this.config.ech.restart();
        } else {
          this.config.ech.setTrust(trustForCluster(attempt.trust));
        }
      } catch (e) {
        error = `Plan step failed: ${(e as Error).message}`;
      }
    }
    if (this.pending !== attempt || this.disposed) return; // cancelled while the effect ran
    this.endAttempt(attempt, error ? 'failed' : 'success', error);
  }

  private endAttempt(attempt: Attempt, outcome: 'success' | 'failed' | 'cancelled', message?: string): void {
    if (attempt.timer) clearTimeout(attempt.timer);
    attempt.endedAt = new Date();
    attempt.outcome = outcome;
    if (outcome === 'success') {
      this.appliedTrust = attempt.trust;
    } else {
      attempt.error = {
        message: message ?? 'Plan was cancelled',
        failureType: outcome === 'cancelled' ? 'PlanCancelled' : 'PlanFailure',
        at: attempt.endedAt,
      };
      // A failed plan is rolled back: the stored trust returns to what the nodes run with.
      this.trust = this.appliedTrust;
    }
    this.current = attempt;
    this.pending = undefined;
    this.touch(`plan-${outcome}`, { attempt: attempt.id, kind: attempt.kind, ...(message ? { message } : {}) });
    attempt.resolve?.();
  }

  /** Resolves when no plan is pending (tests). */
  async whenIdle(): Promise<void> {
    while (this.pending) await this.pending.done;
  }

  get hasPendingPlan(): boolean {
    return this.pending !== undefined;
  }

  /**
   * What a deployment update does while another plan is pending. Real ECH behaviour is UNCONFIRMED; the sandbox
   * answers like `_restart` does (422 plan change error), so clients must wait for plans to finish.
   */
  private rejectWhilePending(): void {
    if (!this.pending) return;
    throw new CloudError(
      422,
      CloudErrorCodes.planChangeError,
      `There is a pending plan [${this.pending.id}] for resource [elasticsearch:${this.config.refId}]; ` +
        'wait for it to finish or cancel it',
    );
  }

  cancelPending(ignoreMissing: boolean): void {
    if (!this.pending) {
      if (ignoreMissing) return;
      throw new CloudError(400, CloudErrorCodes.noPendingPlan, 'The Resource does not have a pending plan.');
    }
    this.endAttempt(this.pending, 'cancelled', 'Plan was cancelled by a user request');
  }

  restart(cancelPending: boolean): void {
    if (this.pending) {
      if (!cancelPending) {
        throw new CloudError(
          422,
          CloudErrorCodes.planChangeError,
          `Cannot restart resource [elasticsearch:${this.config.refId}]: there is a pending plan [${this.pending.id}]. ` +
            'Use cancel_pending=true to cancel it.',
        );
      }
      this.endAttempt(this.pending, 'cancelled', 'Plan was cancelled by a restart request');
    }
    this.startPlan('restart', 'deployments.restart-deployment-es-resource', this.appliedTrust);
  }

  // ---- deployment update ---------------------------------------------------------------------------------------

  update(body: unknown, opts: { validateOnly: boolean; version?: string }): { changed: boolean } {
    const problems: { field: string; message: string }[] = [];
    if (!isObject(body)) throw new CloudValidationError([{ field: 'body', message: 'Expected a JSON object' }]);
    if (typeof body.prune_orphans !== 'boolean') {
      problems.push({ field: 'prune_orphans', message: 'The field [prune_orphans] is required and must be a boolean' });
    }
    const resources = body.resources;
    let newTrust: TrustSettings | undefined;
    let transient: unknown;
    let esListed = false;
    if (resources !== undefined) {
      if (!isObject(resources)) problems.push({ field: 'resources', message: 'Expected an object' });
      else {
        const es = resources.elasticsearch;
        if (es !== undefined && !Array.isArray(es)) {
          problems.push({ field: 'resources.elasticsearch', message: 'Expected an array' });
        }
        (Array.isArray(es) ? es : []).forEach((payload: unknown, i: number) => {
          const path = `resources.elasticsearch[${i}]`;
          if (!isObject(payload)) {
            problems.push({ field: path, message: 'Expected an object' });
            return;
          }
          for (const key of ['ref_id', 'region'] as const) {
            if (typeof payload[key] !== 'string') {
              problems.push({ field: `${path}.${key}`, message: `The field [${key}] is required` });
            }
          }
          if (payload.ref_id !== this.config.refId) {
            problems.push({
              field: `${path}.ref_id`,
              message: `Unknown ref_id [${String(payload.ref_id)}]: the sandbox cannot create resources`,
            });
            return;
          }
          esListed = true;
          if (payload.region !== this.config.region) {
            problems.push({
              field: `${path}.region`,
              message: `The region cannot change (is [${this.config.region}])`,
            });
          }
          const plan = payload.plan;
          if (!isObject(plan) || !Array.isArray(plan.cluster_topology) || !isObject(plan.elasticsearch)) {
            problems.push({
              field: `${path}.plan`,
              message: 'The field [plan] is required, with [cluster_topology] and [elasticsearch]',
            });
          } else {
            const v = plan.elasticsearch.version;
            if (v !== undefined && v !== this.config.version) {
              problems.push({
                field: `${path}.plan.elasticsearch.version`,
                message: `Version changes are not simulated (the resource runs [${this.config.version}])`,
              });
            }
            transient = plan.transient;
          }
          const settings = payload.settings;
          if (settings !== undefined && !isObject(settings)) {
            problems.push({ field: `${path}.settings`, message: 'Expected an object' });
          } else if (settings && settings.trust !== undefined) {
            try {
              newTrust = validateTrust(settings.trust, `${path}.settings.trust`);
            } catch (e) {
              if (e instanceof CloudValidationError) problems.push(...e.problems);
              else throw e;
            }
          }
        });
      }
    }
    if (body.prune_orphans === true && !esListed) {
      problems.push({
        field: 'prune_orphans',
        message: `prune_orphans=true would shut down resource [elasticsearch:${this.config.refId}], which is not in the request`,
      });
    }
    if (problems.length) throw new CloudValidationError(problems);
    if (opts.version !== undefined && opts.version !== String(this.resourceVersion)) {
      throw new CloudError(
        409,
        CloudErrorCodes.versionConflict,
        `The deployment was modified concurrently: version [${opts.version}] is stale, the current version is ` +
          `[${this.resourceVersion}]. Re-read the deployment and retry.`,
      );
    }
    const changed = newTrust !== undefined && !sameTrust(newTrust, this.trust);
    if (changed) this.rejectWhilePending();
    if (opts.validateOnly || !changed || !newTrust) return { changed: changed && !opts.validateOnly };
    this.trust = newTrust;
    this.startPlan('update', 'deployments.update-deployment', newTrust, transient);
    return { changed: true };
  }

  // ---- keystore ------------------------------------------------------------------------------------------------

  async patchKeystore(body: unknown): Promise<void> {
    if (!isObject(body) || !isObject(body.secrets)) {
      throw new CloudValidationError([{ field: 'secrets', message: 'The field [secrets] is required (an object)' }]);
    }
    const changes: Record<string, string | undefined> = {};
    const asFiles: Record<string, boolean> = {};
    const problems: { field: string; message: string }[] = [];
    for (const [name, secret] of Object.entries(body.secrets)) {
      if (!/^[a-zA-Z0-9_.-]+$/.test(name)) {
        problems.push({ field: `secrets.${name}`, message: `Invalid keystore setting name [${name}]` });
        continue;
      }
      // A null secret or one without a value removes the entry (cloud-sdk-go / terraform semantics).
      if (secret === null || (isObject(secret) && (secret.value === undefined || secret.value === null))) {
        changes[name] = undefined;
        continue;
      }
      if (!isObject(secret)) {
        problems.push({ field: `secrets.${name}`, message: 'Expected an object with [value]' });
        continue;
      }
      const isString = typeof secret.value === 'string';
      if (!isString && !isObject(secret.value)) {
        problems.push({ field: `secrets.${name}.value`, message: 'The value must be a string or a JSON object' });
        continue;
      }
      if (secret.as_file !== undefined && typeof secret.as_file !== 'boolean') {
        problems.push({ field: `secrets.${name}.as_file`, message: 'Expected a boolean' });
        continue;
      }
      const value = isString ? (secret.value as string) : JSON.stringify(secret.value);
      const asFile = typeof secret.as_file === 'boolean' ? secret.as_file : !isString;
      changes[name] = value;
      asFiles[name] = asFile;
    }
    if (problems.length) throw new CloudValidationError(problems); // all or nothing
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) this.keystore.delete(name);
      else this.keystore.set(name, { value, asFile: asFiles[name] ?? false });
      this.staged[name] = value;
    }
    this.log.push({ at: new Date().toISOString(), event: 'keystore-patched', detail: { keys: Object.keys(changes) } });
    if (keystoreReloadsWithoutRestart(this.config.version)) await this.flushKeystore();
  }

  private async flushKeystore(): Promise<void> {
    if (Object.keys(this.staged).length === 0) return;
    const changes = this.staged;
    this.staged = {};
    await this.config.ech.setSecureSettings(changes);
  }

  /** Keystore keys whose change the nodes have not seen yet (ECH < 8.14 before a restart). */
  get stagedKeystoreKeys(): string[] {
    return Object.keys(this.staged);
  }

  renderKeystore(): { secrets: Record<string, { as_file: boolean }> } {
    const secrets: Record<string, { as_file: boolean }> = {};
    for (const [name, e] of [...this.keystore.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      secrets[name] = { as_file: e.asFile }; // values are never returned
    }
    return { secrets };
  }

  // ---- rendering -----------------------------------------------------------------------------------------------

  private renderPlan(attempt: Attempt, flags: QueryFlags): Record<string, unknown> {
    const version = this.config.version;
    return {
      cluster_topology: [
        {
          id: 'hot_content',
          zone_count: 1,
          instance_configuration_id: 'sandbox.es.datahot',
          node_roles: ['master', 'ingest', 'transform', 'data_hot', 'data_content', 'remote_cluster_client'],
          size: { resource: 'memory', value: 4096 },
          elasticsearch: {},
        },
      ],
      elasticsearch: { version },
      ...(attempt.transient !== undefined && !flags.clearTransient ? { transient: attempt.transient } : {}),
    };
  }

  private renderAttempt(attempt: Attempt, flags: QueryFlags): Record<string, unknown> {
    const log = flags.showPlanLogs
      ? [
          {
            step_id: 'plan-completed',
            started: attempt.startedAt.toISOString(),
            ...(attempt.endedAt
              ? {
                  completed: attempt.endedAt.toISOString(),
                  duration_in_millis: attempt.endedAt.getTime() - attempt.startedAt.getTime(),
                }
              : {}),
            status: !attempt.outcome ? 'pending' : attempt.outcome === 'success' ? 'success' : 'error',
            stage: attempt.endedAt ? 'completed' : 'in_progress',
            info_log: [],
          },
        ]
      : [];
    return {
      plan_attempt_id: attempt.id,
      plan_attempt_name: attempt.name,
      healthy: attempt.outcome === undefined || attempt.outcome === 'success',
      attempt_start_time: attempt.startedAt.toISOString(),
      ...(attempt.endedAt
        ? { attempt_end_time: attempt.endedAt.toISOString(), plan_end_time: attempt.endedAt.toISOString() }
        : {}),
      plan: this.renderPlan(attempt, flags),
      plan_attempt_log: log,
      source: { facilitator: 'sandbox', action: attempt.action, date: attempt.startedAt.toISOString() },
      warnings: [],
      ...(attempt.error
        ? {
            error: {
              timestamp: attempt.error.at.toISOString(),
              message: attempt.error.message,
              details: {},
              failure_type: attempt.error.failureType,
            },
          }
        : {}),
    };
  }

  private get status(): string {
    if (!this.pending) return 'started';
    return this.pending.kind === 'restart' ? 'restarting' : 'reconfiguring';
  }

  private get healthy(): boolean {
    return this.current.outcome === 'success';
  }

  /** The current plan succeeded (what `plan_info.healthy` says; a remote's `info.healthy`). */
  get isHealthy(): boolean {
    return this.healthy;
  }

  /**
   * Whether the nodes (applied trust) accept another ECH cluster: an `accounts` entry for its organization that trusts
   * all of it or allowlists its cluster id (ElasticsearchClusterTrustSettings / AccountTrustRelationship).
   */
  trustsEchCluster(orgId: string, clusterId: string): boolean {
    return (this.appliedTrust.accounts ?? []).some(
      (a) => a.account_id === orgId && (a.trust_all || (a.trust_allowlist ?? []).includes(clusterId)),
    );
  }

  // ---- certificate-based remote clusters (Cloud API remote-clusters) ---------------------------------------------

  /**
   * `PUT …/elasticsearch/{ref_id}/remote-clusters`: validate a `RemoteResources` body and replace the list. Every
   * problem is reported at once, as for a deployment update. `info` is read-only in the swagger and ignored. A remote
   * that is not a deployment the API knows is a 400 naming the field (the swagger declares only 404 for the path's own
   * deployment; the code for a body naming an unknown deployment is UNCONFIRMED).
   */
  setRemoteResources(body: unknown, lookup: (id: string) => CloudDeployment | undefined): void {
    const problems: { field: string; message: string }[] = [];
    if (!isObject(body) || !Array.isArray(body.resources)) {
      throw new CloudValidationError([{ field: 'resources', message: 'The field [resources] is required' }]);
    }
    for (const k of Object.keys(body)) {
      if (k !== 'resources') problems.push({ field: k, message: `Unknown field [${k}]` });
    }
    const out: RemoteResourceRef[] = [];
    const aliases = new Set<string>();
    body.resources.forEach((r: unknown, i: number) => {
      const path = `resources[${i}]`;
      if (!isObject(r)) {
        problems.push({ field: path, message: 'Expected an object' });
        return;
      }
      for (const k of Object.keys(r)) {
        if (!['deployment_id', 'elasticsearch_ref_id', 'alias', 'skip_unavailable', 'info'].includes(k))
          problems.push({ field: `${path}.${k}`, message: `Unknown field [${k}]` });
      }
      const str = (k: string): string | undefined => {
        if (typeof r[k] === 'string' && r[k] !== '') return r[k];
        problems.push({ field: `${path}.${k}`, message: `The field [${k}] is required` });
        return undefined;
      };
      const deploymentId = str('deployment_id');
      const refId = str('elasticsearch_ref_id');
      const alias = str('alias');
      if (alias !== undefined) {
        // The swagger's rule: "Aliases must only contain letters, digits, dashes and underscores".
        if (!/^[A-Za-z0-9_-]+$/.test(alias))
          problems.push({
            field: `${path}.alias`,
            message: `The alias [${alias}] must only contain letters, digits, dashes and underscores`,
          });
        else if (aliases.has(alias))
          problems.push({ field: `${path}.alias`, message: `The alias [${alias}] is used more than once` });
        aliases.add(alias);
      }
      if (r.skip_unavailable !== undefined && typeof r.skip_unavailable !== 'boolean')
        problems.push({ field: `${path}.skip_unavailable`, message: 'The field [skip_unavailable] must be a boolean' });
      if (deploymentId !== undefined) {
        const remote = lookup(deploymentId);
        if (!remote) {
          problems.push({
            field: `${path}.deployment_id`,
            message: `The Deployment specified by [${deploymentId}] cannot be found.`,
          });
        } else if (refId !== undefined && refId !== remote.config.refId) {
          problems.push({
            field: `${path}.elasticsearch_ref_id`,
            message: `The Resource specified by [${refId}] cannot be found.`,
          });
        }
      }
      if (deploymentId && refId && alias) {
        out.push({
          deployment_id: deploymentId,
          elasticsearch_ref_id: refId,
          alias,
          ...(typeof r.skip_unavailable === 'boolean' ? { skip_unavailable: r.skip_unavailable } : {}),
        });
      }
    });
    if (problems.length) throw new CloudValidationError(problems);
    this.remoteResources = out;
    this.touch(
      'remote-clusters',
      out.map((r) => r.alias),
    );
  }

  /**
   * `GET …/remote-clusters` (`RemoteResources`): the list as set, each with `info` (`RemoteResourceInfo`, all five
   * fields required): the remote's plan health, a live connection on this cluster, wire compatibility of the two
   * versions, and trust each way (each side's `accounts` trust).
   */
  renderRemoteResources(lookup: (id: string) => CloudDeployment | undefined): Record<string, unknown> {
    return {
      resources: this.remoteResources.map((r) => {
        const remote = lookup(r.deployment_id);
        return {
          ...r,
          info: {
            healthy: remote?.isHealthy ?? false,
            connected: this.config.ech.remoteConnected?.(r.alias) ?? false,
            compatible: remote ? wireCompatible(this.config.version, remote.config.version) : false,
            trusted: remote ? this.trustsEchCluster(remote.config.orgId, remote.config.clusterId) : false,
            trusted_back: remote ? remote.trustsEchCluster(this.config.orgId, this.config.clusterId) : false,
          },
        };
      }),
    };
  }

  renderEsInfo(flags: QueryFlags): Record<string, unknown> {
    const c = this.config;
    const url = `https://${c.endpoint.host}:${c.endpoint.httpsPort}`;
    const planInfo: Record<string, unknown> = {
      healthy: this.healthy,
      history: flags.showPlanHistory
        ? this.attempts.filter((a) => a.endedAt).map((a) => this.renderAttempt(a, flags))
        : [],
    };
    if (flags.showPlans) {
      planInfo.current = this.renderAttempt(this.current, flags);
      if (this.pending) planInfo.pending = this.renderAttempt(this.pending, flags);
    }
    const metadata: Record<string, unknown> = {
      version: this.resourceVersion,
      last_modified: this.lastModified.toISOString(),
      endpoint: c.endpoint.host,
      aliased_endpoint: c.endpoint.host,
      service_url: url,
      aliased_url: url,
      cloud_id: `${c.name}:${Buffer.from(`${c.endpoint.host}:${c.endpoint.httpsPort}$${c.clusterId}$`).toString('base64')}`,
      ports: {
        http: c.endpoint.httpsPort,
        https: c.endpoint.httpsPort,
        transport_passthrough: c.endpoint.transportPort,
      },
      services_urls: [{ service: 'elasticsearch', url }],
      ...(flags.showMetadata ? { raw: { sandbox: true, cluster_id: c.clusterId } } : {}),
    };
    return {
      cluster_id: c.clusterId,
      cluster_name: c.clusterName,
      deployment_id: c.id,
      region: c.region,
      healthy: this.healthy,
      status: this.status,
      plan_info: planInfo,
      elasticsearch: {
        healthy: true,
        shard_info: { healthy: true, available_shards: [], unavailable_shards: [], unavailable_replicas: [] },
        master_info: { healthy: true, masters: [], instances_with_no_master: [] },
        blocking_issues: { healthy: true, cluster_level: [], index_level: [] },
      },
      metadata,
      topology: {
        healthy: true,
        instances: [
          {
            instance_name: 'instance-0000000000',
            healthy: true,
            container_started: true,
            service_running: !this.pending || this.pending.kind !== 'restart',
            maintenance_mode: false,
            service_version: c.version,
            zone: `${c.region}a`,
            node_roles: ['master', 'ingest', 'data_hot', 'data_content', 'remote_cluster_client'],
          },
        ],
      },
      associated_kibana_clusters: [],
      associated_apm_clusters: [],
      associated_appsearch_clusters: [],
      associated_enterprise_search_clusters: [],
      snapshots: { healthy: true, count: 0, recent_success: false },
      external_links: [],
      ...(flags.showSettings ? { settings: { trust: renderTrust(this.trust) } } : {}),
    };
  }

  renderEsResource(flags: QueryFlags): Record<string, unknown> {
    return {
      ref_id: this.config.refId,
      id: this.config.clusterId,
      region: this.config.region,
      info: this.renderEsInfo(flags),
    };
  }

  renderDeployment(flags: QueryFlags): Record<string, unknown> {
    return {
      id: this.config.id,
      name: this.config.name,
      healthy: this.healthy,
      resources: {
        elasticsearch: [this.renderEsResource(flags)],
        kibana: [],
        apm: [],
        appsearch: [],
        enterprise_search: [],
        integrations_server: [],
      },
      metadata: {
        organization_id: this.config.orgId,
        owner_id: this.config.orgId,
        subscription_level: 'enterprise',
        last_modified: this.lastModified.toISOString(),
        ...(this.current.endedAt ? { last_resource_plan_modified: this.current.endedAt.toISOString() } : {}),
        system_owned: false,
        hidden: false,
      },
    };
  }

  renderUpdateResponse(): Record<string, unknown> {
    const c = this.config;
    return {
      id: c.id,
      name: c.name,
      resources: [{ ref_id: c.refId, id: c.clusterId, kind: 'elasticsearch', region: c.region }],
    };
  }

  renderActivity(attemptId: string): Record<string, unknown> {
    const attempt = this.attempts.find((a) => a.id === attemptId);
    if (!attempt) {
      throw new CloudError(404, CloudErrorCodes.resourceNotFound, `The plan attempt [${attemptId}] cannot be found.`);
    }
    return this.renderAttempt(attempt, {
      showPlans: true,
      showPlanLogs: true,
      showPlanHistory: false,
      showSettings: false,
      showMetadata: false,
      clearTransient: false,
    });
  }

  /**
   * A CA rotation as the certificate-authority answer shows it: another transport CA listed beside the active one with
   * `active: false` (a CA being rotated in, or one rotated out and kept until it expires). The nodes keep their
   * certificates from the active CA.
   */
  addInactiveCa(pem: string): void {
    this.config.caCertificates.push({ pem, active: false });
    this.touch('certificate-authority', { inactive: certificateMetadata(pem).fingerprint });
  }

  renderCertificateAuthority(): Record<string, unknown> {
    return {
      recommended_trust_restriction: nodeNamePattern(this.config.clusterId, this.config.orgId),
      public_certificates: this.config.caCertificates.map((c) => ({
        active: c.active,
        pem: c.pem,
        metadata: { ...certificateMetadata(c.pem), also_trusted_by: [] },
      })),
    };
  }

  /** Everything for `/_sandbox/state` (no secret values). */
  snapshot(): Record<string, unknown> {
    return {
      id: this.config.id,
      refId: this.config.refId,
      clusterId: this.config.clusterId,
      orgId: this.config.orgId,
      version: this.config.version,
      resourceVersion: this.resourceVersion,
      trust: renderTrust(this.trust),
      appliedTrust: renderTrust(this.appliedTrust),
      keystore: {
        keys: [...this.keystore.keys()].sort(),
        stagedUntilRestart: this.stagedKeystoreKeys,
      },
      plans: {
        settings: { ...this.plans },
        pending: this.pending ? this.pending.id : null,
        history: this.attempts.map((a) => ({
          id: a.id,
          name: a.name,
          kind: a.kind,
          startedAt: a.startedAt.toISOString(),
          endedAt: a.endedAt?.toISOString(),
          outcome: a.outcome ?? 'pending',
          error: a.error?.message,
        })),
      },
      log: this.log,
    };
  }

  dispose(): void {
    this.disposed = true;
    if (this.pending?.timer) clearTimeout(this.pending.timer);
    this.pending?.resolve?.();
  }
}

/** Random ids shaped like Elastic Cloud's (32 lowercase hex characters). */
export function cloudId(): string {
  return randomBytes(16).toString('hex');
}
