/**
 * Rollback, proven at every compensable step: for each path and each mutating call of its run, that call fails for
 * good (an injected 400, once), and the estate must be exactly its snapshot from before the run, others' objects
 * untouched (a foreign trust entry, keystore entry and roles seeded first); the run ends in phase `failed` and its
 * status says, in reverse order, what was undone.
 *
 * A failed ECH plan during the trust step: every compensation still runs (the key is invalidated even when removing
 * the trust entry fails too), and the cleanup report lists each item with its outcome.
 *
 * Expected shape of `status.cleanup`: `{ mode: 'rollback', items: string[], outcomes?: { item, outcome: 'undone' |
 * 'failed' | 'left', why? }[] }`; `outcomes` is checked when present.
 *
 * `npm test`: one step per path and the failed plans; `npm run proof` (ECH_REMOTE_PROOF=long): every step.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { ConnectStatus } from '../../src/contract/status';
import { MANAGED_BY, type StepId } from '../../src/contract/steps';
import { Estate, type EstateView } from '../helpers/estate';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';
import {
  CALLS,
  LONG,
  PATHS,
  SIDE_BY_SIDE,
  callRule,
  drive,
  proofRequest,
  startRun,
  type CallName,
  type PathName,
} from './harness';

let estate: Estate;
let client: Client;
let worker: RunningWorker;

before(async () => {
  estate = await Estate.start('api-key-public');
  client = await testClient();
  worker = await startWorker({ activities: createActivities() });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
});

/** The mutating calls of each path in run order (test/proof/crash-recovery.test.ts checks this list). */
const CALL_ORDER: Record<PathName, CallName[]> = {
  A: ['key', 'keystore', 'settings', 'role', 'user'],
  B: ['key', 'trust', 'keystore', 'settings', 'role', 'user'],
  C: ['trust', 'settings', 'remote-role', 'role', 'user'],
};
const FAST: Record<PathName, CallName[]> = { A: ['keystore'], B: ['trust'], C: ['role'] };

const STEP_OF: Record<CallName, StepId> = {
  key: 'cross-cluster-api-key',
  trust: 'ech-trust',
  keystore: 'ech-keystore',
  settings: 'connect',
  'remote-role': 'roles-and-users',
  role: 'roles-and-users',
  user: 'roles-and-users',
};

const FOREIGN_TRUST = 'customer-managed-ece';
const FOREIGN_KEYSTORE = 'xpack.notification.slack.account.ops.secure_url';
const FOREIGN_ROLE = 'customer-readers';

async function waitForNoPendingPlan(): Promise<void> {
  const { deploymentId, refId } = estate.info.cloud;
  const deadline = Date.now() + 10_000;
  while (
    (await estate.cloud('GET', `/deployments/${deploymentId}/elasticsearch/${refId}?show_plans=true`)).info.plan_info
      .pending
  ) {
    assert.ok(Date.now() < deadline, 'a plan is still pending');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Objects of others the run must never touch: a trust entry, a keystore secret, a role on each cluster. */
async function seedForeignObjects(): Promise<void> {
  const { deploymentId, refId } = estate.info.cloud;
  const dep = await estate.cloud(
    'GET',
    `/deployments/${deploymentId}?show_settings=true&show_plans=true&clear_transient=true`,
  );
  const es = dep.resources.elasticsearch[0];
  const trust = es.info.settings?.trust ?? {};
  const direct = [
    ...(trust.direct ?? []),
    {
      name: FOREIGN_TRUST,
      type: 'generic',
      trust_all: true,
      scope_id: 'abc123',
      certificates: [{ pem: estate.info.ca.selfManagedTransport }],
    },
  ].map((d: any) => ({ ...d, certificates: d.certificates.map((c: any) => ({ pem: c.pem })) }));
  const put = await estate.cloud('PUT', `/deployments/${deploymentId}`, {
    prune_orphans: false,
    resources: {
      elasticsearch: [
        {
          ref_id: es.ref_id,
          region: es.region,
          plan: es.info.plan_info.current.plan,
          settings: { trust: { ...trust, direct } },
        },
      ],
    },
  });
  assert.equal(put.errors, undefined, JSON.stringify(put));
  await waitForNoPendingPlan();
  const ks = await estate.cloud('PATCH', `/deployments/${deploymentId}/elasticsearch/${refId}/keystore`, {
    secrets: { [FOREIGN_KEYSTORE]: { value: 'https://hooks.example/x', as_file: false } },
  });
  assert.equal(ks.errors, undefined, JSON.stringify(ks));
  for (const side of ['ech', 'self-managed'] as const) {
    const role = await estate.es(side, 'PUT', `/_security/role/${FOREIGN_ROLE}`, { cluster: ['monitor'] });
    assert.equal(role.status, 200, JSON.stringify(role.body));
  }
}

async function freshEstate(path: PathName): Promise<EstateView> {
  await estate.scenario(PATHS[path].scenario);
  await seedForeignObjects();
  const view = await estate.view();
  assert.ok(view.trustDirect.includes(FOREIGN_TRUST) && view.keystore.includes(FOREIGN_KEYSTORE));
  assert.ok(view.echRoles.includes(FOREIGN_ROLE) && view.selfManagedRoles.includes(FOREIGN_ROLE));
  return view;
}

type Cleanup = {
  mode: string;
  items: string[];
  outcomes?: { item: string; outcome: 'undone' | 'failed' | 'left'; why?: string }[];
};

async function runToEnd(path: PathName, tag: string): Promise<ConnectStatus> {
  const handle = await startRun(client, worker.taskQueue, proofRequest(estate, path), tag);
  const status = await drive(estate, handle, undefined, 60_000);
  assert.ok(status, 'the run answered its status query');
  await assert.rejects(handle.result(), 'the run fails');
  return status;
}

/** Calls whose rollback item is registered before the call (ownership decided by a read before the write). */
const WRITE_AHEAD = new Set<CallName>(['trust', 'keystore', 'settings']);

for (const path of Object.keys(PATHS) as PathName[]) {
  describe(`path ${path} (${PATHS[path].scenario}, remote credentials): a permanent failure at each step`, () => {
    for (const call of LONG ? CALL_ORDER[path] : FAST[path]) {
      it(`${call} fails (400): the estate is its snapshot from before the run`, { timeout: 90_000 }, async () => {
        const snapshot = await freshEstate(path);
        await estate.faults([callRule(call, { statusRates: { '400': 1 }, times: 1 })]);
        const status = await runToEnd(path, `${path}-fail-${call}`);
        await estate.control('DELETE', '/faults');

        assert.equal(status.phase, 'failed', status.error?.message);
        assert.equal(status.steps.find((s) => s.id === STEP_OF[call])?.state, 'failed', `step ${STEP_OF[call]}`);
        // What the run had made before the failing call, undone last-made first; for the writes whose compensation
        // is registered before the write (the answer of a write may be lost), the failing one too (a no-op undo).
        const upTo = CALL_ORDER[path].indexOf(call) + (WRITE_AHEAD.has(call) ? 1 : 0);
        let made = CALL_ORDER[path].slice(0, upTo).reverse();
        const cleanup = status.cleanup as Cleanup | undefined;
        const group = SIDE_BY_SIDE[path];
        if (group.includes(call) && cleanup) {
          // Calls made side by side with the failing one (paths A/B: the settings, the roles and users): whichever
          // of them were made by then are undone first, in the order they were made backwards.
          const before = CALL_ORDER[path].filter((c) => !group.includes(c)).reverse();
          const side = cleanup.items.slice(0, cleanup.items.length - before.length);
          const sideCalls = side.map((item) => group.find((c) => CALLS[c].label.test(item)));
          assert.ok(
            sideCalls.every((c) => c !== undefined),
            `only side-by-side calls before the others: ${JSON.stringify(side)}`,
          );
          if (call === 'user') assert.ok(sideCalls.includes('role'), 'the role was made before the user');
          made = [...(sideCalls as CallName[]), ...before];
        }
        if (made.length === 0) {
          assert.ok(!cleanup || cleanup.items.length === 0, `nothing to undo: ${JSON.stringify(cleanup)}`);
        } else {
          assert.equal(cleanup?.mode, 'rollback');
          assert.equal(cleanup.items.length, made.length, JSON.stringify(cleanup.items));
          made.forEach((c, i) => assert.match(cleanup.items[i] as string, CALLS[c].label, `item ${i}: ${c}`));
          if (cleanup.outcomes) {
            assert.deepEqual(
              cleanup.outcomes.map((o) => [o.item, o.outcome]),
              cleanup.items.map((item) => [item, 'undone']),
            );
          }
          assert.match(status.error?.message ?? '', /Rolled back/);
        }
        assert.deepEqual(await estate.view(), snapshot);
      });
    }
  });
}

describe('path B: the ECH plan of the trust step fails', () => {
  it(
    'the plan fails: the trust entry (rolled back by the failed plan) and the key are undone, each reported',
    { timeout: 90_000 },
    async () => {
      const snapshot = await freshEstate('B');
      await estate.control('POST', '/plans', { failNext: 1 });
      const status = await runToEnd('B', 'B-plan-fails');
      await estate.control('POST', '/plans', { failNext: 0 });

      assert.equal(status.phase, 'failed');
      assert.equal(status.error?.type, 'PlanFailed', status.error?.message);
      assert.equal(status.steps.find((s) => s.id === 'ech-trust')?.state, 'failed');
      const cleanup = status.cleanup as Cleanup | undefined;
      assert.equal(cleanup?.mode, 'rollback', JSON.stringify(status.error));
      assert.equal(cleanup.items.length, 2, JSON.stringify(cleanup.items));
      assert.match(cleanup.items[0] as string, CALLS.trust.label);
      assert.match(cleanup.items[1] as string, CALLS.key.label);
      assert.deepEqual(
        cleanup.outcomes?.map((o) => o.outcome),
        ['undone', 'undone'],
      );
      assert.deepEqual(await estate.view(), snapshot);
    },
  );
});

describe('path B: a compensation that fails does not stop the others', () => {
  it(
    'the trust entry cannot be removed (403): the key is still invalidated, the entry is reported for a person',
    { timeout: 90_000 },
    async () => {
      const snapshot = await freshEstate('B');
      // The keystore write fails, so the run rolls back; the first deployment update (adding the trust entry) passes,
      // the second one (removing it) is refused.
      await estate.faults([
        callRule('keystore', { statusRates: { '400': 1 }, times: 1 }),
        callRule('trust', { times: 1 }),
        callRule('trust', { statusRates: { '403': 1 } }),
      ]);
      const status = await runToEnd('B', 'B-compensation-fails');
      await estate.control('DELETE', '/faults');

      assert.equal(status.phase, 'failed');
      const cleanup = status.cleanup as Cleanup | undefined;
      assert.equal(cleanup?.mode, 'rollback', JSON.stringify(status.error));
      const outcome = (re: RegExp) => cleanup.outcomes?.find((o) => re.test(o.item));
      assert.equal(outcome(CALLS.keystore.label)?.outcome, 'undone');
      assert.equal(outcome(CALLS.trust.label)?.outcome, 'failed');
      assert.match(outcome(CALLS.trust.label)?.why ?? '', /403|lacks|forbidden/i);
      assert.equal(outcome(CALLS.key.label)?.outcome, 'undone', 'later compensations still ran');
      assert.match(status.error?.message ?? '', /Could NOT roll back \(remove by hand\): trust entry/);
      const view = await estate.view();
      assert.deepEqual(view.activeCrossClusterKeys, snapshot.activeCrossClusterKeys, 'the key is invalidated');
      assert.deepEqual(
        { ...view, trustDirect: [] },
        { ...snapshot, trustDirect: [] },
        'only the reported entry is left',
      );
      assert.equal(view.trustDirect.length, snapshot.trustDirect.length + 1);
    },
  );
});

describe('path B without an approval: the key is made while the trust entry and its plan are', () => {
  const unattended = (tag: string) =>
    startRun(
      client,
      worker.taskQueue,
      { ...proofRequest(estate, 'B'), approvals: { beforeLocalChanges: false, timeout: '1h' } },
      tag,
    );

  it('both are made side by side, and the run connects', { timeout: 90_000 }, async () => {
    const snapshot = await freshEstate('B');
    const handle = await unattended('B-unattended');
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const typeOf = (scheduledId: unknown) =>
      events.find((e) => String(e.eventId) === String(scheduledId))?.activityTaskScheduledEventAttributes?.activityType
        ?.name;
    const keyAsked = events.findIndex(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'findOrCreateCrossClusterApiKey',
    );
    const planSeen = events.findIndex(
      (e) => typeOf(e.activityTaskCompletedEventAttributes?.scheduledEventId) === 'waitForPlan',
    );
    const keystoreWritten = events.findIndex(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'putRemoteClusterCredentials',
    );
    assert.ok(keyAsked >= 0 && keystoreWritten >= 0 && planSeen >= 0, 'the run made the key and waited for the plan');
    assert.ok(keyAsked < planSeen, 'the key was asked for before the plan ended');
    assert.ok(keystoreWritten < planSeen, 'the key was stored in the keystore (9.x reloads it) before the plan ended');
    const view = await estate.view();
    assert.equal(view.trustDirect.length, snapshot.trustDirect.length + 1, 'the trust entry is there');
    assert.equal(view.activeCrossClusterKeys.length, snapshot.activeCrossClusterKeys.length + 1, 'the key is there');
  });

  const OTHER = { key: 'trust', trust: 'key', keystore: 'trust' } as const;
  for (const call of ['key', 'trust', 'keystore'] as const) {
    it(`${call} fails (400): that step is reported, the other is undone too`, { timeout: 90_000 }, async () => {
      const snapshot = await freshEstate('B');
      await estate.faults([callRule(call, { statusRates: { '400': 1 }, times: 1 })]);
      const handle = await unattended(`B-unattended-fail-${call}`);
      await assert.rejects(handle.result());
      await estate.control('DELETE', '/faults');
      const status = (await handle.query('status')) as ConnectStatus;
      assert.equal(status.phase, 'failed', status.error?.message);
      assert.equal(status.steps.find((s) => s.id === STEP_OF[call])?.state, 'failed', `step ${STEP_OF[call]}`);
      const cleanup = status.cleanup as Cleanup | undefined;
      assert.equal(cleanup?.mode, 'rollback', JSON.stringify(status.error));
      // The other side's object was made (it was not stopped) and is undone; a failed write's own item is a no-op.
      assert.ok(
        cleanup.items.some((i) => CALLS[OTHER[call]].label.test(i)),
        JSON.stringify(cleanup.items),
      );
      assert.ok(
        cleanup.outcomes?.every((o) => o.outcome === 'undone'),
        JSON.stringify(cleanup.outcomes),
      );
      await waitForNoPendingPlan();
      assert.deepEqual(await estate.view(), snapshot);
    });
  }

  it('both fail (400): both steps say failed, nothing is left', { timeout: 90_000 }, async () => {
    const snapshot = await freshEstate('B');
    await estate.faults([
      callRule('key', { statusRates: { '400': 1 }, times: 1 }),
      callRule('trust', { statusRates: { '400': 1 }, times: 1 }),
    ]);
    const handle = await unattended('B-unattended-fail-both');
    await assert.rejects(handle.result());
    await estate.control('DELETE', '/faults');
    const status = (await handle.query('status')) as ConnectStatus;
    assert.equal(status.phase, 'failed', status.error?.message);
    for (const step of ['cross-cluster-api-key', 'ech-trust'] as const) {
      assert.equal(status.steps.find((s) => s.id === step)?.state, 'failed', `step ${step}`);
    }
    await waitForNoPendingPlan();
    assert.deepEqual(await estate.view(), snapshot);
  });
});

describe('path A: the roles and users are made while the remote cluster is registered and verified', () => {
  it('side by side in the history, and the run connects', { timeout: 90_000 }, async () => {
    await freshEstate('A');
    const handle = await startRun(client, worker.taskQueue, proofRequest(estate, 'A'), 'A-access-side-by-side');
    await drive(estate, handle, undefined, 60_000);
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduledBy = (type: string) =>
      events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)
        ?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
    const settings = scheduledBy('putRemoteCluster');
    assert.ok(settings !== undefined && scheduledBy('ensureRole') !== undefined, 'both were scheduled');
    assert.equal(String(scheduledBy('ensureRole')), String(settings), 'the role was asked for with the settings');
    const view = await estate.view();
    assert.ok(view.echRoles.includes('remote-search'), JSON.stringify(view.echRoles));
  });

  it(
    'the user fails (400) while the settings are written: both are undone, roles-and-users says failed',
    {
      timeout: 90_000,
    },
    async () => {
      const snapshot = await freshEstate('A');
      // The settings write is held until the user's PUT failed: the failure comes while the connection is being made.
      await estate.faults([
        callRule('user', { statusRates: { '400': 1 }, times: 1 }),
        callRule('settings', { latencyMs: 1_500, times: 1 }),
      ]);
      const status = await runToEnd('A', 'A-access-fails-meanwhile');
      await estate.control('DELETE', '/faults');
      assert.equal(status.phase, 'failed', status.error?.message);
      assert.equal(status.steps.find((s) => s.id === 'roles-and-users')?.state, 'failed');
      assert.equal(status.steps.find((s) => s.id === 'connect')?.state, 'done', 'the settings write finished');
      const cleanup = status.cleanup as Cleanup | undefined;
      assert.equal(cleanup?.mode, 'rollback', JSON.stringify(status.error));
      for (const c of ['settings', 'role', 'key', 'keystore'] as const) {
        assert.ok(
          cleanup.items.some((i) => CALLS[c].label.test(i)),
          `${c} undone: ${JSON.stringify(cleanup.items)}`,
        );
      }
      assert.deepEqual(await estate.view(), snapshot);
    },
  );
});

describe('path A: a role of ours that another run made is updated only once the connection is verified', () => {
  it('the connection fails: the shared role is left exactly as it was', { timeout: 90_000 }, async () => {
    await freshEstate('A');
    // The request's role, made by another connection of this tool (ours, another run): it relies on it as it is.
    const shared = { cluster: ['monitor'], metadata: { managed_by: MANAGED_BY, created_by_run: 'another-run' } };
    assert.equal((await estate.es('ech', 'PUT', '/_security/role/remote-search', shared)).status, 200);
    const before = (await estate.es('ech', 'GET', '/_security/role/remote-search')).body;
    const snapshot = await estate.view();
    await estate.faults([callRule('settings', { statusRates: { '400': 1 }, times: 1 })]);
    const status = await runToEnd('A', 'A-shared-role-connection-fails');
    await estate.control('DELETE', '/faults');
    assert.equal(status.steps.find((s) => s.id === 'connect')?.state, 'failed');
    assert.deepEqual((await estate.es('ech', 'GET', '/_security/role/remote-search')).body, before);
    assert.deepEqual(await estate.view(), snapshot);
  });

  it('the connection works: the shared role is updated after the verification', { timeout: 90_000 }, async () => {
    await freshEstate('A');
    const shared = { cluster: ['monitor'], metadata: { managed_by: MANAGED_BY, created_by_run: 'another-run' } };
    assert.equal((await estate.es('ech', 'PUT', '/_security/role/remote-search', shared)).status, 200);
    const handle = await startRun(client, worker.taskQueue, proofRequest(estate, 'A'), 'A-shared-role-updated');
    await drive(estate, handle, undefined, 60_000);
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const order = events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    const roles = order.flatMap((n, i) => (n === 'ensureRole' ? [i] : []));
    assert.equal(roles.length, 2, `asked side by side, then updated: ${order.join(', ')}`);
    assert.ok(roles[1]! > order.indexOf('verifyRemoteConnection'), 'updated after the verification');
    const role = (await estate.es('ech', 'GET', '/_security/role/remote-search')).body['remote-search'];
    assert.notDeepEqual(role.cluster, ['monitor'], 'the request body was written');
    assert.equal(role.metadata.created_by_run, 'another-run', 'still the run that made it');
  });
});
