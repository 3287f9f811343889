/**
 * Error classification, once per external system: transient failures (429, 5xx, timeouts, resets) are thrown as
 * retryable errors so the activity's retry policy applies; permanent ones (validation, auth, license, version, not
 * found) become non-retryable ApplicationFailures with a type and an actionable message.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { redact } from '../activities/secrets';

export type ExternalSystem = 'cloud-api' | 'ech-elasticsearch' | 'self-managed-elasticsearch';

export const FAILURE_TYPES = {
  invalidRequest: 'InvalidRequest',
  authentication: 'AuthenticationFailed',
  authorization: 'MissingPrivileges',
  notFound: 'NotFound',
  conflict: 'Conflict',
  validation: 'ValidationFailed',
  license: 'LicenseNotSupported',
  version: 'VersionNotSupported',
  tls: 'TlsTrustFailed',
  preflight: 'PreflightFailed',
  plan: 'PlanFailed',
  connection: 'RemoteConnectionFailed',
  aliasInUse: 'AliasInUse',
  /** The credentials kind cannot do this (e.g. an API key cannot create cross-cluster API keys). */
  unsupportedCredentials: 'UnsupportedCredentials',
  /** A role, user or key of that name exists and was not created by this tool. */
  notOurs: 'NotManagedByUs',
  secret: 'SecretNotFound',
  transient: 'TransientError',
} as const;

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Resets, refusals, timeouts, and a TLS handshake cut short by the network (not a verification failure). */
const TRANSIENT_MESSAGE_RE =
  /socket hang up|other side closed|timed? ?out|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|disconnected before secure TLS connection/i;

export function isTransientStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** Network-level errors that a retry may cure. */
export function isTransientNetworkError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: string }).code;
    const name = (e as { name?: string }).name;
    if (code && TRANSIENT_CODES.has(code)) return true;
    if (name === 'TimeoutError' || name === 'ConnectionError' || name === 'AbortError') return true;
    // Client libraries often keep only the message (the ES client's ConnectionError): match the codes there too.
    if (TRANSIENT_MESSAGE_RE.test(String((e as Error).message ?? ''))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** A `Retry-After` header (seconds or an HTTP date) in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A failure the retry policy would retry: classified retryable (transient), never a cancellation or a verdict. */
export function isRetryableFailure(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && !err.nonRetryable;
}

/** The delay a transient failure asked for (Retry-After), in milliseconds. */
export function requestedRetryDelayMs(err: ApplicationFailure): number | undefined {
  const d = err.nextRetryDelay;
  return d === undefined || d === null ? undefined : msToNumber(d);
}

function label(system: ExternalSystem): string {
  return system === 'cloud-api'
    ? 'Elastic Cloud API'
    : system === 'ech-elasticsearch'
      ? 'ECH Elasticsearch'
      : 'self-managed Elasticsearch';
}

/**
 * Turn an HTTP failure into what the activity throws. `fix` is the actionable part for permanent failures.
 */
export function httpFailure(opts: {
  system: ExternalSystem;
  operation: string;
  status: number;
  reason: string;
  errorType?: string;
  fix?: string;
  /** The system's own error codes (e.g. Cloud `x-cloud-error-codes`), kept in the failure's details for callers. */
  codes?: string[];
  /** Override the status-based decision (e.g. Cloud 422 "another plan is running" is transient). */
  transient?: boolean;
  /** Server-requested delay (Retry-After) before the next attempt of a transient failure. */
  retryAfterMs?: number;
}): Error {
  const { system, operation, status } = opts;
  const reason = redact(opts.reason);
  const where = `${label(system)} ${operation} answered ${status}`;
  const details = [{ system, operation, status, ...(opts.codes?.length ? { codes: opts.codes } : {}) }];
  if (opts.transient ?? isTransientStatus(status)) {
    return ApplicationFailure.create({
      message: `${where}: ${reason}${opts.fix ? ` → ${opts.fix}` : ''}`,
      type: FAILURE_TYPES.transient,
      nonRetryable: false,
      details,
      ...(opts.retryAfterMs !== undefined && opts.retryAfterMs > 0 ? { nextRetryDelay: opts.retryAfterMs } : {}),
    });
  }
  let type: string = FAILURE_TYPES.validation;
  let fix = opts.fix;
  if (status === 401) {
    type = FAILURE_TYPES.authentication;
    fix ??= `check the credentials secret for the ${label(system)} (wrong, expired or revoked)`;
  } else if (status === 403) {
    if (/license/i.test(reason)) {
      type = FAILURE_TYPES.license;
      fix ??= 'the API-key model needs an Enterprise (or trial) license on both clusters';
    } else {
      type = FAILURE_TYPES.authorization;
      fix ??= 'grant the missing privileges to the credentials named in the request';
    }
  } else if (status === 404) {
    type = FAILURE_TYPES.notFound;
  } else if (status === 409) {
    type = FAILURE_TYPES.conflict;
  } else if (opts.errorType === 'media_type_header_exception') {
    type = FAILURE_TYPES.version;
  }
  return ApplicationFailure.create({
    message: `${where}: ${reason}${fix ? ` → ${fix}` : ''}`,
    type,
    nonRetryable: true,
    details,
  });
}

/** The HTTP details `httpFailure` attached to a failure (status and the system's error codes), if any. */
export function failureDetails(err: unknown): {
  system?: string;
  operation?: string;
  status?: number;
  codes?: string[];
} {
  if (!(err instanceof ApplicationFailure)) return {};
  const d = err.details?.[0];
  return d && typeof d === 'object' ? (d as { status?: number; codes?: string[] }) : {};
}

export function permanent(type: string, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    message: redact(message),
    type,
    nonRetryable: true,
    details: details === undefined ? undefined : [details],
  });
}

/** A URL as a message may show it: scheme, host and port (no credentials, path or query). */
export function originOf(url: string | URL | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * Rethrow transient network errors as retryable (with the secrets redacted), anything else as-is. `url`, the address
 * the call went to, is named in the message: a refused or timed-out connection is fixed where that address comes from.
 */
export function networkFailure(system: ExternalSystem, operation: string, err: unknown, url?: string | URL): Error {
  // Activity cancellation (the fetch was aborted with the activity's CancelledFailure) must surface as is.
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const message = redact(networkMessage(err));
  const origin = originOf(url);
  const where = `${label(system)} ${operation}${origin ? ` at ${origin}` : ''}`;
  // TLS trust failures first: client libraries report them as ConnectionError, which would otherwise look transient.
  if (isTlsTrustError(err)) {
    return ApplicationFailure.create({
      message:
        `${where}: TLS verification failed: ${message} → give the CA that signed the server's` +
        ' certificate (caPem / a private CA in the request), or use a URL whose host name the certificate covers',
      type: FAILURE_TYPES.tls,
      nonRetryable: true,
    });
  }
  if (isTransientNetworkError(err)) {
    return ApplicationFailure.retryable(`${where}: ${message}`, FAILURE_TYPES.transient);
  }
  return ApplicationFailure.create({
    message: `${where}: ${message}`,
    type: FAILURE_TYPES.connection,
    nonRetryable: false,
  });
}

/** fetch says only "fetch failed": the reason (ECONNREFUSED, a certificate error…) is in its cause. */
function networkMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? (err.cause as { message?: unknown; code?: unknown } | undefined) : undefined;
  if (message === 'fetch failed' && cause && typeof cause.message === 'string' && cause.message) {
    return `${message}: ${cause.message}`;
  }
  return message;
}

const TLS_RE = /certificate|self[- ]signed|altnames|CERT_|unable to verify|ERR_TLS_|UNABLE_TO_GET_ISSUER/i;

/** Certificate/hostname verification failures (never cured by a retry), looking through `cause` chains. */
export function isTlsTrustError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = String((e as { code?: string }).code ?? '');
    if (TLS_RE.test(code) || TLS_RE.test(String((e as Error).message ?? ''))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
