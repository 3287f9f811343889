/**
 * Day 2 (rotate, update access, disconnect): the instructions for the self-managed org when the tool has no
 * credentials there, and the plan steps a dry run and the approval show. Built from the same request builders the
 * activities send. Pure: the workflow bundle imports this file.
 */
import type { Access } from '../contract/request';
import type { PlanStep } from '../contract/status';
import { HUMAN_STEPS, MANAGED_BY } from '../contract/steps';
import { answerHelp, type HumanInstructions } from './instructions';
import { ownershipSettingKey } from './requests';
import { shellQuote as q } from './tlsCertificate';

/** Step `invalidate-old-key`: the self-managed org invalidates the key the connection no longer uses. */
export function invalidateOldKeyInstructions(
  workflowId: string,
  oldKeyId: string | undefined,
  newKeyId: string | undefined,
): HumanInstructions {
  const ids = oldKeyId ? [oldKeyId] : ['<id of the key you handed over before>'];
  const req = { method: 'DELETE', path: '/_security/api_key', body: { ids } };
  const instructions = [
    '### Self-managed org: invalidate the old cross-cluster API key',
    `The connection now uses the new key${newKeyId ? ` \`${newKeyId}\`` : ''} and was verified with it. Invalidate the old one on the **self-managed** cluster (a user with \`manage_security\`):`,
    '```',
    `${req.method} ${req.path}`,
    JSON.stringify(req.body, null, 2),
    '```',
    'Check: `GET /_security/api_key?id=' + ids[0] + '` shows `"invalidated": true`.',
    '',
    answerHelp(
      workflowId,
      'confirmRemoteStep',
      `{"step":"${HUMAN_STEPS.invalidateOldKey}","by":"admin@corp.example"}`,
      `ech-remote confirm ${q(workflowId)} --step ${HUMAN_STEPS.invalidateOldKey} --as you@corp.example`,
    ),
  ].join('\n');
  return { instructions, artifacts: { requests: [req] } };
}

/** Step `update-remote-key`: the self-managed org changes the key's access in place. */
export function updateRemoteKeyInstructions(
  workflowId: string,
  keyId: string | undefined,
  access: Access,
): HumanInstructions {
  const req = {
    method: 'PUT',
    path: `/_security/cross_cluster/api_key/${keyId ?? '<id of the key the connection uses>'}`,
    body: { access },
  };
  const instructions = [
    '### Self-managed org: change the access of the cross-cluster API key',
    'Run this on the **self-managed** cluster as the user who owns the key (only the owner can update it; an API key cannot):',
    '```',
    `${req.method} ${req.path}`,
    JSON.stringify(req.body, null, 2),
    '```',
    'Elasticsearch answers `{"updated": true}` (or `false` when the access was already so). The access is replaced whole.',
    '',
    answerHelp(
      workflowId,
      'confirmRemoteStep',
      `{"step":"${HUMAN_STEPS.updateRemoteKey}","by":"admin@corp.example"}`,
      `ech-remote confirm ${q(workflowId)} --step ${HUMAN_STEPS.updateRemoteKey} --as you@corp.example`,
    ),
  ].join('\n');
  return { instructions, artifacts: { requests: [req] } };
}

/** What disconnect leaves for the self-managed org when the tool has no credentials there (a result warning). */
export function invalidateRemoteKeyNote(alias: string, keyId: string | undefined): string {
  return (
    `The self-managed org should invalidate the cross-cluster API key of "${alias}" on its cluster: ` +
    `DELETE /_security/api_key {"ids":["${keyId ?? '<id of the key handed over for this alias>'}"]} (the tool had no credentials there).`
  );
}

export function planStep(
  step: PlanStep['step'],
  action: string,
  request?: PlanStep['request'],
  who: PlanStep['who'] = 'workflow',
): PlanStep {
  return { step, who, action, ...(request ? { request } : {}) };
}

/**
 * The temporary alias a rotation verifies the new key on before it touches the live alias. Elasticsearch keeps one
 * connection (and one credential) per alias (RemoteClusterService: a RemoteClusterConnection per alias, no check that
 * two aliases reach the same cluster), so a second alias to the same remote cluster is allowed and independent.
 */
export function rotationProbeAlias(alias: string): string {
  return `${alias}-rotation-probe`;
}

/**
 * The probe's `PUT /_cluster/settings` body: the live alias's own `cluster.remote.<alias>.*` settings (mode, proxy
 * address, server name…) under the probe's name, and an ownership record that says whose probe it is.
 */
export function rotationProbeSettings(
  alias: string,
  live: Record<string, unknown>,
  workflowId: string,
): { persistent: Record<string, unknown> } {
  const probe = rotationProbeAlias(alias);
  const from = `cluster.remote.${alias}.`;
  const persistent: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(live)) {
    if (k.startsWith(from)) persistent[`cluster.remote.${probe}.${k.slice(from.length)}`] = v;
  }
  persistent[ownershipSettingKey(probe)] = JSON.stringify({
    managed_by: MANAGED_BY,
    workflow_id: workflowId,
    security_model: 'api-key',
    rotation_probe_for: alias,
  });
  return { persistent };
}

/** An index pattern the key may search, for the probe's search when the request names none. */
export function firstSearchPattern(access: unknown): string | undefined {
  const names = (access as Access | undefined)?.search?.[0]?.names;
  return Array.isArray(names) && typeof names[0] === 'string' ? names[0] : undefined;
}
