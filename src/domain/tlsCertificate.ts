/**
 * Path C (TLS-certificate model), what is specific to it: how ECH identifies the self-managed nodes (the Cloud naming
 * pattern of their transport certificates' `otherName`, domain steps C2/C3), and the files the self-managed org
 * installs (ECH CA, trust restrictions, instances.yml for a re-issue, C4/C5). Pure: the workflow bundle imports it.
 */
import type { CertSummary } from '../activities/types';

/** Scope id this tool gives self-managed clusters whose certificates it has re-issued (lowercase alphanumeric). */
export const SELF_MANAGED_SCOPE_ID = 'selfmanaged';
const SCOPE_ID_RE = /^[a-z0-9]{1,32}$/;

/** File names, relative to the self-managed node's config directory. */
export const TLS_FILES = {
  echCa: 'certs/ech-ca.crt',
  selfManagedCa: 'certs/self-managed-transport-ca.crt',
  trustRestrictions: 'trust-restrictions.yml',
  instances: 'instances.yml',
  /** Where the re-issued node certificate and key go (the same path on every node keeps elasticsearch.yml uniform). */
  nodeCertificate: 'certs/transport-node.crt',
  nodeKey: 'certs/transport-node.key',
} as const;

export const TRANSPORT_SETTINGS = {
  certificateAuthorities: 'xpack.security.transport.ssl.certificate_authorities',
  trustRestrictionsPath: 'xpack.security.transport.ssl.trust_restrictions.path',
  certificate: 'xpack.security.transport.ssl.certificate',
  key: 'xpack.security.transport.ssl.key',
} as const;

/** `<node_id>.node.<cluster_id>.cluster.<scope_id>.account`, the Cloud pattern (the suffix is UNCONFIRMED, see C5). */
export function cloudNodeName(nodeId: string, clusterId: string, scopeId: string): string {
  return `${nodeId}.node.${clusterId}.cluster.${scopeId}.account`;
}

export function cloudNodePattern(clusterId: string, scopeId: string): string {
  return cloudNodeName('*', clusterId, scopeId);
}

export function parseCloudNodeName(name: string): { nodeId: string; clusterId: string; scopeId: string } | undefined {
  const m = /^([^.*]+)\.node\.([^.*]+)\.cluster\.([^.*]+)\.account$/.exec(name);
  return m ? { nodeId: m[1]!, clusterId: m[2]!, scopeId: m[3]! } : undefined;
}

export interface InstanceSpec {
  name: string;
  cn: string[];
  dns?: string[];
  ip?: string[];
}

/**
 * How ECH's trust entry identifies the self-managed nodes:
 * - `cloud-pattern`: by scope and cluster id (their certificates carry, or will carry after the re-issue, otherName
 *   `<node>.node.<cluster>.cluster.<scope>.account`);
 * - `node-names`: the exact otherNames their certificates already carry when they do not follow the pattern.
 * `reissue`: `required` when the certificate seen has no otherName, `unknown` when the worker could not see it.
 */
export type SelfManagedIdentity =
  | {
      kind: 'cloud-pattern';
      scopeId: string;
      clusterId: string;
      reissue: 'no' | 'required' | 'unknown';
      instances: InstanceSpec[];
    }
  | { kind: 'node-names'; nodeNames: string[]; reissue: 'no' };

function commonName(subject: string | undefined): string | undefined {
  return subject ? /(?:^|,\s*)CN=([^,]+)/.exec(subject)?.[1]?.trim() : undefined;
}

function clusterIdFrom(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'selfmanaged'
  );
}

/** Decide the identity from the transport certificate the worker saw (leaf), the cluster name and node names known. */
export function selfManagedIdentity(input: {
  leaf?: CertSummary;
  clusterName?: string;
  nodeNames?: string[];
  alias: string;
}): SelfManagedIdentity {
  const otherNames = (input.leaf?.otherNames ?? []).filter((n) => !n.includes('*') && !n.includes('='));
  if (otherNames.length > 0) {
    const parsed = otherNames.map(parseCloudNodeName);
    const first = parsed[0];
    if (
      first &&
      SCOPE_ID_RE.test(first.scopeId) &&
      parsed.every((p) => p && p.clusterId === first.clusterId && p.scopeId === first.scopeId)
    ) {
      return {
        kind: 'cloud-pattern',
        scopeId: first.scopeId,
        clusterId: first.clusterId,
        reissue: 'no',
        instances: [],
      };
    }
    return { kind: 'node-names', nodeNames: otherNames, reissue: 'no' };
  }
  const clusterId = clusterIdFrom(input.clusterName ?? input.alias);
  const leafName = commonName(input.leaf?.subject);
  const names = input.nodeNames?.length ? input.nodeNames : leafName ? [leafName] : [];
  const instances = names.map((name) => ({
    name,
    cn: [cloudNodeName(name, clusterId, SELF_MANAGED_SCOPE_ID)],
    // Keep the names the current certificate of that node carries, so hostname verification between nodes still works.
    ...(name === leafName && input.leaf?.dnsNames.length ? { dns: input.leaf.dnsNames } : {}),
    ...(name === leafName && input.leaf?.ipAddresses.length ? { ip: input.leaf.ipAddresses } : {}),
  }));
  return {
    kind: 'cloud-pattern',
    scopeId: SELF_MANAGED_SCOPE_ID,
    clusterId,
    reissue: input.leaf ? 'required' : 'unknown',
    instances,
  };
}

/** The trust-restriction patterns that match the self-managed cluster's own nodes. */
export function ownNodePatterns(id: SelfManagedIdentity): string[] {
  return id.kind === 'cloud-pattern' ? [cloudNodePattern(id.clusterId, id.scopeId)] : id.nodeNames;
}

/** True when a transport certificate's otherNames satisfy the identity ECH will trust. */
export function certificateMatchesIdentity(leaf: CertSummary | undefined, id: SelfManagedIdentity): boolean {
  if (!leaf) return false;
  return leaf.otherNames.some((n) => ownNodePatterns(id).some((p) => wildcard(p, n)));
}

function wildcard(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(escapeRe).join('.*')}$`);
  return re.test(value);
}
function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `trust.subject_name` file (C5): the ECH deployment's pattern and the self-managed cluster's own nodes. */
export function trustRestrictionsFile(echPattern: string, id: SelfManagedIdentity, deploymentId: string): string {
  return [
    `# Transport trust restrictions: ECH deployment ${deploymentId}, then this cluster's own nodes`,
    '# (restrictions apply to every transport connection, node-to-node included).',
    'trust.subject_name:',
    ...[echPattern, ...ownNodePatterns(id)].map((p) => `  - ${JSON.stringify(p)}`),
    '',
  ].join('\n');
}

/** `instances.yml` for `elasticsearch-certutil cert --in` (C2). JSON strings are valid YAML scalars. */
export function instancesYml(instances: InstanceSpec[]): string {
  const list = (k: string, v: string[] | undefined) => (v?.length ? [`    ${k}: ${JSON.stringify(v)}`] : []);
  return [
    'instances:',
    ...instances.flatMap((i) => [
      `  - name: ${JSON.stringify(i.name)}`,
      ...list('dns', i.dns),
      ...list('ip', i.ip),
      ...list('cn', i.cn),
    ]),
    '',
  ].join('\n');
}

/** The certutil run and copies of C2, for PEM files (the CA key never leaves the host that holds it). */
export function reissueCommands(instances: InstanceSpec[]): string[] {
  return [
    `./bin/elasticsearch-certutil cert --pem --ca-cert ca/ca.crt --ca-key ca/ca.key --in ${TLS_FILES.instances} --out transport-certs.zip`,
    'unzip transport-certs.zip',
    ...(instances.length ? instances : [{ name: '<node-name>' }]).map(
      (i) =>
        `# on node ${i.name}: cp ${i.name}/${i.name}.crt config/${TLS_FILES.nodeCertificate} && cp ${i.name}/${i.name}.key config/${TLS_FILES.nodeKey}`,
    ),
  ];
}
