/**
 * The ConnectRequest of the contract (../shared/docs/contract.md), validated with zod by the client, the CLI and the
 * workflow alike. No I/O here: the workflow bundle imports this file.
 */
import { z } from 'zod';
import { DURATION_RE } from './duration';
import { SECRET_NAME_RE, reservedSecretName } from './secretNames';

const secretName = z
  .string()
  .regex(SECRET_NAME_RE, 'must name an environment variable or a file in ECH_REMOTE_SECRETS_DIR')
  .superRefine((name, ctx) => {
    const reserved = reservedSecretName(name);
    if (reserved) ctx.addIssue({ code: 'custom', message: `may not be "${name}": ${reserved}` });
  });

const duration = z.string().regex(DURATION_RE, 'must be a duration such as "90d", "12h", "30m" or "45s"');

const httpsUrl = z
  .string()
  .url()
  .refine((u) => u.startsWith('https://'), 'must be an https:// URL (TLS verification is never disabled)');

const pemCertificate = z
  .string()
  .refine((p) => /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(p), 'must be a PEM certificate')
  .refine((p) => !/PRIVATE KEY-----/.test(p), 'must not contain a private key');

/** `host:port`, `[v6]:port`; the same shape Elasticsearch accepts for `proxy_address`. */
export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/, 'must be host:port (IPv6 as [addr]:port)')
  .refine((v) => {
    const port = Number(/:(\d+)$/.exec(v)?.[1] ?? '1');
    return port > 0 && port < 65536;
  }, 'port must be between 1 and 65535');

const indexNames = z.array(z.string().min(1)).min(1);

const fieldSecurity = z
  .object({ grant: z.array(z.string()).optional(), except: z.array(z.string()).optional() })
  .strict();

/** Cross-cluster API key access, in Elasticsearch's own field names (it is sent as-is). */
export const searchAccess = z
  .object({
    names: indexNames,
    query: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
    field_security: fieldSecurity.optional(),
    allow_restricted_indices: z.boolean().optional(),
  })
  .strict();
export const replicationAccess = z
  .object({ names: indexNames, allow_restricted_indices: z.boolean().optional() })
  .strict();
export const access = z
  .object({ search: z.array(searchAccess).optional(), replication: z.array(replicationAccess).optional() })
  .strict();

const remoteIndicesPrivilege = z
  .object({
    clusters: z.array(z.string().min(1)).min(1).optional(), // default: [alias]
    names: indexNames,
    privileges: z.array(z.string().min(1)).min(1),
    query: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
    fieldSecurity: fieldSecurity.optional(),
    allowRestrictedIndices: z.boolean().optional(),
  })
  .strict();

const indicesPrivilege = z.object({ names: indexNames, privileges: z.array(z.string().min(1)).min(1) }).strict();

export const roleSpec = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_@.-]{1,507}$/, 'role names use letters, digits, _ @ . -'),
    cluster: z.array(z.string()).optional(),
    indices: z.array(indicesPrivilege).optional(),
    remoteIndices: z.array(remoteIndicesPrivilege).optional(),
    remoteCluster: z
      .array(
        z
          .object({
            clusters: z.array(z.string().min(1)).min(1).optional(),
            privileges: z.array(z.enum(['monitor_enrich', 'monitor_stats'])).min(1),
          })
          .strict(),
      )
      .optional(),
    /** TLS-certificate model: the role of the same name on the remote cluster. */
    remote: z
      .object({ cluster: z.array(z.string()).optional(), indices: z.array(indicesPrivilege) })
      .strict()
      .optional(),
  })
  .strict();

export const userSpec = z
  .object({
    username: z.string().regex(/^[A-Za-z0-9_@.-]{1,507}$/, 'usernames use letters, digits, _ @ . -'),
    roles: z.array(z.string().min(1)),
    passwordSecret: secretName,
    fullName: z.string().optional(),
    email: z.string().email().optional(),
  })
  .strict();

export const connectRequestSchema = z
  .object({
    alias: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1-64 lowercase letters, digits, "-" or "_"'),
    securityModel: z.enum(['api-key', 'tls-certificate']),
    local: z
      .object({
        deploymentId: z.string().regex(/^[a-z0-9]{32}$/, 'must be a 32-character ECH deployment id'),
        refId: z.string().min(1).optional(),
        cloud: z
          // Absent: the endpoint the worker binds apiKeySecret to (ECH_REMOTE_SECRET_BINDINGS); given, it must be that one.
          .object({ endpoint: httpsUrl.optional(), apiKeySecret: secretName })
          .strict(),
        elasticsearch: z.object({ url: httpsUrl.optional(), credentialsSecret: secretName }).strict(),
      })
      .strict(),
    remote: z
      .object({
        proxyAddress: hostPort,
        serverName: z.string().min(1).optional(),
        ca: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('public') }).strict(),
          z.object({ kind: z.literal('private'), pem: pemCertificate }).strict(),
        ]),
        elasticsearch: z
          .object({ url: httpsUrl, credentialsSecret: secretName, caPem: pemCertificate.optional() })
          .strict()
          .optional(),
        /**
         * TLS model: the self-managed nodes. With transport certificates whose otherName is outside the Cloud pattern,
         * the full otherName of every node (ECH's additional_node_names and the trust-restrictions file); for a
         * certificate re-issue, the node names of instances.yml (default: the node the worker sees).
         */
        nodeNames: z
          .array(z.string().regex(/^[A-Za-z0-9_.-]{1,255}$/, 'node names use letters, digits, _ . -'))
          .min(1)
          .optional(),
      })
      .strict(),
    access: access.optional(),
    keyExpiration: duration.optional(),
    roles: z.array(roleSpec).default([]),
    users: z.array(userSpec).default([]),
    approvals: z
      .object({ beforeLocalChanges: z.boolean().default(true), timeout: duration.default('7d') })
      .strict()
      .default({ beforeLocalChanges: true, timeout: '7d' }),
    /** How long a human step may wait before the run ends cleanly (each step). */
    humanStepTimeout: duration.default('7d'),
    verify: z
      .object({ searchIndex: z.string().min(1).optional(), timeout: duration.default('2m') })
      .strict()
      .default({ timeout: '2m' }),
    skipUnavailable: z.boolean().default(true),
    proxySocketConnections: z.number().int().min(1).max(1024).optional(),
    onFailure: z.enum(['rollback', 'keep']).default('rollback'),
    dryRun: z.boolean().default(false),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.securityModel === 'api-key') {
      if (r.remote.nodeNames) {
        ctx.addIssue({
          code: 'custom',
          path: ['remote', 'nodeNames'],
          message: 'only for securityModel "tls-certificate"',
        });
      }
      const search = r.access?.search ?? [];
      const replication = r.access?.replication ?? [];
      if (search.length === 0 && replication.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['access'],
          message: 'must specify non-empty access for either [search] or [replication] (api-key model)',
        });
      }
      if (replication.length > 0 && search.some((s) => s.query !== undefined || s.field_security !== undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['access', 'search'],
          message: 'search does not support document or field level security if replication is assigned',
        });
      }
    } else {
      if (r.access) {
        ctx.addIssue({
          code: 'custom',
          path: ['access'],
          message: 'only for securityModel "api-key" (the TLS model grants access through same-named remote roles)',
        });
      }
      if (r.keyExpiration) {
        ctx.addIssue({ code: 'custom', path: ['keyExpiration'], message: 'only for securityModel "api-key"' });
      }
    }
    const roleNames = new Set(r.roles.map((x) => x.name));
    r.users.forEach((u, i) =>
      u.roles.forEach((role, j) => {
        if (!roleNames.has(role) && !BUILT_IN_ROLES.has(role)) {
          ctx.addIssue({
            code: 'custom',
            path: ['users', i, 'roles', j],
            message: `role "${role}" is neither in "roles" nor a built-in role`,
          });
        }
      }),
    );
  });

const BUILT_IN_ROLES = new Set(['kibana_admin', 'kibana_user', 'viewer', 'editor', 'monitoring_user', 'superuser']);

/** What a user writes (defaults optional). */
export type ConnectRequestInput = z.input<typeof connectRequestSchema>;
/** What the workflow works with (defaults applied). */
export type ConnectRequest = z.output<typeof connectRequestSchema>;
export type RoleSpec = z.output<typeof roleSpec>;
export type UserSpec = z.output<typeof userSpec>;
export type Access = z.output<typeof access>;

export interface ValidationProblem {
  path: string;
  message: string;
}

/** `$.remote.proxyAddress`-style JSON paths, one per problem. */
export function validateConnectRequest(
  input: unknown,
): { ok: true; request: ConnectRequest } | { ok: false; problems: ValidationProblem[] } {
  const parsed = connectRequestSchema.safeParse(input);
  if (parsed.success) return { ok: true, request: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((i) => ({
      path: '$' + i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join(''),
      message: i.message,
    })),
  };
}

/**
 * Whether two https URLs name the same endpoint (host case, default port and trailing slashes aside). Pure string
 * work, so the workflow can use it.
 */
export function sameHttpsEndpoint(a: string, b: string): boolean {
  const norm = (u: string): string | undefined => {
    const m = /^https:\/\/([^/:?#@]+)(?::(\d+))?(\/[^?#]*)?$/i.exec(u.trim());
    if (!m) return undefined;
    return `${m[1]!.toLowerCase()}:${m[2] ?? '443'}${(m[3] ?? '').replace(/\/+$/, '')}`;
  };
  const x = norm(a);
  return x !== undefined && x === norm(b);
}

export function formatProblems(problems: ValidationProblem[]): string {
  return (
    `Invalid ConnectRequest (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
    problems.map((p) => `- ${p.path}: ${p.message}`).join('\n')
  );
}
