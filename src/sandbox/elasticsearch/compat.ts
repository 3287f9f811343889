/**
 * Version arithmetic, version-gated features and REST API compatibility headers.
 * Every version gate of the simulator lives here, so a wrong gate is corrected in one place.
 */
import { EsError } from './errors';

export type Version = [number, number, number];

export function parseVersion(v: string): Version {
  const [a, b, c] = v.split('.').map((x) => Number.parseInt(x, 10));
  return [a ?? 0, b ?? 0, c ?? 0];
}

export function versionAtLeast(v: string, min: string): boolean {
  const x = parseVersion(v);
  const y = parseVersion(min);
  for (let i = 0; i < 3; i++) if (x[i]! !== y[i]!) return x[i]! > y[i]!;
  return true;
}

export function major(v: string): number {
  return parseVersion(v)[0];
}

/** Domain page §3: API key model GA in 8.14 (ECH enables its remote cluster server for it from there). */
export const supportsApiKeyModel = (v: string) => versionAtLeast(v, '8.14.0');
/**
 * The API-key model's machinery exists from 8.10, in beta until 8.14: the remote cluster server settings
 * (`remote_cluster_server.*`, `remote_cluster.*`, `xpack.security.remote_cluster_server.*`), the cross-cluster API key
 * API (`POST/PUT /_security/cross_cluster/api_key`), `remote_indices` in roles and `cluster.remote.<alias>.credentials`.
 * elastic/elasticsearch PR #98307 "Remove RCS 2.0 feature flag for beta release" (8.10); the 8.10-8.13 reference marks
 * them `beta::[]` (PR #98472 remote-cluster-network.asciidoc, security-api-create-cross-cluster-api-key.asciidoc);
 * Kibana removed the beta badge in 8.14 (elastic/kibana PR #179124).
 */
export const hasRemoteClusterSecurity = (v: string) => versionAtLeast(v, '8.10.0');
/** `remote_indices` parses from 8.10 (beta; RoleDescriptor without the feature flag, PR #98307). */
export const supportsRemoteIndicesRoleField = hasRemoteClusterSecurity;
export const supportsRemoteClusterRoleField = (v: string) => versionAtLeast(v, '8.15.0');
/** ECH (the platform) reloads `cluster.remote.*.credentials` from its keystore without restart from 8.14. */
export const reloadsRemoteCredentials = (v: string) => versionAtLeast(v, '8.14.0');
/**
 * `POST /_nodes/reload_secure_settings` reloads `cluster.remote.*.credentials` from 8.13 (PR #102798 "Hot-reloadable
 * remote cluster credentials", PR #103460 rebuilds the connections; issue #111543 "8.13.0 or higher"). Before, the
 * credential is read at node start only: a restart.
 */
export const reloadSecureSettingsCoversRemoteCredentials = (v: string) => versionAtLeast(v, '8.13.0');
export const supportsResolveCluster = (v: string) => versionAtLeast(v, '8.13.0');
/** `GET /_resolve/cluster` without an index expression: 8.18+. */
export const supportsResolveClusterWithoutExpression = (v: string) => versionAtLeast(v, '8.18.0');
/** `skip_unavailable` defaults to true from 8.15 (decided by the local cluster). */
export const defaultSkipUnavailable = (v: string) => versionAtLeast(v, '8.15.0');

/** minimum_wire_compatibility_version as `GET /` reports it (domain page §3 compatibility table). */
export function minimumWireCompatibilityVersion(v: string): string {
  const [ma, mi] = parseVersion(v);
  if (ma >= 9) return mi >= 1 ? '8.19.0' : '8.18.0';
  if (ma === 8) return '7.17.0';
  return '6.8.0';
}

export function minimumIndexCompatibilityVersion(v: string): string {
  const ma = major(v);
  return ma >= 9 ? '8.0.0' : ma === 8 ? '7.0.0' : '6.0.0-beta1';
}

/**
 * `version.lucene_version` of `GET /`. 8.10: 9.7.0 (`IndexVersions.V_8_10_0`); 8.15: 9.11.1 (PR #110234); 8.16: 9.12.0
 * (PR #113835); the minors in between as the sandbox had them.
 */
export function luceneVersion(v: string): string {
  const [ma, mi] = parseVersion(v);
  if (ma >= 9) return mi >= 2 ? '10.3.1' : mi === 1 ? '10.2.2' : '10.1.0';
  if (ma === 8) {
    if (mi >= 16) return '9.12.0';
    if (mi === 15) return '9.11.1';
    if (mi >= 14) return '9.10.0';
    return mi <= 10 ? '9.7.0' : '9.9.1';
  }
  return '8.11.3';
}

/** Transport-level compatibility for the TLS model (both directions must accept each other). */
export function wireCompatible(a: string, b: string): boolean {
  return versionAtLeast(a, minimumWireCompatibilityVersion(b)) && versionAtLeast(b, minimumWireCompatibilityVersion(a));
}

const COMPAT_RE = /application\/vnd\.elasticsearch\+(?:json|x-ndjson)\s*;\s*compatible-with\s*=\s*(\d+)/i;

/**
 * REST API compatibility, as RestCompatibleVersionHelper.getCompatibleVersion decides it (RestRequest wraps its
 * ElasticsearchStatusException in a MediaTypeHeaderException: 400 media_type_header_exception "Invalid media-type value
 * on headers [Accept, Content-Type]", the reason in `caused_by`):
 * - the Accept version must be the cluster's major or the previous one;
 * - with a body, so must the Content-Type version; both must then be the same; and either both headers are versioned
 *   or neither (a versioned Accept with a plain JSON body is refused).
 * An unversioned header counts as the cluster's own major. Plain application/json always works.
 * Returns the compatible-with version requested, if any.
 */
export function checkCompatibilityHeaders(
  version: string,
  headers: Record<string, string | string[] | undefined>,
  hasContent = false,
): number | undefined {
  const own = major(version);
  const read = (name: string): { raw?: string; v?: number } => {
    const h = headers[name];
    const raw = Array.isArray(h) ? h.join(',') : h;
    if (!raw) return {};
    const m = COMPAT_RE.exec(raw.split(',')[0] ?? '');
    return { raw, ...(m ? { v: Number(m[1]) } : {}) };
  };
  const accept = read('accept');
  const contentType = read('content-type');
  const acceptVersion = accept.v ?? own;
  const contentTypeVersion = contentType.v ?? own;
  const refuse = (reason: string): never => {
    throw new EsError(
      400,
      'media_type_header_exception',
      'Invalid media-type value on headers [Accept, Content-Type]',
      {
        caused_by: { type: 'status_exception', reason },
      },
    );
  };
  if (acceptVersion > own || acceptVersion < own - 1) {
    refuse(
      `Accept version must be either version ${own} or ${own - 1}, but found ${acceptVersion}. Accept=${accept.raw}`,
    );
  }
  if (hasContent) {
    if (contentTypeVersion > own || contentTypeVersion < own - 1) {
      refuse(
        `Content-Type version must be either version ${own} or ${own - 1}, but found ${contentTypeVersion}. Content-Type=${contentType.raw}`,
      );
    }
    if (contentTypeVersion !== acceptVersion) {
      refuse(
        `A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Accept=${accept.raw}, Content-Type=${contentType.raw}`,
      );
    }
    if ((contentType.v === undefined) !== (accept.v === undefined)) {
      refuse(
        `A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version. Accept=${accept.raw}, Content-Type=${contentType.raw}`,
      );
    }
  }
  return accept.v ?? contentType.v;
}
