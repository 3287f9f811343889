/**
 * rotateRemoteClusterKey (API-key model), on the run skeleton: a new key with the same access (created by the tool
 * with remote credentials, or handed over by the self-managed org), approval, the keystore entry of the same alias
 * replaced (ES takes the new credential from the next request on: no reconnect, no failed search), verify, a grace
 * period as a durable timer, the old key invalidated (by the tool, or confirmed by the self-managed org), verify again.
 */
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import type { CrossClusterKeyInfo } from '../contract/facts';
import { durationToMs } from '../contract/duration';
import { validateRotateRequest, type RotateRequest } from '../contract/lifecycle';
import type { RotateResult } from '../contract/status';
import { CONFIRMABLE_STEPS, HUMAN_STEPS } from '../contract/steps';
import {
  firstSearchPattern,
  invalidateOldKeyInstructions,
  planStep,
  rotationProbeAlias,
  rotationProbeSettings,
} from '../domain/day2';
import { approvalInstructions, crossClusterApiKeyInstructions } from '../domain/instructions';
import { keystoreSecretName } from '../domain/requests';
import { KEYSTORE_AUTO_RELOAD_VERSION, atLeast } from '../domain/versions';
import { VERIFY_OPTIONS, activity, restartToReloadKeystore } from './activity';
import { day2Preflight, keyIdOf, requireOurAlias, type Day2Found } from './paths/day2';
import { failureMessage, runLifecycle, type RunContext, type RunDefinition } from './run';

interface RotateFound extends Day2Found {
  /** The key the alias uses now, when the tool can tell (its record, or its only active key for the alias). */
  oldKey?: CrossClusterKeyInfo;
  oldKeyId?: string;
}

export const ROTATE: RunDefinition<RotateRequest, RotateFound, RotateResult> = {
  kind: 'rotate',
  title: 'Rotate the cross-cluster API key',
  requestName: 'RotateRequest',
  confirmable: CONFIRMABLE_STEPS.rotate,
  validate: validateRotateRequest,
  async preflight(ctx) {
    const { r } = ctx;
    const found: RotateFound = await day2Preflight(ctx);
    requireOurAlias(ctx, found, 'rotate the key of');
    const c = found.connection;
    if (!c.remoteInfo?.credentials || !found.keystoreEntries.includes(keystoreSecretName(r.alias))) {
      preflightFail(
        ctx,
        'NotApiKeyModel',
        `Remote cluster "${r.alias}" uses no cross-cluster API key (no keystore credential): only API-key connections have a key to rotate.`,
      );
    }
    if (!c.remoteInfo?.connected) {
      preflightFail(
        ctx,
        'NotConnected',
        `Remote cluster "${r.alias}" is not connected now; a rotation must start from a working connection → check it (GET _remote/info) and fix it first.`,
      );
    }
    found.oldKeyId = c.record?.api_key_id;
    if (found.remote) {
      const ours = await activity('Find the key the alias uses')
        .findCrossClusterApiKeys({ target: found.remote, alias: r.alias })
        .catch(ctx.preflightFailed);
      // The tool's own record first; a connection made before rotation existed has none: its connect run's key.
      found.oldKey =
        ours.find((k) => k.id === found.oldKeyId) ??
        (found.oldKeyId === undefined
          ? soleKey(ours.filter((k) => k.workflowId === c.record?.workflow_id))
          : undefined);
      if (!found.oldKey) {
        preflightFail(
          ctx,
          'KeyNotFound',
          `The self-managed cluster has no single active key of this tool for "${r.alias}"${found.oldKeyId ? ` (the record names ${found.oldKeyId})` : ''}, so the tool cannot tell which key to replace → rotate without remote.elasticsearch (the self-managed org hands over the new key and invalidates the old one).`,
        );
      }
      found.oldKeyId = found.oldKey.id;
    }
    const newKey = found.remote
      ? 'created by the tool on the self-managed cluster, same access'
      : 'created and handed over by the self-managed org';
    const plan = [
      planStep(
        HUMAN_STEPS.crossClusterApiKey,
        `new cross-cluster API key: ${newKey}`,
        undefined,
        found.remote ? 'workflow' : 'self-managed-org',
      ),
      planStep(
        'verify-new-key',
        atLeast(found.deployment.version, KEYSTORE_AUTO_RELOAD_VERSION)
          ? `verify the new key on a temporary alias "${rotationProbeAlias(r.alias)}" (same proxy address, keystore entry with the new key), then remove it; the live alias is not touched`
          : `skipped before ${KEYSTORE_AUTO_RELOAD_VERSION} (a keystore change needs a restart there)`,
      ),
      planStep('ech-keystore', `replace ${keystoreSecretName(r.alias)} with the new key (same alias)`, {
        system: 'cloud-api',
        method: 'PATCH',
        path: `/deployments/${r.local.deploymentId}/elasticsearch/${found.cloud.refId}/keystore`,
      }),
      planStep('verify', `_remote/info, _resolve/cluster and a search through "${r.alias}" with the new key`),
      planStep('grace-period', `wait ${r.gracePeriod} (a durable timer) before the old key is invalidated`),
      planStep(
        HUMAN_STEPS.invalidateOldKey,
        `invalidate the old key ${found.oldKeyId ?? '(the one handed over before)'}`,
        found.remote
          ? {
              system: 'self-managed-elasticsearch',
              method: 'DELETE',
              path: '/_security/api_key',
              body: { ids: [found.oldKeyId] },
            }
          : undefined,
        found.remote ? 'workflow' : 'self-managed-org',
      ),
      planStep('verify-after-invalidation', 'verify again: the connection works without the old key'),
    ];
    ctx.state.step('preflight', 'done', `connected; key in use: ${found.oldKeyId ?? 'not recorded'}`);
    return { plan, warnings: [], found };
  },
  run: rotate,
};

export async function rotateRemoteClusterKey(input: unknown): Promise<RotateResult> {
  return runLifecycle(ROTATE, input);
}

async function rotate(ctx: RunContext<RotateRequest>, found: RotateFound): Promise<RotateResult> {
  const { r, workflowId, state, signals, compensations } = ctx;
  const { cloud, local, remote, deployment } = found;
  const warnings: string[] = [];
  const verifyMs = durationToMs(r.verify.timeout);
  const verify = () =>
    activity('Verify the remote connection', VERIFY_OPTIONS(verifyMs)).verifyRemoteConnection({
      target: local,
      alias: r.alias,
      securityModel: 'api-key',
      searchIndex: r.verify.searchIndex,
      timeoutMs: verifyMs,
    });

  // 3. The new key.
  state.setPhase('remote-side');
  ctx.setCurrent(HUMAN_STEPS.crossClusterApiKey);
  let encoded: string;
  let newKeyId: string;
  if (remote && found.oldKey) {
    state.step(HUMAN_STEPS.crossClusterApiKey, 'running', 'creating the new key on the self-managed cluster');
    const key = await activity('Create the new cross-cluster API key').findOrCreateCrossClusterApiKey({
      target: remote,
      alias: r.alias,
      workflowId,
      access: (found.oldKey.access ?? {}) as never,
      expiration: r.keyExpiration,
    });
    encoded = key.encoded;
    newKeyId = key.id;
  } else {
    const help = crossClusterApiKeyInstructions(
      { alias: r.alias, access: undefined, keyExpiration: r.keyExpiration },
      workflowId,
    );
    help.instructions = help.instructions.replace(
      '"access": {}',
      `"access": <the same access as the key the connection uses now: GET /_security/api_key?id=${found.oldKeyId ?? '<its id>'}>`,
    );
    const ok = await state.waitForHuman(
      HUMAN_STEPS.crossClusterApiKey,
      'self-managed-org',
      help,
      durationToMs(r.humanStepTimeout),
      () => signals.providedKey !== undefined,
    );
    if (!ok) return ctx.endWithoutChanges('timed-out', HUMAN_STEPS.crossClusterApiKey);
    encoded = signals.providedKey as string;
    newKeyId = keyIdOf(encoded) ?? 'unknown';
    if (newKeyId === found.oldKeyId) {
      throw ApplicationFailure.create({
        type: 'SameKey',
        nonRetryable: true,
        message: `The key handed over is the key the connection uses now (${newKeyId}); nothing was changed → create a NEW cross-cluster API key and start the rotation again.`,
      });
    }
  }
  // Registered now (the key exists): a failure before the keystore switch invalidates it. After the switch it is
  // invalidated only if the old key could be put back (see the keystore's compensation).
  let keystoreHoldsNewKey = false;
  if (remote) {
    compensations.push({
      label: `new cross-cluster API key ${newKeyId} on the self-managed cluster`,
      undo: async () => {
        if (keystoreHoldsNewKey) {
          throw ApplicationFailure.create({
            type: 'LeftActive',
            nonRetryable: true,
            message: `left active: the ECH keystore holds it and the connection uses it; the old key ${found.oldKeyId} is still valid too`,
          });
        }
        return activity('Invalidate the new cross-cluster API key').invalidateCrossClusterApiKey({
          target: remote,
          id: newKeyId,
        });
      },
    });
  }
  state.step(HUMAN_STEPS.crossClusterApiKey, 'done', `new key ${newKeyId}`);

  // 4. Approval.
  const changes = (state.status.plan ?? []).filter((p) => p.step !== HUMAN_STEPS.crossClusterApiKey);
  await ctx.approve(approvalInstructions(r, workflowId, changes));

  // 5. The new key, proven on a probe alias first: a key that does not work is caught while the live alias still
  // uses the old key (which cannot be put back once replaced: ECH never returns a keystore value).
  await probeNewKey(ctx, found, encoded, newKeyId);

  // 6. The keystore entry of the same alias, replaced.
  state.setPhase('ech-side');
  ctx.setCurrent('ech-keystore');
  state.step('ech-keystore', 'running');
  // The keystore cannot be read back, so the old key's value is not known to the tool: if the verify fails, the
  // connection keeps the new key (the old one is still valid, nothing is invalidated) and the run says so.
  compensations.push({
    label: `keystore entry ${keystoreSecretName(r.alias)} (now the new key ${newKeyId})`,
    undo: async () => {
      throw ApplicationFailure.create({
        type: 'CannotRestore',
        nonRetryable: true,
        message: `the ECH keystore cannot be read back, so the old key was not put back; both keys stay valid → fix the connection, then run the rotation again, or PATCH ${keystoreSecretName(r.alias)} with the old key's encoded value`,
      });
    },
  });
  keystoreHoldsNewKey = true;
  await activity('Store the new key in the ECH keystore').putRemoteClusterCredentials({
    target: cloud,
    alias: r.alias,
    encoded,
  });
  if (!atLeast(deployment.version, KEYSTORE_AUTO_RELOAD_VERSION)) await restartToReloadKeystore(cloud);
  state.step('ech-keystore', 'done', `${keystoreSecretName(r.alias)} → key ${newKeyId}`);

  // 7. Verify with the new key.
  state.setPhase('verifying');
  ctx.setCurrent('verify');
  state.step('verify', 'running');
  let evidence = await verify();
  state.step(
    'verify',
    'done',
    evidence.searchHits !== undefined ? `connected; search found ${evidence.searchHits} hits` : 'connected',
  );
  // The tool's record of the key the alias uses (read by the next rotation, update and disconnect).
  if (found.connection.record) {
    await activity('Record the key the alias uses').putOwnershipRecord({
      target: local,
      alias: r.alias,
      record: { ...found.connection.record, api_key_id: newKeyId, rotated_by: workflowId },
    });
  }

  // 8. Grace period: a durable timer (a worker restart resumes it).
  const graceMs = durationToMs(r.gracePeriod);
  ctx.setCurrent('grace-period');
  if (graceMs > 0) {
    state.setPhase('grace-period');
    state.step('grace-period', 'running', `old key valid until ${new Date(Date.now() + graceMs).toISOString()}`);
    await wf.sleep(graceMs);
    state.step('grace-period', 'done', r.gracePeriod);
  } else {
    state.step('grace-period', 'skipped', 'gracePeriod 0s');
  }

  // 9. The old key invalidated: from here on, nothing is rolled back (the old key cannot be brought back).
  state.setPhase('invalidating-old-key');
  ctx.setCurrent(HUMAN_STEPS.invalidateOldKey);
  compensations.length = 0;
  let oldKey: RotateResult['oldKey'] = 'unknown';
  if (remote && found.oldKeyId) {
    state.step(HUMAN_STEPS.invalidateOldKey, 'running');
    const out = await activity('Invalidate the old cross-cluster API key').invalidateCrossClusterApiKey({
      target: remote,
      id: found.oldKeyId,
    });
    oldKey = out.invalidated ? 'invalidated' : 'unknown';
    if (!out.invalidated) warnings.push(`The old key ${found.oldKeyId} was not invalidated (${out.reason}).`);
    state.step(HUMAN_STEPS.invalidateOldKey, 'done', `${found.oldKeyId} ${out.reason ?? 'invalidated'}`);
  } else {
    const ok = await state.waitForHuman(
      HUMAN_STEPS.invalidateOldKey,
      'self-managed-org',
      invalidateOldKeyInstructions(workflowId, found.oldKeyId, newKeyId),
      durationToMs(r.humanStepTimeout),
      () => signals.confirmed.has(HUMAN_STEPS.invalidateOldKey),
    );
    if (ok) {
      oldKey = 'confirmed';
      state.step(HUMAN_STEPS.invalidateOldKey, 'done', 'confirmed by the self-managed org');
    } else {
      warnings.push(
        `Nobody confirmed that the old key ${found.oldKeyId ?? ''} was invalidated within ${r.humanStepTimeout}: invalidate it on the self-managed cluster.`,
      );
      state.step(HUMAN_STEPS.invalidateOldKey, 'failed', 'not confirmed (timed out): the connection uses the new key');
    }
  }

  // 10. Verify again, without the old key.
  state.setPhase('verifying');
  ctx.setCurrent('verify-after-invalidation');
  state.step('verify-after-invalidation', 'running');
  try {
    evidence = await verify();
  } catch (err) {
    throw ApplicationFailure.create({
      type: 'RotationVerifyFailed',
      nonRetryable: true,
      message:
        `The connection failed after the old key was invalidated; the ECH keystore holds the new key ${newKeyId}. ` +
        `Check the new key on the self-managed cluster (GET /_security/api_key?id=${newKeyId}: active, same access) and _remote/info on ECH; ` +
        'a new rotation replaces the key again.',
      cause: err instanceof Error ? err : undefined,
    });
  }
  state.step('verify-after-invalidation', 'done', 'connected with the new key only');

  return {
    alias: r.alias,
    rotated: true,
    newKeyId,
    ...(found.oldKeyId ? { oldKeyId: found.oldKeyId } : {}),
    oldKey,
    gracePeriodMs: graceMs,
    evidence,
    warnings,
    durationMs: Date.now() - ctx.started,
  };
}

/**
 * Step `verify-new-key`: a temporary alias with the live alias's settings and the new key as its keystore credential,
 * verified (connected, `_resolve/cluster`, a size-0 search), then removed (settings and keystore entry; a compensation
 * removes them if the run fails in between). A failure ends the run with the live connection untouched; the saga
 * invalidates the new key when the tool made it.
 */
async function probeNewKey(
  ctx: RunContext<RotateRequest>,
  found: RotateFound,
  encoded: string,
  newKeyId: string,
): Promise<void> {
  const { r, workflowId, state, compensations } = ctx;
  const { cloud, local, deployment } = found;
  ctx.setCurrent('verify-new-key');
  if (!atLeast(deployment.version, KEYSTORE_AUTO_RELOAD_VERSION)) {
    state.step(
      'verify-new-key',
      'skipped',
      `Elasticsearch ${deployment.version} reloads the keystore only with a restart: the key is verified after the switch`,
    );
    return;
  }
  const probe = rotationProbeAlias(r.alias);
  state.setPhase('verifying');
  state.step('verify-new-key', 'running', `on the temporary alias "${probe}"`);
  const removeProbe = async () => {
    await activity('Remove the probe alias').removeRemoteCluster({ target: local, alias: probe, workflowId });
    await activity('Remove the probe keystore entry').removeRemoteClusterCredentials({ target: cloud, alias: probe });
  };
  // Registered before the first write: whatever of the probe exists is removed if the run fails.
  const compensation = { label: `probe alias "${probe}" (settings and keystore entry)`, undo: removeProbe };
  compensations.push(compensation);
  // Credentials first: the probe's first connection already authenticates with the new key.
  await activity('Store the new key for the probe alias').putRemoteClusterCredentials({
    target: cloud,
    alias: probe,
    encoded,
  });
  await activity('Add the probe alias').putRemoteCluster({
    target: local,
    alias: probe,
    workflowId,
    body: rotationProbeSettings(r.alias, found.connection.settings, workflowId),
  });
  const verifyMs = durationToMs(r.verify.timeout);
  const searchIndex = r.verify.searchIndex ?? firstSearchPattern(found.oldKey?.access);
  try {
    await activity('Verify the new key on the probe alias', VERIFY_OPTIONS(verifyMs)).verifyRemoteConnection({
      target: local,
      alias: probe,
      securityModel: 'api-key',
      ...(searchIndex ? { searchIndex } : {}),
      timeoutMs: verifyMs,
    });
  } catch (err) {
    throw ApplicationFailure.create({
      type: 'NewKeyNotWorking',
      nonRetryable: true,
      message:
        `The new key ${newKeyId} does not work (verified on the temporary alias "${probe}"): ${failureMessage(err).split('\n')[0]}. ` +
        `The live alias "${r.alias}" was not touched and still uses the old key → check the new key on the self-managed cluster ` +
        `(GET /_security/api_key?id=${newKeyId}: active, type cross_cluster, the access of the old one), then rotate again.`,
      cause: err instanceof Error ? err : undefined,
    });
  }
  await removeProbe();
  compensations.splice(compensations.indexOf(compensation), 1);
  state.step(
    'verify-new-key',
    'done',
    `the new key works (probe "${probe}" connected${searchIndex ? ', searched' : ''}, then removed)`,
  );
}

function soleKey(keys: CrossClusterKeyInfo[]): CrossClusterKeyInfo | undefined {
  return keys.length === 1 ? keys[0] : undefined;
}

function preflightFail(ctx: RunContext<RotateRequest>, type: string, message: string): never {
  return ctx.preflightFailed(ApplicationFailure.create({ type, message, nonRetryable: true }));
}
