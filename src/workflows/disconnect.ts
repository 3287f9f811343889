/**
 * disconnectRemoteCluster, on the run skeleton: removes, for one alias, what this tool made and only that — every
 * `cluster.remote.<alias>.*` setting in one request, the keystore entry, our trust entry, the remote key (or says who
 * must invalidate it), the roles and users made for the alias, and last the ownership record (so a disconnect that
 * stops half-way is finished by running it again). Refuses while CCR uses the alias unless `force`; an alias the
 * tool did not make is refused unless `adopt` (then only its settings go). A second disconnect has nothing to do.
 *
 * Forward-only: nothing is put back on failure (the keystore value cannot be read back); every step is idempotent,
 * and the failure says to run it again.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { CrossClusterKeyInfo } from '../contract/facts';
import { validateDisconnectRequest, type DisconnectRequest } from '../contract/lifecycle';
import type { DisconnectResult, DryRunResult } from '../contract/status';
import { CONFIRMABLE_STEPS, HUMAN_STEPS } from '../contract/steps';
import { invalidateRemoteKeyNote, planStep } from '../domain/day2';
import { approvalInstructions } from '../domain/instructions';
import { migrationTrustEntryName } from '../domain/migrate';
import { keystoreSecretName, trustEntryName } from '../domain/requests';
import { activity, removeTrustOnEch } from './activity';
import { day2Preflight, type Day2Found } from './paths/day2';
import { runLifecycle, type RunContext, type RunDefinition } from './run';

interface DisconnectFound extends Day2Found {
  nothingToDo: boolean;
  adopted: boolean;
  keystoreEntry?: string;
  /** The names of `trustEntries`, comma-separated (the result's `removed.trustEntry`). */
  trustEntry?: string;
  trustEntries?: string[];
  keys: CrossClusterKeyInfo[];
  left: DisconnectResult['left'];
}

export const DISCONNECT: RunDefinition<DisconnectRequest, DisconnectFound, DisconnectResult | DryRunResult> = {
  kind: 'disconnect',
  title: 'Disconnect remote cluster',
  requestName: 'DisconnectRequest',
  confirmable: CONFIRMABLE_STEPS.disconnect,
  validate: validateDisconnectRequest,
  async preflight(ctx) {
    const { r } = ctx;
    const base = await day2Preflight(ctx);
    const c = base.connection;
    const hasSettings = Object.keys(c.settings).length > 0;
    const ours = c.record !== undefined;
    const left: DisconnectResult['left'] = [];
    if (hasSettings && !ours && !r.adopt) {
      ctx.preflightFailed(
        ApplicationFailure.create({
          type: 'NotManagedByUs',
          nonRetryable: true,
          message: `Remote cluster "${r.alias}" was not connected by this tool (no ownership record); nothing was changed → set adopt: true to remove its cluster.remote.${r.alias}.* settings (only those), or remove it yourself.`,
        }),
      );
    }
    const ccr = [
      ...c.ccr.followerIndices.map((i) => `follower index ${i}`),
      ...c.ccr.autoFollowPatterns.map((p) => `auto-follow pattern ${p}`),
    ];
    if (hasSettings && ccr.length > 0 && !r.force) {
      ctx.preflightFailed(
        ApplicationFailure.create({
          type: 'AliasInUse',
          nonRetryable: true,
          message: `CCR uses remote cluster "${r.alias}": ${ccr.join(', ')}; nothing was changed → pause and unfollow them (POST /<index>/_ccr/pause_follow, /_ccr/unfollow; DELETE /_ccr/auto_follow/<name>), or set force: true to disconnect anyway (they stop replicating).`,
        }),
      );
    }
    const adopted = hasSettings && !ours;
    const entry = keystoreSecretName(r.alias);
    const keystoreEntry = !adopted && ours && base.keystoreEntries.includes(entry) ? entry : undefined;
    if (!ours && base.keystoreEntries.includes(entry)) {
      left.push({ item: `keystore entry ${entry}`, why: 'no ownership record says this tool made it' });
    }
    const trustName = trustEntryName(r.alias);
    // Our trust entries are per alias (their name carries it): no other alias of ours uses this one.
    // The certificate model's or connect's entry, and the one a migration made for a private remote cluster server CA.
    const trustEntries = adopted
      ? []
      : [trustName, migrationTrustEntryName(r.alias)].filter((n) => base.deployment.directTrustNames.includes(n));
    const trustEntry = trustEntries.length ? trustEntries.join(', ') : undefined;
    const keys =
      !adopted && base.remote
        ? await activity('Find the keys made for the alias')
            .findCrossClusterApiKeys({ target: base.remote, alias: r.alias })
            .catch(ctx.preflightFailed)
        : [];
    const roles = adopted ? [] : c.roles;
    const users = adopted ? [] : c.users;
    const nothingToDo =
      !hasSettings && !ours && !keystoreEntry && !trustEntry && keys.length === 0 && roles.length + users.length === 0;
    const plan = nothingToDo
      ? []
      : [
          ...(hasSettings
            ? [
                planStep('disconnect', `remove every cluster.remote.${r.alias}.* setting in one request`, {
                  system: 'ech-elasticsearch',
                  method: 'PUT',
                  path: '/_cluster/settings',
                  body: { persistent: Object.fromEntries(Object.keys(c.settings).map((k) => [k, null])) },
                }),
              ]
            : []),
          ...(keystoreEntry ? [planStep('ech-keystore', `remove keystore entry ${keystoreEntry}`)] : []),
          ...trustEntries.map((n) => planStep('ech-trust', `remove trust entry "${n}" (waits for the ECH plan)`)),
          ...keys.map((k) =>
            planStep(
              HUMAN_STEPS.invalidateRemoteKey,
              `invalidate cross-cluster API key ${k.id} on the self-managed cluster`,
              {
                system: 'self-managed-elasticsearch',
                method: 'DELETE',
                path: '/_security/api_key',
                body: { ids: [k.id] },
              },
            ),
          ),
          ...roles.map((n) => planStep('roles-and-users', `delete role ${n}`)),
          ...users.map((n) => planStep('roles-and-users', `delete user ${n}`)),
          ...(ours ? [planStep('disconnect', `remove the ownership record of "${r.alias}"`)] : []),
        ];
    const warnings = !adopted && ours && !base.remote ? [invalidateRemoteKeyNote(r.alias, c.record?.api_key_id)] : [];
    if (r.force && ccr.length) warnings.push(`Disconnected although CCR used the alias: ${ccr.join(', ')}.`);
    ctx.state.step(
      'preflight',
      'done',
      nothingToDo ? 'nothing of this tool is left for this alias' : `${plan.length} item(s) to remove`,
    );
    const found: DisconnectFound = {
      ...base,
      nothingToDo,
      adopted,
      ...(keystoreEntry ? { keystoreEntry } : {}),
      ...(trustEntry ? { trustEntry, trustEntries } : {}),
      keys,
      left,
    };
    return { plan, warnings, found, dryRun: { plan, warnings, ...(nothingToDo ? { nothingToDo: true } : {}) } };
  },
  run: disconnect,
};

export async function disconnectRemoteCluster(input: unknown): Promise<DisconnectResult | DryRunResult> {
  return runLifecycle(DISCONNECT, input);
}

async function disconnect(ctx: RunContext<DisconnectRequest>, found: DisconnectFound): Promise<DisconnectResult> {
  const { r, workflowId, state } = ctx;
  const { cloud, local, remote, connection: c } = found;
  const warnings: string[] = [];
  const removed: DisconnectResult['removed'] = {
    clusterSettings: [],
    apiKeyIds: [],
    roles: [],
    users: [],
    ownershipRecord: false,
  };
  const result = (): DisconnectResult => ({
    alias: r.alias,
    nothingToDo: found.nothingToDo,
    removed,
    left: found.left,
    warnings: [
      ...warnings,
      ...(!found.adopted && c.record && !remote ? [invalidateRemoteKeyNote(r.alias, c.record.api_key_id)] : []),
    ],
    durationMs: Date.now() - ctx.started,
  });
  if (found.nothingToDo) {
    state.step('disconnect', 'skipped', `nothing to do: no remote cluster "${r.alias}" of this tool is left`);
    return result();
  }

  await ctx.approve(approvalInstructions(r, workflowId, state.status.plan ?? []));

  // Settings first (the connection stops being used), the record last (a rerun still knows the alias is ours).
  state.setPhase('disconnecting');
  ctx.setCurrent('disconnect');
  state.step('disconnect', 'running');
  const settings = await activity('Remove the remote cluster settings').removeRemoteCluster({
    target: local,
    alias: r.alias,
    adopt: found.adopted,
    keepRecord: true,
  });
  removed.clusterSettings = settings.settings;
  state.step('disconnect', 'running', `${settings.settings.length} setting(s) removed`);

  if (found.keystoreEntry) {
    ctx.setCurrent('ech-keystore');
    state.step('ech-keystore', 'running');
    await activity('Remove the keystore entry').removeRemoteClusterCredentials({ target: cloud, alias: r.alias });
    removed.keystoreEntry = found.keystoreEntry;
    state.step('ech-keystore', 'done', `${found.keystoreEntry} removed`);
  }
  if (found.trustEntry) {
    ctx.setCurrent('ech-trust');
    state.step('ech-trust', 'running');
    for (const name of found.trustEntries ?? []) await removeTrustOnEch(cloud, name);
    removed.trustEntry = found.trustEntry;
    state.step('ech-trust', 'done', `${found.trustEntry} removed`);
  }
  if (remote && found.keys.length) {
    ctx.setCurrent(HUMAN_STEPS.invalidateRemoteKey);
    state.step(HUMAN_STEPS.invalidateRemoteKey, 'running');
    for (const k of found.keys) {
      const out = await activity('Invalidate the cross-cluster API key').invalidateCrossClusterApiKey({
        target: remote,
        id: k.id,
      });
      if (out.invalidated) removed.apiKeyIds.push(k.id);
    }
    state.step(HUMAN_STEPS.invalidateRemoteKey, 'done', removed.apiKeyIds.join(', '));
  }
  if (!found.adopted && c.roles.length + c.users.length > 0) {
    ctx.setCurrent('roles-and-users');
    state.step('roles-and-users', 'running');
    for (const name of c.roles) {
      const out = await activity(`Delete role ${name}`).removeRole({ target: local, name, alias: r.alias });
      if (out.removed) removed.roles.push(name);
    }
    for (const username of c.users) {
      const out = await activity(`Delete user ${username}`).removeUser({ target: local, username, alias: r.alias });
      if (out.removed) removed.users.push(username);
    }
    state.step('roles-and-users', 'done', `${removed.roles.length} role(s), ${removed.users.length} user(s) deleted`);
  }
  if (c.record) {
    ctx.setCurrent('disconnect');
    const out = await activity('Remove the ownership record').removeRemoteCluster({ target: local, alias: r.alias });
    removed.ownershipRecord = out.removed;
  }
  state.step('disconnect', 'done', `remote cluster "${r.alias}" removed`);

  // Verify: the alias is gone from _remote/info.
  state.setPhase('verifying');
  ctx.setCurrent('verify');
  state.step('verify', 'running');
  const after = await activity('Check the alias is gone').readConnection({ target: local, alias: r.alias });
  if (after.remoteInfo || Object.keys(after.settings).length > 0) {
    throw ApplicationFailure.create({
      type: 'DisconnectNotVerified',
      nonRetryable: true,
      message: `Remote cluster "${r.alias}" is still in _remote/info or the cluster settings after the removal → run the disconnect again; it removes what is left.`,
    });
  }
  state.step('verify', 'done', `"${r.alias}" is not in _remote/info`);
  return result();
}
