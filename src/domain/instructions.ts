/**
 * What a person in the other organisation must do, as markdown (for people, the Temporal UI's current details) and as
 * artifacts (the same content for configuration management). Built from the same request builders the activities
 * send, so what we show is what we would send. Pure.
 */
import type { Artifacts } from '../contract/status';
import type { ConnectRequest } from '../contract/request';
import { crossClusterApiKeyRequest } from './requests';

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
