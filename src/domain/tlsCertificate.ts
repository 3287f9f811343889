/**
 * Path C (TLS-certificate model), what is specific to it: how ECH identifies the self-managed nodes (the Cloud naming
 * pattern of their transport certificates' `otherName`, domain steps C2/C3), and the files the self-managed org
 * installs (ECH CA, trust restrictions, instances.yml for a re-issue, C4/C5). Pure: the workflow bundle imports it.
 */
import type { CertSummary, TlsProbeReport } from '../contract/facts';

/**
 * One shell word that the shell reads back as exactly `value` (POSIX sh, bash, zsh), for every value put into a command
 * the other organisation pastes, validated or not (a node name may come from a certificate's subject): as is when it
 * holds only characters no shell treats specially, so commands stay readable, else in single quotes, inside which
 * nothing is special, a `'` written `'\''`. Python's shlex.quote, except a leading `=` (zsh expands `=cmd`).
 */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@+:,./-][A-Za-z0-9_@+=:,./-]*$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A value on one line of a `#` comment of a shell snippet: a line break in it would start a command. */
export function commentSafe(value: string): string {
  return value.replace(/[\p{Cc}\u2028\u2029]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Scope id this tool gives self-managed clusters whose certificates it has re-issued (lowercase alphanumeric). */
export const SELF_MANAGED_SCOPE_ID = 'selfmanaged';
const SCOPE_ID_RE = /^[a-z0-9]{1,32}$/;

/**
 * Failure type when the transport certificates, after the self-managed org confirmed step remote-trust, do not carry
 * the node names its files and ECH's trust entry were generated for.
 */
export const NODE_IDENTITY_MISMATCH = 'NodeIdentityMismatch';

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
  /**
   * 8.x auto-configured security (`certs/transport.p12`): Elasticsearch refuses to start with `certificate` next to
   * `keystore.path`, or `certificate_authorities` next to `truststore.path` ("cannot specify both …").
   */
  keystorePath: 'xpack.security.transport.ssl.keystore.path',
  truststorePath: 'xpack.security.transport.ssl.truststore.path',
  keystorePassword: 'xpack.security.transport.ssl.keystore.secure_password',
  truststorePassword: 'xpack.security.transport.ssl.truststore.secure_password',
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
 * - `node-names`: the exact otherNames their certificates already carry when they do not follow the pattern. ECH takes
 *   no wildcard there (`nodeNames`, every node's full otherName: `remote.nodeNames` when given, else only what the probed
 *   node carries, `complete: false`), while the trust-restrictions file may (`ownPatterns`).
 * `reissue`: `required` when the certificate seen has no otherName, `unknown` when the worker could not see it.
 */
export type SelfManagedIdentity = (
  | {
      kind: 'cloud-pattern';
      scopeId: string;
      clusterId: string;
      reissue: 'no' | 'required' | 'unknown';
      instances: InstanceSpec[];
    }
  | { kind: 'node-names'; nodeNames: string[]; ownPatterns: string[]; complete: boolean; reissue: 'no' }
) & {
  /**
   * The nodes the worker met behind the transport address (subject and otherName of each distinct certificate), so
   * the instructions can say how many were seen and that any other node must be covered too. Absent when none was.
   */
  seenNodes?: string[];
};

/**
 * Every node certificate a transport probe met: its survey of the address (`nodes`), or, in reports recorded before
 * the survey existed, the one leaf of its chain.
 */
export function seenNodeCertificates(probe: TlsProbeReport | undefined): CertSummary[] {
  if (!probe?.reachable) return [];
  if (probe.nodes?.length) return probe.nodes;
  return probe.chain[0] ? [probe.chain[0]] : [];
}

/** How a node certificate is named to people: its subject, and its otherName when it has one. */
export function nodeLabel(c: CertSummary): string {
  return `${c.subject}${c.otherNames.length ? ` (otherName ${c.otherNames.join(', ')})` : ''}`;
}

/** The name of the node a certificate belongs to, for instances.yml: its subject CN. */
export function nodeNameOf(c: CertSummary): string | undefined {
  return commonName(c.subject);
}

function commonName(subject: string | undefined): string | undefined {
  return subject ? /(?:^|,\s*)CN=([^,]+)/.exec(subject)?.[1]?.trim() : undefined;
}

/** A cluster id for `trust_allowlist`, lowercase alphanumeric like `scope_id` (C3), from the cluster name. */
export function clusterIdFrom(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '')
      .slice(0, 32) || 'selfmanaged'
  );
}

/**
 * A trust-restriction pattern for the nodes named like `name`: its first label wildcarded (`node-1.corp.example` →
 * `*.corp.example`), else a trailing number (`node-1` → `node-*`), else the name itself.
 */
export function ownNodeWildcard(name: string): string {
  const dot = name.indexOf('.');
  if (dot > 0 && dot < name.length - 1) return `*${name.slice(dot)}`;
  if (/[^\d]\d+$/.test(name)) return name.replace(/\d+$/, '*');
  return name;
}

const unique = (xs: string[]) => [...new Set(xs)];

/** The node name to replace when no node name is known (instances.yml and the copy commands). */
export const NODE_PLACEHOLDER = '<node-name>';

/** The host-name SAN to replace for a node the worker did not see. */
export function hostPlaceholder(node: string): string {
  return `<DNS name of ${node}>`;
}

/** True when a text still holds a placeholder of these files (`<…>`). */
export function hasPlaceholder(text: string): boolean {
  return /<[^<>\n]+>/.test(text);
}

/**
 * Decide the identity from the transport certificates the worker saw behind the address (`nodes`, or the one `leaf`
 * of an older probe), the cluster name and the node names known:
 * - every node carries an otherName of one Cloud pattern: ECH trusts that pattern, nothing to re-issue;
 * - every node carries otherNames, not all of one Cloud pattern: ECH trusts exact names, `remote.nodeNames` when
 *   given, else every otherName seen (complete only with `remote.nodeNames`: nodes the worker did not meet are unknown);
 * - a node without otherName: every node's certificate is re-issued, one instances.yml entry per node
 *   (`remote.nodeNames`, else the CN of each node seen), each seen node keeping its own DNS and IP SANs.
 */
export function selfManagedIdentity(input: {
  leaf?: CertSummary;
  nodes?: CertSummary[];
  clusterName?: string;
  nodeNames?: string[];
  alias: string;
}): SelfManagedIdentity {
  const leaves = input.nodes?.length ? input.nodes : input.leaf ? [input.leaf] : [];
  const seen = leaves.length ? { seenNodes: leaves.map(nodeLabel) } : {};
  const usable = (leaf: CertSummary) => leaf.otherNames.filter((n) => !n.includes('*') && !n.includes('='));
  if (leaves.length > 0 && leaves.every((leaf) => usable(leaf).length > 0)) {
    const otherNames = unique(leaves.flatMap(usable));
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
        ...seen,
      };
    }
    // ECH lists exact names (every node: from the request), the file may use a wildcard for the nodes not known here.
    return input.nodeNames?.length
      ? {
          kind: 'node-names',
          nodeNames: input.nodeNames,
          ownPatterns: input.nodeNames,
          complete: true,
          reissue: 'no',
          ...seen,
        }
      : {
          kind: 'node-names',
          nodeNames: otherNames,
          ownPatterns: unique(otherNames.map(ownNodeWildcard)),
          complete: false,
          reissue: 'no',
          ...seen,
        };
  }
  const clusterId = clusterIdFrom(input.clusterName ?? input.alias);
  const byName = new Map<string, CertSummary>();
  for (const leaf of leaves) {
    const name = nodeNameOf(leaf);
    if (name && !byName.has(name)) byName.set(name, leaf);
  }
  const names = input.nodeNames?.length ? input.nodeNames : byName.size ? [...byName.keys()] : [NODE_PLACEHOLDER];
  const instances = names.map((name): InstanceSpec => {
    const cn = [cloudNodeName(name, clusterId, SELF_MANAGED_SCOPE_ID)];
    const leaf = byName.get(name);
    // The names the node's current certificate carries stay, so hostname verification between nodes (the default
    // verification_mode full) still works; for nodes the worker did not see, a placeholder to replace.
    if (!leaf) return { name, dns: [hostPlaceholder(name === NODE_PLACEHOLDER ? 'the node' : name)], cn };
    return {
      name,
      ...(leaf.dnsNames.length ? { dns: leaf.dnsNames } : {}),
      ...(leaf.ipAddresses.length ? { ip: leaf.ipAddresses } : {}),
      cn,
    };
  });
  return {
    kind: 'cloud-pattern',
    scopeId: SELF_MANAGED_SCOPE_ID,
    clusterId,
    reissue: leaves.length ? 'required' : 'unknown',
    instances,
    ...seen,
  };
}

/**
 * The nodes seen behind the address that `remote.nodeNames` leaves out, each with what it carries: for exact names
 * (ECH's `additional_node_names`), a seen otherName not listed; for a re-issue, a seen node whose CN is not an
 * instances.yml name (its certificate would not be re-issued). Empty without `remote.nodeNames`.
 */
export function nodesNotListed(
  id: SelfManagedIdentity,
  nodes: CertSummary[],
  nodeNames: string[] | undefined,
): { node: CertSummary; missing: string[] }[] {
  if (!nodeNames?.length) return [];
  if (id.kind === 'node-names') {
    return nodes.flatMap((node) => {
      const missing = node.otherNames.filter((n) => !nodeNames.includes(n));
      return missing.length ? [{ node, missing }] : [];
    });
  }
  if (id.reissue !== 'required') return [];
  return nodes.flatMap((node) => {
    const name = nodeNameOf(node);
    return name && !nodeNames.includes(name) ? [{ node, missing: [name] }] : [];
  });
}

/** The trust-restriction patterns that match the self-managed cluster's own nodes. */
export function ownNodePatterns(id: SelfManagedIdentity): string[] {
  return id.kind === 'cloud-pattern' ? [cloudNodePattern(id.clusterId, id.scopeId)] : id.ownPatterns;
}

/** What ECH's trust entry lets in: the Cloud pattern of scope and cluster, or exact node names. */
export function echTrustedNames(id: SelfManagedIdentity): string[] {
  return id.kind === 'cloud-pattern' ? [cloudNodePattern(id.clusterId, id.scopeId)] : id.nodeNames;
}

/** True when a transport certificate's otherNames satisfy the identity ECH will trust. */
export function certificateMatchesIdentity(leaf: CertSummary | undefined, id: SelfManagedIdentity): boolean {
  if (!leaf) return false;
  return leaf.otherNames.some(
    (n) => echTrustedNames(id).some((p) => wildcard(p, n)) && ownNodePatterns(id).some((p) => wildcard(p, n)),
  );
}

/**
 * True when two identities mean the same configuration: the same ECH trust (scope and cluster, or node names) and
 * the same own-node patterns in the trust-restrictions file. Whether a re-issue was needed does not matter.
 */
export function sameIdentity(a: SelfManagedIdentity, b: SelfManagedIdentity): boolean {
  const key = (x: SelfManagedIdentity) =>
    JSON.stringify({ kind: x.kind, ech: echTrustedNames(x), own: ownNodePatterns(x) });
  return key(a) === key(b);
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

/**
 * The certutil run (where the CA key is: it never leaves that host) and, for each node, one line to paste on that node
 * to install its certificate and key (C2, PEM files). Each line is a complete command, nothing is commented out.
 */
export function reissueCommands(instances: InstanceSpec[]): {
  certutil: string[];
  perNode: { node: string; command: string }[];
} {
  // The config directory is expanded by the shell on purpose; every other value is one quoted word.
  const conf = '"${ES_PATH_CONF:-config}"';
  const q = shellQuote;
  return {
    certutil: [
      `./bin/elasticsearch-certutil cert --pem --ca-cert ca/ca.crt --ca-key ca/ca.key --in ${q(TLS_FILES.instances)} --out transport-certs.zip`,
    ],
    perNode: (instances.length ? instances : [{ name: NODE_PLACEHOLDER }]).map((i) => ({
      node: i.name,
      command: [
        `unzip -o transport-certs.zip ${q(`${i.name}/*`)} -d transport-certs`,
        `mkdir -p ${conf}/certs`,
        `cp ${q(`transport-certs/${i.name}/${i.name}.crt`)} ${conf}/${q(TLS_FILES.nodeCertificate)}`,
        `cp ${q(`transport-certs/${i.name}/${i.name}.key`)} ${conf}/${q(TLS_FILES.nodeKey)}`,
      ].join(' && '),
    })),
  };
}
