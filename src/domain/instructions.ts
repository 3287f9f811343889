/**
 * What a person in the other organisation must do, as markdown (for people, the Temporal UI's current details) and as
 * artifacts (the same content for configuration management). Built from the same request builders the activities
 * send, so what we show is what we would send. Pure.
 */
import type { Artifacts } from '../contract/status';
import type { ConnectRequest } from '../contract/request';
import { crossClusterApiKeyRequest, remoteRoleRequest } from './requests';
import {
  TLS_FILES,
  TRANSPORT_SETTINGS,
  instancesYml,
  reissueCommands,
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

function answerHelp(workflowId: string, signal: string, example: string, cli: string): string {
  return [
    '**When done, answer this step** (any one of):',
    `- Temporal UI: open workflow \`${workflowId}\` › *Send a Signal* › \`${signal}\` with input \`${example}\``,
    `- Temporal CLI: \`temporal workflow signal --workflow-id ${workflowId} --name ${signal} --input '${example}'\``,
    `- ech-remote: \`${cli}\``,
  ].join('\n');
}

/** Step `remote-cluster-server` (A0/B0): enable the remote cluster server with TLS on every self-managed node. */
export function remoteClusterServerInstructions(r: ConnectRequest, workflowId: string, why: string): HumanInstructions {
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
          `./bin/elasticsearch-certutil cert --pem --out=remote-cluster-server.zip --ca-cert=ca/ca.crt --ca-key=ca/ca.key ${isIp ? `--ip=${name}` : `--dns=${name}`}`,
          'unzip remote-cluster-server.zip && cp instance/instance.crt config/certs/remote-cluster-server.crt && cp instance/instance.key config/certs/remote-cluster-server.key',
        ].join('\n')
      : `# the certificate must chain to a publicly trusted CA and name "${name}"; put it in config/certs/remote-cluster-server.{crt,key}`;
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
      `ech-remote confirm ${workflowId} --step remote-cluster-server --as you@corp.example`,
    ),
  ].join('\n');
  return { instructions, artifacts: { settings, restartRequired: true } };
}

/** Step `cross-cluster-api-key` (A1/B1): the self-managed org creates the key and hands over `encoded`. */
export function crossClusterApiKeyInstructions(r: ConnectRequest, workflowId: string): HumanInstructions {
  const req = crossClusterApiKeyRequest(r, workflowId);
  const instructions = [
    '### Self-managed org: create the cross-cluster API key',
    'Run this on the **self-managed** cluster as a **user** with `manage_security` (an API key cannot create it), e.g. in Kibana Dev Tools:',
    '```',
    `${req.method} ${req.path}`,
    JSON.stringify(req.body, null, 2),
    '```',
    'Hand over only the `encoded` value of the response. It is encrypted in transit to the workflow and never shown again.',
    '',
    answerHelp(
      workflowId,
      'provideCrossClusterApiKey',
      '{"encoded":"<encoded>"}',
      `ECH_REMOTE_KEY=<encoded> ech-remote provide-key ${workflowId} --from-env ECH_REMOTE_KEY`,
    ),
  ].join('\n');
  return { instructions, artifacts: { requests: [req] } };
}

/** Step `approve-local-changes`: what will change on the ECH deployment. */
export function approvalInstructions(
  r: ConnectRequest,
  workflowId: string,
  changes: { action: string; request?: { method: string; path: string } }[],
): HumanInstructions {
  const instructions = [
    `### ECH org: approve the changes to deployment \`${r.local.deploymentId}\``,
    'The run will make these changes, in order (rolled back on failure unless `onFailure` is "keep"):',
    ...changes.map((c, i) => `${i + 1}. ${c.action}${c.request ? ` — \`${c.request.method} ${c.request.path}\`` : ''}`),
    '',
    '**Approve or reject** (any one of):',
    `- Temporal UI: workflow \`${workflowId}\` › *Send a Signal* › \`approve\` with \`{"step":"approve-local-changes","approver":"you@example.com"}\` (or \`reject\` with a \`reason\`)`,
    `- Temporal CLI: \`temporal workflow signal --workflow-id ${workflowId} --name approve --input '{"step":"approve-local-changes","approver":"you@example.com"}'\``,
    `- ech-remote: \`ech-remote approve ${workflowId} --step approve-local-changes --as you@example.com\``,
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
      `temporal workflow signal --workflow-id ${workflowId} --name provideRemoteCaCertificate --input "$(jq -Rs '{pem: .}' transport-ca.crt.pem)"`,
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

/** The files and settings of step `remote-trust` (C2, C4, C5), as configuration management applies them. */
export function remoteTrustArtifacts(r: ConnectRequest, workflowId: string, c: RemoteTrustContext): Artifacts {
  const reissue = c.identity.reissue === 'required';
  const settings: Record<string, unknown> = {
    [TRANSPORT_SETTINGS.certificateAuthorities]: [TLS_FILES.selfManagedCa, TLS_FILES.echCa],
    [TRANSPORT_SETTINGS.trustRestrictionsPath]: TLS_FILES.trustRestrictions,
    ...(reissue
      ? { [TRANSPORT_SETTINGS.certificate]: TLS_FILES.nodeCertificate, [TRANSPORT_SETTINGS.key]: TLS_FILES.nodeKey }
      : {}),
  };
  const files: Record<string, string> = {
    [TLS_FILES.echCa]: `${c.echCaPems.map((p) => p.trim()).join('\n')}\n`,
    [TLS_FILES.selfManagedCa]: `${c.selfManagedCaPem.trim()}\n`,
    [TLS_FILES.trustRestrictions]: trustRestrictionsFile(c.echPattern, c.identity, c.deploymentId),
    ...(c.identity.kind === 'cloud-pattern' && c.identity.reissue !== 'no'
      ? { [TLS_FILES.instances]: instancesYml(c.identity.instances) }
      : {}),
  };
  const o = { workflowId, alias: r.alias };
  const requests = c.remoteRolesByHand
    ? r.roles.flatMap((role) => {
        const req = remoteRoleRequest(role, o);
        return req ? [req] : [];
      })
    : [];
  return { settings, files, ...(requests.length ? { requests } : {}), restartRequired: true };
}

/** Step `remote-trust`: everything the self-managed org does for path C, complete and copy-pasteable. */
export function remoteTrustInstructions(
  r: ConnectRequest,
  workflowId: string,
  c: RemoteTrustContext,
): HumanInstructions {
  const artifacts = remoteTrustArtifacts(r, workflowId, c);
  const certificateKeys: string[] = [TRANSPORT_SETTINGS.certificate, TRANSPORT_SETTINGS.key];
  const yamlLines = (keep: (key: string) => boolean) =>
    Object.entries(artifacts.settings ?? {})
      .filter(([k]) => keep(k))
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
      .join('\n');
  // The re-issued certificates go in first (step 1), the trust settings after (step 2): see the rollout note.
  const yml = yamlLines((k) => !certificateKeys.includes(k));
  const certificateYml = [
    `${TRANSPORT_SETTINGS.certificate}: ${JSON.stringify(TLS_FILES.nodeCertificate)}`,
    `${TRANSPORT_SETTINGS.key}: ${JSON.stringify(TLS_FILES.nodeKey)}`,
  ].join('\n');
  const file = (name: string, lang = '', where = 'config/') => [
    `\`${where}${name}\`:`,
    `\`\`\`${lang}`,
    (artifacts.files?.[name] ?? '').trimEnd(),
    '```',
  ];
  const id = c.identity;
  const reissue =
    id.kind === 'cloud-pattern' && id.reissue !== 'no'
      ? [
          id.reissue === 'required'
            ? '#### 1. Re-issue the transport certificates (they have no `otherName` SAN)'
            : '#### 1. Only if your transport certificates have no `otherName` SAN: re-issue them',
          id.reissue === 'unknown'
            ? `The worker could not reach ${r.remote.proxyAddress} to look. Check with \`openssl x509 -noout -ext subjectAltName -in <transport certificate>\`: without \`othername\`, follow this step.`
            : 'ECH identifies your nodes by the `otherName` of their transport certificates, following the Cloud pattern `<node>.node.<cluster>.cluster.<scope>.account`.',
          id.instances.length === 0 || id.reissue === 'unknown'
            ? 'List **every** node in `instances.yml` (one entry per node, `name` = node name, `cn` as shown).'
            : 'One entry per node: add any node missing below the same way.',
          ...file(TLS_FILES.instances, 'yaml', ''),
          'With the CA that signs your transport certificates (PEM form shown; `--ca elastic-stack-ca.p12` for a PKCS#12 CA):',
          '```sh',
          ...reissueCommands(id.instances),
          '```',
          'Then, on every node, point `elasticsearch.yml` at them:',
          '```yaml',
          certificateYml,
          '```',
          'Roll the new certificates out to **every** node (rolling restart) before step 2 turns on trust restrictions: a restarted node with restrictions refuses nodes still on the old certificates.',
          'Alternative when you cannot re-issue: ECH can match DNS names instead (ECH user setting `xpack.security.transport.ssl.trust_restrictions.x509_fields`), ask the ECH org.',
          '',
        ]
      : [];
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
    ...reissue,
    `#### ${reissue.length ? 2 : 1}. On **every** node: files and \`elasticsearch.yml\`, then a rolling restart`,
    ...file(TLS_FILES.echCa),
    ...file(TLS_FILES.selfManagedCa),
    ...file(TLS_FILES.trustRestrictions, 'yaml'),
    '`elasticsearch.yml` (if you use a truststore instead of PEM CAs, import `ech-ca.crt` into it with `keytool -importcert` and keep your truststore setting):',
    '```yaml',
    yml,
    '```',
    `Restart every node, and allow inbound TCP ${port(r.remote.proxyAddress)} from the ECH egress IPs (https://ips.cld.elstc.co/).`,
    '',
    ...roles,
    answerHelp(
      workflowId,
      'confirmRemoteStep',
      '{"step":"remote-trust","by":"you@corp.example"}',
      `ech-remote confirm ${workflowId} --step remote-trust --as you@corp.example`,
    ),
  ].join('\n');
  return { instructions, artifacts };
}
