/**
 * Crash recovery, proven at every kill point: for each path (A public CA, B private CA, C TLS certificate; all with
 * remote credentials, so the tool makes every change itself) and each mutating call of its run, the sandbox holds
 * that request before or after applying it, the worker process is SIGKILLed there, the request is let go (before:
 * dropped unapplied, after: applied, the answer going to nobody), and a fresh worker on the same task queue finishes
 * the run. The estate must then be exactly what an uninterrupted run leaves: one active cross-cluster key, one
 * keystore entry, one trust entry where the path needs it, the remote settings, the roles and the users.
 *
 * Lost responses: a mutating call is applied but its answer lost (`when: 'after'` + reset), the activity retries, and
 * a later step fails for good; the rollback must leave the estate as it was before the run.
 *
 * `npm test`: one kill point per path and the lost responses of path A; `npm run proof` (ECH_REMOTE_PROOF=long):
 * every kill point × before/after and every lost response of every path.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { ConnectResult, ConnectStatus } from '../../src/contract/status';
import { Estate, type EstateView } from '../helpers/estate';
import { testClient } from '../helpers/temporal';
import { expireStartedActivities, startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';
import {
  LONG,
  PATHS,
  SIDE_BY_SIDE,
  callRule,
  discover,
  drive,
  held,
  proofRequest,
  shape,
  startRun,
  type CallName,
  type PathName,
} from './harness';

let estate: Estate;
let client: Client;

before(async () => {
  estate = await Estate.start('api-key-public');
  client = await testClient();
});
after(async () => {
  await client?.connection.close();
  await estate?.stop();
});

/** The mutating calls of each path, in the order a run makes them (the clean run checks this list). */
const EXPECTED_CALLS: Record<PathName, CallName[]> = {
  A: ['key', 'keystore', 'settings', 'role', 'user'],
  B: ['key', 'trust', 'keystore', 'settings', 'role', 'user'],
  C: ['trust', 'settings', 'remote-role', 'role', 'user'],
};
/** The order of `calls` as the run's: the side-by-side calls as one (each group once), the rest as made. */
function runOrder(path: PathName, calls: CallName[]): string[] {
  const group = SIDE_BY_SIDE[path];
  const out: string[] = [];
  for (const c of calls) {
    const name = group.includes(c) ? `{${group.join(', ')}}` : c;
    if (out.at(-1) !== name) out.push(name);
  }
  return out;
}

/** `npm test`: the keystore write (path C has none: its remote settings) with the answer lost. */
const FAST_KILL_POINTS: Record<PathName, [CallName, 'before' | 'after'][]> = {
  A: [['keystore', 'after']],
  B: [['keystore', 'after']],
  C: [['settings', 'after']],
};

const killPoints = (path: PathName): [CallName, 'before' | 'after'][] =>
  LONG
    ? EXPECTED_CALLS[path].flatMap((c) => [
        [c, 'before'],
        [c, 'after'],
      ])
    : FAST_KILL_POINTS[path];

/** Lost responses: the later step that fails for good is the users' PUT (400), so the last call has none. */
const lostResponses = (path: PathName): CallName[] =>
  LONG ? EXPECTED_CALLS[path].filter((c) => c !== 'user') : path === 'A' ? ['keystore', 'settings'] : [];

async function withWorker<T>(taskQueue: string, fn: (w: { current: WorkerProcess }) => Promise<T>): Promise<T> {
  const w = { current: await startWorkerProcess(taskQueue) };
  try {
    return await fn(w);
  } finally {
    await w.current.kill();
    await estate.control('DELETE', '/faults');
  }
}

const clean: Partial<Record<PathName, EstateView>> = {};

for (const path of Object.keys(PATHS) as PathName[]) {
  describe(`path ${path} (${PATHS[path].scenario}, remote credentials)`, () => {
    it('an uninterrupted run: every mutating call is a known kill point', { timeout: 120_000 }, async () => {
      await estate.scenario(PATHS[path].scenario);
      const found = await withWorker(`proof-${randomUUID()}`, (w) =>
        discover(estate, client, w.current.taskQueue, path),
      );
      const first = found.calls.filter((c, i) => found.calls.indexOf(c) === i);
      assert.deepEqual(runOrder(path, first), runOrder(path, EXPECTED_CALLS[path]));
      assert.deepEqual([...first].sort(), [...EXPECTED_CALLS[path]].sort());
      assert.ok(first.indexOf('role') < first.indexOf('user'), `the role before the user: ${first.join(', ')}`);
      clean[path] = found.after;
    });

    for (const [call, when] of killPoints(path)) {
      it(
        `SIGKILL with ${call} held ${when} it is applied: a fresh worker finishes, one of each`,
        { timeout: 180_000 },
        async () => {
          const expected = clean[path];
          assert.ok(expected, 'the uninterrupted run of this path passed');
          await estate.scenario(PATHS[path].scenario);
          const taskQueue = `proof-${randomUUID()}`;
          await withWorker(taskQueue, async (w) => {
            await estate.faults([callRule(call, { hold: true, when, times: 1 })]);
            const handle = await startRun(client, taskQueue, proofRequest(estate, path), `${path}-${call}-${when}`);
            let point: { id: number; path: string; when: string } | undefined;
            await drive(estate, handle, async () => (point = (await held(estate))[0]) !== undefined);
            assert.ok(point, `the run reached ${call}`);
            assert.equal(point.when, when);

            await w.current.kill();
            await estate.control('POST', '/faults/release', {
              id: point.id,
              action: when === 'before' ? 'drop' : 'continue',
            });
            const expired = await expireStartedActivities(client, handle.workflowId);
            // The call held is in flight; beside it only a call of the same side-by-side group (paths A/B: the
            // settings write or verification while the roles and users are made).
            const alone = !SIDE_BY_SIDE[path].includes(call);
            assert.ok(
              alone ? expired.length === 1 : expired.length >= 1 && expired.length <= 2,
              `${alone ? 'one activity' : 'one or two activities'} in flight at the kill: ${expired.join(', ')}`,
            );

            w.current = await startWorkerProcess(taskQueue);
            const status = await drive(estate, handle);
            assert.equal(status?.phase, 'completed', status?.error?.message);
            const result = (await handle.result()) as ConnectResult;
            assert.equal(result.connected, true);
            const view = await estate.view();
            assert.deepEqual(shape(view), shape(expected), 'the estate an uninterrupted run leaves');
            assert.equal(view.activeCrossClusterKeys.length, path === 'C' ? 0 : 1);
            if (path !== 'C') assert.deepEqual(view.activeCrossClusterKeys, [result.created.apiKeyId]);
          });
        },
      );
    }

    for (const call of lostResponses(path)) {
      it(
        `${call} applied but its answer lost, then a later step fails: the rollback leaves the estate as before`,
        { timeout: 120_000 },
        async () => {
          await estate.scenario(PATHS[path].scenario);
          const before = await estate.view();
          const taskQueue = `proof-${randomUUID()}`;
          await withWorker(taskQueue, async () => {
            await estate.faults([
              callRule(call, { resetRate: 1, when: 'after', times: 1 }),
              callRule('user', { statusRates: { '400': 1 }, times: 1 }),
            ]);
            const handle = await startRun(client, taskQueue, proofRequest(estate, path), `${path}-lost-${call}`);
            const status = (await drive(estate, handle)) as ConnectStatus;
            const { history } = await estate.control('GET', '/faults');
            assert.ok(
              history.some((e: any) => e.decision === 'reset' && e.when === 'after'),
              `the answer of ${call} was lost`,
            );
            assert.equal(status.phase, 'failed', status.error?.message);
            assert.equal(status.cleanup?.mode, 'rollback');
            assert.deepEqual(await estate.view(), before, 'nothing of the run is left');
          });
        },
      );
    }
  });
}
