/**
 * What a person in the other organisation must do, as markdown (for people, the Temporal UI's current details) and as
 * artifacts (the same content for configuration management). Built from the same request builders the activities
 * send, so what we show is what we would send. Pure.
 */
import type { Artifacts } from '../contract/status';
import type { ConnectRequest } from '../contract/request';
import { crossClusterApiKeyRequest, remoteRoleRequest } from './requests';
import {
  NODE_PLACEHOLDER,
  TLS_FILES,
  TRANSPORT_SETTINGS,
  cloudNodeName,
  cloudNodePattern,
  commentSafe,
  instancesYml,
  ownNodePatterns,
  reissueCommands,
  shellQuote as q,
  trustRestrictionsFile,
  type SelfManagedIdentity,
} from './tlsCertificate';

export interface HumanInstructions {
  instructions: string;
  artifacts?: Artifacts;
}

function host(proxyAddress: string): string {
  return proxyAddress.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
}
function port(proxyAddress: string): number {
  return Number(/:(\d+)$/.exec(proxyAddress)?.[1] ?? 9443);
}

/**
 * The `temporal` flags that send a signal's payload through the codec server, encrypted like every other payload of
 * the run: the same variables `temporal` reads by itself (and `ech-remote dev` writes to dev.env). Without them a
 * signal's payload is stored in plaintext in the run's history.
 */
export const TEMPORAL_CODEC_FLAGS = '--codec-endpoint "$TEMPORAL_CODEC_ENDPOINT" --codec-auth "$TEMPORAL_CODEC_AUTH"';

/** A raw `temporal workflow signal` command for a step; values are quoted here. */
export function temporalSignalCommand(workflowId: string, signal: string, input: string): string {
  return `temporal workflow signal --workflow-id ${q(workflowId)} --name ${q(signal)} --input ${input} ${TEMPORAL_CODEC_FLAGS}`;
}

/**
 * How to answer a step, ech-remote first (it checks what it sends, and encrypts it with the workers' key). `cli` is a
 * command line whose values are already quoted (with `q`); `input` the raw `temporal` command's --input, quoted.
 */
export function answerHelp(
  workflowId: string,
  signal: string,
  example: string,
  cli: string,
  input = q(example),
): string {
  return [
    '**When done, answer this step** (any one of):',
    `- ech-remote: \`${cli}\``,
    `- Temporal UI: open workflow \`${workflowId}\` › *Send a Signal* › \`${signal}\` with input \`${example}\``,
    `- Temporal CLI, through the codec server: \`${temporalSignalCommand(workflowId, signal, input)}\``,
  ].join('\n');
}

/** Step `remote-cluster-server` (A0/B0): enable the remote cluster server with TLS on every self-managed node. */
export function remoteClusterServerInstructions(
  r: { remote: Pick<ConnectRequest['remote'], 'proxyAddress' | 'serverName' | 'ca'> },
  workflowId: string,
  why: string,
): HumanInstructions {
  const name = r.remote.serverName ?? host(r.remote.proxyAddress);
  const settings: Record<string, unknown> = {
    'remote_cluster_server.enabled': true,
    'remote_cluster.host': '0.0.0.0',
    'remote_cluster.port': port(r.remote.proxyAddress),
    'xpack.security.remote_cluster_server.ssl.enabled': true,
    'xpack.security.remote_cluster_server.ssl.key': 'certs/remote-cluster-server.key',
    'xpack.security.remote_cluster_server.ssl.certificate': 'certs/remote-cluster-server.crt',
  };
  const yml = Object.entries(settings)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join('\n');
  const isIp = /^[\d.]+$|:/.test(name);
  const certutil =
    r.remote.ca.kind === 'private'
      ? [
          '# with your private CA (keep ca/ca.crt: it is the CA in this request)',
          `./bin/elasticsearch-certutil cert --pem --out=remote-cluster-server.zip --ca-cert=ca/ca.crt --ca-key=ca/ca.key ${isIp ? `--ip=${q(name)}` : `--dns=${q(name)}`}`,
          'unzip remote-cluster-server.zip && cp instance/instance.crt config/certs/remote-cluster-server.crt && cp instance/instance.key config/certs/remote-cluster-server.key',
        ].join('\n')
      : `# the certificate must chain to a publicly trusted CA and name "${commentSafe(name)}"; put it in config/certs/remote-cluster-server.{crt,key}`;
  const instructions = [
    `### Self-managed org: enable the remote cluster server (port ${port(r.remote.proxyAddress)})`,
    why,
    '',
    `On **every** node of the self-managed cluster, add to \`elasticsearch.yml\`:`,
    '```yaml',
    yml,
    '```',
    `The certificate must cover **${name}** (what ECH verifies: \`server_name\`, else the host of \`${r.remote.proxyAddress}\`).`,
    '```sh',
    certutil,
    '```',
    'If the key has a passphrase: `./bin/elasticsearch-keystore add xpack.security.remote_cluster_server.ssl.secure_key_passphrase`.',
    `Then restart every node (rolling restart), and allow inbound TCP ${port(r.remote.proxyAddress)} from the ECH egress IPs.`,
    'Do **not** define a `transport.profiles._remote_cluster` profile (the node refuses to start).',
    '',
    answerHelp(
      workflowId,
      'confirmRemoteStep',
      '{"step":"remote-cluster-server","by":"you@corp.example"}',
      `ech-remote confirm ${q(workflowId)} --step remote-cluster-server --as you@corp.example`,
    ),
  ].join('\n');
  return { instructions, artifacts: { settings, restartRequired: true } };
}

/** Step `cross-cluster-api-key` (A1/B1): the self-managed org creates the key and hands over `encoded`. */
export function crossClusterApiKeyInstructions(
  r: Pick<ConnectRequest, 'alias' | 'access' | 'keyExpiration'>,
  workflowId: string,
): HumanInstructions {
  const req = crossClusterApiKeyRequest(r, workflowId);
  const instructions = [
    '### Self-managed org: create the cross-cluster API key',
    'Run this on the **self-managed** cluster as a **user** with `manage_security` (an API key cannot create it), e.g. in Kibana Dev Tools:',
    '```',
    `${req.method} ${req.path}`,
    JSON.stringify(req.body, null, 2),
    '```',
    "Hand over only the `encoded` value of the response, with `ech-remote provide-key`: it encrypts the key with the workers' key before it reaches Temporal, and never prints it.",
    '',
    '**When done, hand over the key** (any one of):',
    `- ech-remote (paste the \`encoded\` value; it is not echoed): \`read -rs ECH_REMOTE_KEY && export ECH_REMOTE_KEY && ech-remote provide-key ${q(workflowId)} --from-env ECH_REMOTE_KEY\``,
    `- Temporal UI, when it is configured with the codec server (it encrypts through it): open workflow \`${workflowId}\` › *Send a Signal* › \`provideCrossClusterApiKey\` with input \`{"encoded":"<encoded>"}\``,
    `- Temporal CLI, only with the codec server (without \`--codec-endpoint\` the key would be stored in plaintext): \`${temporalSignalCommand(workflowId, 'provideCrossClusterApiKey', '"{\\"encoded\\":\\"$ECH_REMOTE_KEY\\"}"')}\``,
  ].join('\n');
  return { instructions, artifacts: { requests: [req] } };
}

/** Step `approve-local-changes`: what will change on the ECH deployment. */
export function approvalInstructions(
  r: { local: { deploymentId: string } },
  workflowId: string,
  changes: { action: string; request?: { method: string; path: string } }[],
): HumanInstructions {
  const instructions = [
    `### ECH org: approve the changes to deployment \`${r.local.deploymentId}\``,
    'The run will make these changes, in order (rolled back on failure unless `onFailure` is "keep"):',
    ...changes.map((c, i) => `${i + 1}. ${c.action}${c.request ? ` — \`${c.request.method} ${c.request.path}\`` : ''}`),
    '',
    '**Approve or reject** (any one of):',
    `- ech-remote: \`ech-remote approve ${q(workflowId)} --step approve-local-changes --as you@example.com\` (or \`ech-remote reject … --reason TEXT\`)`,
    `- Temporal UI: workflow \`${workflowId}\` › *Send a Signal* › \`approve\` with \`{"step":"approve-local-changes","approver":"you@example.com"}\` (or \`reject\` with a \`reason\`)`,
    `- Temporal CLI, through the codec server: \`${temporalSignalCommand(workflowId, 'approve', q('{"step":"approve-local-changes","approver":"you@example.com"}'))}\``,
  ].join('\n');
  return { instructions };
}

/** Step `remote-ca-certificate` (C1b): the self-managed org hands over its transport CA (PEM, no key). */
export function remoteCaCertificateInstructions(workflowId: string, rejected?: string[]): HumanInstructions {
  const instructions = [
    '### Self-managed org: hand over your transport CA certificate',
    ...(rejected?.length
      ? ['**The certificate provided was not accepted:**', ...rejected.map((p) => `- ${p}`), '']
      : []),
    'ECH must trust the CA that signs the **transport** certificates of your nodes (PEM, the certificate only: never its key).',
    'From a PKCS#12 file: `openssl pkcs12 -in elastic-stack-ca.p12 -out transport-ca.crt.pem -clcerts -nokeys`.',
    '',
    answerHelp(
      workflowId,
      'provideRemoteCaCertificate',
      '{"pem":"-----BEGIN CERTIFICATE-----\\n…\\n-----END CERTIFICATE-----"}',
      `ech-remote provide-ca ${q(workflowId)} --file transport-ca.crt.pem`,
      // The command substitution is meant: jq reads the file the org names.
      `"$(jq -Rs '{pem: .}' transport-ca.crt.pem)"`,
    ),
  ].join('\n');
  return { instructions };
}

export interface RemoteTrustContext {
  deploymentId: string;
  /** Every ECH transport CA (rotation: past and future ones too). */
  echCaPems: string[];
  /** The trust-restriction pattern of the ECH deployment's nodes. */
  echPattern: string;
  selfManagedCaPem: string;
  identity: SelfManagedIdentity;
  /** Create the remote roles by hand (the tool has no credentials for the self-managed cluster). */
  remoteRolesByHand: boolean;
}

/** The phases of step `remote-trust` when certificates are re-issued: certificates everywhere first, then trust. */
export const REMOTE_TRUST_PHASES = {
  reissue: 'Re-issued transport certificates (instances.yml is the elasticsearch-certutil input), rolling restart',
  trust: 'ECH CA(s), own CA and trust restrictions, rolling restart',
} as const;

/** The files and settings of step `remote-trust` (C2, C4, C5), as configuration management applies them. */
export function remoteTrustArtifacts(r: ConnectRequest, workflowId: string, c: RemoteTrustContext): Artifacts {
  const id = c.identity;
  const trustSettings: Record<string, unknown> = {
    [TRANSPORT_SETTINGS.certificateAuthorities]: [TLS_FILES.selfManagedCa, TLS_FILES.echCa],
    [TRANSPORT_SETTINGS.trustRestrictionsPath]: TLS_FILES.trustRestrictions,
    // Elasticsearch refuses certificate_authorities next to a truststore (8.x auto-configured security).
    [TRANSPORT_SETTINGS.truststorePath]: null,
  };
  const trustFiles: Record<string, string> = {
    [TLS_FILES.echCa]: `${c.echCaPems.map((p) => p.trim()).join('\n')}\n`,
    [TLS_FILES.selfManagedCa]: `${c.selfManagedCaPem.trim()}\n`,
    [TLS_FILES.trustRestrictions]: trustRestrictionsFile(c.echPattern, id, c.deploymentId),
  };
  const o = { workflowId, alias: r.alias };
  const requests = c.remoteRolesByHand
    ? r.roles.flatMap((role) => {
        const req = remoteRoleRequest(role, o);
        return req ? [req] : [];
      })
    : [];
  const extra = requests.length ? { requests } : {};
  if (id.kind !== 'cloud-pattern' || id.reissue === 'no') {
    return { settings: trustSettings, files: trustFiles, ...extra, restartRequired: true };
  }
  return {
    ...extra,
    restartRequired: true,
    phases: [
      {
        title: REMOTE_TRUST_PHASES.reissue,
        settings: {
          [TRANSPORT_SETTINGS.certificate]: TLS_FILES.nodeCertificate,
          [TRANSPORT_SETTINGS.key]: TLS_FILES.nodeKey,
          // Elasticsearch refuses certificate/key next to a keystore (8.x auto-configured security).
          [TRANSPORT_SETTINGS.keystorePath]: null,
        },
        files: { [TLS_FILES.instances]: instancesYml(id.instances) },
        restartRequired: true,
      },
      { title: REMOTE_TRUST_PHASES.trust, settings: trustSettings, files: trustFiles, restartRequired: true },
    ],
  };
}

/** elasticsearch.yml lines of some artifact settings; `null` is a line to remove, shown as a comment. */
function ymlLines(settings: Record<string, unknown> | undefined): string {
  return Object.entries(settings ?? {})
    .map(([k, v]) => (v === null ? `# remove this line if you have it: ${k}` : `${k}: ${JSON.stringify(v)}`))
    .join('\n');
}

/** Step `remote-trust`: everything the self-managed org does for path C, complete and copy-pasteable. */
export function remoteTrustInstructions(
  r: ConnectRequest,
  workflowId: string,
  c: RemoteTrustContext,
): HumanInstructions {
  const artifacts = remoteTrustArtifacts(r, workflowId, c);
  const [reissuePhase, trustPhase] = artifacts.phases ?? [undefined, artifacts];
  const file = (files: Record<string, string> | undefined, name: string, lang = '', where = 'config/') => [
    `\`${where}${name}\`:`,
    `\`\`\`${lang}`,
    (files?.[name] ?? '').trimEnd(),
    '```',
  ];
  const id = c.identity;
  const ownPatterns = ownNodePatterns(id);
  const identityNote =
    id.kind === 'node-names'
      ? [
          id.complete
            ? `ECH will trust exactly these node names (the \`otherName\` of your transport certificates, from \`remote.nodeNames\`): ${id.nodeNames.map((n) => `\`${n}\``).join(', ')}.`
            : `**ECH trusts only the node names listed in its trust entry, never a wildcard: this run lists ${id.nodeNames.map((n) => `\`${n}\``).join(', ')}, what the node(s) the worker met carry.** Nodes with any other name are refused when ECH connects to them. To trust every node, start again with \`remote.nodeNames\` listing the full \`otherName\` of every node's transport certificate (the ECH org does that; tell them the names). Your trust-restrictions file below matches your own nodes by ${ownPatterns.map((p) => `\`${p}\``).join(', ')}.`,
          '',
        ]
      : [];
  const nodesNote = seenNodesNote(r, id);
  // 8.x auto-configured security keeps the transport key and trust in certs/transport.p12: Elasticsearch refuses PEM
  // settings next to those store paths, so the artifacts remove them (`null`) and the text says why and what else goes.
  const autoConfigured = (store: 'keystore' | 'truststore') => {
    const [pem, path, password] =
      store === 'keystore'
        ? [TRANSPORT_SETTINGS.certificate, TRANSPORT_SETTINGS.keystorePath, TRANSPORT_SETTINGS.keystorePassword]
        : [
            TRANSPORT_SETTINGS.certificateAuthorities,
            TRANSPORT_SETTINGS.truststorePath,
            TRANSPORT_SETTINGS.truststorePassword,
          ];
    return [
      `**8.x auto-configured security** (\`${path}\`, usually \`certs/transport.p12\`): Elasticsearch refuses to start with it next to \`${pem}\` ("cannot specify both [${pem}] and [${path}]"). If you have it, remove that line (marked in the block below) and its keystore entry on every node:`,
      '```sh',
      `./bin/elasticsearch-keystore remove ${q(password)}`,
      '```',
    ];
  };

  const reissue: string[] = [];
  if (reissuePhase && id.kind === 'cloud-pattern') {
    const pattern = cloudNodePattern(id.clusterId, id.scopeId);
    const commands = reissueCommands(id.instances);
    const instances = reissuePhase.files?.[TLS_FILES.instances] ?? '';
    reissue.push(
      id.reissue === 'required'
        ? '#### 1. Re-issue the transport certificates (they have no `otherName` SAN)'
        : `#### 1. Re-issue the transport certificates, unless they already carry \`otherName\` \`${pattern}\` exactly`,
      id.reissue === 'unknown'
        ? `The worker could not reach ${r.remote.proxyAddress} to look. Check with \`openssl x509 -noout -ext subjectAltName -in <transport certificate>\`: step 2's trust-restrictions file and ECH's trust entry expect otherName \`${pattern}\`, so certificates with no \`othername\`, or any other one, must be re-issued.`
        : `ECH identifies your nodes by the \`otherName\` of their transport certificates, following the Cloud pattern \`${pattern}\`.`,
      instances.includes(NODE_PLACEHOLDER)
        ? `List **every** node in \`instances.yml\`: replace \`${NODE_PLACEHOLDER}\` with a node's name and repeat the entry for each node, \`cn\` following the pattern shown.`
        : 'One entry per node: add any node missing below the same way.',
      ...(/<DNS name of /.test(instances)
        ? [
            'Replace each `<DNS name of …>` with the host names the other nodes use to reach that node (add `ip: ["…"]` for IP addresses): with the default `verification_mode: full` your nodes check them.',
          ]
        : []),
      ...file(reissuePhase.files, TLS_FILES.instances, 'yaml', ''),
      'Where the CA key is, with the CA that signs your transport certificates (PEM form shown; `--ca elastic-stack-ca.p12` for a PKCS#12 CA):',
      '```sh',
      ...commands.certutil,
      '```',
      'Copy `transport-certs.zip` to every node and run there its line (from the directory holding the zip):',
      '```sh',
      ...commands.perNode.flatMap((n) => [`# on node ${commentSafe(n.node)}`, n.command]),
      '```',
      ...autoConfigured('keystore'),
      `Then, on every node, \`elasticsearch.yml\`:`,
      '```yaml',
      ymlLines(reissuePhase.settings),
      '```',
      'Roll the new certificates out to **every** node (rolling restart) **before** step 2 turns on trust restrictions: a restarted node with restrictions refuses nodes still on the old certificates.',
      'Alternative when you cannot re-issue: ECH can match DNS names instead (ECH user setting `xpack.security.transport.ssl.trust_restrictions.x509_fields`), ask the ECH org.',
      '',
    );
  }
  const roles = artifacts.requests?.length
    ? [
        `#### ${reissue.length ? 3 : 2}. Roles of the same name (the TLS model checks them on your cluster)`,
        'Run on the **self-managed** cluster as a user with `manage_security`:',
        '```',
        ...artifacts.requests.flatMap((q) => [`${q.method} ${q.path}`, JSON.stringify(q.body, null, 2)]),
        '```',
        '',
      ]
    : [];
  const instructions = [
    '### Self-managed org: trust the ECH deployment on the transport layer',
    `ECH deployment \`${c.deploymentId}\` connects to your transport port (${r.remote.proxyAddress}) with mutual TLS. Every ECH deployment of its region is signed by the same CA, so trust is restricted to this deployment's nodes (\`${c.echPattern}\`) and your own.`,
    '',
    ...identityNote,
    ...nodesNote,
    ...reissue,
    `#### ${reissue.length ? 2 : 1}. On **every** node: files and \`elasticsearch.yml\`, then a rolling restart`,
    ...file(trustPhase?.files, TLS_FILES.echCa),
    ...file(trustPhase?.files, TLS_FILES.selfManagedCa),
    ...file(trustPhase?.files, TLS_FILES.trustRestrictions, 'yaml'),
    ...autoConfigured('truststore'),
    '`elasticsearch.yml`:',
    '```yaml',
    ymlLines(trustPhase?.settings),
    '```',
    `Or keep your truststore instead: import both CA files into it (\`keytool -importcert -trustcacerts -noprompt -keystore <truststore.p12> -storepass <password> -alias ech-ca -file ech-ca.crt\`, likewise your own CA) and set only \`${TRANSPORT_SETTINGS.trustRestrictionsPath}\`.`,
    `Restart every node, and allow inbound TCP ${port(r.remote.proxyAddress)} from the ECH egress IPs (https://ips.cld.elstc.co/).`,
    '',
    ...roles,
    answerHelp(
      workflowId,
      'confirmRemoteStep',
      '{"step":"remote-trust","by":"you@corp.example"}',
      `ech-remote confirm ${q(workflowId)} --step remote-trust --as you@corp.example`,
    ),
  ].join('\n');
  return { instructions, artifacts };
}

/**
 * Which nodes the worker met behind the transport address (each connection reaches one node, as each of ECH's proxy
 * sockets does), and that every other node of the cluster must be covered the same way: the worker cannot prove it
 * met them all, and a single node seen usually means a load balancer that happened to answer from one node, or
 * only one node behind the address while ECH may be given others.
 */
function seenNodesNote(r: ConnectRequest, id: SelfManagedIdentity): string[] {
  const seen = id.seenNodes ?? [];
  if (seen.length === 0) return [];
  const where = r.remote.proxyAddress;
  const list = seen.map((n) => `\`${n}\``).join(', ');
  const header =
    seen.length === 1
      ? `**The worker met one node behind ${where}: ${list}.** Connections to that address were answered by that node only. If your cluster has other nodes (\`GET _cat/nodes\`), whether behind ${where} or not, they must be covered too:`
      : `The worker met ${seen.length} nodes behind ${where} (one per connection, as ECH's proxy sockets will): ${list}. Any other node of your cluster (\`GET _cat/nodes\`) must be covered too:`;
  const how =
    id.kind === 'node-names'
      ? `its transport certificate's full \`otherName\` must be in \`remote.nodeNames\` (ECH's trust entry names nodes exactly)${r.remote.nodeNames?.length ? '' : ', which this run did not get'}.`
      : id.reissue === 'no'
        ? `its transport certificate must carry \`otherName\` \`${cloudNodePattern(id.clusterId, id.scopeId)}\` too (check with \`openssl x509 -noout -ext subjectAltName -in <its transport certificate>\`); else ECH refuses it and your trust restrictions keep it out of the cluster.`
        : `add an entry for each to \`instances.yml\` below (\`cn\` following \`${cloudNodeName('<node>', id.clusterId, id.scopeId)}\`, \`dns\`/\`ip\` the names your nodes reach it by) and run the copy line on that node as for the others${r.remote.nodeNames?.length ? '' : '; or start again with `remote.nodeNames` listing every node'}.`;
  return [`${header} ${how}`, ''];
}
