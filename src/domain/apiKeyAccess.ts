/**
 * A cross-cluster API key's `access` as Elasticsearch stores and returns it, so that "is this key's access the one we
 * want?" is answered right on a real cluster (find-or-reuse, drift checks, `PUT …/cross_cluster/api_key/<id>`).
 *
 * What GET /_security/api_key returns differs from what was sent (elastic/elasticsearch
 * x-pack/plugin/src/yamlRestTest/resources/rest-api-spec/test/api_key/50_cross_cluster.yml,
 * CrossClusterApiKeyRoleDescriptorBuilder): every entry gains `allow_restricted_indices: false` unless given, and a DLS
 * `query` is stored as a JSON *string* (`"{\"term\":{\"category\":\"shared\"}}"`), whether it was sent as an object or
 * as a string. Comparing the raw JSON would call every such key "changed". Pure: the workflow bundle may import it.
 */
import type { Access } from '../contract/request';

interface AccessEntry {
  names?: unknown;
  query?: unknown;
  field_security?: unknown;
  allow_restricted_indices?: unknown;
  [k: string]: unknown;
}

/** The shape of one entry after normalising: what decides the access, nothing about how it was written. */
interface CanonicalEntry {
  names: string[];
  allow_restricted_indices: boolean;
  query?: unknown;
  field_security?: { grant?: string[]; except?: string[] };
}

/** A stored or requested `access` (search / replication lists), in one canonical form. */
export interface CanonicalAccess {
  search: CanonicalEntry[];
  replication: CanonicalEntry[];
}

/** A DLS query as an object: ES returns it as a JSON string; a request may carry either. */
function queryObject(q: unknown): unknown {
  if (typeof q !== 'string') return q;
  try {
    return JSON.parse(q) as unknown;
  } catch {
    return q; // not JSON: compared as the text it is
  }
}

function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, sortedKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) ? [...(v as unknown[]).map(String)].sort() : undefined;
}

function canonicalEntry(e: AccessEntry): CanonicalEntry {
  const fs = e.field_security as { grant?: unknown; except?: unknown } | undefined;
  const grant = stringList(fs?.grant);
  const except = stringList(fs?.except);
  return {
    // Index names are a set for Elasticsearch: order does not change what the key grants.
    names: stringList(e.names) ?? [],
    allow_restricted_indices: e.allow_restricted_indices === true,
    ...(e.query !== undefined && e.query !== null ? { query: sortedKeys(queryObject(e.query)) } : {}),
    ...(fs && (grant || except?.length)
      ? { field_security: { ...(grant ? { grant } : {}), ...(except?.length ? { except } : {}) } }
      : {}),
  };
}

function canonicalList(list: unknown): CanonicalEntry[] {
  if (!Array.isArray(list)) return [];
  return (list as AccessEntry[]).map(canonicalEntry).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** `access` as sent or as stored, normalised the way Elasticsearch stores it (defaults filled, query parsed). */
export function canonicalAccess(access: Access | Record<string, unknown> | undefined): CanonicalAccess {
  const a = (access ?? {}) as { search?: unknown; replication?: unknown };
  return { search: canonicalList(a.search), replication: canonicalList(a.replication) };
}

/**
 * Whether a key's stored `access` (from GET /_security/api_key) grants exactly what `wanted` asks for. Use this, never
 * a JSON comparison of the two: ES adds `allow_restricted_indices: false` and stores a DLS query as a string.
 */
export function sameAccess(stored: unknown, wanted: Access | Record<string, unknown> | undefined): boolean {
  return (
    JSON.stringify(canonicalAccess(stored as Record<string, unknown> | undefined)) ===
    JSON.stringify(canonicalAccess(wanted))
  );
}

/**
 * `access` exactly as Elasticsearch will return it for a key created or updated with `access` (the read-back shape of
 * 50_cross_cluster.yml): for showing "what the key will look like" (updateRemoteClusterAccess's diff) and for tests of
 * the sandbox. Compare accesses with sameAccess, never with this shape.
 */
export function storedAccessShape(access: Access): Access;
export function storedAccessShape(access: Access | Record<string, unknown>): Record<string, unknown>;
export function storedAccessShape(access: Access | Record<string, unknown>): Record<string, unknown> {
  const a = access as { search?: AccessEntry[]; replication?: AccessEntry[] };
  const entry = (e: AccessEntry): Record<string, unknown> => ({
    names: e.names,
    ...(e.field_security !== undefined ? { field_security: e.field_security } : {}),
    ...(e.query !== undefined ? { query: typeof e.query === 'string' ? e.query : JSON.stringify(e.query) } : {}),
    allow_restricted_indices: e.allow_restricted_indices === true,
  });
  return {
    ...(a.search?.length ? { search: a.search.map(entry) } : {}),
    ...(a.replication?.length ? { replication: a.replication.map(entry) } : {}),
  };
}
