/**
 * Security realm of a simulated cluster: native users, roles, REST and cross-cluster API keys, authentication of the
 * HTTP layer and of the remote cluster server, and privilege checks with Elasticsearch's error messages.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EsError, badRequest, securityError, validationError } from './errors';
import { supportsRemoteClusterRoleField, supportsRemoteIndicesRoleField, versionAtLeast } from './compat';

export interface IndicesPrivileges {
  names: string[];
  privileges: string[];
  query?: unknown;
  field_security?: unknown;
  allow_restricted_indices?: boolean;
}

export interface RemoteIndicesPrivileges extends IndicesPrivileges {
  clusters: string[];
}

export interface RoleDescriptor {
  cluster?: string[];
  indices?: IndicesPrivileges[];
  remote_indices?: RemoteIndicesPrivileges[];
  remote_cluster?: { clusters: string[]; privileges: string[] }[];
  applications?: unknown[];
  run_as?: string[];
  metadata?: Record<string, unknown>;
  transient_metadata?: Record<string, unknown>;
  description?: string;
}

export interface User {
  username: string;
  passwordHash: string;
  roles: string[];
  full_name: string | null;
  email: string | null;
  metadata: Record<string, unknown>;
  enabled: boolean;
  realm: 'reserved' | 'default_native';
}

export interface CrossClusterAccess {
  search?: { names: string[]; query?: unknown; field_security?: unknown; allow_restricted_indices?: boolean }[];
  replication?: { names: string[]; allow_restricted_indices?: boolean }[];
}

export interface ApiKey {
  id: string;
  name: string;
  type: 'rest' | 'cross_cluster';
  secretHash: string;
  creation: number;
  expiration?: number;
  invalidated: boolean;
  invalidation?: number;
  username: string;
  realm: string;
  realm_type: string;
  metadata: Record<string, unknown>;
  role_descriptors: Record<string, RoleDescriptor>;
  /** Owner's roles at creation time (what the key is limited by); absent for cross-cluster keys. */
  limited_by?: Record<string, RoleDescriptor>;
  access?: CrossClusterAccess;
}

export interface Authentication {
  username: string;
  roles: string[];
  realm: { name: string; type: string };
  user?: User;
  apiKey?: ApiKey;
}

/** Predefined cluster privilege names (ClusterPrivilegeResolver, 8.17), in the order ES lists them (sorted). */
const CLUSTER_PRIVILEGE_NAMES = [
  'all',
  'cancel_task',
  'create_snapshot',
  'cross_cluster_replication',
  'cross_cluster_search',
  'delegate_pki',
  'grant_api_key',
  'manage',
  'manage_api_key',
  'manage_autoscaling',
  'manage_behavioral_analytics',
  'manage_ccr',
  'manage_data_frame_transforms',
  'manage_data_stream_global_retention',
  'manage_enrich',
  'manage_ilm',
  'manage_inference',
  'manage_ingest_pipelines',
  'manage_logstash_pipelines',
  'manage_ml',
  'manage_oidc',
  'manage_own_api_key',
  'manage_pipeline',
  'manage_rollup',
  'manage_saml',
  'manage_search_application',
  'manage_search_query_rules',
  'manage_search_synonyms',
  'manage_security',
  'manage_service_account',
  'manage_slm',
  'manage_token',
  'manage_transform',
  'manage_user_profile',
  'manage_watcher',
  'monitor',
  'monitor_data_frame_transforms',
  'monitor_data_stream_global_retention',
  'monitor_enrich',
  'monitor_inference',
  'monitor_ml',
  'monitor_rollup',
  'monitor_snapshot',
  'monitor_stats',
  'monitor_text_structure',
  'monitor_transform',
  'monitor_watcher',
  'none',
  'post_behavioral_analytics_event',
  'read_ccr',
  'read_connector_secrets',
  'read_fleet_secrets',
  'read_ilm',
  'read_pipeline',
  'read_security',
  'read_slm',
  'transport_client',
  'write_connector_secrets',
  'write_fleet_secrets',
];
/** Predefined index privilege names (IndexPrivilege, 8.17). */
const INDEX_PRIVILEGE_NAMES = [
  'all',
  'auto_configure',
  'create',
  'create_doc',
  'create_index',
  'cross_cluster_replication',
  'cross_cluster_replication_internal',
  'delete',
  'delete_index',
  'index',
  'maintenance',
  'manage',
  'manage_data_stream_lifecycle',
  'manage_follow_index',
  'manage_ilm',
  'manage_leader_index',
  'monitor',
  'none',
  'read',
  'read_cross_cluster',
  'view_index_metadata',
  'write',
];
/** Raw action names and patterns are accepted as privileges (ClusterPrivilegeResolver.isClusterAction, IndexPrivilege). */
const CLUSTER_ACTION_RE = /^(?:cluster:|indices:admin\/template\/|indices:admin\/index_template\/)/;
const INDEX_ACTION_RE = /^(?:indices:|internal:transport\/proxy\/indices:)/;

const CLUSTER_IMPLIES: Record<string, string[]> = {
  all: ['*'],
  manage: ['monitor', 'manage_ccr', 'read_ccr', 'manage_ilm', 'manage_index_templates', 'manage_pipeline'],
  manage_security: ['manage_api_key', 'manage_own_api_key', 'read_security', 'manage_service_account'],
  manage_api_key: ['manage_own_api_key'],
  read_security: [],
};

const INDEX_IMPLIES: Record<string, string[]> = {
  all: ['*'],
  write: ['index', 'create', 'create_doc', 'delete'],
  index: ['create', 'create_doc'],
  create: ['create_doc'],
  manage: ['create_index', 'view_index_metadata', 'monitor', 'delete_index'],
};

function implies(table: Record<string, string[]>, held: string, wanted: string): boolean {
  if (held === wanted) return true;
  const implied = table[held] ?? [];
  return implied.includes('*') || implied.some((i) => implies(table, i, wanted));
}

/** Elasticsearch-style wildcard match (`*` and `?`), used for index names, cluster aliases and key names. */
export function wildcardMatch(pattern: string, value: string): boolean {
  if (pattern.startsWith('/') && pattern.endsWith('/') && pattern.length > 1) {
    return new RegExp(`^${pattern.slice(1, -1)}$`).test(value);
  }
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(value);
}

export const SUPERUSER: RoleDescriptor = {
  cluster: ['all'],
  indices: [{ names: ['*'], privileges: ['all'], allow_restricted_indices: true }],
  remote_indices: [{ clusters: ['*'], names: ['*'], privileges: ['all'], allow_restricted_indices: false }],
  applications: [{ application: '*', privileges: ['*'], resources: ['*'] }],
  run_as: ['*'],
  metadata: { _reserved: true },
  transient_metadata: { enabled: true },
};

const RESERVED_ROLES: Record<string, RoleDescriptor> = {
  superuser: SUPERUSER,
  monitoring_user: { cluster: ['monitor'], metadata: { _reserved: true } },
  viewer: {
    cluster: ['monitor'],
    indices: [{ names: ['*'], privileges: ['read', 'view_index_metadata'] }],
    metadata: { _reserved: true },
  },
};

/** Cluster action name → privileges that grant it, in Elasticsearch's order for error messages. */
export const CLUSTER_ACTIONS = {
  main: ['cluster:monitor/main', ['monitor', 'manage', 'all']],
  license: ['cluster:monitor/xpack/license/get', ['monitor', 'manage', 'all']],
  settingsGet: ['cluster:monitor/settings', ['monitor', 'manage', 'all']],
  settingsPut: ['cluster:admin/settings/update', ['manage', 'all']],
  remoteInfo: ['cluster:monitor/remote/info', ['monitor', 'manage', 'all']],
  sslCertificates: ['cluster:monitor/xpack/ssl/certificates/get', ['monitor', 'manage', 'all']],
  nodesInfo: ['cluster:monitor/nodes/info', ['monitor', 'manage', 'all']],
  reloadSecureSettings: ['cluster:admin/nodes/reload_secure_settings', ['manage', 'all']],
  crossClusterKeyCreate: ['cluster:admin/xpack/security/cross_cluster/api_key/create', ['manage_security', 'all']],
  crossClusterKeyUpdate: ['cluster:admin/xpack/security/cross_cluster/api_key/update', ['manage_security', 'all']],
  apiKeyCreate: [
    'cluster:admin/xpack/security/api_key/create',
    ['manage_own_api_key', 'manage_api_key', 'manage_security', 'all'],
  ],
  apiKeyGet: [
    'cluster:admin/xpack/security/api_key/get',
    ['manage_own_api_key', 'manage_api_key', 'manage_security', 'all'],
  ],
  apiKeyInvalidate: [
    'cluster:admin/xpack/security/api_key/invalidate',
    ['manage_own_api_key', 'manage_api_key', 'manage_security', 'all'],
  ],
  rolePut: ['cluster:admin/xpack/security/role/put', ['manage_security', 'all']],
  roleGet: ['cluster:admin/xpack/security/role/get', ['read_security', 'manage_security', 'all']],
  roleDelete: ['cluster:admin/xpack/security/role/delete', ['manage_security', 'all']],
  userPut: ['cluster:admin/xpack/security/user/put', ['manage_security', 'all']],
  userGet: ['cluster:admin/xpack/security/user/get', ['read_security', 'manage_security', 'all']],
  userDelete: ['cluster:admin/xpack/security/user/delete', ['manage_security', 'all']],
  ccrStats: ['cluster:monitor/ccr/stats', ['monitor', 'manage', 'all']],
  ccrAutoFollowGet: ['cluster:monitor/ccr/auto_follow_pattern/get', ['monitor', 'manage', 'all']],
  ccrAutoFollowPut: ['cluster:admin/xpack/ccr/auto_follow_pattern/put', ['manage_ccr', 'all']],
  ccrFollow: ['indices:admin/xpack/ccr/put_follow', ['manage_ccr', 'all']],
  transformGet: ['cluster:monitor/transform/get', ['monitor_transform', 'monitor', 'manage', 'all']],
  transformPut: ['cluster:admin/transform/put', ['manage_transform', 'manage', 'all']],
  datafeedsGet: ['cluster:monitor/xpack/ml/datafeeds/get', ['monitor_ml', 'monitor', 'manage', 'all']],
} as const satisfies Record<string, readonly [string, readonly string[]]>;

export type ClusterAction = keyof typeof CLUSTER_ACTIONS;

export const INDEX_ACTIONS = {
  search: ['indices:data/read/search', ['read', 'all']],
  create: ['indices:admin/create', ['create_index', 'manage', 'all']],
  index: ['indices:data/write/index', ['create_doc', 'create', 'index', 'write', 'all']],
  resolve: ['indices:admin/resolve/cluster', ['view_index_metadata', 'manage', 'all']],
} as const satisfies Record<string, readonly [string, readonly string[]]>;

export type IndexAction = keyof typeof INDEX_ACTIONS;

function hash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

function randomId(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

const TIME_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Elasticsearch time values such as "30d", "1h" (used for API key expiration). */
export function parseTimeValue(value: unknown, setting: string): number {
  const m = typeof value === 'string' ? /^(\d+)(ms|s|m|h|d)$/.exec(value.trim()) : null;
  if (!m) {
    throw badRequest(
      `failed to parse setting [${setting}] with value [${String(value)}] as a time value: unit is missing or unrecognized`,
      'illegal_argument_exception',
    );
  }
  return Number(m[1]) * TIME_UNITS_MS[m[2]!]!;
}

export function basicAuthHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export class SecurityRealm {
  readonly users = new Map<string, User>();
  readonly roles = new Map<string, RoleDescriptor>();
  readonly apiKeys = new Map<string, ApiKey>();
  /** Every API key secret handed out (Elasticsearch keeps only a hash): tests look for them where they must not be. */
  readonly issuedApiKeySecrets: { id: string; apiKey: string; encoded: string }[] = [];

  constructor(
    private readonly version: string,
    elasticPassword: string,
    private readonly now: () => number = Date.now,
  ) {
    this.users.set('elastic', {
      username: 'elastic',
      passwordHash: hash(elasticPassword),
      roles: ['superuser'],
      full_name: null,
      email: null,
      metadata: { _reserved: true },
      enabled: true,
      realm: 'reserved',
    });
  }

  // ---- authentication -------------------------------------------------------------------------------------------

  /** Authenticate an HTTP request's Authorization header as the REST layer does. */
  authenticateRest(authorization: string | undefined, path: string): Authentication {
    const challenge = { header: { 'WWW-Authenticate': ['Basic realm="security", charset="UTF-8"', 'ApiKey'] } };
    if (!authorization) {
      throw securityError(401, `missing authentication credentials for REST request [${path}]`, challenge);
    }
    const [scheme, token = ''] = authorization.trim().split(/\s+/, 2);
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const username = colon >= 0 ? decoded.slice(0, colon) : decoded;
      const password = colon >= 0 ? decoded.slice(colon + 1) : '';
      const user = this.users.get(username);
      if (!user || !user.enabled || !sameHash(user.passwordHash, hash(password))) {
        throw securityError(401, `unable to authenticate user [${username}] for REST request [${path}]`, challenge);
      }
      return {
        username,
        roles: user.roles,
        realm:
          user.realm === 'reserved'
            ? { name: 'reserved', type: 'reserved' }
            : { name: 'default_native', type: 'native' },
        user,
      };
    }
    if (scheme?.toLowerCase() === 'apikey') {
      const key = this.verifyApiKey(token);
      if ('failure' in key) {
        throw securityError(
          401,
          'unable to authenticate with provided credentials and anonymous access is not allowed for this request',
          {
            additional_unsuccessful_credentials: `API key: ${key.failure}`,
            ...challenge,
          },
        );
      }
      if (key.apiKey.type !== 'rest') {
        throw securityError(
          401,
          `authentication expected API key type of [rest], but API key [${key.apiKey.id}] has type [${key.apiKey.type}]`,
          challenge,
        );
      }
      return {
        username: key.apiKey.username,
        roles: [],
        realm: { name: '_es_api_key', type: '_es_api_key' },
        apiKey: key.apiKey,
      };
    }
    throw securityError(401, `missing authentication credentials for REST request [${path}]`, challenge);
  }

  /**
   * Check an encoded API key (base64 of `id:secret`). Returns the key, or the failure the remote cluster logs
   * ("Authentication using apikey failed - ...").
   */
  verifyApiKey(encoded: string): { apiKey: ApiKey } | { failure: string; id?: string } {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return { failure: 'invalid ApiKey value' };
    const id = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const apiKey = this.apiKeys.get(id);
    if (!apiKey) return { failure: `unable to find apikey with id ${id}`, id };
    if (!sameHash(apiKey.secretHash, hash(secret))) return { failure: `invalid credentials for API key [${id}]`, id };
    if (apiKey.invalidated) return { failure: 'api key has been invalidated', id };
    if (apiKey.expiration !== undefined && apiKey.expiration <= this.now())
      return { failure: 'api key is expired', id };
    return { apiKey };
  }

  // ---- authorization --------------------------------------------------------------------------------------------

  roleDescriptor(name: string): RoleDescriptor | undefined {
    return RESERVED_ROLES[name] ?? this.roles.get(name);
  }

  /** The role sets that must all grant an action: the user's roles, or an API key's own descriptors and its limit. */
  private roleSets(auth: Authentication): RoleDescriptor[][] {
    if (auth.apiKey) {
      const sets = [Object.values(auth.apiKey.limited_by ?? {})];
      const own = Object.values(auth.apiKey.role_descriptors);
      if (own.length > 0) sets.push(own);
      return sets;
    }
    return [auth.roles.map((r) => this.roleDescriptor(r)).filter((r): r is RoleDescriptor => !!r)];
  }

  hasClusterPrivilege(auth: Authentication, privilege: string): boolean {
    return this.roleSets(auth).every((set) =>
      set.some((r) => (r.cluster ?? []).some((held) => implies(CLUSTER_IMPLIES, held, privilege))),
    );
  }

  hasIndexPrivilege(auth: Authentication, index: string, privilege: string): boolean {
    return this.roleSets(auth).every((set) =>
      set.some((r) =>
        (r.indices ?? []).some(
          (ip) =>
            ip.names.some((n) => wildcardMatch(n, index)) &&
            ip.privileges.some((held) => implies(INDEX_IMPLIES, held, privilege)),
        ),
      ),
    );
  }

  private subjectText(auth: Authentication): string {
    if (auth.apiKey) return `API key id [${auth.apiKey.id}] of user [${auth.apiKey.username}]`;
    return `user [${auth.username}] with effective roles [${auth.roles.join(',')}]`;
  }

  requireCluster(auth: Authentication, action: ClusterAction): void {
    const [name, privileges] = CLUSTER_ACTIONS[action];
    if (privileges.some((p) => this.hasClusterPrivilege(auth, p))) return;
    throw securityError(
      403,
      `action [${name}] is unauthorized for ${this.subjectText(auth)}, this action is granted by the cluster privileges [${privileges.join(',')}]`,
    );
  }

  canOnIndex(auth: Authentication, action: IndexAction, index: string): boolean {
    const [, privileges] = INDEX_ACTIONS[action];
    return privileges.some((p) => this.hasIndexPrivilege(auth, index, p));
  }

  requireIndex(auth: Authentication, action: IndexAction, indices: string[]): void {
    const [name, privileges] = INDEX_ACTIONS[action];
    const denied = indices.filter((i) => !this.canOnIndex(auth, action, i));
    if (denied.length === 0) return;
    throw securityError(
      403,
      `action [${name}] is unauthorized for ${this.subjectText(auth)} on indices [${denied.join(',')}], this action is granted by the index privileges [${privileges.join(',')}]`,
    );
  }

  /** The remote_indices entries of the caller that apply to a cluster alias (API key model, local side). */
  remoteIndicesFor(auth: Authentication, alias: string): IndicesPrivileges[][] {
    return this.roleSets(auth).map((set) =>
      set.flatMap((r) =>
        (r.remote_indices ?? [])
          .filter((ri) => ri.clusters.some((c) => wildcardMatch(c, alias)))
          .map(({ clusters: _c, ...rest }) => rest),
      ),
    );
  }

  // ---- roles ----------------------------------------------------------------------------------------------------

  putRole(name: string, body: unknown): { created: boolean } {
    if (RESERVED_ROLES[name]) throw badRequest(`Role [${name}] is reserved and may not be used.`);
    if (!body || typeof body !== 'object')
      throw new EsError(400, 'parse_exception', `failed to parse role [${name}]. expected an object`);
    const role = body as RoleDescriptor & Record<string, unknown>;
    const known = [
      'cluster',
      'indices',
      'applications',
      'run_as',
      'metadata',
      'transient_metadata',
      'global',
      'description',
      'remote_indices',
      'remote_cluster',
    ];
    for (const field of Object.keys(role)) {
      const gated =
        (field === 'remote_indices' && !supportsRemoteIndicesRoleField(this.version)) ||
        (field === 'remote_cluster' && !supportsRemoteClusterRoleField(this.version));
      if (!known.includes(field) || gated) {
        throw new EsError(400, 'parse_exception', `failed to parse role [${name}]. unexpected field [${field}]`);
      }
    }
    // RoleDescriptor.parseRemoteIndex: `clusters` is required while parsing (a parse_exception, before validation).
    for (const ri of role.remote_indices ?? []) {
      if (ri.clusters === undefined || ri.clusters === null) {
        throw new EsError(
          400,
          'parse_exception',
          `failed to parse remote indices privileges for role [${name}]. missing required [clusters] field`,
        );
      }
    }
    for (const ri of role.remote_indices ?? []) {
      if (!Array.isArray(ri.clusters) || ri.clusters.length === 0) {
        throw validationError('remote index privileges must specify cluster names');
      }
    }
    // RoleDescriptorRequestValidator: every privilege name is a predefined one or an action pattern.
    const problems: string[] = [];
    for (const p of (role.cluster ?? []) as string[]) {
      const n = String(p).toLowerCase();
      if (!CLUSTER_ACTION_RE.test(n) && !CLUSTER_PRIVILEGE_NAMES.includes(n)) {
        problems.push(
          `unknown cluster privilege [${n}]. a privilege must be either one of the predefined cluster privilege names [${CLUSTER_PRIVILEGE_NAMES.join(',')}] or a pattern over one of the available cluster actions`,
        );
      }
    }
    for (const ip of [...(role.indices ?? []), ...(role.remote_indices ?? [])]) {
      for (const p of (ip.privileges ?? []) as string[]) {
        const n = String(p).toLowerCase();
        if (!INDEX_ACTION_RE.test(n) && !INDEX_PRIVILEGE_NAMES.includes(n)) {
          problems.push(
            `unknown index privilege [${n}]. a privilege must be either one of the predefined fixed indices privileges [${INDEX_PRIVILEGE_NAMES.join(',')}] or a pattern over one of the available index actions`,
          );
        }
      }
    }
    if (problems.length) throw validationError(...problems);
    for (const rc of role.remote_cluster ?? []) {
      const allowed = ['monitor_enrich', ...(versionAtLeast(this.version, '8.17.0') ? ['monitor_stats'] : [])];
      const bad = (rc.privileges ?? []).filter((p) => !allowed.includes(p));
      if (bad.length) {
        throw badRequest(
          `Invalid remote_cluster permissions found. Please remove the following: [${bad.join(', ')}] Only [${allowed.join(', ')}] are allowed`,
        );
      }
    }
    const created = !this.roles.has(name);
    this.roles.set(name, {
      cluster: role.cluster ?? [],
      indices: (role.indices ?? []).map((i) => ({ allow_restricted_indices: false, ...i })),
      applications: role.applications ?? [],
      run_as: role.run_as ?? [],
      metadata: role.metadata ?? {},
      transient_metadata: { enabled: true },
      ...(role.remote_indices
        ? { remote_indices: role.remote_indices.map((i) => ({ allow_restricted_indices: false, ...i })) }
        : {}),
      ...(role.remote_cluster ? { remote_cluster: role.remote_cluster } : {}),
      ...(role.description !== undefined ? { description: role.description } : {}),
    });
    return { created };
  }

  // ---- users ----------------------------------------------------------------------------------------------------

  putUser(username: string, body: Record<string, unknown> | undefined): { created: boolean } {
    const b = body ?? {};
    const existing = this.users.get(username);
    if (existing?.realm === 'reserved' && (b.roles !== undefined || b.metadata !== undefined)) {
      throw badRequest(`user [${username}] is reserved and only the password can be changed`);
    }
    const password = b.password;
    if (password === undefined && b.password_hash === undefined && !existing) {
      throw validationError('password must be specified unless you are updating an existing user');
    }
    if (typeof password === 'string' && password.length < 6) {
      throw validationError('passwords must be at least [6] characters long');
    }
    const user: User = {
      username,
      passwordHash: typeof password === 'string' ? hash(password) : (existing?.passwordHash ?? hash(randomId(12))),
      roles: Array.isArray(b.roles) ? (b.roles as string[]) : (existing?.roles ?? []),
      full_name: (b.full_name as string | undefined) ?? existing?.full_name ?? null,
      email: (b.email as string | undefined) ?? existing?.email ?? null,
      metadata: (b.metadata as Record<string, unknown> | undefined) ?? existing?.metadata ?? {},
      enabled: (b.enabled as boolean | undefined) ?? existing?.enabled ?? true,
      realm: existing?.realm ?? 'default_native',
    };
    this.users.set(username, user);
    return { created: !existing };
  }

  // ---- API keys -------------------------------------------------------------------------------------------------

  private ownerRoles(auth: Authentication): Record<string, RoleDescriptor> {
    if (auth.apiKey) return auth.apiKey.limited_by ?? {};
    return Object.fromEntries(auth.roles.map((r) => [r, this.roleDescriptor(r) ?? {}]));
  }

  createRestKey(auth: Authentication, body: Record<string, unknown> | undefined): Record<string, unknown> {
    const b = body ?? {};
    const name = requireKeyName(b);
    return this.storeNewKey(auth, b, name, {
      type: 'rest',
      realm: auth.apiKey ? auth.apiKey.realm : auth.realm.name,
      realm_type: auth.apiKey ? auth.apiKey.realm_type : auth.realm.type,
      role_descriptors: (b.role_descriptors as Record<string, RoleDescriptor> | undefined) ?? {},
      limited_by: this.ownerRoles(auth),
    });
  }

  /** What every new key shares (id, secret, expiration, owner, metadata), stored; answers the create response. */
  private storeNewKey(
    auth: Authentication,
    b: Record<string, unknown>,
    name: string,
    kind: Pick<ApiKey, 'type' | 'realm' | 'realm_type' | 'role_descriptors' | 'limited_by' | 'access'>,
  ): Record<string, unknown> {
    const expiration =
      b.expiration === undefined || b.expiration === null
        ? undefined
        : this.now() + parseTimeValue(b.expiration, 'expiration');
    const secret = randomId(16);
    const key: ApiKey = {
      id: randomId(15),
      name,
      secretHash: hash(secret),
      creation: this.now(),
      ...(expiration !== undefined ? { expiration } : {}),
      invalidated: false,
      username: auth.username,
      metadata: (b.metadata as Record<string, unknown> | undefined) ?? {},
      ...kind,
    };
    this.apiKeys.set(key.id, key);
    return this.createdResponse(key, secret);
  }

  private createdResponse(key: ApiKey, secret: string): Record<string, unknown> {
    const encoded = Buffer.from(`${key.id}:${secret}`).toString('base64');
    this.issuedApiKeySecrets.push({ id: key.id, apiKey: secret, encoded });
    return {
      id: key.id,
      name: key.name,
      ...(key.expiration !== undefined ? { expiration: key.expiration } : {}),
      api_key: secret,
      encoded,
    };
  }

  /**
   * RestCreateCrossClusterApiKeyAction's ConstructingObjectParser: `name` and `access` are constructor arguments, so a
   * request without them fails parsing (`Required [name]`) before it is authorized or anything else is looked at.
   */
  static requireCrossClusterKeyFields(b: Record<string, unknown> | undefined): void {
    const missing = ['name', 'access'].filter((f) => b?.[f] === undefined || b[f] === null);
    if (missing.length) throw badRequest(`Required [${missing.join(', ')}]`);
  }

  /** Domain page §3: the access rules of CrossClusterApiKeyRoleDescriptorBuilder, with its messages. */
  static crossClusterRoleDescriptor(access: unknown): { access: CrossClusterAccess; descriptor: RoleDescriptor } {
    const a = (access ?? {}) as CrossClusterAccess & Record<string, unknown>;
    for (const field of Object.keys(a)) {
      if (field !== 'search' && field !== 'replication') {
        throw new EsError(400, 'x_content_parse_exception', `[cross_cluster_api_key_request] unknown field [${field}]`);
      }
    }
    for (const [kind, allowed] of [
      ['search', ['names', 'query', 'field_security', 'allow_restricted_indices']],
      ['replication', ['names', 'allow_restricted_indices']],
    ] as const) {
      for (const entry of (a[kind] ?? []) as unknown as Record<string, unknown>[]) {
        for (const f of Object.keys(entry)) {
          if (kind === 'replication' && (f === 'query' || f === 'field_security')) {
            throw badRequest('replication does not support document or field level security');
          }
          if (!(allowed as readonly string[]).includes(f)) {
            throw new EsError(400, 'x_content_parse_exception', `[${kind}] unknown field [${f}]`);
          }
        }
        if (!Array.isArray(entry.names) || entry.names.length === 0) {
          throw new EsError(400, 'x_content_parse_exception', `[${kind}] failed to parse field [names]`);
        }
      }
    }
    const search = a.search ?? [];
    const replication = a.replication ?? [];
    if (search.length === 0 && replication.length === 0) {
      throw badRequest('must specify non-empty access for either [search] or [replication]');
    }
    if (replication.length > 0 && search.some((s) => s.query !== undefined || s.field_security !== undefined)) {
      throw badRequest('search does not support document or field level security if replication is assigned');
    }
    const cluster: string[] = [];
    if (search.length) cluster.push('cross_cluster_search', 'monitor_enrich');
    if (replication.length) cluster.push('cross_cluster_replication');
    // Stored as ES stores it (50_cross_cluster.yml): a DLS query as a JSON string, allow_restricted_indices filled in.
    const storedQuery = (q: unknown) => (typeof q === 'string' ? q : JSON.stringify(q));
    const indices: IndicesPrivileges[] = [
      ...search.map((s) => ({
        names: s.names,
        privileges: ['read', 'read_cross_cluster', 'view_index_metadata'],
        ...(s.field_security !== undefined ? { field_security: s.field_security } : {}),
        ...(s.query !== undefined ? { query: storedQuery(s.query) } : {}),
        allow_restricted_indices: s.allow_restricted_indices ?? false,
      })),
      ...replication.map((r) => ({
        names: r.names,
        privileges: ['cross_cluster_replication', 'cross_cluster_replication_internal'],
        allow_restricted_indices: r.allow_restricted_indices ?? false,
      })),
    ];
    // Access as Elasticsearch stores and shows it (GET _security/api_key): allow_restricted_indices filled in, a DLS
    // query kept as a JSON string. An update that resends what GET shows is then `updated: false` (50_cross_cluster.yml
    // of x-pack/plugin/src/yamlRestTest/resources/rest-api-spec/test/api_key; domain page §4c).
    const cleanAccess: CrossClusterAccess = {
      ...(search.length
        ? {
            search: search.map((s) => ({
              names: s.names,
              ...(s.field_security !== undefined ? { field_security: s.field_security } : {}),
              ...(s.query !== undefined ? { query: storedQuery(s.query) } : {}),
              allow_restricted_indices: s.allow_restricted_indices ?? false,
            })),
          }
        : {}),
      ...(replication.length
        ? {
            replication: replication.map((r) => ({
              names: r.names,
              allow_restricted_indices: r.allow_restricted_indices ?? false,
            })),
          }
        : {}),
    };
    return {
      access: cleanAccess,
      descriptor: {
        cluster,
        indices,
        applications: [],
        run_as: [],
        metadata: {},
        transient_metadata: { enabled: true },
      },
    };
  }

  createCrossClusterKey(auth: Authentication, body: Record<string, unknown> | undefined): Record<string, unknown> {
    const b = body ?? {};
    SecurityRealm.requireCrossClusterKeyFields(b);
    if (auth.apiKey) {
      throw badRequest(
        'authentication via API key not supported: An API key cannot be used to create a cross-cluster API key',
      );
    }
    const name = requireKeyName(b);
    const { access, descriptor } = SecurityRealm.crossClusterRoleDescriptor(b.access);
    return this.storeNewKey(auth, b, name, {
      type: 'cross_cluster',
      realm: auth.realm.name,
      realm_type: auth.realm.type,
      role_descriptors: { cross_cluster: descriptor },
      access,
    });
  }

  private ownedKey(auth: Authentication, id: string): ApiKey {
    const key = this.apiKeys.get(id);
    if (!key || key.username !== auth.username) {
      throw new EsError(
        404,
        'resource_not_found_exception',
        `no API key owned by requesting user found for ID [${id}]`,
      );
    }
    return key;
  }

  /** `PUT /_security/cross_cluster/api_key/{id}` (expectedType cross_cluster) and `PUT /_security/api_key/{id}` (rest). */
  updateKey(
    auth: Authentication,
    id: string,
    body: Record<string, unknown> | undefined,
    expectedType: 'rest' | 'cross_cluster',
  ): { updated: boolean } {
    if (auth.apiKey) {
      throw badRequest(
        expectedType === 'cross_cluster'
          ? 'authentication via API key not supported: An API key cannot be used to update a cross-cluster API key'
          : 'authentication via API key not supported: only the owner user can update an API key',
      );
    }
    const key = this.ownedKey(auth, id);
    if (key.type !== expectedType) {
      throw badRequest(`cannot update API key of type [${key.type}] while expected type is [${expectedType}]`);
    }
    if (key.invalidated) throw badRequest(`cannot update invalidated API key [${id}]`);
    if (key.expiration !== undefined && key.expiration <= this.now())
      throw badRequest(`cannot update expired API key [${id}]`);
    const b = body ?? {};
    const before = JSON.stringify([key.access, key.role_descriptors, key.metadata, key.expiration, key.limited_by]);
    if (expectedType === 'cross_cluster' && b.access !== undefined) {
      const { access, descriptor } = SecurityRealm.crossClusterRoleDescriptor(b.access);
      key.access = access;
      key.role_descriptors = { cross_cluster: descriptor };
    }
    if (expectedType === 'rest') {
      if (b.role_descriptors !== undefined) key.role_descriptors = b.role_descriptors as Record<string, RoleDescriptor>;
      key.limited_by = this.ownerRoles(auth);
    }
    if (b.metadata !== undefined) key.metadata = (b.metadata as Record<string, unknown>) ?? {};
    if (b.expiration !== undefined) {
      if (b.expiration === null) delete key.expiration;
      else key.expiration = this.now() + parseTimeValue(b.expiration, 'expiration');
    }
    return {
      updated:
        before !== JSON.stringify([key.access, key.role_descriptors, key.metadata, key.expiration, key.limited_by]),
    };
  }

  /** Whether the caller may see/invalidate keys other than its own. */
  private manageAll(auth: Authentication): boolean {
    return this.hasClusterPrivilege(auth, 'manage_api_key');
  }

  getKeys(auth: Authentication, q: URLSearchParams): Record<string, unknown> {
    this.requireCluster(auth, 'apiKeyGet');
    const ownOnly = q.get('owner') === 'true' || !this.manageAll(auth);
    const id = q.get('id');
    const name = q.get('name');
    const username = q.get('username');
    const activeOnly = q.get('active_only') === 'true';
    const withLimitedBy = q.get('with_limited_by') === 'true';
    const keys = [...this.apiKeys.values()].filter(
      (k) =>
        (!ownOnly || k.username === auth.username) &&
        (!id || k.id === id) &&
        (!name || wildcardMatch(name, k.name)) &&
        (!username || wildcardMatch(username, k.username)) &&
        (!activeOnly || (!k.invalidated && (k.expiration === undefined || k.expiration > this.now()))),
    );
    // ApiKeyService.getApiKeys: nothing found is GetApiKeyResponse.emptyResponse(), HTTP 200 {"api_keys": []}.
    return { api_keys: keys.map((k) => this.keyInfo(k, withLimitedBy)) };
  }

  /**
   * `POST /_security/_query/api_key` (the subset of the query DSL ES allows on API keys: match_all, bool, term, terms,
   * range, prefix, wildcard, exists, ids over name, type, invalidated, expiration, creation, username, metadata.*; from
   * and size, default 10). An empty body is match_all; the owner-only rule is as GET's. Answers `{total, count,
   * api_keys}`. elastic/elasticsearch x-pack/plugin/src/yamlRestTest/resources/rest-api-spec/test/api_key/20_query.yml.
   */
  queryKeys(auth: Authentication, b: Record<string, unknown> | undefined): Record<string, unknown> {
    this.requireCluster(auth, 'apiKeyGet');
    const ownOnly = !this.manageAll(auth);
    const query = (b?.query ?? { match_all: {} }) as Record<string, unknown>;
    const from = Number(b?.from ?? 0);
    const size = Number(b?.size ?? 10);
    const matching = [...this.apiKeys.values()]
      .filter((k) => !ownOnly || k.username === auth.username)
      .filter((k) => matchesKeyQuery(k, query))
      .sort((a, c) => a.creation - c.creation);
    const page = matching.slice(from, from + size);
    return { total: matching.length, count: page.length, api_keys: page.map((k) => this.keyInfo(k)) };
  }

  keyInfo(k: ApiKey, withLimitedBy = false): Record<string, unknown> {
    return {
      id: k.id,
      name: k.name,
      type: k.type,
      creation: k.creation,
      ...(k.expiration !== undefined ? { expiration: k.expiration } : {}),
      invalidated: k.invalidated,
      ...(k.invalidation !== undefined ? { invalidation: k.invalidation } : {}),
      username: k.username,
      realm: k.realm,
      realm_type: k.realm_type,
      metadata: k.metadata,
      // ES stores API key role descriptors as full RoleDescriptors: the defaults appear in the read-back.
      role_descriptors: Object.fromEntries(
        Object.entries(k.role_descriptors).map(([n, d]) => [
          n,
          {
            cluster: [],
            applications: [],
            run_as: [],
            metadata: {},
            transient_metadata: { enabled: true },
            ...d,
            indices: (d.indices ?? []).map((i) => ({ allow_restricted_indices: false, ...i })),
          },
        ]),
      ),
      ...(k.access ? { access: k.access } : {}),
      ...(withLimitedBy && k.limited_by ? { limited_by: [k.limited_by] } : {}),
    };
  }

  invalidate(auth: Authentication, body: Record<string, unknown> | undefined): Record<string, unknown> {
    this.requireCluster(auth, 'apiKeyInvalidate');
    const b = body ?? {};
    const ids = Array.isArray(b.ids) ? (b.ids as string[]) : typeof b.id === 'string' ? [b.id] : undefined;
    const name = typeof b.name === 'string' ? b.name : undefined;
    const owner = b.owner === true || !this.manageAll(auth);
    const username = typeof b.username === 'string' ? b.username : undefined;
    if (!ids && !name && !owner && !username && !b.realm_name) {
      throw validationError(
        'One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false',
      );
    }
    // ApiKeyService.invalidateApiKeys looks keys up with filterOutInvalidatedKeys: an already invalidated key is not
    // found, so invalidating it again answers the empty response (not previously_invalidated_api_keys).
    const matches = [...this.apiKeys.values()].filter(
      (k) =>
        !k.invalidated &&
        (!ids || ids.includes(k.id)) &&
        (!name || wildcardMatch(name, k.name)) &&
        (!owner || k.username === auth.username) &&
        (!username || k.username === username),
    );
    const invalidated: string[] = [];
    const previously: string[] = [];
    const errors: Record<string, unknown>[] = [];
    for (const k of matches) {
      if (k.type === 'cross_cluster' && !this.hasClusterPrivilege(auth, 'manage_security')) {
        // manage_api_key is not enough for cross-cluster keys (domain page §6 #14).
        errors.push({
          type: 'exception',
          reason: 'error occurred while invalidating api keys',
          caused_by: {
            type: 'security_exception',
            reason: `action [cluster:admin/xpack/security/api_key/invalidate] is unauthorized for API key [${k.id}] of type [cross_cluster]; it requires the [manage_security] cluster privilege`,
          },
        });
        continue;
      }
      if (k.invalidated) previously.push(k.id);
      else {
        k.invalidated = true;
        k.invalidation = this.now();
        invalidated.push(k.id);
      }
    }
    return {
      invalidated_api_keys: invalidated,
      previously_invalidated_api_keys: previously,
      error_count: errors.length,
      ...(errors.length ? { error_details: errors } : {}),
    };
  }

  /** Read-back for assertions: no secrets, no password hashes. */
  snapshot(): Record<string, unknown> {
    return {
      users: [...this.users.values()].map(({ passwordHash: _p, ...u }) => u),
      roles: Object.fromEntries(this.roles),
      apiKeys: [...this.apiKeys.values()].map((k) => this.keyInfo(k)),
    };
  }
}

function requireKeyName(b: Record<string, unknown>): string {
  if (typeof b.name !== 'string' || !b.name) throw validationError('api key name is required');
  return b.name;
}

/** The value of an API key field as `_query/api_key` sees it (`metadata.x.y` reaches into the metadata). */
function keyField(k: ApiKey, field: string): unknown {
  if (field.startsWith('metadata.')) {
    return field
      .slice('metadata.'.length)
      .split('.')
      .reduce<unknown>(
        (v, part) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined),
        k.metadata,
      );
  }
  const fields: Record<string, unknown> = {
    id: k.id,
    name: k.name,
    type: k.type,
    invalidated: k.invalidated,
    expiration: k.expiration,
    creation: k.creation,
    username: k.username,
    realm_name: k.realm,
  };
  if (!(field in fields)) {
    throw new EsError(400, 'illegal_argument_exception', `Field [${field}] is not allowed for querying or aggregation`);
  }
  return fields[field];
}

function matchesKeyQuery(k: ApiKey, q: Record<string, unknown>): boolean {
  const [kind, spec] = Object.entries(q)[0] ?? ['match_all', {}];
  const one = (s: unknown) => Object.entries(s as Record<string, unknown>)[0] as [string, unknown];
  const valueOf = (v: unknown) => (v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v);
  switch (kind) {
    case 'match_all':
      return true;
    case 'bool': {
      const b = spec as Record<string, unknown>;
      const list = (v: unknown) => (v === undefined ? [] : Array.isArray(v) ? v : [v]) as Record<string, unknown>[];
      const should = list(b.should);
      return (
        [...list(b.must), ...list(b.filter)].every((c) => matchesKeyQuery(k, c)) &&
        list(b.must_not).every((c) => !matchesKeyQuery(k, c)) &&
        (should.length === 0 || should.some((c) => matchesKeyQuery(k, c)))
      );
    }
    case 'term': {
      const [field, v] = one(spec);
      return keyField(k, field) === valueOf(v);
    }
    case 'terms': {
      const [field, v] = one(spec);
      return (v as unknown[]).includes(keyField(k, field));
    }
    case 'ids':
      return ((spec as { values?: string[] }).values ?? []).includes(k.id);
    case 'exists':
      return keyField(k, (spec as { field: string }).field) !== undefined;
    case 'prefix': {
      const [field, v] = one(spec);
      return String(keyField(k, field) ?? '').startsWith(String(valueOf(v)));
    }
    case 'wildcard': {
      const [field, v] = one(spec);
      const value = keyField(k, field);
      return value !== undefined && wildcardMatch(String(valueOf(v)), String(value));
    }
    case 'range': {
      const [field, r] = one(spec) as [string, { gt?: unknown; gte?: unknown; lt?: unknown; lte?: unknown }];
      const raw = keyField(k, field);
      if (raw === undefined) return false;
      const v = Number(raw);
      const n = (x: unknown) => (x === 'now' ? Date.now() : Number(x));
      return (
        (r.gt === undefined || v > n(r.gt)) &&
        (r.gte === undefined || v >= n(r.gte)) &&
        (r.lt === undefined || v < n(r.lt)) &&
        (r.lte === undefined || v <= n(r.lte))
      );
    }
    default:
      throw new EsError(
        400,
        'illegal_argument_exception',
        `Query type [${kind}] is not currently supported in this context`,
      );
  }
}
