/**
 * Validate Cloud API responses against the Elastic Cloud swagger vendored in spec/cloud-api/apidocs.json with ajv.
 *
 * Swagger 2.0 is not JSON Schema: `#/definitions/X` refs are rewritten to a schema registered under its own id,
 * swagger-only keywords (`example`, `x-*`, `discriminator`, `x-nullable`) are dropped or translated, and the numeric
 * formats (`int32`, `int64`, `double`, `float`) are registered. By default object schemas are closed
 * (`additionalProperties: false` where the swagger leaves it open) so a misspelt field in the simulator fails here
 * instead of being silently ignored by a client.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export const APIDOCS_PATH = path.resolve(__dirname, '../../spec/cloud-api/apidocs.json');

type Json = Record<string, unknown>;

interface SwaggerResponse {
  schema?: Json;
  headers?: Record<string, { type?: string; enum?: string[] }>;
}
interface SwaggerOperation {
  operationId: string;
  responses: Record<string, SwaggerResponse>;
}
interface Swagger {
  basePath: string;
  paths: Record<string, Record<string, SwaggerOperation>>;
  definitions: Record<string, Json>;
}

const SCHEMA_ID = 'cloud-swagger';

/** Rewrite one swagger schema into JSON Schema (draft-07). */
function convert(node: unknown, closeObjects: boolean): unknown {
  if (Array.isArray(node)) return node.map((n) => convert(n, closeObjects));
  if (typeof node !== 'object' || node === null) return node;
  const src = node as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(src)) {
    if (k.startsWith('x-') || k === 'example' || k === 'discriminator' || k === 'xml' || k === 'externalDocs') continue;
    if (k === '$ref' && typeof v === 'string') {
      out.$ref = v.replace(/^#\/definitions\//, `${SCHEMA_ID}#/definitions/`);
      continue;
    }
    if (k === 'properties' && typeof v === 'object' && v !== null) {
      out.properties = Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, convert(s, closeObjects)]));
      continue;
    }
    out[k] = convert(v, closeObjects);
  }
  // A sibling of $ref is ignored by draft-07; keep descriptions harmless.
  if (out.$ref) return { $ref: out.$ref };
  if (src['x-nullable'] === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (closeObjects && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export interface ValidationResult {
  ok: boolean;
  operationId?: string;
  /** False when the status is not declared for the operation and the generic error envelope was used. */
  declared: boolean;
  errors: string[];
}

export class CloudSwagger {
  private readonly ajv: Ajv;
  private readonly swagger: Swagger;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; re: RegExp; literals: number }[];

  constructor(options: { closeObjects?: boolean; apidocsPath?: string } = {}) {
    this.swagger = JSON.parse(fs.readFileSync(options.apidocsPath ?? APIDOCS_PATH, 'utf8')) as Swagger;
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    for (const f of ['int32', 'int64'])
      this.ajv.addFormat(f, { type: 'number', validate: (n: number) => Number.isInteger(n) });
    for (const f of ['double', 'float']) this.ajv.addFormat(f, { type: 'number', validate: () => true });
    const definitions = Object.fromEntries(
      Object.entries(this.swagger.definitions).map(([k, v]) => [k, convert(v, options.closeObjects ?? true)]),
    );
    this.ajv.addSchema({ $id: SCHEMA_ID, definitions });
    this.templates = Object.keys(this.swagger.paths).map((template) => {
      const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      const literals = template.split('/').filter((s) => s && !s.startsWith('{')).length;
      return { template, re, literals };
    });
  }

  /** The swagger path template for a concrete path (`/api/v1/...` or without the base path). */
  templateFor(concretePath: string): string | undefined {
    const p = concretePath.split('?')[0]!.replace(new RegExp(`^${this.swagger.basePath}`), '');
    const matches = this.templates.filter((t) => t.re.test(p)).sort((a, b) => b.literals - a.literals);
    return matches[0]?.template;
  }

  operation(method: string, concretePath: string): { template: string; op: SwaggerOperation } | undefined {
    const template = this.templateFor(concretePath);
    const op = template ? this.swagger.paths[template]?.[method.toLowerCase()] : undefined;
    return template && op ? { template, op } : undefined;
  }

  private readonly codesByStatus = new Map<number, Set<string>>();

  /** Every `x-cloud-error-codes` value the swagger declares for `status` on a deployments operation. */
  knownCodes(status: number): Set<string> {
    let set = this.codesByStatus.get(status);
    if (!set) {
      set = new Set();
      for (const [template, ops] of Object.entries(this.swagger.paths)) {
        if (!template.startsWith('/deployments')) continue;
        for (const op of Object.values(ops)) {
          for (const c of op.responses?.[String(status)]?.headers?.['x-cloud-error-codes']?.enum ?? []) set.add(c);
        }
      }
      this.codesByStatus.set(status, set);
    }
    return set;
  }

  private validator(key: string, schema: Json): ValidateFunction {
    let v = this.compiled.get(key);
    if (!v) {
      v = this.ajv.compile(convert(schema, true) as Json);
      this.compiled.set(key, v);
    }
    return v;
  }

  /**
   * Validate one response. Undeclared error statuses (the swagger omits e.g. 409 and 429) must still use the Cloud
   * envelope `BasicFailedReply`; undeclared success statuses fail.
   */
  validate(
    method: string,
    concretePath: string,
    status: number,
    body: unknown,
    headers: Record<string, string | string[] | undefined> | Headers = {},
  ): ValidationResult {
    const found = this.operation(method, concretePath);
    if (!found) return { ok: false, declared: false, errors: [`no swagger operation for ${method} ${concretePath}`] };
    const { op, template } = found;
    const declaredResponse = op.responses[String(status)];
    const errors: string[] = [];
    let schema: Json | undefined = declaredResponse?.schema;
    if (!declaredResponse) {
      if (status < 400) {
        return { ok: false, declared: false, operationId: op.operationId, errors: [`status ${status} not declared`] };
      }
      schema = { $ref: '#/definitions/BasicFailedReply' };
    }
    if (schema) {
      const validate = this.validator(`${method} ${template} ${declaredResponse ? status : 'error'}`, schema);
      if (!validate(body)) {
        for (const e of validate.errors ?? []) {
          errors.push(`${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
        }
      }
    }
    const get = (name: string): string | undefined => {
      if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
      const v = (headers as Record<string, string | string[] | undefined>)[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
    // `x-cloud-error-codes` must carry a code the swagger declares for this status: for this operation, or (the
    // swagger's per-operation lists have gaps, e.g. no resource_not_found on get-deployment-es-resource-info) for the
    // same status on another deployments operation. Codes the swagger never names are listed in `KNOWN_EXTRA_CODES`.
    const code = get('x-cloud-error-codes');
    if (status >= 400) {
      if (code === undefined) errors.push('missing header x-cloud-error-codes');
      else if (!this.knownCodes(status).has(code) && !KNOWN_EXTRA_CODES.has(code)) {
        errors.push(`header x-cloud-error-codes: ${code} is not a code the swagger declares for status ${status}`);
      }
    }
    return { ok: errors.length === 0, declared: !!declaredResponse, operationId: op.operationId, errors };
  }
}

/**
 * Codes the sandbox uses that the swagger does not declare for the status (it has no 409 for deployments, and no
 * generic codes for unknown paths or injected faults). Keep in step with src/sandbox/cloud/errors.ts.
 */
export const KNOWN_EXTRA_CODES = new Set([
  'deployments.version_conflict',
  'deployments.deployment_resource_plan_change_error',
  'root.invalid_data',
  'root.unauthenticated',
  'root.invalid_authentication',
  'root.resource_not_found',
  'root.method_not_allowed',
  'root.internal_error',
  'root.rate_limited',
  'root.service_unavailable',
]);

let shared: CloudSwagger | undefined;
/** A lazily built shared instance (compiling the swagger takes a moment). */
export function cloudSwagger(): CloudSwagger {
  shared ??= new CloudSwagger();
  return shared;
}
