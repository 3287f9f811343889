/**
 * Issue 14's own check, through the built `ech-remote` as a pipeline runs it, on the real dev server and a fresh
 * sandbox: connect `requests["api-key-private"]`; while another process searches through the alias without pause,
 * `ech-remote rotate --request … --approve --as … --wait --json` rotates the key (no search fails or skips the remote,
 * the old key is invalid, the new one active); `update-access` changes what a search may read; `disconnect` leaves
 * nothing of ours and a second one says there is nothing to do. The sample requests are used as the sandbox writes them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import { Estate } from '../helpers/estate';
import { runCli, spawnCli, statusWhenWaiting } from '../helpers/cli';
import { failedSearches, startSearchLoop } from '../helpers/searchLoop';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let worker: RunningWorker;
let client: Client;
let env: NodeJS.ProcessEnv;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-day2-cli-'));

before(async () => {
  estate = await Estate.start('api-key-private');
  worker = await startWorker({ activities: createActivities() });
  client = await testClient();
  env = { ECH_REMOTE_TASK_QUEUE: worker.taskQueue };
});
after(async () => {
  await client?.connection.close();
  await worker?.stop();
  await estate?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(name: string, request: unknown): string {
  const f = path.join(dir, `${name}.json`);
  fs.writeFileSync(f, JSON.stringify(request, null, 2));
  return f;
}

function json(stdout: string): any {
  return JSON.parse(stdout); // exactly one JSON document on stdout, or this throws
}

async function activeKeyIds(): Promise<string[]> {
  const keys = await estate.es('self-managed', 'GET', '/_security/api_key?active_only=true');
  return (keys.body.api_keys as { id: string; type: string }[])
    .filter((k) => k.type === 'cross_cluster')
    .map((k) => k.id);
}

async function hits(alias: string): Promise<number> {
  const res = await estate.es('ech', 'GET', `/${alias}:logs-*/_search?size=0`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body._clusters.skipped, 0, JSON.stringify(res.body._clusters));
  return res.body.hits.total.value as number;
}

const ours = (o: Record<string, { metadata?: { managed_by?: string } }>) =>
  Object.entries(o)
    .filter(([, v]) => v.metadata?.managed_by === 'ech-remote-clusters')
    .map(([n]) => n);

describe('ech-remote rotate, update-access and disconnect on requests["api-key-private"]', () => {
  const requests = () => estate.info.requests;
  let alias: string;

  before(async () => {
    const connect = requests()['api-key-private'];
    alias = connect.alias;
    assert.equal(requests().rotate.alias, alias, 'the day-2 samples are for the alias of api-key-private');
    const r = await runCli(
      ['connect', '--request', file('connect', connect), '--approve', '--as', 'sre@example.com', '--wait', '--json'],
      env,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(json(r.stdout).result.connected, true);
    assert.equal(await hits(alias), estate.info.seededIndex.documents);
  });

  it('rotate --approve --wait --json: searches from another process never fail; old key invalid, new key active', async () => {
    const request = requests().rotate;
    assert.equal(request.gracePeriod, '10s');
    const [oldKey, ...others] = await activeKeyIds();
    assert.equal(others.length, 0, 'one active key before the rotation');
    const { url, username, password } = estate.info.ech;
    const searching = await startSearchLoop(
      `${url}/${alias}:logs-*/_search?size=0`,
      `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
    );
    let searches;
    const started = Date.now();
    let rotated;
    try {
      rotated = await runCli(
        ['rotate', '--request', file('rotate', request), '--approve', '--as', 'sre@example.com', '--wait', '--json'],
        env,
      );
      // A few more searches once the old key is gone.
      const more = searching.count() + 5;
      while (searching.count() < more) await new Promise((r) => setTimeout(r, 50));
    } finally {
      searches = await searching.stop();
    }
    const ended = Date.now();
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
    const report = json(rotated.stdout);
    assert.equal(report.outcome, 'completed');
    assert.equal(report.exitCode, 0);
    assert.equal(report.workflowId, `rotate-${request.local.deploymentId}-${alias}`);
    assert.equal(report.result.rotated, true);
    assert.equal(report.result.oldKeyId, oldKey, 'the key the connection was made with');
    assert.equal(report.result.oldKey, 'invalidated');
    assert.equal(report.result.gracePeriodMs, 10_000);
    assert.notEqual(report.result.newKeyId, oldKey);

    const during = searches.filter((s) => s.sent >= started && s.answered <= ended);
    assert.ok(during.length > 0, 'searches ran while the rotation did');
    assert.deepEqual(failedSearches(searches), [], `of ${searches.length} searches`);
    assert.ok(
      searches.every((s) => s.hits === estate.info.seededIndex.documents),
      'every search saw the remote documents',
    );
    assert.deepEqual(await activeKeyIds(), [report.result.newKeyId], 'the old key is invalid, the new one active');
  });

  it('update-access --approve --wait --json changes what a search through the alias may read', async () => {
    assert.equal(await hits(alias), estate.info.seededIndex.documents);
    const r = await runCli(
      [
        'update-access',
        '--request',
        file('update-access', requests().updateAccess),
        '--approve',
        '--as',
        'sre@example.com',
        '--wait',
        '--json',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = json(r.stdout);
    assert.equal(report.outcome, 'completed');
    assert.equal(report.result.updated, true);
    // The sample narrows the key to the auth service's documents (2 of the 5 seeded).
    assert.equal(await hits(alias), 2);
  });

  it('update-access: an invalid request exits 2 naming the field, and nothing is sent', async () => {
    const bad = { ...requests().updateAccess, access: { search: [{ names: [] }] }, gracePeriod: '1h' };
    const r = await runCli(['update-access', '--request', file('bad', bad), '--wait', '--json'], {
      ...env,
      // Unreachable: had the CLI tried to send anything, it would exit 1.
      TEMPORAL_ADDRESS: '127.0.0.1:9',
    });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const report = json(r.stdout);
    assert.equal(report.outcome, 'invalid');
    const paths = report.problems.map((p: { path: string }) => p.path);
    assert.ok(
      paths.some((p: string) => p.startsWith('$.access.search')),
      paths.join(', '),
    );
    assert.ok(paths.includes('$.gracePeriod'), paths.join(', '));
  });

  it('disconnect: rejected by another CLI call exits 5 with nothing changed', async () => {
    const before = await estate.view();
    const workflowId = `disconnect-${requests().disconnect.local.deploymentId}-${alias}`;
    const running = spawnCli(
      ['disconnect', '--request', file('disconnect', requests().disconnect), '--wait', '--json'],
      env,
    );
    await statusWhenWaiting(workflowId, 'approve-local-changes', env);
    const reject = await runCli(
      ['reject', workflowId, '--step', 'approve-local-changes', '--as', 'lead@example.com', '--reason', 'not today'],
      env,
    );
    assert.equal(reject.code, 0, reject.stderr);
    const { code, stdout } = await running.done;
    assert.equal(code, 5, stdout);
    assert.equal(json(stdout).outcome, 'rejected');
    assert.deepEqual(await estate.view(), before);
    assert.equal(await hits(alias), 2, 'still connected');
  });

  it('disconnect leaves nothing of ours; a second disconnect says there is nothing to do (exit 0)', async () => {
    const r = await runCli(
      [
        'disconnect',
        '--request',
        file('disconnect', requests().disconnect),
        '--approve',
        '--as',
        'sre@example.com',
        '--wait',
        '--json',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = json(r.stdout);
    assert.equal(report.outcome, 'completed');
    assert.equal(report.result.nothingToDo, false);

    assert.equal((await estate.es('ech', 'GET', '/_remote/info')).body[alias], undefined, 'not in _remote/info');
    const view = await estate.view();
    assert.deepEqual(view.keystore, [], 'no keystore entry');
    assert.deepEqual(await activeKeyIds(), [], 'no active key of ours');
    assert.deepEqual(ours((await estate.es('ech', 'GET', '/_security/role')).body), [], 'no role of ours');
    assert.deepEqual(ours((await estate.es('ech', 'GET', '/_security/user')).body), [], 'no user of ours');
    assert.deepEqual(
      Object.keys(view.echRemoteSettings).filter((k) => k.includes(alias)),
      [],
      'no setting or ownership record of the alias',
    );

    const second = await runCli(['disconnect', '--request', file('disconnect', requests().disconnect), '--wait'], env);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /^Nothing to do: disconnect-/);
    assert.deepEqual(await estate.view(), view, 'the second disconnect changed nothing');
  });
});
