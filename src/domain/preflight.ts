/**
 * Turns what the read-only preflight activities found into findings: errors stop the run before anything changes,
 * warnings are kept in the result. Pure, so the workflow decides deterministically and tests can check every rule.
 */
import type { ClusterFacts, DeploymentFacts, Finding, TlsProbeReport } from '../activities/types';
import type { ConnectRequest } from '../contract/request';
import { API_KEY_MODEL_LICENSES, API_KEY_MODEL_MIN_VERSION, atLeast } from './versions';

/** ECH: `manage` (cluster settings, remote info; includes `monitor`), `manage_security` (roles and users). */
export const LOCAL_REQUIRED_PRIVILEGES = ['manage', 'manage_security'];
/** Self-managed: `monitor` (version and license), `manage_security` (create and invalidate cross-cluster API keys). */
export const REMOTE_REQUIRED_PRIVILEGES = ['monitor', 'manage_security'];

export interface PreflightFacts {
  deployment: DeploymentFacts;
  local: ClusterFacts;
  remote?: ClusterFacts;
  probe: TlsProbeReport;
}

/** Failure type of the preflight: the one category when all errors share it, else PreflightFailed. */
export function preflightFailureType(errors: Finding[]): string {
  const types = new Set(
    errors.map((e) => CODE_TYPES[e.code] ?? (e.code.startsWith('TLS_') ? 'TlsTrustFailed' : 'PreflightFailed')),
  );
  return types.size === 1 ? ([...types][0] as string) : 'PreflightFailed';
}

const CODE_TYPES: Record<string, string> = {
  'version-local': 'VersionNotSupported',
  'version-remote': 'VersionNotSupported',
  'license-local': 'LicenseNotSupported',
  'license-remote': 'LicenseNotSupported',
  'privileges-local': 'MissingPrivileges',
  'privileges-remote': 'MissingPrivileges',
  'remote-credentials-api-key': 'MissingPrivileges',
  'deployment-unhealthy': 'DeploymentNotHealthy',
  'alias-in-use': 'AliasInUse',
  TLS_TRANSPORT_PORT: 'WrongPort',
  TLS_NOT_TLS: 'WrongPort',
};

export function evaluatePreflight(r: ConnectRequest, f: PreflightFacts, workflowId: string): Finding[] {
  const out: Finding[] = [];
  const { deployment, local, remote, probe } = f;
  if (deployment.status !== 'started' || !deployment.healthy) {
    out.push({
      level: 'error',
      code: 'deployment-unhealthy',
      message: `ECH deployment ${deployment.deploymentId} is not healthy (status "${deployment.status}", healthy ${deployment.healthy}).`,
      fix: 'Wait for its current plan to finish, or repair the deployment in the Cloud console, then start again.',
    });
  }
  if (r.securityModel === 'api-key') {
    for (const [side, facts] of [
      ['local', local],
      ['remote', remote],
    ] as const) {
      // Credentials that lack privileges could not read version and license: the privileges finding says why.
      if (!facts || facts.missingPrivileges.length > 0) continue;
      const who = side === 'local' ? `ECH deployment` : `self-managed cluster`;
      if (!atLeast(facts.version, API_KEY_MODEL_MIN_VERSION)) {
        out.push({
          level: 'error',
          code: `version-${side}`,
          message: `The ${who} runs Elasticsearch ${facts.version}; the API-key security model needs ${API_KEY_MODEL_MIN_VERSION} or later on both clusters.`,
          fix:
            side === 'local'
              ? 'Upgrade the ECH deployment to 8.14+ (Cloud console > Upgrade), or use securityModel "tls-certificate".'
              : 'Upgrade the self-managed cluster to 8.14+, or use securityModel "tls-certificate".',
        });
      }
      if (!API_KEY_MODEL_LICENSES.includes(facts.license.type) || facts.license.status !== 'active') {
        out.push({
          level: 'error',
          code: `license-${side}`,
          message: `The ${who} has a "${facts.license.type}" license (${facts.license.status}); the API-key model is the licensed feature [advanced-remote-cluster-security] and needs an active Enterprise or trial license on both clusters.`,
          fix: `Upgrade the ${who}'s license to Enterprise (or start a trial), or use securityModel "tls-certificate".`,
        });
      }
    }
    if (!remote) {
      out.push({
        level: 'warning',
        code: 'remote-unchecked',
        message:
          "remote.elasticsearch is absent, so the self-managed cluster's version (8.14+) and license (Enterprise) cannot be checked from here.",
        fix: 'The self-managed org must confirm both; the connection check at the end proves them.',
      });
    }
  }
  if (local.missingPrivileges.length > 0) {
    out.push({
      level: 'error',
      code: 'privileges-local',
      message: `The ECH Elasticsearch credentials (user "${local.principal.username}") lack the cluster privileges: ${local.missingPrivileges.join(', ')}.`,
      fix: `Give the user of secret ${r.local.elasticsearch.credentialsSecret} a role with cluster privileges [${local.missingPrivileges.join(', ')}] (connecting needs "manage", roles and users need "manage_security").`,
    });
  }
  if (remote) {
    if (remote.missingPrivileges.length > 0) {
      out.push({
        level: 'error',
        code: 'privileges-remote',
        message: `The self-managed credentials (user "${remote.principal.username}") lack the cluster privileges: ${remote.missingPrivileges.join(', ')}.`,
        fix: `Give the user of secret ${r.remote.elasticsearch?.credentialsSecret} a role with cluster privilege [${remote.missingPrivileges.join(', ')}] (reading version and license needs monitor, cross-cluster API keys need manage_security).`,
      });
    }
    if (r.securityModel === 'api-key' && remote.principal.authenticationType === 'api_key') {
      out.push({
        level: 'error',
        code: 'remote-credentials-api-key',
        message:
          'The self-managed credentials are an API key; Elasticsearch creates cross-cluster API keys only for a user credential.',
        fix: `Set secret ${r.remote.elasticsearch?.credentialsSecret} to "username:password" of a user with manage_security.`,
      });
    }
  }
  const owner = local.remote?.ownedBy?.workflowId;
  if (local.remote && Object.keys(local.remote.settings).length > 0 && owner !== workflowId) {
    out.push({
      level: 'error',
      code: 'alias-in-use',
      message: `The ECH deployment already has a remote cluster "${r.alias}"${owner ? ` created by workflow ${owner}` : ' that this tool did not create'}.`,
      fix: 'Choose another alias, or remove the existing remote first (disconnectRemoteCluster for ours; by hand otherwise).',
    });
  }
  // A transport port explains every other TLS finding on it (its own CA, its node names): report the root cause.
  const tls = probe.findings.filter((x) => x.level !== 'info');
  out.push(
    ...(probe.looksLikeTransportPort
      ? tls.filter((x) => x.code === 'TLS_TRANSPORT_PORT' || x.level === 'warning')
      : tls),
  );
  return out;
}

/** True when the worker itself saw a healthy remote cluster server: TLS to proxy_address, trusted, right name, not a transport port. */
export function remoteClusterServerProven(probe: TlsProbeReport): boolean {
  return probe.reachable && probe.trusted && probe.hostnameMatches && !probe.looksLikeTransportPort;
}

export function formatFindings(findings: Finding[]): string {
  return findings.map((x) => `- [${x.code}] ${x.message}${x.fix ? ` Fix: ${x.fix}` : ''}`).join('\n');
}
