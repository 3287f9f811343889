/**
 * migrateRemoteClusterToApiKey, the pure parts: the one settings change that points the alias at the remote cluster
 * server (and the change that puts the old settings back), the instructions to pause what uses the alias, and the
 * comparison of the key's access with what the certificate model's same-named remote roles granted. Elasticsearch's
 * procedure: docs "Migrate remote clusters from certificate-based to API key-based authentication" (ES PR #98999);
 * domain page §4c. Pure: the workflow bundle imports this file.
 */
import type { CrossClusterOperations } from '../contract/facts';
import type { Access } from '../contract/request';
import { HUMAN_STEPS } from '../contract/steps';
import type { HumanInstructions } from './instructions';
import { trustEntryName } from './requests';

/** Where the alias goes: the remote cluster server (proxy mode), as the request names it. */
export interface RemoteClusterServerTarget {
  proxyAddress: string;
  serverName?: string;
}

/**
 * The `cluster.remote.<alias>.*` settings of the switch: proxy mode to the remote cluster server, sniff-only settings
 * cleared in the same request (a sniff-mode certificate connection becomes a proxy one). `skip_unavailable` and
 * `proxy_socket_connections` stay as they were: the model changes, not the connection's behaviour.
 */
export function apiKeySwitchSettings(alias: string, rcs: RemoteClusterServerTarget): Record<string, unknown> {
  const p = `cluster.remote.${alias}`;
  return {
    [`${p}.mode`]: 'proxy',
    [`${p}.proxy_address`]: rcs.proxyAddress,
    [`${p}.server_name`]: rcs.serverName ?? null,
    [`${p}.seeds`]: null,
    [`${p}.node_connections`]: null,
  };
}

/** The rollback's settings: every key the switch wrote back to its recorded value (null where there was none). */
export function restoreSettings(
  old: Record<string, unknown>,
  switched: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of new Set([...Object.keys(switched), ...Object.keys(old)])) out[k] = old[k] ?? null;
  return out;
}

/**
 * The trust entry a migration adds when the remote cluster server's CA is private (a `proxy` entry). Its own name:
 * the certificate model's `generic` entry (trustEntryName) keeps the old connection working until the switch is
 * verified, and a rollback needs it.
 */
export function migrationTrustEntryName(alias: string): string {
  return `${trustEntryName(alias)}-api-key`;
}

export function activeOperations(o: CrossClusterOperations): string[] {
  return [
    ...o.followerIndices.map((i) => `CCR follower index ${i}`),
    ...o.autoFollowPatterns.map((p) => `auto-follow pattern ${p}`),
    ...o.transforms.map((t) => `transform ${t}`),
    ...o.datafeeds.map((d) => `datafeed ${d}`),
  ];
}

/** The requests that pause what still uses the alias, on ECH (resumed by the ECH org after the migration). */
export function pauseRequests(o: CrossClusterOperations): { method: string; path: string }[] {
  return [
    ...o.followerIndices.map((i) => ({ method: 'POST', path: `/${encodeURIComponent(i)}/_ccr/pause_follow` })),
    ...o.autoFollowPatterns.map((p) => ({ method: 'POST', path: `/_ccr/auto_follow/${encodeURIComponent(p)}/pause` })),
    ...o.transforms.map((t) => ({ method: 'POST', path: `/_transform/${encodeURIComponent(t)}/_stop` })),
    ...o.datafeeds.map((d) => ({ method: 'POST', path: `/_ml/datafeeds/${encodeURIComponent(d)}/_stop` })),
  ];
}

/** Step `pause-operations`: the ECH org pauses them; the run re-reads ECH until none is active. */
export function pauseOperationsInstructions(
  alias: string,
  o: CrossClusterOperations,
  recheck: string,
): HumanInstructions {
  const requests = pauseRequests(o);
  const instructions = [
    `### ECH org: pause what uses the remote cluster "${alias}"`,
    `The alias changes security model in one settings change; Elasticsearch's migration procedure stops cross-cluster operations first. Still active on ECH: ${activeOperations(o).join(', ')}.`,
    'Run on the **ECH** deployment (Kibana Dev Tools):',
    '```',
    ...requests.map((q) => `${q.method} ${q.path}`),
    '```',
    `The run re-reads \`_ccr/stats\`, \`_ccr/auto_follow\`, \`_transform/_stats\` and \`_ml/datafeeds/_stats\` every ${recheck} and goes on by itself once none is active. Resume them after the migration (\`_ccr/resume_follow\`, \`_ccr/auto_follow/<name>/resume\`, \`_transform/<id>/_start\`, \`_ml/datafeeds/<id>/_start\`).`,
  ].join('\n');
  return { instructions, artifacts: { requests } };
}

/** The message of OperationsActive (refused, nothing changed, or found again right before the switch). */
export function operationsActiveMessage(alias: string, o: CrossClusterOperations, when: string): string {
  return (
    `${activeOperations(o).join(', ')} still use${activeOperations(o).length === 1 ? 's' : ''} remote cluster "${alias}" ${when} → pause them on ECH ` +
    `(${pauseRequests(o)
      .map((q) => `${q.method} ${q.path}`)
      .join('; ')}), or set activeOperations: "wait" to let the run wait until they are paused.`
  );
}

/**
 * Index patterns the same-named self-managed roles granted (read, read_cross_cluster or all) that the key's `access`
 * does not name. A warning, not a refusal: a pattern may be covered by a wider one, or left out on purpose.
 */
export function accessGaps(
  access: Access,
  remoteRoles: { name: string; indices: { names: string[]; privileges: string[] }[] }[],
): string[] {
  const named = new Set([...(access.search ?? []), ...(access.replication ?? [])].flatMap((a) => a.names));
  const gaps: string[] = [];
  for (const role of remoteRoles) {
    for (const i of role.indices) {
      if (!i.privileges.some((p) => ['read', 'read_cross_cluster', 'all'].includes(p))) continue;
      for (const n of i.names) {
        if (!named.has(n)) gaps.push(`${n} (self-managed role ${role.name})`);
      }
    }
  }
  return gaps;
}

export const PAUSE_STEP = HUMAN_STEPS.pauseOperations;
