/**
 * auditRemoteClusters (read-only, meant for a Temporal Schedule): every remote alias of every deployment the request
 * lists, ours or not, checked from the ECH side (domain page §4b/§4c) and, where the request gives credentials, on the
 * self-managed cluster (`_security/_query/api_key` over every key this tool made). One child run per deployment
 * (bounded concurrency); within a deployment the checks are activities in parallel. Nothing is changed anywhere.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import {
  countRows,
  validateAuditRequest,
  type AuditDeployment,
  type AuditDeploymentInput,
  type AuditRequest,
  type AuditDeploymentResult,
  type AuditResult,
  type AuditRow,
} from '../contract/audit';
import { durationToMs } from '../contract/duration';
import type { CloudTarget, EsTarget } from '../contract/facts';
import { day2WorkflowId, type RotateRequestInput } from '../contract/lifecycle';
import { sameHttpsEndpoint } from '../contract/request';
import { EchDeploymentId, Phase, WorkflowKind } from '../contract/searchAttributes';
import { auditRows, type AliasFacts, type AuditKey } from '../domain/audit';
import { activity } from './activity';
import { rotateRemoteClusterKey } from './rotate';

export const AUDIT_OWNED_PATCH = 'audit-owned-roles-users';

/** The audit's own summary in the Temporal UI: `Phase` healthy/unhealthy lists the audits that found something. */
function publish(counts: AuditResult['counts'], healthy: boolean, errors: number): void {
  wf.upsertSearchAttributes([
    { key: WorkflowKind, value: 'audit' },
    { key: Phase, value: healthy ? 'healthy' : 'unhealthy' },
  ]);
  wf.upsertMemo({ auditCounts: counts, auditErrors: errors });
}

export async function auditRemoteClusters(input: unknown): Promise<AuditResult> {
  const v = validateAuditRequest(input);
  if (!v.ok) {
    throw ApplicationFailure.create({
      type: 'InvalidRequest',
      nonRetryable: true,
      message: `The AuditRequest is invalid: ${v.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
      details: [v.problems],
    });
  }
  const r = v.request;
  const { workflowId } = wf.workflowInfo();
  const results: { deploymentId: string; result?: AuditDeploymentResult; error?: string }[] = [];
  // Bounded concurrency: `concurrency` children at once, started in the request's order (deterministic ids).
  const queue = [...r.deployments];
  async function lane(): Promise<void> {
    for (let d = queue.shift(); d; d = queue.shift()) {
      const deploymentId = d.local.deploymentId;
      try {
        const result = await wf.executeChild(auditDeploymentRemoteClusters, {
          workflowId: `${workflowId}/${deploymentId}`,
          args: [
            {
              deployment: d,
              expiryWarning: r.expiryWarning,
              ...(r.autoRotate ? { autoRotate: r.rotation } : {}),
            } satisfies AuditDeploymentInput,
          ],
          parentClosePolicy: 'TERMINATE',
        });
        results.push({ deploymentId, result });
      } catch (err) {
        const cause = err instanceof wf.ChildWorkflowFailure ? (err.cause ?? err) : err;
        results.push({ deploymentId, error: cause instanceof Error ? cause.message : String(cause) });
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(r.concurrency, r.deployments.length) }, lane));
  const order = r.deployments.map((d) => d.local.deploymentId);
  results.sort((a, b) => order.indexOf(a.deploymentId) - order.indexOf(b.deploymentId));
  const rows: AuditRow[] = results.flatMap((x) => x.result?.rows ?? []);
  const errors = results
    .filter((x) => x.error)
    .map((x) => ({ deploymentId: x.deploymentId, error: x.error as string }));
  const counts = countRows(rows);
  const healthy = errors.length === 0 && rows.every((row) => row.status === 'healthy' || row.status === 'degraded');
  publish(counts, healthy, errors.length);
  return { auditedAt: new Date().toISOString(), expiryWarning: r.expiryWarning, rows, counts, errors, healthy };
}

/** One deployment: its aliases, keystore, trust entries and the keys of ours on the clusters with credentials. */
export async function auditDeploymentRemoteClusters(input: AuditDeploymentInput): Promise<AuditDeploymentResult> {
  const d = input.deployment;
  wf.upsertSearchAttributes([{ key: EchDeploymentId, value: d.local.deploymentId }]);
  const cloud: CloudTarget = {
    ...(d.local.cloud.endpoint ? { endpoint: d.local.cloud.endpoint } : {}),
    apiKeySecret: d.local.cloud.apiKeySecret,
    deploymentId: d.local.deploymentId,
    refId: d.local.refId,
  };
  await activity('Check the secrets the request names').checkSecrets({
    secrets: [
      {
        field: 'local.cloud.apiKeySecret',
        name: d.local.cloud.apiKeySecret,
        use: { use: 'cloud-api-key', ...(d.local.cloud.endpoint ? { endpoint: d.local.cloud.endpoint } : {}) },
      },
      {
        field: 'local.elasticsearch.credentialsSecret',
        name: d.local.elasticsearch.credentialsSecret,
        use: { use: 'ech-elasticsearch', deploymentId: d.local.deploymentId },
        destinationField: 'local.deploymentId',
      },
      ...d.remotes.map((r, i) => ({
        field: `remotes[${i}].elasticsearch.credentialsSecret`,
        name: r.elasticsearch.credentialsSecret,
        use: { use: 'elasticsearch' as const, url: r.elasticsearch.url },
        destinationField: `remotes[${i}].elasticsearch.url`,
      })),
    ],
  });
  const deployment = await activity('Describe the ECH deployment').describeDeployment({ target: cloud });
  cloud.refId = deployment.refId;
  const localUrl = deployment.esUrl;
  if (!localUrl || (d.local.elasticsearch.url && !sameHttpsEndpoint(d.local.elasticsearch.url, localUrl))) {
    throw ApplicationFailure.create({
      type: 'SecretNotAllowed',
      nonRetryable: true,
      message: `Deployment ${d.local.deploymentId}: local.elasticsearch.url is not the Elasticsearch endpoint the Cloud API reports (${localUrl ?? 'none'}) → leave it out.`,
    });
  }
  const local: EsTarget = {
    side: 'ech',
    url: localUrl,
    credentialsSecret: d.local.elasticsearch.credentialsSecret,
    deployment: cloud,
  };
  const remotes = d.remotes.map((r) => ({
    aliases: r.aliases,
    target: {
      side: 'self-managed',
      url: r.elasticsearch.url,
      credentialsSecret: r.elasticsearch.credentialsSecret,
      ...(r.elasticsearch.caPem ? { caPem: r.elasticsearch.caPem } : {}),
    } satisfies EsTarget,
  }));
  // Roles and users of ours (orphans) are read by runs of this version on (older histories replay without them).
  const readOwned = wf.patched(AUDIT_OWNED_PATCH);
  const [aliases, keystoreEntries, remoteKeys, owned, remoteOwned] = await Promise.all([
    activity('List the remote clusters').listRemoteClusters({ target: local }),
    activity('Read the ECH keystore').listKeystoreKeys({ target: cloud }),
    Promise.all(
      remotes.map((r) => activity('Query the keys of this tool').queryCrossClusterApiKeys({ target: r.target })),
    ),
    readOwned
      ? activity('List the roles and users of this tool').listOwnedRolesAndUsers({ target: local })
      : Promise.resolve(undefined),
    readOwned
      ? Promise.all(
          remotes.map((r) =>
            activity('List the roles of this tool on the self-managed cluster').listOwnedRolesAndUsers({
              target: r.target,
            }),
          ),
        )
      : Promise.resolve(undefined),
  ]);
  const facts: AliasFacts[] = await Promise.all(
    aliases.map(async (alias): Promise<AliasFacts> => {
      const connection = await activity(`Read ${alias}`).readConnection({ target: local, alias });
      const model = connection.record?.security_model;
      const check = await activity(`Check ${alias}`, {
        startToCloseTimeout: '2m',
      }).checkRemoteConnection({
        target: local,
        alias,
        ...(d.searchIndex ? { searchIndex: d.searchIndex } : {}),
        ...(model === 'api-key' || model === 'tls-certificate' ? { securityModel: model } : {}),
      });
      const i = remotes.findIndex((r) => r.aliases.includes(alias));
      const keys: AuditKey[] | undefined = i >= 0 ? remoteKeys[i] : undefined;
      return { alias, connection, check, ...(keys ? { keys } : {}) };
    }),
  );
  const rows = auditRows({
    deploymentId: d.local.deploymentId,
    keystoreEntries,
    trustEntryNames: deployment.directTrustNames,
    aliases: facts,
    remotes: remotes.map((r, i) => ({
      aliases: r.aliases,
      keys: remoteKeys[i] ?? [],
      ...(remoteOwned?.[i] ? { owned: remoteOwned[i] } : {}),
    })),
    ...(owned ? { owned } : {}),
    now: Date.now(),
    expiryWarningMs: durationToMs(input.expiryWarning),
  });
  if (input.autoRotate) await startRotations(d, rows, input.autoRotate);
  return { deploymentId: d.local.deploymentId, rows, counts: countRows(rows) };
}

/**
 * autoRotate: one rotateRemoteClusterKey per expiring key of ours, under the id `ech-remote rotate` uses (so the CLI
 * attaches to it and a second audit finds it running), abandoned by the audit: it waits for its own approval.
 */
async function startRotations(d: AuditDeployment, rows: AuditRow[], options: AuditRequest['rotation']): Promise<void> {
  for (const row of rows) {
    if (row.status !== 'expiring' || !row.ours || row.securityModel !== 'api-key') continue;
    const remote = d.remotes.find((r) => r.aliases.includes(row.alias));
    const request: RotateRequestInput = {
      alias: row.alias,
      local: d.local,
      remote: remote ? { elasticsearch: remote.elasticsearch } : {},
      ...options,
      ...(d.searchIndex ? { verify: { searchIndex: d.searchIndex } } : {}),
    };
    const workflowId = day2WorkflowId('rotate', request);
    try {
      await wf.startChild(rotateRemoteClusterKey, {
        workflowId,
        args: [request],
        parentClosePolicy: 'ABANDON',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: `Rotate the key of "${row.alias}" on ECH ${d.local.deploymentId} (started by the audit: it expires)`,
      });
      row.evidence.rotation = { workflowId, started: true };
      row.problems.push(`rotation started: ${workflowId} (it waits for its approval)`);
    } catch (err) {
      const running = err instanceof WorkflowExecutionAlreadyStartedError;
      row.evidence.rotation = {
        workflowId,
        started: false,
        note: running ? 'a rotation of this connection is already running' : String(err),
      };
      row.problems.push(running ? `rotation already running: ${workflowId}` : `rotation not started: ${String(err)}`);
    }
  }
}
