/**
 * Turns what the read-only preflight activities found into findings: errors stop the run before anything changes,
 * warnings are kept in the result. Pure, so the workflow decides deterministically and tests can check every rule.
 */
import type {
  CaCheck,
  ClusterFacts,
  DeploymentFacts,
  Finding,
  SecretReference,
  TlsProbeReport,
} from '../contract/facts';

export type { CaCheck } from '../contract/facts';
import type { ConnectRequest } from '../contract/request';
import {
  API_KEY_MODEL_LICENSES,
  API_KEY_MODEL_MIN_VERSION,
  TLS_MODEL_DEPRECATED_VERSION,
  atLeast,
  transportCompatible,
} from './versions';
import { nodeLabel, nodesNotListed, seenNodeCertificates, selfManagedIdentity } from './tlsCertificate';

/** ECH: `manage` (cluster settings, remote info; includes `monitor`), `manage_security` (roles and users). */
export const LOCAL_REQUIRED_PRIVILEGES = ['manage', 'manage_security'];
/** Self-managed: `monitor` (version and license), `manage_security` (create and invalidate cross-cluster API keys). */
export const REMOTE_REQUIRED_PRIVILEGES = ['monitor', 'manage_security'];

export interface PreflightFacts {
  deployment: DeploymentFacts;
  local: ClusterFacts;
  remote?: ClusterFacts;
  probe: TlsProbeReport;
  /** TLS model: the check of the self-managed transport CA given in the request. */
  caCheck?: CaCheck;
}

/** What a request of any lifecycle workflow names secrets with (a ConnectRequest, or a day-2 request). */
export interface SecretNamingRequest {
  local: Pick<ConnectRequest['local'], 'deploymentId' | 'cloud' | 'elasticsearch'>;
  remote: { elasticsearch?: { url: string; credentialsSecret: string } };
  users?: { passwordSecret: string }[];
}

/**
 * Every secret the request names, with the field that names it and where it would be sent: checked first (names,
 * values, and the worker's bindings of each to its destination), so a typo or a hostile destination fails before any
 * connection is opened. The ECH endpoint is judged once the Cloud API has reported it.
 */
export function secretReferences(r: SecretNamingRequest): SecretReference[] {
  return [
    {
      field: 'local.cloud.apiKeySecret',
      name: r.local.cloud.apiKeySecret,
      use: { use: 'cloud-api-key', ...(r.local.cloud.endpoint ? { endpoint: r.local.cloud.endpoint } : {}) },
      ...(r.local.cloud.endpoint ? { destinationField: 'local.cloud.endpoint' } : {}),
    },
    {
      field: 'local.elasticsearch.credentialsSecret',
      name: r.local.elasticsearch.credentialsSecret,
      use: { use: 'ech-elasticsearch', deploymentId: r.local.deploymentId },
      destinationField: 'local.deploymentId',
    },
    ...(r.remote.elasticsearch
      ? [
          {
            field: 'remote.elasticsearch.credentialsSecret',
            name: r.remote.elasticsearch.credentialsSecret,
            use: { use: 'elasticsearch' as const, url: r.remote.elasticsearch.url },
            destinationField: 'remote.elasticsearch.url',
          },
        ]
      : []),
    ...(r.users ?? []).map((u, i) => ({
      field: `users[${i}].passwordSecret`,
      name: u.passwordSecret,
      use: { use: 'user-password' as const },
    })),
  ];
}

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
  'remote-ca-invalid': 'InvalidRequest',
  'deployment-unhealthy': 'DeploymentNotHealthy',
  'alias-in-use': 'AliasInUse',
  TLS_TRANSPORT_PORT: 'WrongPort',
  TLS_NOT_TLS: 'WrongPort',
  TLS_NOT_TRANSPORT_PORT: 'WrongPort',
  'remote-node-names': 'InvalidRequest',
};

/** What a healthy deployment reports while a plan of it runs. */
const PLAN_STATUSES = ['reconfiguring', 'restarting'];

export function evaluatePreflight(r: ConnectRequest, f: PreflightFacts, workflowId: string): Finding[] {
  const out: Finding[] = [];
  const { deployment, local, remote, probe } = f;
  // A plan running on a healthy deployment (another run's trust entry, someone's change in the console) is a reason
  // to wait, not to fail: this run's own changes take their turn after it (src/workflows/deploymentPlans.ts).
  const busyWithPlan = deployment.pendingPlan && deployment.healthy && PLAN_STATUSES.includes(deployment.status);
  if (busyWithPlan) {
    out.push({
      level: 'warning',
      code: 'deployment-plan-pending',
      message: `ECH deployment ${deployment.deploymentId} is running a plan (status "${deployment.status}").`,
      fix: 'Its changes wait for that plan to finish.',
    });
  } else if (deployment.status !== 'started' || !deployment.healthy) {
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
  if (r.securityModel === 'tls-certificate') out.push(...tlsModelFindings(r, f));
  for (const [side, facts] of [
    ['local', local],
    ['remote', remote],
  ] as const) {
    const who = side === 'local' ? 'ECH deployment' : 'self-managed cluster';
    // Red: a primary shard is unassigned. The connection can still be made; searches that touch that index fail
    // (shard failures), so say it before the verification search does. Yellow (replicas unassigned, normal on one node)
    // changes nothing for remote clusters and is not reported.
    if (facts?.health === 'red') {
      out.push({
        level: 'warning',
        code: `cluster-red-${side}`,
        message: `The ${who}'s cluster health is red (a primary shard is unassigned): the remote connection works, but searches of the affected indices return shard failures${r.verify.searchIndex ? `, and the verification search of "${r.verify.searchIndex}" may fail` : ''}.`,
        fix: `Find the unassigned primaries on the ${who} (GET _cluster/allocation/explain) and repair them; the connection itself does not need to wait.`,
      });
    }
    if (r.securityModel === 'tls-certificate' && facts?.license.status === 'expired') {
      out.push({
        level: 'warning',
        code: `license-expired-${side}`,
        message: `The ${who}'s "${facts.license.type}" license has expired: the certificate model still works, but cluster health and stats APIs are blocked and paid features are off.`,
        fix: `Renew the ${who}'s license.`,
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
  // An alias that exists is never touched by a connect, not even one an earlier run of this workflow id made (a
  // `--new-run`): its key and entries are live. Replacing a connection is a lifecycle of its own.
  const owner = local.remote?.ownedBy?.workflowId;
  if (local.remote && Object.keys(local.remote.settings).length > 0) {
    out.push({
      level: 'error',
      code: 'alias-in-use',
      message:
        `The ECH deployment already has a remote cluster "${r.alias}"` +
        (owner === workflowId
          ? ` made by an earlier run of this workflow (${owner}); it is left as it is.`
          : owner
            ? ` created by workflow ${owner}.`
            : ' that this tool did not create.'),
      fix: 'Choose another alias, or remove the existing remote first (disconnectRemoteCluster for ours; by hand otherwise).',
    });
  }
  const tls = probe.findings.filter((x) => x.level !== 'info');
  if (r.securityModel === 'tls-certificate') {
    // Without the self-managed CA yet (it comes by signal) the chain cannot be judged; it is checked once it is given.
    out.push(...tls.filter((x) => r.remote.ca.kind === 'private' || x.code !== 'TLS_UNTRUSTED_CHAIN'));
    return out;
  }
  // A transport port explains every other TLS finding on it (its own CA, its node names): report the root cause.
  out.push(
    ...(probe.looksLikeTransportPort
      ? tls.filter((x) => x.code === 'TLS_TRANSPORT_PORT' || x.level === 'warning')
      : tls),
  );
  return out;
}

/** Path C: transport wire compatibility, deprecation, the CA given, what cannot be seen. */
function tlsModelFindings(r: ConnectRequest, f: PreflightFacts): Finding[] {
  const out: Finding[] = [];
  const { local, remote, probe, caCheck } = f;
  if (remote && !transportCompatible(local.version, remote.version)) {
    out.push({
      level: 'error',
      code: 'version-remote',
      message: `The ECH deployment (${local.version}) and the self-managed cluster (${remote.version}) cannot talk over the transport protocol: the certificate model needs compatible versions (same major; 7.17 with 8.x; 8.18 with 9.0; 8.19 with 9.x).`,
      fix: 'Upgrade the self-managed cluster (8.19 talks to every 9.x), or the ECH deployment, to a compatible version.',
    });
  }
  const both814 =
    atLeast(local.version, API_KEY_MODEL_MIN_VERSION) &&
    (!remote || atLeast(remote.version, API_KEY_MODEL_MIN_VERSION));
  const deprecated =
    atLeast(local.version, TLS_MODEL_DEPRECATED_VERSION) ||
    (remote && atLeast(remote.version, TLS_MODEL_DEPRECATED_VERSION));
  out.push({
    level: 'warning',
    code: 'tls-model-deprecated',
    message: `The TLS-certificate model is deprecated since Elasticsearch ${TLS_MODEL_DEPRECATED_VERSION}${deprecated ? ' (this estate runs it)' : ''}; it gives the ECH superuser full read access to the self-managed cluster.`,
    fix: both814
      ? `Prefer securityModel "api-key": both sides are ${API_KEY_MODEL_MIN_VERSION}+${remote ? '' : ' (the ECH side at least; check the self-managed one)'}.`
      : 'Plan a move to securityModel "api-key" once both sides run 8.14+.',
  });
  if (!remote) {
    out.push({
      level: 'warning',
      code: 'remote-unchecked',
      message:
        "remote.elasticsearch is absent, so the self-managed cluster's version (transport compatibility with ECH) cannot be checked from here.",
      fix: 'The self-managed org must confirm it; the connection check at the end proves it.',
    });
  }
  if (caCheck && !caCheck.ok) {
    out.push({
      level: 'error',
      code: 'remote-ca-invalid',
      message: `remote.ca.pem is not usable as the self-managed transport CA: ${caCheck.problems.join('; ')}.`,
      fix: 'Give the CA certificate (PEM, no private key, not expired) that signs the self-managed transport certificates.',
    });
  }
  for (const role of r.roles.filter((x) => !x.remote)) {
    out.push({
      level: 'warning',
      code: 'tls-role-without-remote',
      message: `Role "${role.name}" has no "remote" definition: in the TLS-certificate model the self-managed role of the same name decides what its users may read there.`,
      fix: `Add "remote": {"indices": [...]} to role "${role.name}", or make sure the self-managed cluster has a role "${role.name}".`,
    });
  }
  // Every node met behind the transport address (the probe's survey), not just the first connection's.
  const nodes = seenNodeCertificates(probe);
  if (probe.reachable && nodes.length > 0) {
    const without = nodes.filter((n) => n.otherNames.length === 0);
    out.push({
      level: without.length ? 'warning' : 'info',
      code: without.length ? 'transport-no-othername' : 'transport-othername',
      message: without.length
        ? `The transport certificate${without.length > 1 ? 's' : ''} at ${r.remote.proxyAddress} of ${without.map((n) => n.subject).join('; ')} ${without.length > 1 ? 'have' : 'has'} no otherName SAN (${nodes.length} node(s) seen); ECH identifies self-managed nodes by it.`
        : `The transport certificate${nodes.length > 1 ? 's' : ''} at ${r.remote.proxyAddress} (${nodes.length} node(s) seen) carr${nodes.length > 1 ? 'y' : 'ies'} otherName: ${nodes.map(nodeLabel).join('; ')}.`,
      ...(without.length
        ? {
            fix: 'The instructions for the self-managed org include an instances.yml (one entry per node) and the elasticsearch-certutil commands to re-issue them.',
          }
        : {}),
    });
    const id = selfManagedIdentity({ nodes, nodeNames: r.remote.nodeNames, alias: r.alias });
    const unlisted = nodesNotListed(id, nodes, r.remote.nodeNames);
    if (unlisted.length > 0) {
      const names = unlisted.flatMap((u) => u.missing);
      out.push({
        level: 'error',
        code: 'remote-node-names',
        message:
          id.kind === 'node-names'
            ? `remote.nodeNames must list the full otherName of every node's transport certificate (ECH trusts exactly those names): behind ${r.remote.proxyAddress} the worker met ${unlisted.map((u) => `${u.node.subject} carrying ${u.missing.join(', ')}`).join('; ')}, which is not listed.`
            : `remote.nodeNames names the nodes whose transport certificates are re-issued (one instances.yml entry each), but behind ${r.remote.proxyAddress} the worker met ${unlisted.map((u) => u.node.subject).join('; ')}, which is not listed: that node would keep a certificate without otherName, and ECH's connections reaching it would be refused.`,
        fix:
          id.kind === 'node-names'
            ? `List the otherName values (openssl x509 -noout -ext subjectAltName on each node's transport certificate), e.g. "nodeNames": ${JSON.stringify([...r.remote.nodeNames!, ...names])}.`
            : `List every node, by the name its certificate carries (CN), e.g. "nodeNames": ${JSON.stringify([...r.remote.nodeNames!, ...names])}.`,
      });
    } else if (id.kind === 'node-names' && !id.complete) {
      out.push({
        level: 'warning',
        code: 'tls-node-names-incomplete',
        message: `The transport certificates carry otherNames outside the Cloud pattern, and ECH's trust entry takes exact names only: without remote.nodeNames it lists just ${id.nodeNames.join(', ')} (the ${nodes.length} node(s) the worker met behind ${r.remote.proxyAddress}), and ECH refuses any other node.`,
        fix: "Give remote.nodeNames: the full otherName of every self-managed node's transport certificate.",
      });
    }
  } else if (!probe.reachable) {
    out.push({
      level: 'warning',
      code: 'transport-unseen',
      message: `The worker cannot see the transport certificate at ${r.remote.proxyAddress} (chain, SANs, otherName): only the mutual-TLS connection from ECH can prove them.`,
      fix: 'The instructions ask the self-managed org to check for otherName and re-issue if needed.',
    });
  }
  return out;
}

/** True when the worker itself saw a healthy remote cluster server: TLS to proxy_address, trusted, right name, not a transport port. */
export function remoteClusterServerProven(probe: TlsProbeReport): boolean {
  return probe.reachable && probe.trusted && probe.hostnameMatches && !probe.looksLikeTransportPort;
}

export function formatFindings(findings: Finding[]): string {
  return findings.map((x) => `- [${x.code}] ${x.message}${x.fix ? ` Fix: ${x.fix}` : ''}`).join('\n');
}
