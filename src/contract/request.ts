/**
 * The ConnectRequest of the public contract (names users depend on: extend, never rename), validated with zod by the
 * client, the CLI and the workflow alike. No I/O here: the workflow bundle imports this file.
 *
 * Every value is bounded (length, items, nesting) and follows the grammar of where it ends up: a host name in a TLS
 * handshake and a certutil command line, a role name in a URL path, an index pattern in a privilege. Values that reach
 * instructions for the other organisation are shell-quoted there as well (domain/tlsCertificate.ts shellQuote).
 */
import { z } from 'zod';
import { DURATION_BOUNDS, durationProblem, type DurationBounds } from './duration';
import { MAX_CA_PEM_CHARS } from './handlers';
import { SECRET_NAME_RE, reservedSecretName } from './secretNames';

/** The limits a request must stay within (messages quote them). */
export const LIMITS = {
  /** The whole request, as JSON characters (string escapes not counted), checked before anything else. */
  requestChars: 256 * 1024,
  /** Elasticsearch's own limit for user and role names (Validation.java MAX_NAME_LENGTH). */
  nameChars: 507,
  /** Elasticsearch's limit for index names (MetadataCreateIndexService: 255 bytes, UTF-8). */
  indexNameBytes: 255,
  /** RFC 1123 / RFC 1035: a host name is at most 253 characters, a label at most 63. */
  hostnameChars: 253,
  urlChars: 2048,
  pemChars: MAX_CA_PEM_CHARS,
  /** Free text (a user's full name). */
  textChars: 1000,
  /** RFC 5321: an address in a path is at most 254 characters. */
  emailChars: 254,
  /** Privilege names (`read`, `indices:data/read/*`) and field names. */
  privilegeChars: 255,
  /** roles, users, access entries, names, privileges: far above what one connection needs. */
  items: 100,
  /** field_security grant/except lists: documents may have many fields. */
  fieldItems: 1000,
  /** A document-level-security query: nesting (objects and arrays) and size as JSON. */
  queryDepth: 32,
  queryChars: 16 * 1024,
  /** Problems reported at most (the rest are counted). */
  problems: 100,
} as const;

type Check = (value: string) => string | undefined;

/** A string with one check that returns the first problem: one message per field, naming what is allowed. */
function checked(check: Check) {
  return z.string().superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

const tooLong = (max: number, what = 'characters') => `must be at most ${max} ${what}`;

/** C0/C1 controls, DEL, bidi overrides and isolates, zero-width and other format characters: never in a value. */
const INVISIBLE_RE = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\u2028\u2029]/u;

/** Length in UTF-8 bytes without TextEncoder (the workflow sandbox imports this file). */
function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

// ---- host names and addresses ---------------------------------------------------------------------------------------

const LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_RE = new RegExp(`^${IPV4_OCTET}(?:\\.${IPV4_OCTET}){3}$`);

/**
 * RFC 1123 host name: dot-separated labels of 1-63 letters, digits and hyphens, not starting or ending with a hyphen,
 * 253 characters at most. An all-digit last label is refused (RFC 3696: no top-level domain is numeric), so
 * `999.1.1.1` is neither a host name nor an address. No trailing dot, no underscore.
 */
export function isHostname(s: string): boolean {
  if (s.length < 1 || s.length > LIMITS.hostnameChars) return false;
  const labels = s.split('.');
  return labels.every((l) => LABEL_RE.test(l)) && !/^\d+$/.test(labels[labels.length - 1] as string);
}

/** Dotted-quad IPv4, no leading zeros (which some parsers read as octal). */
export function isIPv4(s: string): boolean {
  return IPV4_RE.test(s);
}

/** IPv6 text form (RFC 4291 §2.2): 8 groups, one `::`, an optional dotted IPv4 tail; no zone id. */
export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  let head = s;
  if (s.includes('.')) {
    const lastColon = s.lastIndexOf(':');
    if (lastColon < 0 || !isIPv4(s.slice(lastColon + 1))) return false;
    head = `${s.slice(0, lastColon + 1)}0:0`; // the IPv4 tail is two groups
  }
  const halves = head.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (!groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? groups.length <= 7 : groups.length === 8;
}

const HOST_GRAMMAR =
  'an RFC 1123 host name (labels of letters, digits and "-", at most 253 characters) or an IP address';

/** `remote.serverName`: what ECH sends as SNI and the certificate must cover (`--dns=`/`--ip=` of certutil). */
export const serverName = checked((s) => {
  if (s.length > LIMITS.hostnameChars) return tooLong(LIMITS.hostnameChars);
  return isHostname(s) || isIPv4(s) || isIPv6(s) ? undefined : `must be ${HOST_GRAMMAR}`;
});

/** `host:port`, `[v6]:port`; the same shape Elasticsearch accepts for `proxy_address`. */
export const hostPort = checked((v) => {
  if (v.length > LIMITS.hostnameChars + 8) return tooLong(LIMITS.hostnameChars + 8);
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  if (!m) return 'must be host:port (IPv6 as [addr]:port)';
  const [, v6, host, port] = m;
  if (v6 !== undefined ? !isIPv6(v6) : !(isHostname(host as string) || isIPv4(host as string))) {
    return `must be host:port, the host ${HOST_GRAMMAR} (IPv6 as [addr]:port)`;
  }
  const n = Number(port);
  return n > 0 && n < 65536 ? undefined : 'port must be between 1 and 65535';
});

export const httpsUrl = checked((u) => {
  if (u.length > LIMITS.urlChars) return tooLong(LIMITS.urlChars);
  // The URL parser silently drops tabs and newlines and decodes IDNs: what it parsed would not be what was written.
  if (!/^[\x21-\x7e]+$/.test(u)) return 'must be printable ASCII without spaces (percent-encode anything else)';
  if (!/^https:\/\//i.test(u)) return 'must be an https:// URL (TLS verification is never disabled)';
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return 'must be an https:// URL';
  }
  if (url.username || url.password) return 'must not carry credentials (user:password@): name them in a …Secret';
  const h = url.hostname;
  const hostOk = h.startsWith('[') ? isIPv6(h.slice(1, -1)) : isHostname(h) || isIPv4(h);
  if (!hostOk) return `must name a host that is ${HOST_GRAMMAR}`;
  if (url.search || url.hash) return 'must not have a query (?…) or fragment (#…)';
  return undefined;
});

// ---- names -----------------------------------------------------------------------------------------------------------

export const secretName = checked((name) => {
  if (!SECRET_NAME_RE.test(name)) return 'must name an environment variable or a file in ECH_REMOTE_SECRETS_DIR';
  const reserved = reservedSecretName(name);
  return reserved ? `may not be "${name}": ${reserved}` : undefined;
});

/** Role names Elasticsearch reserves (ReservedRolesStore) that this contract knows: users may reference them only. */
const BUILT_IN_ROLES = new Set(['kibana_admin', 'kibana_user', 'viewer', 'editor', 'monitoring_user', 'superuser']);
/** Users of Elasticsearch's reserved realm (ClientReservedRealm): "Username [elastic] is reserved". */
const RESERVED_USERNAMES = new Set([
  'elastic',
  'kibana',
  'kibana_system',
  'logstash_system',
  'beats_system',
  'apm_system',
  'remote_monitoring_user',
]);

/**
 * Role and user names. Elasticsearch (x-pack core security/support/Validation.java, isValidUserOrRoleName) takes 1-507
 * printable Basic Latin characters without leading or trailing space, and refuses reserved names. This contract keeps
 * its narrower set (letters, digits, _ @ . -), which is within that, and also refuses "." and "..": the names are
 * path segments of `/_security/role/<name>` and `/_security/user/<name>`, where encodeURIComponent leaves dots alone
 * and an HTTP client or proxy normalises `..` away, so the request would hit another endpoint after every ECH change.
 */
function esName(what: string, reserved: Set<string>, reservedWhy: string): Check {
  return (name) => {
    if (name.length > LIMITS.nameChars) return tooLong(LIMITS.nameChars);
    if (!/^[A-Za-z0-9_@.-]+$/.test(name)) return `${what} use 1-${LIMITS.nameChars} letters, digits, _ @ . -`;
    if (name === '.' || name === '..') return `${what} may not be "." or ".." (they are URL path segments)`;
    if (reserved.has(name)) return `may not be "${name}": ${reservedWhy}`;
    return undefined;
  };
}
const roleName = checked(esName('role names', BUILT_IN_ROLES, 'a role Elasticsearch reserves (built in)'));
const username = checked(esName('usernames', RESERVED_USERNAMES, 'a user Elasticsearch reserves (built in)'));
/** A role a user gets: one of `roles` or a built-in one (checked below), so any valid role name. */
const roleReference = checked(esName('role names', new Set(), ''));

/**
 * Index names and patterns (access `names`, privileges' `names`, verify.searchIndex), by Elasticsearch's index name
 * rules (MetadataCreateIndexService.validateIndexOrAliasName): lowercase, none of `\ / ? " < > |`, space, comma or
 * `#`, not starting with `-`, `_` or `+`, not "." or "..", at most 255 bytes. `*` is allowed (patterns). `:` is
 * refused everywhere: index names cannot hold it, and no field here takes a cluster-qualified `cluster:index` (the
 * cluster is `clusters`, or the alias the search is sent to). Lucene-regexp patterns (`/…/`) are not accepted.
 */
export const indexName = checked((name) => {
  if (utf8Bytes(name) > LIMITS.indexNameBytes) return tooLong(LIMITS.indexNameBytes, 'bytes (UTF-8)');
  if (name.length === 0) return 'must not be empty';
  if (INVISIBLE_RE.test(name)) return 'must not contain control or invisible characters';
  if (/[\\/?"<>| ,#:]/.test(name)) {
    return 'index names and patterns may not contain \\ / ? " < > | space , # or : (cluster:index is not taken here)';
  }
  if (name !== name.toLowerCase()) return 'index names and patterns must be lowercase';
  if (/^[-_+]/.test(name)) return 'index names and patterns may not start with -, _ or +';
  if (name === '.' || name === '..') return 'may not be "." or ".."';
  return undefined;
});

/** Privilege names: `read`, `monitor`, `indices:data/read/*`. No spaces, quotes or shell metacharacters. */
const privilegeName = checked((p) => {
  if (p.length > LIMITS.privilegeChars) return tooLong(LIMITS.privilegeChars);
  return /^[A-Za-z0-9_:/*.-]+$/.test(p) ? undefined : 'privileges use letters, digits, _ : / * . -';
});

/** Remote cluster aliases or patterns in `clusters` (`onprem-*`): an alias's characters plus `*`. */
const clusterPattern = checked((c) => {
  if (c.length > LIMITS.privilegeChars) return tooLong(LIMITS.privilegeChars);
  return /^[A-Za-z0-9_*.-]+$/.test(c) ? undefined : 'cluster aliases and patterns use letters, digits, _ * . -';
});

/** Field names and patterns of field-level security. */
const fieldName = checked((f) => {
  if (f.length > LIMITS.privilegeChars) return tooLong(LIMITS.privilegeChars);
  if (f.length === 0) return 'must not be empty';
  return INVISIBLE_RE.test(f) ? 'must not contain control or invisible characters' : undefined;
});

/**
 * TLS model `remote.nodeNames`: the full otherName of each node. They become instances.yml names, hence directory and
 * file names in certutil's zip (`<name>/<name>.crt`) and arguments of the copy commands: the same letters, digits,
 * _ . - as before, at most 251 characters (`<name>.key` must fit a 255-byte file name), not "." or ".." (a directory
 * name that escapes), not starting with "-" (read as an option).
 */
const nodeName = checked((n) => {
  if (n.length > 251) return tooLong(251);
  if (!/^[A-Za-z0-9_.-]+$/.test(n)) return 'node names use letters, digits, _ . -';
  if (n === '.' || n === '..') return 'may not be "." or ".." (node names become directory names)';
  if (n.startsWith('-')) return 'may not start with "-" (node names are command arguments)';
  return undefined;
});

/** ECH's Elasticsearch ref_id (`main-elasticsearch`): a resource id in Cloud API paths, hence a path segment. */
export const refId = checked((r) => {
  if (r.length > 128) return tooLong(128);
  if (!/^[A-Za-z0-9_.-]+$/.test(r)) return 'ref ids use letters, digits, _ . -';
  return r === '.' || r === '..' ? 'may not be "." or ".."' : undefined;
});

const freeText = checked((t) => {
  if (t.length > LIMITS.textChars) return tooLong(LIMITS.textChars);
  return INVISIBLE_RE.test(t)
    ? 'must not contain control or invisible characters (newlines, bidi overrides…)'
    : undefined;
});

const email = z
  .string()
  .max(LIMITS.emailChars, tooLong(LIMITS.emailChars))
  .pipe(z.string().email('must be an email address'));

export const pemCertificate = checked((p) => {
  if (p.length > LIMITS.pemChars) return tooLong(LIMITS.pemChars);
  // Printable ASCII and line breaks only; no backtick, so a PEM cannot close the code block it is shown in.
  if (!/^[\x20-\x5f\x61-\x7e\r\n\t]*$/.test(p)) return 'must be a PEM certificate (ASCII text, no backticks)';
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(p)) return 'must be a PEM certificate';
  if (/PRIVATE KEY-----/.test(p)) return 'must not contain a private key';
  return undefined;
});

export function boundedDuration(bounds: DurationBounds) {
  return checked((v) => durationProblem(v, bounds));
}

/** An array of at most `max` items, with a message naming the limit. */
export function list<T extends z.ZodType>(item: T, max: number = LIMITS.items) {
  return z.array(item).max(max, `must have at most ${max} entries`);
}

// ---- document-level security query ----------------------------------------------------------------------------------

/**
 * Why a DLS `query` is refused, or undefined. Walked with an explicit stack (never recursion, so no RangeError however
 * deep), stopping at the first level past the depth limit or the first character past the size limit.
 */
export function queryProblem(query: unknown): string | undefined {
  const tooBig = `must be at most ${LIMITS.queryChars} characters as JSON`;
  if (typeof query === 'string') return query.length > LIMITS.queryChars ? tooBig : undefined;
  let chars = 0;
  const stack: { value: unknown; depth: number }[] = [{ value: query, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop() as { value: unknown; depth: number };
    if (typeof value === 'string') chars += value.length + 2;
    else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return 'must be JSON (a number here is not finite)';
      chars += String(value).length;
    } else if (typeof value === 'boolean' || value === null) chars += 5;
    else if (typeof value === 'object') {
      if (depth > LIMITS.queryDepth) return `must nest at most ${LIMITS.queryDepth} levels of objects and arrays`;
      const proto = Object.getPrototypeOf(value);
      if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return 'must be plain JSON';
      const entries = Array.isArray(value) ? value.map((v) => ['', v] as const) : Object.entries(value);
      chars += 2;
      for (const [key, child] of entries) {
        if (key === '__proto__') return 'must not have a "__proto__" key';
        chars += key.length + 4;
        if (chars > LIMITS.queryChars) return tooBig;
        stack.push({ value: child, depth: depth + 1 });
      }
    } else return `must be JSON (not ${typeof value})`;
    if (chars > LIMITS.queryChars) return tooBig;
  }
  return undefined;
}

const dlsQuery = z.union([z.string(), z.record(z.string(), z.unknown())]).superRefine((q, ctx) => {
  const problem = queryProblem(q);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

// ---- the request ------------------------------------------------------------------------------------------------------

const indexNames = list(indexName).min(1, 'must list at least one index name or pattern');

const fieldSecurity = z
  .object({
    grant: list(fieldName, LIMITS.fieldItems).optional(),
    except: list(fieldName, LIMITS.fieldItems).optional(),
  })
  .strict();

/** Cross-cluster API key access, in Elasticsearch's own field names (it is sent as-is). */
export const searchAccess = z
  .object({
    names: indexNames,
    query: dlsQuery.optional(),
    field_security: fieldSecurity.optional(),
    allow_restricted_indices: z.boolean().optional(),
  })
  .strict();
export const replicationAccess = z
  .object({ names: indexNames, allow_restricted_indices: z.boolean().optional() })
  .strict();
export const access = z
  .object({ search: list(searchAccess).optional(), replication: list(replicationAccess).optional() })
  .strict();

/**
 * What Elasticsearch checks of a cross-cluster key's access (CrossClusterApiKeyRoleDescriptorBuilder): search or
 * replication, and no DLS/FLS on search beside replication. Shared by every request that carries an `access`.
 */
export function checkCrossClusterAccess(
  access: { search?: { query?: unknown; field_security?: unknown }[]; replication?: unknown[] } | undefined,
  ctx: z.RefinementCtx,
  suffix = '',
): void {
  const search = access?.search ?? [];
  const replication = access?.replication ?? [];
  if (search.length === 0 && replication.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['access'],
      message: `must specify non-empty access for either [search] or [replication]${suffix}`,
    });
  }
  if (replication.length > 0 && search.some((s) => s.query !== undefined || s.field_security !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['access', 'search'],
      message: 'search does not support document or field level security if replication is assigned',
    });
  }
}

const privileges = list(privilegeName).min(1);

const remoteIndicesPrivilege = z
  .object({
    clusters: list(clusterPattern).min(1).optional(), // default: [alias]
    names: indexNames,
    privileges,
    query: dlsQuery.optional(),
    fieldSecurity: fieldSecurity.optional(),
    allowRestrictedIndices: z.boolean().optional(),
  })
  .strict();

const indicesPrivilege = z.object({ names: indexNames, privileges }).strict();

export const roleSpec = z
  .object({
    name: roleName,
    cluster: list(privilegeName).optional(),
    indices: list(indicesPrivilege).optional(),
    remoteIndices: list(remoteIndicesPrivilege).optional(),
    remoteCluster: list(
      z
        .object({
          clusters: list(clusterPattern).min(1).optional(),
          privileges: list(z.enum(['monitor_enrich', 'monitor_stats'])).min(1),
        })
        .strict(),
    ).optional(),
    /** TLS-certificate model: the role of the same name on the remote cluster. */
    remote: z
      .object({ cluster: list(privilegeName).optional(), indices: list(indicesPrivilege) })
      .strict()
      .optional(),
  })
  .strict();

export const userSpec = z
  .object({
    username,
    roles: list(roleReference),
    passwordSecret: secretName,
    fullName: freeText.optional(),
    email: email.optional(),
  })
  .strict();

export const connectRequestSchema = z
  .object({
    alias: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1-64 lowercase letters, digits, "-" or "_"'),
    securityModel: z.enum(['api-key', 'tls-certificate']),
    local: z
      .object({
        deploymentId: z.string().regex(/^[a-z0-9]{32}$/, 'must be a 32-character ECH deployment id'),
        refId: refId.optional(),
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
        serverName: serverName.optional(),
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
        nodeNames: list(nodeName).min(1).optional(),
      })
      .strict(),
    access: access.optional(),
    keyExpiration: boundedDuration(DURATION_BOUNDS.keyExpiration).optional(),
    roles: list(roleSpec).default([]),
    users: list(userSpec).default([]),
    approvals: z
      .object({
        beforeLocalChanges: z.boolean().default(true),
        timeout: boundedDuration(DURATION_BOUNDS.approvalTimeout).default('7d'),
      })
      .strict()
      .default({ beforeLocalChanges: true, timeout: '7d' }),
    /** How long a human step may wait before the run ends cleanly (each step). */
    humanStepTimeout: boundedDuration(DURATION_BOUNDS.humanStepTimeout).default('7d'),
    verify: z
      .object({
        searchIndex: indexName.optional(),
        timeout: boundedDuration(DURATION_BOUNDS.verifyTimeout).default('2m'),
      })
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
      checkCrossClusterAccess(r.access, ctx, ' (api-key model)');
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

type PathItem = string | number | symbol;

/** Segments of a path shown at most: a problem 100 000 levels deep is named by where it starts. */
const MAX_PATH_SEGMENTS = 40;

/** `$.remote.proxyAddress`, `$.roles[0].name`, `$.query["a b"]`. */
function jsonPath(path: readonly PathItem[]): string {
  if (path.length > MAX_PATH_SEGMENTS) {
    return `${jsonPath(path.slice(0, MAX_PATH_SEGMENTS))}… (${path.length} levels deep)`;
  }
  return (
    '$' +
    path
      .map((p) =>
        typeof p === 'number'
          ? `[${p}]`
          : /^[A-Za-z_$][\w$]*$/.test(String(p))
            ? `.${String(p)}`
            : `[${JSON.stringify(String(p))}]`,
      )
      .join('')
  );
}

/**
 * The first problem of the request as a whole: larger than LIMITS.requestChars as JSON, or a `__proto__` key anywhere.
 * An explicit stack (no recursion: any depth, no RangeError), stopping at the first value that crosses the limit, so a
 * 10 MB request costs one look at the 10 MB string. The path is where the limit is crossed.
 */
function wholeRequestProblem(input: unknown): ValidationProblem | undefined {
  // Each frame points at its parent: a path is only built for the one problem reported (copying it per frame would
  // cost depth² on a request that is nothing but nesting).
  interface Frame {
    value: unknown;
    key?: PathItem;
    parent?: Frame;
  }
  const pathOf = (frame: Frame | undefined, last?: PathItem): string => {
    const path: PathItem[] = last === undefined ? [] : [last];
    for (let f = frame; f && f.key !== undefined; f = f.parent) path.push(f.key);
    return jsonPath(path.reverse());
  };
  const limit = LIMITS.requestChars;
  const tooBig = (frame: Frame, key?: PathItem): ValidationProblem => ({
    path: pathOf(frame, key),
    message: `the request is larger than ${limit} characters as JSON (${limit / 1024} KB, the limit of a ConnectRequest); it crosses the limit here`,
  });
  let chars = 0;
  const stack: Frame[] = [{ value: input }];
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    const value = frame.value;
    if (typeof value === 'string') chars += value.length + 2;
    else if (typeof value === 'object' && value !== null) {
      chars += 2;
      const keys: PathItem[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
      for (const key of keys) {
        if (key === '__proto__') return { path: pathOf(frame, key), message: 'no field may be named "__proto__"' };
        chars += (typeof key === 'string' ? key.length + 3 : 0) + 1;
        if (chars > limit) return tooBig(frame, key);
        stack.push({ value: (value as Record<PathItem, unknown>)[key], key, parent: frame });
      }
    } else chars += 5;
    if (chars > limit) return tooBig(frame);
  }
  return undefined;
}

/**
 * `$.remote.proxyAddress`-style JSON paths, one per problem (at most LIMITS.problems). Never throws: hostile input
 * (getters that throw, a structure too deep for the host) is reported as a problem, not an exception.
 */
export function validateConnectRequest(
  input: unknown,
): { ok: true; request: ConnectRequest } | { ok: false; problems: ValidationProblem[] } {
  return validateWith(connectRequestSchema, input);
}

/**
 * Validate `input` with `schema` (every request of the contract goes through here): the whole-request limits first,
 * then the schema; one problem per JSON path.
 */
export function validateWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; request: z.output<S> } | { ok: false; problems: ValidationProblem[] } {
  try {
    const whole = wholeRequestProblem(input);
    if (whole) return { ok: false, problems: [whole] };
    const parsed = schema.safeParse(input);
    if (parsed.success) return { ok: true, request: parsed.data };
    const problems = parsed.error.issues.flatMap((i): ValidationProblem[] =>
      // One problem per unknown field, at its own path (zod reports them together at the parent).
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => ({ path: jsonPath([...i.path, k]), message: 'is not a field of the request here' }))
        : [{ path: jsonPath(i.path), message: i.message }],
    );
    if (problems.length <= LIMITS.problems) return { ok: false, problems };
    return {
      ok: false,
      problems: [
        ...problems.slice(0, LIMITS.problems),
        { path: '$', message: `and ${problems.length - LIMITS.problems} more problems (not listed)` },
      ],
    };
  } catch (err) {
    return {
      ok: false,
      problems: [{ path: '$', message: `could not be validated: ${err instanceof Error ? err.message : String(err)}` }],
    };
  }
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

export function formatProblems(problems: ValidationProblem[], requestName = 'ConnectRequest'): string {
  return (
    `Invalid ${requestName} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
    problems.map((p) => `- ${p.path}: ${p.message}`).join('\n')
  );
}
