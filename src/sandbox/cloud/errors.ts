/**
 * The Elastic Cloud API error envelope (`BasicFailedReply`) and the error codes the sandbox uses. Codes named in the
 * swagger are used as-is; the few the swagger does not name (version conflict, generic validation) are marked.
 */
import type { Reply } from '../http';

export const CloudErrorCodes = {
  deploymentNotFound: 'deployments.deployment_not_found',
  resourceNotFound: 'deployments.deployment_resource_not_found',
  planChangeError: 'deployments.deployment_resource_plan_change_error',
  noPendingPlan: 'deployments.resource_does_not_have_a_pending_plan',
  /** Not in the swagger for deployments; follows the `<namespace>.version_conflict` codes of other resources. */
  versionConflict: 'deployments.version_conflict',
  invalidData: 'root.invalid_data',
  unauthenticated: 'root.unauthenticated',
  invalidAuthentication: 'root.invalid_authentication',
  /** Not in the swagger: used for unknown paths and methods. */
  notFound: 'root.resource_not_found',
  methodNotAllowed: 'root.method_not_allowed',
  internal: 'root.internal_error',
  /** Not in the swagger (ECH rate limiting is UNCONFIRMED): used by fault injection only. */
  rateLimited: 'root.rate_limited',
  unavailable: 'root.service_unavailable',
} as const;

export class CloudError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: string[],
  ) {
    super(message);
  }
}

export function cloudErrorReply(status: number, code: string, message: string, fields?: string[]): Reply {
  return {
    status,
    headers: { 'x-cloud-error-codes': code },
    body: { errors: [{ code, message, ...(fields && fields.length ? { fields } : {}) }] },
  };
}

export function replyForError(err: CloudError): Reply {
  return cloudErrorReply(err.status, err.code, err.message, err.fields);
}

/** Several validation problems in one reply, as the Cloud API reports them (one element per problem). */
export class CloudValidationError extends CloudError {
  constructor(readonly problems: { message: string; field: string }[]) {
    super(400, CloudErrorCodes.invalidData, problems.map((p) => `${p.field}: ${p.message}`).join('; '));
  }
}

export function replyForValidation(err: CloudValidationError): Reply {
  return {
    status: 400,
    headers: { 'x-cloud-error-codes': CloudErrorCodes.invalidData },
    body: {
      errors: err.problems.map((p) => ({ code: CloudErrorCodes.invalidData, message: p.message, fields: [p.field] })),
    },
  };
}

/** The reply for an injected fault status, in the Cloud envelope. */
export function cloudFaultReply(status: number): Reply {
  const code =
    status === 429
      ? CloudErrorCodes.rateLimited
      : status === 503
        ? CloudErrorCodes.unavailable
        : status >= 500
          ? CloudErrorCodes.internal
          : CloudErrorCodes.invalidData;
  return cloudErrorReply(status, code, `Injected fault: HTTP ${status}`);
}
