/**
 * The simulated Elastic Cloud API over HTTPS: `/api/v1` with `Authorization: ApiKey …`, the deployment operations the
 * workflows use (domain page §6), errors in the Cloud envelope. A second handler (the sandbox control API) can be
 * mounted under `/_sandbox`, behind the same API key and exempt from fault injection.
 */
import { BadJson, Router, serve, type Reply, type Request, type RunningServer } from '../http';
import type { FaultInjector } from '../faults';
import {
  CloudError,
  CloudErrorCodes,
  CloudValidationError,
  cloudErrorReply,
  cloudFaultReply,
  replyForError,
  replyForValidation,
} from './errors';
import type { CloudDeployment, QueryFlags } from './deployment';

export const CLOUD_API_BASE = '/api/v1';
export const CONTROL_BASE = '/_sandbox';

export interface CloudApiOptions {
  tls: { key: string; cert: string };
  /** The one API key the simulated organization has. */
  apiKey: string;
  faults: FaultInjector;
  host?: string;
  port?: number;
}

function boolParam(req: Request, name: string, def: boolean): boolean {
  const v = req.query.get(name);
  if (v === null || v === '') return def;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new CloudValidationError([{ field: name, message: `The query parameter [${name}] must be true or false` }]);
}

function flags(req: Request): QueryFlags {
  return {
    showPlans: boolParam(req, 'show_plans', true),
    showPlanLogs: boolParam(req, 'show_plan_logs', false),
    showPlanHistory: boolParam(req, 'show_plan_history', false),
    showSettings: boolParam(req, 'show_settings', false),
    showMetadata: boolParam(req, 'show_metadata', false),
    clearTransient: boolParam(req, 'clear_transient', false),
  };
}

export class CloudApi {
  private readonly deployments = new Map<string, CloudDeployment>();
  /** The control API, mounted under `/_sandbox` (set by the sandbox). */
  control: ((req: Request) => Promise<Reply>) | undefined;
  /** Number of API requests answered, by operation (for assertions). */
  readonly requestCounts: Record<string, number> = {};

  private constructor(
    private readonly options: CloudApiOptions,
    private server: RunningServer,
  ) {}

  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  get apiKey(): string {
    return this.options.apiKey;
  }

  static async start(options: CloudApiOptions): Promise<CloudApi> {
    const api = new CloudApi(options, undefined as unknown as RunningServer);
    api.server = await serve(
      {
        key: options.tls.key,
        cert: options.tls.cert,
        target: 'cloud',
        faults: options.faults,
        faultReply: cloudFaultReply,
        faultExempt: (path) => path === CONTROL_BASE || path.startsWith(`${CONTROL_BASE}/`),
        dispatch: (req) => api.dispatch(req),
        host: options.host,
        port: options.port,
      },
      new Router(), // routing happens in dispatch (two routers: API and control)
    );
    return api;
  }

  addDeployment(d: CloudDeployment): void {
    this.deployments.set(d.id, d);
  }

  removeDeployment(id: string): void {
    this.deployments.get(id)?.dispose();
    this.deployments.delete(id);
  }

  deployment(id: string): CloudDeployment | undefined {
    return this.deployments.get(id);
  }

  async stop(): Promise<void> {
    for (const d of this.deployments.values()) d.dispose();
    await this.server.close();
  }

  private authenticate(req: Request): Reply | undefined {
    const header = req.headers.authorization;
    if (!header) {
      return cloudErrorReply(
        401,
        CloudErrorCodes.unauthenticated,
        'The request is missing authentication credentials.',
      );
    }
    const m = /^ApiKey\s+(\S+)\s*$/i.exec(header);
    if (!m || m[1] !== this.options.apiKey) {
      return cloudErrorReply(401, CloudErrorCodes.invalidAuthentication, 'The supplied authentication is invalid.');
    }
    return undefined;
  }

  private async dispatch(req: Request): Promise<Reply> {
    try {
      const isControl = req.path === CONTROL_BASE || req.path.startsWith(`${CONTROL_BASE}/`);
      const isApi = req.path.startsWith(`${CLOUD_API_BASE}/`);
      if (!isControl && !isApi) {
        return cloudErrorReply(404, CloudErrorCodes.notFound, `No such resource: ${req.path}`);
      }
      const denied = this.authenticate(req);
      if (denied) return denied;
      if (isControl) {
        if (!this.control) return cloudErrorReply(404, CloudErrorCodes.notFound, 'The control API is not mounted.');
        return await this.control(req);
      }
      const match = this.router.match(req.method, req.path.slice(CLOUD_API_BASE.length));
      if (!match) return cloudErrorReply(404, CloudErrorCodes.notFound, `No such resource: ${req.path}`);
      if (match === 'method') {
        return cloudErrorReply(
          405,
          CloudErrorCodes.methodNotAllowed,
          `Method ${req.method} is not allowed on ${req.path}`,
        );
      }
      req.params = match.params;
      return await match.handler(req);
    } catch (e) {
      if (e instanceof CloudValidationError) return replyForValidation(e);
      if (e instanceof CloudError) return replyForError(e);
      if (e instanceof BadJson) {
        return cloudErrorReply(400, CloudErrorCodes.invalidData, `The request body is not valid JSON: ${e.message}`);
      }
      return cloudErrorReply(500, CloudErrorCodes.internal, `Internal error: ${(e as Error).message}`);
    }
  }

  private find(id: string | undefined): CloudDeployment {
    const d = id ? this.deployments.get(id) : undefined;
    if (!d) {
      throw new CloudError(
        404,
        CloudErrorCodes.deploymentNotFound,
        `The Deployment specified by [${id ?? ''}] cannot be found.`,
      );
    }
    return d;
  }

  private count(op: string): void {
    this.requestCounts[op] = (this.requestCounts[op] ?? 0) + 1;
  }

  private versionHeaders(d: CloudDeployment): Record<string, string> {
    return {
      'x-cloud-resource-version': String(d.resourceVersion),
      'x-cloud-resource-created': d.createdAt.toISOString(),
      'x-cloud-resource-last-modified': d.lastModified.toISOString(),
    };
  }

  /** Only `elasticsearch` resources exist in the simulated deployment. */
  private resourceKind(kind: string | undefined, refId: string): void {
    if (kind !== 'elasticsearch') {
      throw new CloudError(
        404,
        CloudErrorCodes.resourceNotFound,
        `The Resource specified by [${refId}] cannot be found.`,
      );
    }
  }

  private readonly router = new Router()
    .on('GET', '/deployments/{deployment_id}', (req) => {
      this.count('get-deployment');
      const d = this.find(req.params.deployment_id);
      return { status: 200, body: d.renderDeployment(flags(req)), headers: this.versionHeaders(d) };
    })
    .on('PUT', '/deployments/{deployment_id}', (req) => {
      this.count('update-deployment');
      const d = this.find(req.params.deployment_id);
      const validateOnly = boolParam(req, 'validate_only', false);
      boolParam(req, 'skip_snapshot', false);
      boolParam(req, 'hide_pruned_orphans', false);
      d.update(req.json(), { validateOnly, version: req.query.get('version') ?? undefined });
      return { status: 200, body: d.renderUpdateResponse(), headers: this.versionHeaders(d) };
    })
    .on('GET', '/deployments/{deployment_id}/certificate-authority', (req) => {
      this.count('get-deployment-certificate-authority');
      const d = this.find(req.params.deployment_id);
      return { status: 200, body: d.renderCertificateAuthority() };
    })
    .on('GET', '/deployments/{deployment_id}/elasticsearch/{ref_id}', (req) => {
      this.count('get-deployment-es-resource-info');
      const d = this.find(req.params.deployment_id);
      d.resolveRef(req.params.ref_id ?? '');
      return { status: 200, body: d.renderEsResource(flags(req)) };
    })
    .on('GET', '/deployments/{deployment_id}/elasticsearch/{ref_id}/keystore', (req) => {
      this.count('get-deployment-es-resource-keystore');
      const d = this.find(req.params.deployment_id);
      d.resolveRef(req.params.ref_id ?? '', true);
      return { status: 200, body: d.renderKeystore() };
    })
    .on('PATCH', '/deployments/{deployment_id}/elasticsearch/{ref_id}/keystore', async (req) => {
      this.count('set-deployment-es-resource-keystore');
      const d = this.find(req.params.deployment_id);
      d.resolveRef(req.params.ref_id ?? '', true);
      await d.patchKeystore(req.json());
      return { status: 200, body: d.renderKeystore() };
    })
    .on('GET', '/deployments/{deployment_id}/elasticsearch/{ref_id}/remote-clusters', (req) => {
      this.count('get-deployment-es-resource-remote-clusters');
      const d = this.find(req.params.deployment_id);
      d.resolveRef(req.params.ref_id ?? '', true);
      return { status: 200, body: d.renderRemoteResources((id) => this.deployments.get(id)) };
    })
    .on('PUT', '/deployments/{deployment_id}/elasticsearch/{ref_id}/remote-clusters', (req) => {
      this.count('set-deployment-es-resource-remote-clusters');
      const d = this.find(req.params.deployment_id);
      d.resolveRef(req.params.ref_id ?? '', true);
      d.setRemoteResources(req.json(), (id) => this.deployments.get(id));
      return { status: 202, body: {} };
    })
    .on('POST', '/deployments/{deployment_id}/elasticsearch/{ref_id}/_restart', (req) => {
      this.count('restart-deployment-es-resource');
      const d = this.find(req.params.deployment_id);
      d.resolveRef(req.params.ref_id ?? '');
      const cancelPending = boolParam(req, 'cancel_pending', false);
      boolParam(req, 'skip_snapshot', true);
      boolParam(req, 'restore_snapshot', true);
      d.restart(cancelPending);
      return { status: 202, body: {} };
    })
    .on('DELETE', '/deployments/{deployment_id}/{resource_kind}/{ref_id}/plan/pending', (req) => {
      this.count('cancel-deployment-resource-pending-plan');
      const d = this.find(req.params.deployment_id);
      this.resourceKind(req.params.resource_kind, req.params.ref_id ?? '');
      d.resolveRef(req.params.ref_id ?? '');
      boolParam(req, 'force_delete', false);
      d.cancelPending(boolParam(req, 'ignore_missing', false));
      return { status: 200, body: { id: d.id, kind: 'elasticsearch', ref_id: d.config.refId } };
    })
    .on('GET', '/deployments/{deployment_id}/{resource_kind}/{ref_id}/activity/{attempt_id}', (req) => {
      this.count('get-deployment-resource-plan-activity');
      const d = this.find(req.params.deployment_id);
      this.resourceKind(req.params.resource_kind, req.params.ref_id ?? '');
      d.resolveRef(req.params.ref_id ?? '');
      return { status: 200, body: d.renderActivity(req.params.attempt_id ?? '') };
    });
}
