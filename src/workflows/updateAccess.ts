/**
 * updateRemoteClusterAccess, on the run skeleton: the key's `access` changed in place (`PUT
 * /_security/cross_cluster/api_key/<id>`, Elasticsearch's `updated` reported) by the tool with remote credentials, or
 * by the self-managed org with the exact request (confirmed by signal); the ECH roles of the alias updated in the same
 * run; verify. A dry run shows the diff, normalised as Elasticsearch stores access.
 */
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import type { CrossClusterKeyInfo } from '../contract/facts';
import { durationToMs } from '../contract/duration';
import { validateUpdateAccessRequest, type UpdateAccessRequest } from '../contract/lifecycle';
import type { Access } from '../contract/request';
import type { DryRunResult, UpdateAccessResult } from '../contract/status';
import { CONFIRMABLE_STEPS, HUMAN_STEPS, MANAGED_BY } from '../contract/steps';
import { sameAccess, storedAccessShape } from '../domain/apiKeyAccess';
import { planStep, updateRemoteKeyInstructions } from '../domain/day2';
import { approvalInstructions } from '../domain/instructions';
import { accessHash, roleRequest } from '../domain/requests';
import { VERIFY_OPTIONS, activity } from './activity';
import { day2Preflight, requireOurAlias, type Day2Found } from './paths/day2';
import { runLifecycle, type RunContext, type RunDefinition } from './run';

/**
 * Runs started before this patch replay updating the roles without reading them first (a failure after it left them
 * updated). From it on, the roles are read before the update and a rollback puts each back as it was (or removes one
 * this run created).
 */
export const RESTORE_ROLES_PATCH = 'update-access-restores-roles';

interface UpdateFound extends Day2Found {
  key?: CrossClusterKeyInfo;
  keyId?: string;
  after: Access;
  unchanged: boolean;
}

export const UPDATE_ACCESS: RunDefinition<UpdateAccessRequest, UpdateFound, UpdateAccessResult | DryRunResult> = {
  kind: 'update-access',
  title: 'Update remote cluster access',
  requestName: 'UpdateAccessRequest',
  confirmable: CONFIRMABLE_STEPS['update-access'],
  validate: validateUpdateAccessRequest,
  async preflight(ctx) {
    const { r } = ctx;
    const base = await day2Preflight(ctx);
    requireOurAlias(ctx, base, 'change the access of');
    const record = base.connection.record;
    let keyId = record?.api_key_id;
    let key: CrossClusterKeyInfo | undefined;
    if (base.remote) {
      const ours = await activity('Find the key the alias uses')
        .findCrossClusterApiKeys({ target: base.remote, alias: r.alias })
        .catch(ctx.preflightFailed);
      const candidates = keyId
        ? ours.filter((k) => k.id === keyId)
        : ours.filter((k) => k.workflowId === record?.workflow_id);
      key = candidates.length === 1 ? candidates[0] : undefined;
      if (!key) {
        ctx.preflightFailed(
          ApplicationFailure.create({
            type: 'KeyNotFound',
            nonRetryable: true,
            message: `The self-managed cluster has no single active key of this tool for "${r.alias}", so the tool cannot tell which key to update; nothing was changed → run without remote.elasticsearch (the self-managed org updates its key), or rotate the key first.`,
          }),
        );
      }
      keyId = key!.id;
    }
    // The diff shows the access as Elasticsearch will store it; "unchanged" is decided by the one comparison of keys.
    const after = storedAccessShape(r.access);
    const unchanged = key !== undefined && sameAccess(key.access, r.access) && r.roles.length === 0;
    const plan = unchanged
      ? []
      : [
          planStep(
            HUMAN_STEPS.updateRemoteKey,
            `replace the access of cross-cluster API key ${keyId ?? '(the key the connection uses)'}`,
            {
              system: 'self-managed-elasticsearch',
              method: 'PUT',
              path: `/_security/cross_cluster/api_key/${keyId ?? '<id>'}`,
              body: { access: r.access },
            },
            base.remote ? 'workflow' : 'self-managed-org',
          ),
          ...r.roles.map((role) =>
            planStep('roles-and-users', `update role ${role.name}`, {
              system: 'ech-elasticsearch',
              method: 'PUT',
              path: `/_security/role/${encodeURIComponent(role.name)}`,
            }),
          ),
          planStep('verify', `_remote/info, _resolve/cluster and a search through "${r.alias}"`),
        ];
    const diff = { before: key?.access ?? null, after };
    ctx.state.step('preflight', 'done', unchanged ? 'the access is already so' : `key ${keyId ?? 'not recorded'}`);
    return {
      plan,
      warnings: [],
      found: { ...base, ...(key ? { key } : {}), ...(keyId ? { keyId } : {}), after, unchanged },
      dryRun: { plan, warnings: [], diff, ...(unchanged ? { nothingToDo: true } : {}) },
    };
  },
  run: updateAccess,
};

export async function updateRemoteClusterAccess(input: unknown): Promise<UpdateAccessResult | DryRunResult> {
  return runLifecycle(UPDATE_ACCESS, input);
}

async function updateAccess(ctx: RunContext<UpdateAccessRequest>, found: UpdateFound): Promise<UpdateAccessResult> {
  const { r, workflowId, state, signals, compensations } = ctx;
  const { local, remote, key, keyId } = found;
  const verifyMs = durationToMs(r.verify.timeout);
  const base = (updated: boolean, after: unknown): UpdateAccessResult => ({
    alias: r.alias,
    ...(keyId ? { keyId } : {}),
    updated,
    ...(key?.access !== undefined ? { before: key.access } : {}),
    after,
    roles: r.roles.map((x) => x.name),
    warnings: [],
    durationMs: Date.now() - ctx.started,
  });
  if (found.unchanged) {
    state.step(HUMAN_STEPS.updateRemoteKey, 'skipped', 'the key already has this access');
    return base(false, key?.access);
  }

  await ctx.approve(approvalInstructions(r, workflowId, state.status.plan ?? []));

  state.setPhase('updating-access');
  ctx.setCurrent(HUMAN_STEPS.updateRemoteKey);
  let updated = false;
  let after: unknown = found.after;
  if (remote && key && keyId) {
    state.step(HUMAN_STEPS.updateRemoteKey, 'running');
    // Registered before the write: a rollback puts the access back as it was (as Elasticsearch stored it).
    compensations.push({
      label: `access of cross-cluster API key ${keyId} (back to what it was)`,
      undo: () =>
        activity('Put the old access back').updateCrossClusterApiKey({
          target: remote,
          id: keyId,
          access: (key.access ?? {}) as Access,
        }),
    });
    const out = await activity('Update the cross-cluster API key').updateCrossClusterApiKey({
      target: remote,
      id: keyId,
      access: r.access,
      metadata: { access_hash: accessHash(r.access), updated_by: workflowId },
    });
    updated = out.updated;
    after = out.after ?? after;
    state.step(HUMAN_STEPS.updateRemoteKey, 'done', `updated: ${out.updated}`);
  } else {
    const ok = await state.waitForHuman(
      HUMAN_STEPS.updateRemoteKey,
      'self-managed-org',
      updateRemoteKeyInstructions(workflowId, keyId, r.access),
      durationToMs(r.humanStepTimeout),
      () => signals.confirmed.has(HUMAN_STEPS.updateRemoteKey),
    );
    if (!ok) return ctx.endWithoutChanges('timed-out', HUMAN_STEPS.updateRemoteKey);
    updated = true;
    state.step(HUMAN_STEPS.updateRemoteKey, 'done', 'confirmed by the self-managed org');
  }

  if (r.roles.length) {
    ctx.setCurrent('roles-and-users');
    state.step('roles-and-users', 'running');
    if (wf.patched(RESTORE_ROLES_PATCH)) {
      // Read before any write, the undo of each registered before its write: a rollback puts back what was there.
      const before = await activity('Read the roles as they are').readRoles({
        target: local,
        names: r.roles.map((x) => x.name),
      });
      for (const role of r.roles) {
        const was = before.find((b) => b.name === role.name);
        // Not ours: the update refuses to touch it (NotManagedByUs), so there is nothing to undo.
        if (was && (was.body.metadata as { managed_by?: unknown } | undefined)?.managed_by !== MANAGED_BY) continue;
        compensations.push(
          was
            ? {
                label: `role ${role.name} (back to what it was)`,
                // Only while the role is still this run's write: a shared role another connection changed since
                // is left as it is (and said so).
                undo: async () => {
                  const res = await activity(`Put role ${role.name} back`).ensureRole({
                    target: local,
                    name: role.name,
                    body: was.body,
                    onlyIfWrittenBy: workflowId,
                  });
                  return res.left ? { leftBecause: res.left } : res;
                },
              }
            : {
                label: `role ${role.name}`,
                undo: () => activity(`Remove role ${role.name}`).removeRole({ target: local, name: role.name }),
              },
        );
      }
    }
    for (const role of r.roles) {
      await activity(`Update role ${role.name}`).ensureRole({
        target: local,
        name: role.name,
        body: roleRequest(role, { workflowId, alias: r.alias }).body,
      });
    }
    state.step('roles-and-users', 'done', r.roles.map((x) => x.name).join(', '));
  }

  state.setPhase('verifying');
  ctx.setCurrent('verify');
  state.step('verify', 'running');
  const evidence = await activity('Verify the remote connection', VERIFY_OPTIONS(verifyMs)).verifyRemoteConnection({
    target: local,
    alias: r.alias,
    securityModel: 'api-key',
    searchIndex: r.verify.searchIndex,
    timeoutMs: verifyMs,
  });
  state.step('verify', 'done', 'connected');
  if (keyId && found.connection.record && found.connection.record.api_key_id !== keyId) {
    await activity('Record the key the alias uses').putOwnershipRecord({
      target: local,
      alias: r.alias,
      record: { ...found.connection.record, api_key_id: keyId },
    });
  }
  return { ...base(updated, after), evidence };
}
