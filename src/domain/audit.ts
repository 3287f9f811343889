/**
 * auditRemoteClusters' verdicts: from what the activities read (per alias: settings, our record, `_remote/info`,
 * `_resolve/cluster`, the search; the keystore entry names; the trust entry names; the keys of ours on the self-managed
 * clusters the request gives credentials for) to one row per connection. Pure: the workflow bundle imports this file.
 */
import type { AuditRow, AuditStatus } from '../contract/audit';
import type { ConnectionCheck, ConnectionFacts, CrossClusterKeyInfo, OwnedSecurityObject } from '../contract/facts';
import type { Access } from '../contract/request';
import { migrationTrustEntryName } from './migrate';
import { accessHash, keystoreSecretName, trustEntryName } from './requests';

export type AuditKey = CrossClusterKeyInfo & { type?: string; accessHash?: string };

export interface AliasFacts {
  alias: string;
  connection: ConnectionFacts;
  check: ConnectionCheck;
  /** Keys of ours on the self-managed cluster this alias points at (undefined: no credentials there). */
  keys?: AuditKey[];
}

export interface DeploymentFactsForAudit {
  deploymentId: string;
  keystoreEntries: string[];
  trustEntryNames: string[];
  aliases: AliasFacts[];
  /**
   * Keys of ours on each self-managed cluster with credentials, and the aliases the request says point at it; the
   * roles of ours there (path C's same-named roles), when read.
   */
  remotes: { aliases: string[]; keys: AuditKey[]; owned?: OwnedSecurityObject[] }[];
  /** The roles and users of ours on the deployment (absent: not read). */
  owned?: OwnedSecurityObject[];
  /** Now and the warning window, in epoch ms (the workflow's deterministic clock). */
  now: number;
  expiryWarningMs: number;
}

/** Worst first: a row takes the worst status among its problems. */
const SEVERITY: AuditStatus[] = ['broken', 'drifted', 'expiring', 'degraded', 'orphan', 'healthy'];

function worst(statuses: AuditStatus[]): AuditStatus {
  return SEVERITY.find((s) => statuses.includes(s)) ?? 'healthy';
}

const iso = (ms: number) => new Date(ms).toISOString();

export function auditRows(f: DeploymentFactsForAudit): AuditRow[] {
  const rows = f.aliases.map((a) => aliasRow(f, a));
  return [...rows, ...orphanRows(f)];
}

function aliasRow(f: DeploymentFactsForAudit, a: AliasFacts): AuditRow {
  const found: { status: AuditStatus; problem: string }[] = [];
  const problem = (status: AuditStatus, text: string) => found.push({ status, problem: text });
  const c = a.connection;
  const record = c.record;
  const inUse = a.check.remoteInfo ? (a.check.remoteInfo.credentials ? 'api-key' : 'tls-certificate') : undefined;
  const model = (record?.security_model as AuditRow['securityModel'] | undefined) ?? inUse ?? 'unknown';
  const keystoreEntry = f.keystoreEntries.includes(keystoreSecretName(a.alias));
  const trustEntry = f.trustEntryNames.includes(trustEntryName(a.alias));
  const evidence: AuditRow['evidence'] = {
    ...(a.check.remoteInfo ? { connected: a.check.remoteInfo.connected } : {}),
    ...(a.check.resolveCluster !== undefined ? { resolveCluster: a.check.resolveCluster } : {}),
    ...(a.check.searchHits !== undefined ? { searchHits: a.check.searchHits } : {}),
    keystoreEntry,
    trustEntry,
    ...(record?.security_model ? { recordModel: record.security_model } : {}),
  };

  if (!a.check.ok) problem('broken', `not usable: ${a.check.problem ?? 'the checks failed'}`);
  // Usable but not whole: fewer proxy sockets than configured (some nodes behind proxy_address refuse ECH: trust,
  // certificates, a node down), or a search whose remote part was partial.
  const sockets = a.check.remoteInfo?.sockets;
  if (a.check.ok && sockets && sockets.connected < sockets.max) {
    evidence.proxySockets = `${sockets.connected}/${sockets.max}`;
    problem(
      'degraded',
      `${sockets.connected} of ${sockets.max} proxy sockets connected → some nodes behind the proxy address do not accept ECH's connections (a node down, or its certificate not covered by the trust entry); look for "handshake" or "connection refused" in the ECH logs`,
    );
  }
  if (a.check.ok && a.check.searchPartial) {
    evidence.searchPartial = a.check.searchPartial;
    problem('degraded', `the search through the alias was partial: ${a.check.searchPartial}`);
  }
  if (record?.security_model && inUse && record.security_model !== inUse) {
    problem(
      'drifted',
      `the ownership record says ${record.security_model} but ECH uses the ${inUse} model (${
        inUse === 'tls-certificate' ? 'no credential in _remote/info' : 'a credential in _remote/info'
      })`,
    );
  }
  if (model === 'api-key' && !keystoreEntry) {
    problem(
      'broken',
      `keystore entry ${keystoreSecretName(a.alias)} is missing on the deployment → run rotateRemoteClusterKey (or connect again) to install a key`,
    );
  }
  if (model === 'tls-certificate' && !keystoreEntry && record && !trustEntry) {
    problem(
      'broken',
      `trust entry ${trustEntryName(a.alias)} is missing on the deployment (the certificate model needs it) → connect again`,
    );
  }
  if (record && model === 'tls-certificate' && keystoreEntry) {
    problem('drifted', `keystore entry ${keystoreSecretName(a.alias)} is set on a certificate-model connection`);
  }

  if (a.keys && model === 'api-key' && record) {
    const ours = a.keys.filter((k) => k.alias === a.alias);
    // The record's key; else the one its connect run made (invalidated or not: that is what to report); else the
    // one active key of ours for the alias.
    const byRun = ours.filter((k) => k.workflowId === record.workflow_id);
    const key =
      (record.api_key_id ? ours.find((k) => k.id === record.api_key_id) : undefined) ??
      soleActive(byRun) ??
      (byRun.length === 1 ? byRun[0] : undefined) ??
      soleActive(ours);
    if (!key) {
      problem(
        'broken',
        record.api_key_id
          ? `key ${record.api_key_id} (the record's) is not on the self-managed cluster → run rotateRemoteClusterKey`
          : 'no single active cross-cluster API key of this tool for the alias on the self-managed cluster',
      );
    } else {
      evidence.keyId = key.id;
      if (key.expiration !== undefined) evidence.keyExpiration = iso(key.expiration);
      if (key.type !== undefined && key.type !== 'cross_cluster') {
        problem('broken', `key ${key.id} is of type ${key.type}, not cross_cluster`);
      } else if (key.invalidated) {
        problem('broken', `key ${key.id} was invalidated on the self-managed cluster → run rotateRemoteClusterKey`);
      } else if (key.expiration !== undefined && key.expiration <= f.now) {
        problem('broken', `key ${key.id} expired at ${iso(key.expiration)} → run rotateRemoteClusterKey`);
      } else if (key.expiration !== undefined && key.expiration <= f.now + f.expiryWarningMs) {
        problem('expiring', `key ${key.id} expires at ${iso(key.expiration)} → run rotateRemoteClusterKey before then`);
      }
      // The key's access as Elasticsearch stores it, against what the tool recorded granting (compared as stored).
      if (key.accessHash && key.access !== undefined && accessHash(key.access as Access) !== key.accessHash) {
        problem(
          'drifted',
          `the access of key ${key.id} is not what this tool granted (changed outside it) → run updateRemoteClusterAccess with the access you want`,
        );
      }
    }
  }
  if (!record && a.check.ok && found.length === 0) {
    // Not ours: only what ECH shows can be judged; healthy, but say that ownership checks did not apply.
    return row(f, a, false, model, 'healthy', ['not made by this tool: connection checks only'], evidence);
  }
  return row(
    f,
    a,
    record !== undefined,
    model,
    worst(found.map((p) => p.status)),
    found.map((p) => p.problem),
    evidence,
  );
}

function row(
  f: DeploymentFactsForAudit,
  a: AliasFacts,
  ours: boolean,
  securityModel: AuditRow['securityModel'],
  status: AuditStatus,
  problems: string[],
  evidence: AuditRow['evidence'],
): AuditRow {
  return { deploymentId: f.deploymentId, alias: a.alias, status, ours, securityModel, problems, evidence };
}

function soleActive(keys: AuditKey[]): AuditKey | undefined {
  const active = keys.filter((k) => !k.invalidated);
  return active.length === 1 ? active[0] : undefined;
}

/**
 * Orphans: an active key of ours for an alias the request says points at that cluster, while the deployment has no
 * such alias; a trust entry of ours whose alias is gone.
 */
function orphanRows(f: DeploymentFactsForAudit): AuditRow[] {
  const present = new Set(f.aliases.map((a) => a.alias));
  const rows: AuditRow[] = [];
  const orphan = (alias: string, what: string, problem: string): AuditRow => ({
    deploymentId: f.deploymentId,
    alias,
    status: 'orphan',
    ours: true,
    securityModel: 'unknown',
    problems: [problem],
    evidence: { orphan: what },
  });
  for (const r of f.remotes) {
    for (const k of r.keys) {
      if (!k.alias || !r.aliases.includes(k.alias) || present.has(k.alias) || k.invalidated) continue;
      if (k.expiration !== undefined && k.expiration <= f.now) continue;
      rows.push(
        orphan(
          k.alias,
          `key ${k.id}`,
          `active key ${k.id} of this tool for "${k.alias}", which the deployment no longer has → invalidate it (DELETE /_security/api_key {"ids":["${k.id}"]})`,
        ),
      );
    }
  }
  // Roles and users of ours (on the deployment, and path C's roles on the self-managed clusters) whose alias is gone.
  const ownedOrphans = (objects: OwnedSecurityObject[], where: string, mayJudge: (alias: string) => boolean) => {
    for (const o of objects) {
      if (!o.alias || present.has(o.alias) || !mayJudge(o.alias)) continue;
      const path = o.kind === 'role' ? `/_security/role/${o.name}` : `/_security/user/${o.name}`;
      rows.push(
        orphan(
          o.alias,
          `${o.kind} ${o.name}${where}`,
          `${o.kind} ${o.name}${where} of this tool for "${o.alias}", which the deployment no longer has → remove it (DELETE ${path})`,
        ),
      );
    }
  };
  ownedOrphans(f.owned ?? [], '', () => true);
  // On a self-managed cluster other deployments' connections may use the same alias: only what a run of THIS
  // deployment made (its workflow ids carry the deployment id) is judged.
  for (const r of f.remotes) {
    const ofThisDeployment = (r.owned ?? []).filter((o) => o.workflowId?.includes(f.deploymentId));
    ownedOrphans(ofThisDeployment, ' on the self-managed cluster', (a) => r.aliases.includes(a));
  }
  const prefix = trustEntryName('');
  for (const name of f.trustEntryNames) {
    if (!name.startsWith(prefix)) continue;
    const alias = name.slice(prefix.length);
    if (present.has(alias)) continue;
    // A migration's entry for a private remote cluster server CA (`<alias>-api-key`) belongs to its alias.
    if (
      name === migrationTrustEntryName(alias.replace(/-api-key$/, '')) &&
      present.has(alias.replace(/-api-key$/, ''))
    ) {
      continue;
    }
    rows.push(
      orphan(alias, `trust entry ${name}`, `trust entry ${name} of this tool, whose alias is gone → remove it`),
    );
  }
  return rows;
}
