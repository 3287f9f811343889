/**
 * Elasticsearch's error envelope: `{"error":{"root_cause":[{type,reason}],"type","reason"},"status"}`.
 * Every simulated failure is an EsError so that handlers can simply throw.
 */
import type { Reply } from '../http';

export interface EsErrorBody {
  type: string;
  reason: string;
  [extra: string]: unknown;
}

export class EsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly reason: string,
    /** Extra fields of the error object (e.g. `header`, `resource.id`, `caused_by`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(reason);
  }

  body(): EsErrorBody {
    return { type: this.type, reason: this.reason, ...this.extra };
  }

  toReply(): Reply {
    const { caused_by: _causedBy, ...rootExtra } = this.extra;
    const rootCause = { type: this.type, reason: this.reason, ...rootExtra };
    return { status: this.status, body: { error: { root_cause: [rootCause], ...this.body() }, status: this.status } };
  }
}

export const badRequest = (reason: string, type = 'illegal_argument_exception') => new EsError(400, type, reason);

export const validationError = (...problems: string[]) =>
  new EsError(
    400,
    'action_request_validation_exception',
    `Validation Failed: ${problems.map((p, i) => `${i + 1}: ${p};`).join('')}`,
  );

export const securityError = (status: 401 | 403, reason: string, extra: Record<string, unknown> = {}) =>
  new EsError(status, 'security_exception', reason, extra);

export const indexNotFound = (index: string) =>
  new EsError(404, 'index_not_found_exception', `no such index [${index}]`, {
    'resource.type': 'index_or_alias',
    'resource.id': index,
    index_uuid: '_na_',
    index,
  });

/** ES answers unknown endpoints with a bare string error (no root_cause). */
export function noHandler(method: string, path: string): Reply {
  return { status: 400, body: { error: `no handler found for uri [${path}] and method [${method}]`, status: 400 } };
}

export function wrongMethod(method: string, path: string, allowed: string[]): Reply {
  return {
    status: 405,
    body: {
      error: `Incorrect HTTP method for uri [${path}] and method [${method}], allowed: [${allowed.join(', ')}]`,
      status: 405,
    },
  };
}
