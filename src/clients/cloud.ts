/**
 * The Elastic Cloud API client: `openapi-fetch` typed with the paths generated from the Cloud API spec
 * (src/clients/generated/cloud-api.ts, `npm run gen:cloud-types`), plus the Cloud API's error classification.
 *
 * - Base URL `<endpoint>/api/v1`, `Authorization: ApiKey <key>`.
 * - Every request has a timeout (AbortSignal.timeout) and follows an optional caller signal (activity cancellation).
 * - TLS uses the process's trust (system roots + NODE_EXTRA_CA_CERTS); verification is never disabled. Tests swap the
 *   transport by injecting `fetch`.
 * - Every failure is thrown already classified (src/clients/errors.ts): transient → retryable `TransientError`,
 *   permanent → non-retryable with a type and a message that names the fix. The Cloud error envelope
 *   `{"errors":[{"code","message","fields"}]}` and the `x-cloud-error-codes` header supply the reason and the codes.
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { CancelledFailure } from '@temporalio/common';
import type { components, paths } from './generated/cloud-api';
import { failureDetails, httpFailure, networkFailure, parseRetryAfter } from './errors';
import { registerSecret } from '../activities/secrets';

export type CloudSchemas = components['schemas'];
export type CloudApi = Client<paths>;

export interface CloudClientOptions {
  /** e.g. `https://api.elastic-cloud.com` (a trailing `/api/v1` is accepted too). */
  endpoint: string;
  /** The Cloud API key (secret value). */
  apiKey: string;
  /** Name of the secret the key came from, for actionable messages (never the value). */
  apiKeySecret?: string;
  /** Transport; defaults to the global fetch (Node's, which honours NODE_EXTRA_CA_CERTS). */
  fetch?: typeof globalThis.fetch;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  /** Aborts every request (e.g. `Context.current().cancellationSignal`). */
  signal?: AbortSignal;
  userAgent?: string;
}

export interface CloudClient {
  /** The typed client; its calls throw classified failures (never return `error`). */
  api: CloudApi;
  /** `https://…/api/v1` */
  baseUrl: string;
}

export const CLOUD_API_PATH = '/api/v1';
const DEFAULT_TIMEOUT_MS = 30_000;

export function cloudBaseUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return trimmed.endsWith(CLOUD_API_PATH) ? trimmed : `${trimmed}${CLOUD_API_PATH}`;
}

/** The Cloud error envelope (`BasicFailedReply`), parsed leniently from a response body. */
export function parseCloudErrors(
  text: string,
  headerCodes: string | null,
): { codes: string[]; messages: string[]; fields: string[] } {
  const codes = new Set<string>();
  const messages: string[] = [];
  const fields: string[] = [];
  for (const c of (headerCodes ?? '').split(',')) if (c.trim()) codes.add(c.trim());
  try {
    const body = JSON.parse(text) as Partial<CloudSchemas['BasicFailedReply']>;
    for (const e of Array.isArray(body.errors) ? body.errors : []) {
      if (typeof e?.code === 'string') codes.add(e.code);
      if (typeof e?.message === 'string') {
        messages.push(e.fields?.length ? `${e.message} (${e.fields.join(', ')})` : e.message);
      }
      if (Array.isArray(e?.fields)) fields.push(...e.fields);
    }
  } catch {
    if (text.trim()) messages.push(text.trim().slice(0, 500));
  }
  return { codes: [...codes], messages, fields };
}

/** Cloud error codes that mean "the deployment changed under you": re-read and retry. */
export function isVersionConflict(err: unknown): boolean {
  const d = failureDetails(err);
  return d.system === 'cloud-api' && (d.status === 409 || (d.codes ?? []).some((c) => /version_conflict$/.test(c)));
}

/** Another plan is running (`_restart`, deployment update): transient, retry once it has finished. */
const PLAN_CHANGE_ERROR = 'deployments.deployment_resource_plan_change_error';

/** The Cloud API refused a change because another plan is pending on the resource. */
export function isPlanBusy(err: unknown): boolean {
  const d = failureDetails(err);
  return d.system === 'cloud-api' && (d.codes ?? []).includes(PLAN_CHANGE_ERROR);
}

interface FixContext {
  deploymentId?: string;
  refId?: string;
  apiKeySecret?: string;
}

/** The actionable part of a permanent Cloud failure, by error code first, then by status. */
function cloudFix(status: number, codes: string[], ctx: FixContext): string | undefined {
  const secret = ctx.apiKeySecret ? `the Cloud API key in secret ${ctx.apiKeySecret}` : 'the Cloud API key';
  if (codes.includes('deployments.deployment_not_found')) {
    return (
      `check local.deploymentId (${ctx.deploymentId ?? '?'}) and that the organisation of ${secret} owns that ` +
      'deployment (deployment ids are the 32-hex id in the Cloud console URL, not the deployment name)'
    );
  }
  if (codes.includes('deployments.deployment_resource_not_found')) {
    return (
      `check local.refId (${ctx.refId ?? '?'}): it must be the ref_id of the deployment's Elasticsearch resource ` +
      '(omit it to have it discovered)'
    );
  }
  if (codes.includes('deployments.deployment_resource_no_longer_exists')) {
    return 'the Elasticsearch resource was deleted or is being deleted; check the deployment in the Cloud console';
  }
  if (status === 401) {
    return `check ${secret}: it is wrong, expired or revoked (create one under Organization > API keys)`;
  }
  if (status === 403) {
    return `${secret} lacks the role needed on this deployment: give it Admin or Editor access to the deployment`;
  }
  if (status === 400) return 'the request was rejected by validation; the message lists each field';
  return undefined;
}

/** `GET /deployments/{deployment_id}` style label (no ids, no query, no secrets). */
function operationLabel(method: string, schemaPath: string): string {
  return `${method.toUpperCase()} ${schemaPath}`;
}

export function createCloudClient(opts: CloudClientOptions): CloudClient {
  registerSecret(opts.apiKey);
  const baseFetch = opts.fetch ?? globalThis.fetch;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const baseUrl = cloudBaseUrl(opts.endpoint);

  // Timeout + caller signal per request, applied in the transport so that every call gets them.
  const timedFetch = (async (input: Request, init?: RequestInit) => {
    const signals = [AbortSignal.timeout(timeoutMs), input.signal];
    if (opts.signal) signals.push(opts.signal);
    try {
      return await baseFetch(input, { ...init, signal: AbortSignal.any(signals) });
    } catch (err) {
      // Cancellation by the caller wins over whatever the transport made of the abort.
      if (opts.signal?.aborted)
        throw opts.signal.reason instanceof Error ? opts.signal.reason : new CancelledFailure('cancelled');
      throw err;
    }
  }) as typeof globalThis.fetch;

  const api = createClient<paths>({
    baseUrl,
    fetch: timedFetch,
    headers: {
      Authorization: `ApiKey ${opts.apiKey}`,
      Accept: 'application/json',
      'User-Agent': opts.userAgent ?? 'ech-remote-clusters',
    },
  });

  const classify: Middleware = {
    async onResponse({ request, response, schemaPath, params }) {
      if (response.ok) return undefined;
      const text = await response
        .clone()
        .text()
        .catch(() => '');
      const { codes, messages } = parseCloudErrors(text, response.headers.get('x-cloud-error-codes'));
      const path = (params as { path?: Record<string, string> }).path ?? {};
      const ctx: FixContext = { deploymentId: path.deployment_id, refId: path.ref_id, apiKeySecret: opts.apiKeySecret };
      const reason = [
        messages.join('; ') || response.statusText || 'no message',
        codes.length ? `[${codes.join(', ')}]` : '',
      ]
        .filter(Boolean)
        .join(' ');
      const planBusy = codes.includes(PLAN_CHANGE_ERROR);
      throw httpFailure({
        system: 'cloud-api',
        operation: operationLabel(request.method, schemaPath),
        status: response.status,
        reason,
        errorType: codes[0],
        codes,
        ...(planBusy
          ? { transient: true, fix: 'another plan is running on the deployment; retrying once it has finished' }
          : { fix: cloudFix(response.status, codes, ctx) }),
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      });
    },
    onError({ request, error, schemaPath }) {
      return networkFailure('cloud-api', operationLabel(request.method, schemaPath), error, request.url);
    },
  };
  api.use(classify);
  return { api, baseUrl };
}

/**
 * Unwrap an openapi-fetch result whose failures were already thrown by the client: returns `data`, failing loudly if
 * a 2xx came without the expected body.
 */
export function bodyOf<T>(result: { data?: T; error?: unknown; response: Response }, operation: string): T {
  if (result.data === undefined) {
    throw httpFailure({
      system: 'cloud-api',
      operation,
      status: result.response.status,
      reason: 'the response had no body',
      transient: true,
    });
  }
  return result.data;
}
