/**
 * `ech-remote` as a CI pipeline runs it: the built binary as a subprocess against the run's Temporal dev server, a
 * sandbox estate and a worker; another CLI call plays the person who answers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import { Estate } from '../helpers/estate';
import { connectRequest } from '../helpers/runs';
import { runCli, spawnCli, statusWhenWaiting } from '../helpers/cli';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let worker: RunningWorker;
let client: Client;
let env: NodeJS.ProcessEnv;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-cli-'));
const UI = 'http://ui.example:8233';

before(async () => {
  estate = await Estate.start('api-key-public');
  worker = await startWorker({ activities: createActivities() });
  client = await testClient();
  env = { ECH_REMOTE_TASK_QUEUE: worker.taskQueue, ECH_REMOTE_UI_URL: UI };
});
after(async () => {
  await client?.connection.close();
  await worker?.stop();
  await estate?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A ready request for the sandbox, under a fresh alias (so a fresh workflow id); written to a file as CI would. */
function requestFile(alias: string, withRemoteCredentials = true, over: Record<string, unknown> = {}) {
  const req = connectRequest(
    estate,
    'api-key-public',
    { alias, verify: { timeout: '20s' }, ...over },
    withRemoteCredentials,
  );
  const file = path.join(dir, `${alias}.json`);
  fs.writeFileSync(file, JSON.stringify(req));
  return { file, workflowId: `connect-${req.local.deploymentId}-${alias}` };
}

function json(stdout: string): any {
  const parsed = JSON.parse(stdout); // exactly one JSON document on stdout, or this throws
  assert.equal(typeof parsed, 'object');
  return parsed;
}

describe('ech-remote connect', () => {
  it('--wait --json exits 0 once another CLI call approves', async () => {
    const { file, workflowId } = requestFile('cli-approve');
    const connect = spawnCli(['connect', '--request', file, '--wait', '--timeout', '2m', '--json'], env);
    const waiting = await statusWhenWaiting(workflowId, 'approve-local-changes', env);
    assert.equal(waiting.outcome, 'waiting');
    assert.deepEqual(
      [waiting.exitCode, waiting.runExitCode],
      [0, 4],
      'status itself exits 0; the run is still waiting',
    );
    assert.equal(waiting.waitingFor.who, 'ech-org');
    assert.match(waiting.waitingFor.instructions, /cluster\.remote\.cli-approve/);

    const approve = await runCli(
      ['approve', workflowId, '--step', 'approve-local-changes', '--as', 'sre@example.com', '--comment', 'ok'],
      env,
    );
    assert.equal(approve.code, 0, approve.stderr);

    const { code, stdout, stderr } = await connect.done;
    assert.equal(code, 0, stderr + stdout);
    const report = json(stdout);
    assert.equal(report.workflowId, workflowId);
    assert.equal(report.attached, false);
    assert.equal(report.outcome, 'completed');
    assert.equal(report.exitCode, 0);
    assert.equal(report.result.connected, true);
    assert.equal(report.result.evidence.searchHits, undefined, 'no verify.searchIndex in this request');
    assert.deepEqual(
      report.approvals.map((a: any) => [a.approver, a.decision]),
      [['sre@example.com', 'approved']],
    );
    assert.equal(report.uiUrl, `${UI}/namespaces/default/workflows/${workflowId}/${report.runId}/history`);
    assert.equal(stderr, '', '--json prints nothing but the JSON');
    // What the user would check: ECH is connected to the remote under the alias.
    const info = (await estate.es('ech', 'GET', '/_remote/info')).body['cli-approve'];
    assert.equal(info?.connected, true);

    // The run has ended: a late approval is refused, not reported as sent.
    const late = await runCli(['approve', workflowId, '--step', 'approve-local-changes', '--as', 'x', '--json'], env);
    assert.equal(late.code, 1, late.stdout);
    const lateReport = json(late.stdout);
    assert.equal(lateReport.error.type, 'RunEnded');
    assert.match(lateReport.error.message, /has ended \(completed\).*nothing was sent/);
  });

  it('an invalid request exits 2 listing every problem by JSON path, and sends nothing', async () => {
    const { file } = requestFile('Not An Alias', true, { onFailure: 'later' });
    const req = JSON.parse(fs.readFileSync(file, 'utf8'));
    req.remote.proxyAddress = 'no-port';
    delete req.local.cloud;
    fs.writeFileSync(file, JSON.stringify(req));
    // An unreachable Temporal: had the CLI tried to send anything, it would fail with exit 1, not 2.
    const offline = { ...env, TEMPORAL_ADDRESS: '127.0.0.1:9' };

    const asJson = await runCli(['connect', '--request', file, '--wait', '--json'], offline);
    assert.equal(asJson.code, 2, asJson.stderr);
    const report = json(asJson.stdout);
    assert.equal(report.outcome, 'invalid');
    assert.deepEqual(report.problems.map((p: any) => p.path).sort(), [
      '$.alias',
      '$.local.cloud',
      '$.onFailure',
      '$.remote.proxyAddress',
    ]);

    const human = await runCli(['connect', '--request', file], offline);
    assert.equal(human.code, 2);
    for (const p of ['$.alias', '$.local.cloud', '$.onFailure', '$.remote.proxyAddress']) {
      assert.ok(human.stderr.includes(`- ${p}: `), human.stderr);
    }
    assert.match(human.stderr, /4 problems\); nothing was sent/);

    const usage = await runCli(['approve', 'connect-x', '--as', 'me'], offline);
    assert.equal(usage.code, 2, 'a usage error is an invalid request too');
    assert.match(usage.stderr, /--step/);
  });

  it('--json prints one JSON object for usage errors and for inputs refused before connecting', async () => {
    const offline = { ...env, TEMPORAL_ADDRESS: '127.0.0.1:9' };
    for (const args of [
      ['approve', 'connect-x', '--as', 'me', '--json'],
      ['confirm', 'connect-x', '--step', 'approve-local-changes', '--as', 'me', '--json'],
      ['connect', '--json'],
      ['status', '--json'],
    ]) {
      const r = await runCli(args, offline);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const report = json(r.stdout);
      assert.equal(report.outcome, 'invalid');
      assert.equal(report.exitCode, 2);
      assert.equal(report.problems.length, 1);
      assert.equal(report.problems[0].path, 'argv');
      assert.ok(report.problems[0].message.length > 0);
    }
    for (const args of [
      ['approve', 'connect-x', '--step', 'approve-local-changes', '--as', '  ', '--json'],
      ['reject', 'connect-x', '--step', 'approve-local-changes', '--as', 'me', '--reason', ' ', '--json'],
      ['confirm', 'connect-x', '--step', 'remote-trust', '--as', '', '--json'],
      ['provide-key', 'connect-x', '--from-env', 'UNSET_FOR_SURE', '--json'],
    ]) {
      // Unreachable Temporal: had the CLI connected first, this would be exit 1.
      const r = await runCli(args, offline);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(json(r.stdout).error.type, 'InvalidInput');
    }
  });

  it('without the payload encryption key, the CLI says to set ECH_REMOTE_ENCRYPTION_KEYS (not a worker flag)', async () => {
    const noKey = { ...env, ECH_REMOTE_ENCRYPTION_KEYS: '', ECH_REMOTE_ENCRYPTION_KEYS_FILE: '' };
    const asJson = await runCli(['status', 'connect-x', '--json'], noKey);
    assert.equal(asJson.code, 1, asJson.stderr);
    const report = json(asJson.stdout);
    assert.equal(report.error.type, 'EncryptionKeyMissing');
    assert.match(report.error.message, /set ECH_REMOTE_ENCRYPTION_KEYS .*the worker/);
    const human = await runCli(['approve', 'connect-x', '--step', 'approve-local-changes', '--as', 'me'], noKey);
    assert.equal(human.code, 1);
    assert.match(human.stderr, /ECH_REMOTE_ENCRYPTION_KEYS/);
    assert.doesNotMatch(human.stderr + asJson.stdout, /insecure-plaintext-payloads/);
  });

  it('a rejection sent by another CLI call exits 5, with the reason, and ECH unchanged', async () => {
    const { file, workflowId } = requestFile('cli-reject');
    const before = await estate.view();
    const connect = spawnCli(['connect', '--request', file, '--wait', '--json'], env);
    await statusWhenWaiting(workflowId, 'approve-local-changes', env);
    const reject = await runCli(
      [
        'reject',
        workflowId,
        '--step',
        'approve-local-changes',
        '--as',
        'lead@example.com',
        '--reason',
        'not this week',
      ],
      env,
    );
    assert.equal(reject.code, 0, reject.stderr);
    const { code, stdout } = await connect.done;
    assert.equal(code, 5, stdout);
    const report = json(stdout);
    assert.equal(report.outcome, 'rejected');
    assert.equal(report.error.type, 'Rejected');
    assert.match(report.error.message, /lead@example\.com.*not this week/);
    // The key the run had made on the self-managed cluster before asking was invalidated: rolled back.
    assert.equal(report.cleanup.mode, 'rollback');
    assert.ok(
      report.cleanup.items.some((i: string) => /cross-cluster API key/.test(i)),
      stdout,
    );
    assert.deepEqual(await estate.view(), before);

    // A second decision is refused: the run has ended.
    const again = await runCli(['approve', workflowId, '--step', 'approve-local-changes', '--as', 'other'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /has ended.*nothing was sent/);
    assert.doesNotMatch(again.stdout, /Sent/);

    // Re-running the pipeline step reports the ended run (exit 5 again) instead of starting the connection again.
    const rerun = await runCli(['connect', '--request', file, '--wait', '--json'], env);
    assert.equal(rerun.code, 5, rerun.stderr);
    const rerunReport = json(rerun.stdout);
    assert.deepEqual(
      [rerunReport.attached, rerunReport.outcome, rerunReport.exitCode, rerunReport.runId],
      [true, 'rejected', 5, report.runId],
    );
    const human = await runCli(['connect', '--request', file], env);
    assert.equal(human.code, 5);
    assert.match(human.stderr, /already ran .* has ended.*--new-run/);
    assert.match(human.stdout, /Rejected: /);
    const runs = async () => {
      const ids: string[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) ids.push(w.runId);
      return ids;
    };
    assert.deepEqual(await runs(), [report.runId], 'no second run');

    // --new-run starts a fresh one.
    const fresh = await runCli(['connect', '--request', file, '--new-run', '--json'], env);
    assert.equal(fresh.code, 0, fresh.stderr);
    const started = json(fresh.stdout);
    assert.deepEqual([started.outcome, started.attached], ['started', false]);
    assert.notEqual(started.runId, report.runId);
    assert.deepEqual((await runs()).sort(), [report.runId, started.runId].sort());
    await client.workflow.getHandle(workflowId).terminate('test done');
  });

  it('--timeout while waiting for the approval exits 4 saying who must do what; a second connect attaches', async () => {
    const { file, workflowId } = requestFile('cli-timeout');
    const first = await runCli(['connect', '--request', file, '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    const started = json(first.stdout);
    assert.deepEqual([started.outcome, started.attached, started.workflowId], ['started', false, workflowId]);
    await statusWhenWaiting(workflowId, 'approve-local-changes', env);

    const t0 = Date.now();
    const waited = await runCli(['connect', '--request', file, '--wait', '--timeout', '2s'], env);
    assert.equal(waited.code, 4, waited.stderr + waited.stdout);
    assert.ok(Date.now() - t0 < 15_000, 'the timeout bounds the wait');
    assert.match(waited.stderr, new RegExp(`Attached to the running ${workflowId}`));
    assert.match(waited.stderr, /✔ preflight done/);
    assert.match(waited.stderr, /approve-local-changes: waiting for ech-org/);
    assert.ok(waited.stderr.includes(`ech-remote approve ${workflowId} --step approve-local-changes --as YOUR_NAME`));
    assert.ok(waited.stderr.includes(`Temporal UI: ${UI}/namespaces/default/workflows/${workflowId}/`));
    assert.match(waited.stdout, /Still waiting: .* waits for ech-org at step approve-local-changes/);

    const again = await runCli(['connect', '--request', file, '--json'], env);
    const attached = json(again.stdout);
    assert.equal(attached.attached, true);
    assert.equal(attached.runId, started.runId);
    const runs = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(w.runId);
    assert.deepEqual(runs, [started.runId], 'one run, not two');

    await client.workflow.getHandle(workflowId).terminate('test done');
  });

  it('a failure after changes exits 3 and says they were rolled back', async () => {
    const { file, workflowId } = requestFile('cli-fail');
    const before = await estate.view();
    await estate.faults([{ target: 'ech', method: 'PUT', path: '^/_cluster/settings$', statusRates: { '400': 1 } }]);
    try {
      const { code, stdout } = await runCli(
        ['connect', '--request', file, '--approve', '--as', 'ci@example.com', '--timeout', '2m', '--json'],
        env,
      );
      assert.equal(code, 3, stdout);
      const report = json(stdout);
      assert.equal(report.outcome, 'failed');
      assert.equal(report.error.type, 'ValidationFailed');
      assert.equal(report.cleanup.mode, 'rollback');
      assert.ok(
        report.cleanup.items.some((i: string) => /keystore entry cluster\.remote\.cli-fail/.test(i)),
        stdout,
      );
    } finally {
      await estate.control('DELETE', '/faults');
    }
    assert.deepEqual(await estate.view(), before, 'rolled back: the estate is as it was');
    const status = await runCli(['status', workflowId], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Failed \(ValidationFailed\)/);
    assert.match(status.stdout, /Rolled back: .*keystore entry cluster\.remote\.cli-fail/);
    assert.equal(status.stdout.match(/Rolled back/g)?.length, 1, 'said once');
  });

  it('provide-key --from-env hands over the key without ever printing it', async () => {
    const { file, workflowId } = requestFile('cli-key', false);
    const connect = spawnCli(
      ['connect', '--request', file, '--wait', '--approve', '--as', 'ci@example.com', '--timeout', '2m', '--json'],
      env,
    );
    const waiting = await statusWhenWaiting(workflowId, 'cross-cluster-api-key', env);
    assert.equal(waiting.waitingFor.who, 'self-managed-org');
    const req = waiting.waitingFor.artifacts.requests[0];
    const created = await estate.es('self-managed', req.method, req.path, req.body);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const encoded: string = created.body.encoded;
    const secretPart = Buffer.from(encoded, 'base64').toString().split(':')[1] as string;

    const refused = await runCli(['provide-key', workflowId, '--from-env', 'CCK_BAD'], {
      ...env,
      CCK_BAD: 'not-a-key but secret-ish',
    });
    assert.equal(refused.code, 2);
    assert.ok(!refused.stderr.includes('secret-ish'), refused.stderr);

    // Answers the run does not wait for are refused (exit 1), not reported as sent.
    const secondDecision = await runCli(
      ['reject', workflowId, '--step', 'approve-local-changes', '--as', 'x', '--reason', 'late', '--json'],
      env,
    );
    assert.equal(secondDecision.code, 1, secondDecision.stdout);
    const decided = json(secondDecision.stdout);
    assert.equal(decided.error.type, 'AlreadyDecided');
    assert.match(decided.error.message, /already recorded \(approved by ci@example\.com\).*nothing was sent/);
    const notWaited = await runCli(['confirm', workflowId, '--step', 'remote-trust', '--as', 'ops'], env);
    assert.equal(notWaited.code, 1);
    assert.match(
      notWaited.stderr,
      /is not waiting for remote-trust \(it waits for self-managed-org at cross-cluster-api-key\); nothing was sent/,
    );

    const provided = await runCli(['provide-key', workflowId, '--from-env', 'CCK_ENCODED'], {
      ...env,
      CCK_ENCODED: encoded,
    });
    assert.equal(provided.code, 0, provided.stderr);
    assert.match(provided.stdout, /^Sent the cross-cluster API key from \$CCK_ENCODED \(not printed\)/);

    const { code, stdout, stderr } = await connect.done;
    assert.equal(code, 0, stderr + stdout);
    const report = json(stdout);
    assert.equal(report.outcome, 'completed');
    assert.equal(report.approvals[0].approver, 'ci@example.com', 'approved in advance by --approve');
    const status = await runCli(['status', workflowId], env);
    for (const out of [stdout, stderr, provided.stdout, provided.stderr, status.stdout, status.stderr]) {
      assert.ok(!out.includes(encoded) && !out.includes(secretPart), 'the key never appears in the CLI output');
    }
    assert.equal((await estate.control('GET', '/state')).lastRemoteConnection?.apiKeyId, created.body.id);
  });
});
