/**
 * Every request body this tool sends is built here, once, and used both to send it (activities) and to show it
 * (dry-run plan, instructions for the other organisation), so what people see is what we would send.
 * Pure functions: the workflow bundle imports this file.
 */
import type { Access, ConnectRequest, RoleSpec, UserSpec } from '../contract/request';
import type { DirectTrustEntry } from '../contract/facts';
import { MANAGED_BY } from '../contract/steps';
import { canonicalAccess } from './apiKeyAccess';

export type { DirectTrustEntry } from '../contract/facts';
import type { SelfManagedIdentity } from './tlsCertificate';

export interface Ownership {
  workflowId: string;
  alias: string;
}

/**
 * A stable, short hash of the key's access (FNV-1a, deterministic), over the access as Elasticsearch stores it
 * (canonicalAccess): two requests that grant the same thing hash the same, a changed access never does.
 */
export function accessHash(access: Access | undefined): string {
  const text = JSON.stringify(canonicalAccess(access));
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function managedMetadata(o: Ownership, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { managed_by: MANAGED_BY, workflow_id: o.workflowId, alias: o.alias, ...extra };
}

export function crossClusterApiKeyName(alias: string): string {
  return `${MANAGED_BY}-${alias}`;
}

/** POST /_security/cross_cluster/api_key on the self-managed cluster. */
export function crossClusterApiKeyRequest(
  r: Pick<ConnectRequest, 'alias' | 'access' | 'keyExpiration'>,
  workflowId: string,
) {
  return {
    method: 'POST' as const,
    path: '/_security/cross_cluster/api_key',
    body: {
      name: crossClusterApiKeyName(r.alias),
      access: r.access ?? {},
      ...(r.keyExpiration ? { expiration: r.keyExpiration } : {}),
      metadata: managedMetadata({ workflowId, alias: r.alias }, { access_hash: accessHash(r.access) }),
    },
  };
}

export function keystoreSecretName(alias: string): string {
  return `cluster.remote.${alias}.credentials`;
}

/** PATCH .../keystore body; the value is never shown, only its placeholder. */
export function keystorePatchBody(alias: string, encoded: string | null) {
  return {
    secrets: {
      [keystoreSecretName(alias)]: encoded === null ? null : { value: encoded, as_file: false },
    },
  };
}

/** The `cluster.metadata` key recording that this tool owns the alias. */
export function ownershipSettingKey(alias: string): string {
  return `cluster.metadata.${MANAGED_BY}.${alias}`;
}

export function ownershipRecord(o: Ownership, securityModel: ConnectRequest['securityModel']): string {
  return JSON.stringify({ managed_by: MANAGED_BY, workflow_id: o.workflowId, security_model: securityModel });
}

/** Flat `cluster.remote.<alias>.*` settings for proxy mode; sniff-only settings are cleared in the same request. */
export function remoteClusterSettings(r: ConnectRequest): Record<string, string | number | boolean | null> {
  const p = `cluster.remote.${r.alias}`;
  return {
    [`${p}.mode`]: 'proxy',
    [`${p}.proxy_address`]: r.remote.proxyAddress,
    [`${p}.server_name`]: r.remote.serverName ?? null,
    [`${p}.skip_unavailable`]: r.skipUnavailable,
    [`${p}.proxy_socket_connections`]: r.proxySocketConnections ?? null,
    [`${p}.seeds`]: null,
    [`${p}.node_connections`]: null,
  };
}

/** PUT /_cluster/settings on ECH: the remote and our ownership record, in one request. */
export function connectRequest(r: ConnectRequest, o: Ownership) {
  return {
    method: 'PUT' as const,
    path: '/_cluster/settings',
    body: {
      persistent: { ...remoteClusterSettings(r), [ownershipSettingKey(r.alias)]: ownershipRecord(o, r.securityModel) },
    },
  };
}

/** PUT /_cluster/settings that removes the remote and our ownership record. */
export function disconnectRequest(alias: string) {
  const p = `cluster.remote.${alias}`;
  const keys = [
    'mode',
    'proxy_address',
    'server_name',
    'skip_unavailable',
    'proxy_socket_connections',
    'seeds',
    'node_connections',
  ];
  return {
    method: 'PUT' as const,
    path: '/_cluster/settings',
    body: {
      persistent: {
        ...Object.fromEntries(keys.map((k) => [`${p}.${k}`, null])),
        [ownershipSettingKey(alias)]: null,
      },
    },
  };
}

export function trustEntryName(alias: string): string {
  return `${MANAGED_BY}/${alias}`;
}

/** Path B: ECH trusts the private CA of the self-managed remote cluster server (a `proxy` direct trust entry). */
export function privateCaTrustEntry(alias: string, pem: string): DirectTrustEntry {
  return { type: 'proxy', name: trustEntryName(alias), certificates: [{ pem }], trust_all: false };
}

/**
 * Path C: ECH trusts the self-managed transport CA for the self-managed nodes only (a `generic` direct entry): by
 * scope and cluster id when their certificates follow the Cloud pattern, else by their exact node names (no wildcards).
 */
export function tlsCertificateTrustEntry(alias: string, pem: string, id: SelfManagedIdentity): DirectTrustEntry {
  const base = { type: 'generic' as const, name: trustEntryName(alias), certificates: [{ pem }], trust_all: false };
  return id.kind === 'cloud-pattern'
    ? { ...base, scope_id: id.scopeId, trust_allowlist: [id.clusterId] }
    : { ...base, additional_node_names: id.nodeNames };
}

/** Path C: the role of the same name on the self-managed cluster (roles are checked there by name). */
export function remoteRoleRequest(role: RoleSpec, o: Ownership) {
  if (!role.remote) return undefined;
  return {
    method: 'PUT' as const,
    path: `/_security/role/${encodeURIComponent(role.name)}`,
    body: {
      ...(role.remote.cluster ? { cluster: role.remote.cluster } : {}),
      indices: role.remote.indices,
      metadata: managedMetadata(o),
    },
  };
}

/** PUT /_security/role/{name} body; `remote_indices` default to this alias. */
export function roleRequest(role: RoleSpec, o: Ownership) {
  const body: Record<string, unknown> = { metadata: managedMetadata(o) };
  if (role.cluster) body.cluster = role.cluster;
  if (role.indices) body.indices = role.indices;
  if (role.remoteIndices) {
    body.remote_indices = role.remoteIndices.map((ri) => ({
      clusters: ri.clusters ?? [o.alias],
      names: ri.names,
      privileges: ri.privileges,
      ...(ri.query !== undefined ? { query: ri.query } : {}),
      ...(ri.fieldSecurity ? { field_security: ri.fieldSecurity } : {}),
      ...(ri.allowRestrictedIndices !== undefined ? { allow_restricted_indices: ri.allowRestrictedIndices } : {}),
    }));
  }
  if (role.remoteCluster) {
    body.remote_cluster = role.remoteCluster.map((rc) => ({
      clusters: rc.clusters ?? [o.alias],
      privileges: rc.privileges,
    }));
  }
  return { method: 'PUT' as const, path: `/_security/role/${encodeURIComponent(role.name)}`, body };
}

/** PUT /_security/user/{username} body without the password (added inside the activity from the secret). */
export function userRequest(user: UserSpec, o: Ownership) {
  return {
    method: 'PUT' as const,
    path: `/_security/user/${encodeURIComponent(user.username)}`,
    body: {
      roles: user.roles,
      ...(user.fullName ? { full_name: user.fullName } : {}),
      ...(user.email ? { email: user.email } : {}),
      metadata: managedMetadata(o),
      password: `<from secret ${user.passwordSecret}>`,
    },
  };
}
