/**
 * migrateRemoteClusterToApiKey, on the run skeleton: a connection of this tool in the TLS-certificate model (path C)
 * moved to the API-key model under the same alias, per Elasticsearch's migration procedure:
 *
 *   remote cluster server (probed; else instructions and the self-managed org's confirmation, probed again) → the
 *   cross-cluster API key (made with remote credentials, or handed over) → what uses the alias paused (CCR,
 *   transforms, datafeeds: refused or waited for) → approval → ECH trust for a private remote cluster server CA →
 *   the keystore credential → ONE settings change to the remote cluster server → verify (api_key model, resolve,
 *   search) → the ECH roles rewritten → optionally the certificate model's leftovers removed.
 *
 * Rollback (a failure up to and including the verify): the recorded settings and ownership record back in one
 * change, the keystore credential removed, then the certificate connection verified again. After the verify the run
 * is forward-only (leftovers are removed only once the new model works).
 */
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import type { CrossClusterOperations, OwnershipRecord, TlsProbeReport } from '../contract/facts';
import { durationToMs } from '../contract/duration';
import { validateMigrateRequest, type MigrateRequest } from '../contract/lifecycle';
import type { DryRunResult, MigrateResult } from '../contract/status';
import { CONFIRMABLE_STEPS, HUMAN_STEPS } from '../contract/steps';
import { planStep } from '../domain/day2';
import {
  approvalInstructions,
  crossClusterApiKeyInstructions,
  remoteClusterServerInstructions,
} from '../domain/instructions';
import {
  accessGaps,
  activeOperations,
  apiKeySwitchSettings,
  migrationTrustEntryName,
  operationsActiveMessage,
  pauseOperationsInstructions,
  restoreSettings,
} from '../domain/migrate';
import { formatFindings, preflightFailureType } from '../domain/preflight';
import { keystoreSecretName, ownershipSettingKey, roleRequest, trustEntryName } from '../domain/requests';
import { API_KEY_MODEL_MIN_VERSION, atLeast } from '../domain/versions';
import { VERIFY_OPTIONS, activity, removeTrustOnEch, storeKeyInEchKeystore, trustOnEch } from './activity';
import { day2Preflight, keyIdOf, requireOurAlias, type Day2Found } from './paths/day2';
import { failureMessage, runLifecycle, type RunContext, type RunDefinition } from './run';

/** How often a run waiting at `pause-operations` re-reads ECH. */
const RECHECK = '10s';

interface MigrateFound extends Day2Found {
  record: OwnershipRecord;
  probe: TlsProbeReport;
  remoteClusterServerProven: boolean;
  operations: CrossClusterOperations;
  /** The certificate model's trust entry of this tool for the alias (removed with removeLeftovers). */
  certificateTrustEntry?: string;
  warnings: string[];
}

export const MIGRATE: RunDefinition<MigrateRequest, MigrateFound, MigrateResult | DryRunResult> = {
  kind: 'migrate',
  title: 'Migrate remote cluster to API key authentication',
  requestName: 'MigrateRequest',
  confirmable: CONFIRMABLE_STEPS.migrate,
  validate: validateMigrateRequest,
  async preflight(ctx) {
    const { r } = ctx;
    const base = await day2Preflight(ctx);
    requireOurAlias(ctx, base, 'migrate');
    const c = base.connection;
    const record = c.record!;
    const entry = keystoreSecretName(r.alias);
    if (record.security_model === 'api-key' || c.remoteInfo?.credentials || base.keystoreEntries.includes(entry)) {
      fail(ctx, {
        type: 'NotCertificateModel',
        message: `Remote cluster "${r.alias}" already uses the API-key model (${c.remoteInfo?.credentials ? '_remote/info shows cluster_credentials' : `the ECH keystore has ${entry}`}); nothing was changed → there is nothing to migrate (rotateRemoteClusterKey replaces its key).`,
      });
    }
    // The starting point, and what a rollback returns to: the certificate connection works now. Verified (not only
    // read from _remote/info): proxy connections are lazy, and a restarted remote shows unconnected until used.
    const verifyMs = durationToMs(r.verify.timeout);
    await activity('Verify the certificate connection', VERIFY_OPTIONS(verifyMs))
      .verifyRemoteConnection({
        target: base.local,
        alias: r.alias,
        securityModel: 'tls-certificate',
        searchIndex: r.verify.searchIndex,
        timeoutMs: verifyMs,
      })
      .catch((err: unknown) =>
        fail(ctx, {
          type: 'NotConnected',
          message: `Remote cluster "${r.alias}" does not work now (${failureMessage(err).split('\n')[0]}); a migration starts from a working certificate connection (a rollback returns to it) → fix it first (GET _remote/info).`,
        }),
      );
    const remoteVersion = base.remote?.version;
    for (const [side, version] of [
      ['ECH', base.deployment.version],
      ['the self-managed cluster', remoteVersion],
    ] as const) {
      if (version && !atLeast(version, API_KEY_MODEL_MIN_VERSION)) {
        fail(ctx, {
          type: 'VersionNotSupported',
          message: `${side} runs Elasticsearch ${version}; the API-key model needs ${API_KEY_MODEL_MIN_VERSION} or later on both sides; nothing was changed → upgrade first.`,
        });
      }
    }
    const operations = await activity('Find what uses the alias')
      .findCrossClusterOperations({ target: base.local, alias: r.alias })
      .catch(ctx.preflightFailed);
    if (activeOperations(operations).length > 0 && r.activeOperations === 'refuse') {
      fail(ctx, {
        type: 'OperationsActive',
        message: operationsActiveMessage(r.alias, operations, 'now; nothing was changed'),
      });
    }
    const rcs = r.remote.remoteClusterServer;
    const probe = await activity('Probe the remote cluster server')
      .probeRemoteClusterServer({
        proxyAddress: rcs.proxyAddress,
        serverName: rcs.serverName,
        ca: rcs.ca,
        expect: 'remote-cluster-server',
      })
      .catch(ctx.preflightFailed);
    const remoteClusterServerProven = probe.reachable && !probe.findings.some((f) => f.level === 'error');
    const warnings: string[] = [];
    if (base.remote) {
      // The certificate model's grant: the self-managed roles with the names of the ECH roles made for the alias.
      const remoteRoles = await activity('Read the same-named self-managed roles')
        .readRoleIndices({ target: base.remote, names: c.roles })
        .catch(ctx.preflightFailed);
      const gaps = accessGaps(r.access, remoteRoles);
      if (gaps.length) {
        warnings.push(
          `The key's access does not name index patterns the same-named self-managed roles granted: ${gaps.join(', ')}. Searches of them through "${r.alias}" stop working after the migration unless a wider pattern of access covers them.`,
        );
      }
    }
    const certTrust = trustEntryName(r.alias);
    const certificateTrustEntry = base.deployment.directTrustNames.includes(certTrust) ? certTrust : undefined;
    const switchSettings = apiKeySwitchSettings(r.alias, rcs);
    const plan = [
      planStep(
        HUMAN_STEPS.remoteClusterServer,
        remoteClusterServerProven
          ? `remote cluster server at ${rcs.proxyAddress}: proven by the TLS probe`
          : `enable the remote cluster server at ${rcs.proxyAddress} (instructions, then confirm)`,
        undefined,
        remoteClusterServerProven ? 'workflow' : 'self-managed-org',
      ),
      planStep(
        HUMAN_STEPS.crossClusterApiKey,
        `cross-cluster API key with access ${JSON.stringify(r.access)}`,
        { system: 'self-managed-elasticsearch', method: 'POST', path: '/_security/cross_cluster/api_key' },
        base.remote ? 'workflow' : 'self-managed-org',
      ),
      planStep(
        HUMAN_STEPS.pauseOperations,
        activeOperations(operations).length
          ? `pause ${activeOperations(operations).join(', ')}`
          : 'nothing on ECH uses the alias (CCR, transforms, datafeeds): checked again right before the switch',
        undefined,
        activeOperations(operations).length ? 'ech-org' : 'workflow',
      ),
      ...(rcs.ca.kind === 'private'
        ? [
            planStep(
              'ech-trust',
              `trust the private CA of the remote cluster server ("${migrationTrustEntryName(r.alias)}")`,
              {
                system: 'cloud-api',
                method: 'PUT',
                path: `/deployments/${r.local.deploymentId}`,
              },
            ),
          ]
        : []),
      planStep('ech-keystore', `add ${keystoreSecretName(r.alias)} (the key) to the ECH keystore`, {
        system: 'cloud-api',
        method: 'PATCH',
        path: `/deployments/${r.local.deploymentId}/elasticsearch/${base.cloud.refId}/keystore`,
      }),
      planStep(
        'switch-to-api-key',
        `point "${r.alias}" at the remote cluster server ${rcs.proxyAddress}, in one request`,
        {
          system: 'ech-elasticsearch',
          method: 'PUT',
          path: '/_cluster/settings',
          body: {
            persistent: {
              ...switchSettings,
              [ownershipSettingKey(r.alias)]: '<ownership record, security_model api-key>',
            },
          },
        },
      ),
      planStep('verify', `_remote/info (api_key model), _resolve/cluster and a search through "${r.alias}"`),
      ...r.roles.map((role) =>
        planStep('roles-and-users', `update role ${role.name} (remote_indices for the API-key model)`, {
          system: 'ech-elasticsearch',
          method: 'PUT',
          path: `/_security/role/${encodeURIComponent(role.name)}`,
        }),
      ),
      ...(r.removeLeftovers
        ? [
            ...(certificateTrustEntry
              ? [planStep('remove-leftovers', `remove the certificate model's trust entry "${certificateTrustEntry}"`)]
              : []),
            ...(base.remote
              ? c.roles.map((n) =>
                  planStep(
                    'remove-leftovers',
                    `delete the same-named role ${n} on the self-managed cluster (if this tool made it)`,
                  ),
                )
              : []),
          ]
        : []),
    ];
    ctx.state.step(
      'preflight',
      'done',
      `certificate connection of ${record.workflow_id ?? 'this tool'}; remote cluster server ${remoteClusterServerProven ? 'proven' : 'not proven'}`,
    );
    const found: MigrateFound = {
      ...base,
      record,
      probe,
      remoteClusterServerProven,
      operations,
      ...(certificateTrustEntry ? { certificateTrustEntry } : {}),
      warnings,
    };
    return { plan, warnings, found };
  },
  run: migrate,
};

export async function migrateRemoteClusterToApiKey(input: unknown): Promise<MigrateResult | DryRunResult> {
  return runLifecycle(MIGRATE, input);
}

async function migrate(ctx: RunContext<MigrateRequest>, found: MigrateFound): Promise<MigrateResult> {
  const { r, workflowId, state, signals, compensations } = ctx;
  const { cloud, local, remote, deployment } = found;
  const rcs = r.remote.remoteClusterServer;
  const humanMs = durationToMs(r.humanStepTimeout);
  const verifyMs = durationToMs(r.verify.timeout);
  const warnings = [...found.warnings];

  // 3. The remote cluster server (A0/B0), as in connect: proven by the probe, or enabled by the self-managed org.
  state.setPhase('remote-side');
  ctx.setCurrent(HUMAN_STEPS.remoteClusterServer);
  if (found.remoteClusterServerProven) {
    state.step(HUMAN_STEPS.remoteClusterServer, 'skipped', 'proven by the TLS probe');
  } else {
    const why = found.probe.reachable
      ? `The worker reached ${rcs.proxyAddress} but found no usable remote cluster server there:\n${formatFindings(found.probe.findings.filter((f) => f.level === 'error'))}`
      : `The worker could not reach ${rcs.proxyAddress}: the remote cluster server is off, or only ECH's egress is allowed there.`;
    const ok = await state.waitForHuman(
      HUMAN_STEPS.remoteClusterServer,
      'self-managed-org',
      remoteClusterServerInstructions({ remote: rcs }, workflowId, why),
      humanMs,
      () => signals.confirmed.has(HUMAN_STEPS.remoteClusterServer),
    );
    if (!ok) return ctx.endWithoutChanges('timed-out', HUMAN_STEPS.remoteClusterServer);
    const again = await activity('Probe the remote cluster server again').probeRemoteClusterServer({
      proxyAddress: rcs.proxyAddress,
      serverName: rcs.serverName,
      ca: rcs.ca,
      expect: 'remote-cluster-server',
    });
    const stillWrong = again.findings.filter((f) => f.level === 'error');
    if (again.reachable && stillWrong.length > 0) {
      throw ApplicationFailure.create({
        type: preflightFailureType(stillWrong),
        nonRetryable: true,
        message: `The remote cluster server is still not usable after the self-managed org confirmed it; nothing was changed on ECH:\n${formatFindings(stillWrong)}`,
      });
    }
    state.step(
      HUMAN_STEPS.remoteClusterServer,
      'done',
      again.reachable ? 'verified by TLS probe' : 'confirmed by the self-managed org',
    );
  }

  // 4. The cross-cluster API key (A1/B1).
  ctx.setCurrent(HUMAN_STEPS.crossClusterApiKey);
  let encoded: string;
  let apiKeyId: string;
  if (remote) {
    state.step(HUMAN_STEPS.crossClusterApiKey, 'running', 'creating the key on the self-managed cluster');
    const key = await activity('Create the cross-cluster API key').findOrCreateCrossClusterApiKey({
      target: remote,
      alias: r.alias,
      workflowId,
      access: r.access,
      expiration: r.keyExpiration,
    });
    compensations.push({
      label: `cross-cluster API key ${key.id} on the self-managed cluster`,
      undo: () =>
        activity('Invalidate the cross-cluster API key').invalidateCrossClusterApiKey({ target: remote, id: key.id }),
    });
    encoded = key.encoded;
    apiKeyId = key.id;
    state.step(HUMAN_STEPS.crossClusterApiKey, 'done', `key ${key.id}${key.created ? ' created' : ''}`);
  } else {
    const ok = await state.waitForHuman(
      HUMAN_STEPS.crossClusterApiKey,
      'self-managed-org',
      crossClusterApiKeyInstructions({ alias: r.alias, access: r.access, keyExpiration: r.keyExpiration }, workflowId),
      humanMs,
      () => signals.providedKey !== undefined,
    );
    if (!ok) return ctx.endWithoutChanges('timed-out', HUMAN_STEPS.crossClusterApiKey);
    encoded = signals.providedKey as string;
    apiKeyId = keyIdOf(encoded) ?? 'unknown';
    state.step(HUMAN_STEPS.crossClusterApiKey, 'done', `key ${apiKeyId} provided by the self-managed org`);
  }

  // 5. What uses the alias is paused (the preflight refused in "refuse" mode; here the run waits for the ECH org).
  ctx.setCurrent(HUMAN_STEPS.pauseOperations);
  let operations = found.operations;
  if (activeOperations(operations).length === 0) {
    state.step(HUMAN_STEPS.pauseOperations, 'skipped', 'nothing on ECH uses the alias');
  } else {
    const deadline = Date.now() + humanMs;
    // Re-read every 10 s at first, backing off to 5 min: a wait of days stays far below Temporal's history limit.
    let recheckMs = durationToMs(RECHECK);
    while (activeOperations(operations).length > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return ctx.endWithoutChanges('timed-out', HUMAN_STEPS.pauseOperations);
      await state.waitForHuman(
        HUMAN_STEPS.pauseOperations,
        'ech-org',
        pauseOperationsInstructions(r.alias, operations, RECHECK),
        Math.min(left, recheckMs),
        () => false,
      );
      recheckMs = Math.min(recheckMs * 2, 5 * 60_000);
      operations = await activity('Find what uses the alias').findCrossClusterOperations({
        target: local,
        alias: r.alias,
      });
    }
    state.step(HUMAN_STEPS.pauseOperations, 'done', 'nothing on ECH uses the alias now');
  }

  await ctx.approve(approvalInstructions(r, workflowId, state.status.plan ?? []));

  // Read again right before the switch: the ECH org may have resumed something since.
  ctx.setCurrent(HUMAN_STEPS.pauseOperations);
  operations = await activity('Check nothing uses the alias').findCrossClusterOperations({
    target: local,
    alias: r.alias,
  });
  if (activeOperations(operations).length > 0) {
    throw ApplicationFailure.create({
      type: 'OperationsActive',
      nonRetryable: true,
      message: operationsActiveMessage(r.alias, operations, 'right before the switch'),
    });
  }

  state.setPhase('ech-side');
  // Registered first, so it runs last in a rollback: after the settings and the credential are back, the
  // certificate connection must work again (a failed check is reported as a rollback item that failed).
  compensations.push({
    label: `the certificate connection of "${r.alias}" verified again`,
    undo: () =>
      activity('Verify the certificate connection again', VERIFY_OPTIONS(verifyMs)).verifyRemoteConnection({
        target: local,
        alias: r.alias,
        securityModel: 'tls-certificate',
        searchIndex: r.verify.searchIndex,
        timeoutMs: verifyMs,
      }),
  });

  // 6. ECH trusts a private remote cluster server CA (B2), under its own entry name.
  let trustEntry: string | undefined;
  if (rcs.ca.kind === 'private') {
    ctx.setCurrent('ech-trust');
    const entry = {
      type: 'proxy' as const,
      name: migrationTrustEntryName(r.alias),
      certificates: [{ pem: rcs.ca.pem }],
      trust_all: false,
    };
    if ((await trustOnEch({ state, cloud, compensations }, entry, 'the remote cluster server CA')).created) {
      trustEntry = entry.name;
    }
  } else {
    state.step('ech-trust', 'skipped', 'public CA: ECH trusts it already');
  }

  // 7. The keystore credential first (the procedure's order), then the settings.
  const entry = await storeKeyInEchKeystore(ctx, { cloud, alias: r.alias, version: deployment.version }, encoded);

  // 8. ONE settings change: the alias to the remote cluster server, with the record of the new model.
  state.setPhase('connecting');
  ctx.setCurrent('switch-to-api-key');
  state.step('switch-to-api-key', 'running', rcs.proxyAddress);
  const oldSettings = found.connection.settings;
  const switchSettings = apiKeySwitchSettings(r.alias, rcs);
  const expectWorkflowId = found.record.workflow_id ?? '';
  // Registered before the write: a lost answer is still put back.
  compensations.push({
    label: `settings of "${r.alias}" (back to the certificate connection)`,
    undo: () =>
      activity('Restore the certificate connection settings').switchRemoteCluster({
        target: local,
        alias: r.alias,
        settings: restoreSettings(oldSettings, switchSettings),
        record: found.record,
        expectWorkflowId,
      }),
  });
  const switched = await activity('Switch the alias to the remote cluster server').switchRemoteCluster({
    target: local,
    alias: r.alias,
    settings: switchSettings,
    record: {
      ...found.record,
      security_model: 'api-key',
      migrated_by: workflowId,
      ...(apiKeyId !== 'unknown' ? { api_key_id: apiKeyId } : {}),
    },
    expectWorkflowId,
  });
  state.step('switch-to-api-key', 'done', `${switched.settings.length} setting(s)`);

  // 9. Verify in the API-key model.
  state.setPhase('verifying');
  ctx.setCurrent('verify');
  state.step('verify', 'running');
  let evidence: MigrateResult['evidence'];
  try {
    evidence = await activity('Verify the remote connection', VERIFY_OPTIONS(verifyMs)).verifyRemoteConnection({
      target: local,
      alias: r.alias,
      securityModel: 'api-key',
      searchIndex: r.verify.searchIndex,
      timeoutMs: verifyMs,
      ca: rcs.ca,
    });
  } catch (err) {
    throw ApplicationFailure.create({
      type: 'MigrationVerifyFailed',
      nonRetryable: true,
      message:
        `"${r.alias}" does not work in the API-key model: ${failureMessage(err).split('\n')[0]} → check the key ` +
        `(GET /_security/api_key?id=${apiKeyId} on the self-managed cluster: active, type cross_cluster) and that ECH reaches ` +
        `the remote cluster server at ${rcs.proxyAddress}, then migrate again.`,
      cause: err instanceof Error ? err : undefined,
    });
  }
  state.step('verify', 'done', 'connected in the API-key model');
  // From here on the new model works and is verified: nothing is rolled back (a failing role update below fails the
  // run with the connection migrated, and says so).
  compensations.length = 0;

  // 10. The ECH roles of the alias (in the API-key model they, not the remote roles, grant the remote indices).
  const roles: string[] = [];
  if (r.roles.length) {
    ctx.setCurrent('roles-and-users');
    state.step('roles-and-users', 'running');
    for (const role of r.roles) {
      await activity(`Update role ${role.name}`).ensureRole({
        target: local,
        name: role.name,
        body: roleRequest(role, { workflowId, alias: r.alias }).body,
      });
      roles.push(role.name);
    }
    state.step('roles-and-users', 'done', roles.join(', '));
  }

  const removed: MigrateResult['removed'] = { remoteRoles: [] };
  if (r.removeLeftovers) {
    state.setPhase('ech-side');
    ctx.setCurrent('remove-leftovers');
    state.step('remove-leftovers', 'running');
    if (found.certificateTrustEntry) {
      await removeTrustOnEch(cloud, found.certificateTrustEntry);
      removed.trustEntry = found.certificateTrustEntry;
    }
    if (remote) {
      for (const name of found.connection.roles) {
        // Only a role this tool made for the alias (metadata), never one of the self-managed org's.
        const out = await activity(`Delete the self-managed role ${name}`).removeRole({
          target: remote,
          name,
          alias: r.alias,
          // The role of THIS connection's run: another deployment's same-named alias may share the cluster.
          ...(found.record.workflow_id ? { workflowId: found.record.workflow_id } : {}),
        });
        if (out.removed) removed.remoteRoles.push(name);
      }
    } else if (found.connection.roles.length) {
      warnings.push(
        `The self-managed org may delete the certificate model's same-named roles (${found.connection.roles.join(', ')}) on its cluster: the tool had no credentials there.`,
      );
    }
    state.step(
      'remove-leftovers',
      'done',
      `${removed.trustEntry ? `trust entry ${removed.trustEntry}, ` : ''}${removed.remoteRoles.length} remote role(s)`,
    );
  } else {
    state.step('remove-leftovers', 'skipped', 'removeLeftovers is false');
  }
  warnings.push(
    "The self-managed cluster still trusts the ECH transport CA (the certificate model's xpack.security.transport.ssl settings and trust restrictions): remove them there when no other connection needs them.",
  );
  if (found.operations && activeOperations(found.operations).length) {
    warnings.push(`Resume what was paused: ${activeOperations(found.operations).join(', ')}.`);
  }
  wf.log.info(`migrated ${r.alias} to the API-key model`);
  return {
    alias: r.alias,
    migrated: true,
    securityModel: 'api-key',
    apiKeyId,
    previousSettings: oldSettings,
    clusterSettings: switched.settings,
    keystoreEntry: entry,
    ...(trustEntry ? { trustEntry } : {}),
    roles,
    removed,
    evidence,
    warnings,
    durationMs: Date.now() - ctx.started,
  };
}

function fail(ctx: RunContext<MigrateRequest>, failure: { type: string; message: string }): never {
  return ctx.preflightFailed(ApplicationFailure.create({ ...failure, nonRetryable: true }));
}
