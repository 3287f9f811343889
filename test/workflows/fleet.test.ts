/**
 * connectRemoteClusters (fleet) on the real dev server and the sandbox: 50 connections of the one self-managed cluster
 * (path B, key made by the workflow: no human step but the approval) in one run under ONE approval, with some targets
 * failing on purpose (wrong credentials for the self-managed API, an address nothing listens on): the report says
 * which and why, the others connect; re-running the request, the failing ones fixed, completes only what is missing
 * (the rest `already-connected`, not run again). The status query aggregates the children; cancelling the fleet
 * before its approval starts nothing; through the built CLI with sandbox.json's `requests.fleet`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { FleetResult, FleetStatus } from '../../src/contract/fleet';
import { Phase, WorkflowKind } from '../../src/contract/searchAttributes';
import type { ConnectStatus } from '../../src/contract/status';
import { runCli, freePort } from '../helpers/cli';
import { Estate, bindSecret } from '../helpers/estate';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;
let env: NodeJS.ProcessEnv;
let closedAddress: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-fleet-'));
const APPROVER = 'sre@example.com';

before(async () => {
  estate = await Estate.start('api-key-private');
  client = await testClient();
  worker = await startWorker({ activities: createActivities() });
  env = { ECH_REMOTE_TASK_QUEUE: worker.taskQueue };
  // A secret the worker may send to the self-managed cluster, but with a password that is not its password.
  process.env.FLEET_WRONG_ES_CREDENTIALS = 'elastic:not-the-password';
  bindSecret('FLEET_WRONG_ES_CREDENTIALS', { use: 'elasticsearch', urls: [estate.info.selfManaged.url] });
  closedAddress = `127.0.0.1:${await freePort()}`;
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** sandbox.json's fleet request, its defaults with a short verify and human-step timeout, and `connections`. */
function fleetRequest(connections: Record<string, unknown>[], over: Record<string, unknown> = {}) {
  const base = structuredClone(estate.info.requests.fleet);
  return {
    ...base,
    defaults: { ...base.defaults, verify: { searchIndex: 'logs-*', timeout: '30s' }, humanStepTimeout: '2m' },
    connections,
    ...over,
  };
}

async function statusWhen(
  handle: WorkflowHandle,
  done: (s: FleetStatus) => boolean,
  timeoutMs = 120_000,
): Promise<FleetStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await handle.query<FleetStatus>('status');
    if (done(s)) return s;
    if (Date.now() > deadline) assert.fail(`fleet not there after ${timeoutMs} ms: ${JSON.stringify(s.counts)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const approveBatch = (handle: WorkflowHandle, comment = 'fleet reviewed') =>
  handle.signal('approve', { step: 'approve-local-changes', approver: APPROVER, comment });

async function remoteInfo(): Promise<Record<string, { connected: boolean }>> {
  const info = await estate.es('ech', 'GET', '/_remote/info');
  assert.equal(info.status, 200);
  return info.body;
}

describe('connectRemoteClusters: 50 connections, some failing on purpose', () => {
  const N = 50;
  const aliases = Array.from({ length: N }, (_, i) => `fleet-${String(i).padStart(2, '0')}`);
  const WRONG_CREDENTIALS = [7, 21, 33];
  const UNREACHABLE = [12, 40];
  const broken = (i: number): Record<string, unknown> =>
    WRONG_CREDENTIALS.includes(i)
      ? { remote: { elasticsearch: { credentialsSecret: 'FLEET_WRONG_ES_CREDENTIALS' } } }
      : UNREACHABLE.includes(i)
        ? // The worker cannot prove a remote cluster server it cannot reach (only ECH's egress may be open), so the
          // run asks the self-managed org to confirm it: nobody does here, and the short wait ends the connection.
          { remote: { proxyAddress: closedAddress }, humanStepTimeout: '3s' }
        : {};
  const good = N - WRONG_CREDENTIALS.length - UNREACHABLE.length;
  let firstRun: FleetResult;

  it('one approval for the batch shows every change; the failing targets are named with why; the others connect', async () => {
    const started = Date.now();
    const handle = await client.workflow.start('connectRemoteClusters', {
      taskQueue: worker.taskQueue,
      workflowId: `fleet-test-${Date.now()}`,
      args: [
        fleetRequest(
          aliases.map((alias, i) => ({ alias, ...broken(i) })),
          { concurrency: 20 },
        ),
      ],
    });

    // The status aggregates the children: planned ones await the ONE approval, failed ones say why.
    const waiting = await statusWhen(handle, (s) => s.phase === 'awaiting-approval');
    console.log(`# ${N} plans (dry runs) ready for the approval in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(waiting.approval, 'batch');
    assert.equal(waiting.counts['awaiting-approval'], N - WRONG_CREDENTIALS.length);
    assert.equal(waiting.counts.failed, WRONG_CREDENTIALS.length);
    assert.deepEqual(waiting.waitingFor?.deploymentIds, [estate.info.cloud.deploymentId]);
    const instructions = waiting.waitingFor?.instructions ?? '';
    for (const [i, alias] of aliases.entries()) {
      const c = waiting.connections[i]!;
      assert.equal(c.alias, alias);
      if (WRONG_CREDENTIALS.includes(i)) {
        assert.equal(c.state, 'failed', alias);
        assert.ok(c.errorType && c.reason, alias);
        continue;
      }
      // Every change of every connection, in the one approval: the key on the self-managed cluster, the keystore
      // entry and the settings on ECH.
      assert.match(instructions, new RegExp(`\\*\\*\`${alias}\`\\*\\*`));
      assert.deepEqual(
        c.plan?.filter((p) => ['cross-cluster-api-key', 'ech-keystore', 'connect'].includes(p.step)).map((p) => p.step),
        ['cross-cluster-api-key', 'ech-keystore', 'connect'],
      );
    }
    assert.equal((instructions.match(/`PUT \/_cluster\/settings`/g) ?? []).length, N - WRONG_CREDENTIALS.length);
    // Nothing was changed before the approval.
    assert.deepEqual(
      Object.keys(await remoteInfo()).filter((a) => a.startsWith('fleet-')),
      [],
    );
    const d = await handle.describe();
    assert.equal(d.typedSearchAttributes.get(WorkflowKind), 'fleet');
    assert.equal(d.typedSearchAttributes.get(Phase), 'awaiting-approval');

    await approveBatch(handle);
    // A second decision is refused and recorded, not thrown.
    await handle.signal('reject', { step: 'approve-local-changes', approver: 'other@example.com', reason: 'late' });
    firstRun = (await handle.result()) as FleetResult;
    const seconds = (Date.now() - started) / 1000;
    console.log(`# fleet of ${N} connections in ${seconds.toFixed(1)} s`);

    assert.equal(firstRun.ok, false);
    assert.equal(firstRun.counts.connected, good);
    assert.equal(firstRun.counts.failed, N - good);
    assert.deepEqual(
      firstRun.approvals.map((a) => [a.approver, a.decision]),
      [[APPROVER, 'approved']],
    );
    const final = await handle.query<FleetStatus>('status');
    assert.match(final.refused.at(-1)?.reason ?? '', /approved already by sre@example.com/);
    assert.equal((await handle.describe()).typedSearchAttributes.get(Phase), 'failed');
    // Which and why: the wrong password is an authentication failure of the self-managed API (found by the plan:
    // never started); the closed port, the remote cluster server nobody confirmed, with the address.
    for (const i of WRONG_CREDENTIALS) {
      const c = firstRun.connections[i]!;
      assert.equal(c.state, 'failed');
      assert.match(`${c.errorType} ${c.reason}`, /authenticat|401|credentials/i, c.reason);
    }
    for (const i of UNREACHABLE) {
      const c = firstRun.connections[i]!;
      assert.equal(c.state, 'failed');
      assert.equal(c.errorType, 'HumanStepTimedOut');
      assert.match(c.reason ?? '', /remote-cluster-server/);
      assert.ok(c.reason?.includes(closedAddress), c.reason);
    }
    // The others work, as ECH itself reports them; the broken ones left no alias behind.
    const info = await remoteInfo();
    for (const [i, alias] of aliases.entries()) {
      const failing = WRONG_CREDENTIALS.includes(i) || UNREACHABLE.includes(i);
      assert.equal(info[alias]?.connected, failing ? undefined : true, alias);
    }
    // Each child recorded the batch approval as its own, with the approver and the fleet's id (its audit trail).
    const child = firstRun.connections[0]!;
    const childStatus = await client.workflow.getHandle(child.workflowId).query<ConnectStatus>('status');
    assert.equal(childStatus.approvals[0]?.approver, APPROVER);
    assert.match(childStatus.approvals[0]?.comment ?? '', new RegExp(`fleet ${handle.workflowId}: batch approval`));
    assert.equal(childStatus.steps.find((s) => s.id === 'approve-local-changes')?.state, 'done');
  });

  it('re-running the request, the failing targets fixed, completes only what is missing', async () => {
    assert.ok(firstRun, 'needs the first run');
    const runIds = new Map<string, string>();
    for (const c of firstRun.connections.filter((x) => x.state === 'connected')) {
      runIds.set(c.alias, (await client.workflow.getHandle(c.workflowId).describe()).runId);
    }
    const handle = await client.workflow.start('connectRemoteClusters', {
      taskQueue: worker.taskQueue,
      workflowId: `fleet-test-again-${Date.now()}`,
      args: [
        fleetRequest(
          aliases.map((alias) => ({ alias })),
          { concurrency: 20 },
        ),
      ],
    });
    const waiting = await statusWhen(handle, (s) => s.phase === 'awaiting-approval');
    // Only the missing ones wait for a decision; the rest are already there.
    assert.equal(waiting.counts['already-connected'], good);
    assert.equal(waiting.counts['awaiting-approval'], N - good);
    await approveBatch(handle);
    const again = (await handle.result()) as FleetResult;
    assert.equal(again.ok, true, JSON.stringify(again.connections.filter((c) => c.state === 'failed')));
    assert.equal(again.counts['already-connected'], good);
    assert.equal(again.counts.connected, N - good);
    for (const c of again.connections) {
      const wasBroken = WRONG_CREDENTIALS.includes(c.index) || UNREACHABLE.includes(c.index);
      assert.equal(c.state, wasBroken ? 'connected' : 'already-connected', c.alias);
      if (!wasBroken) {
        assert.match(c.reason ?? '', /made by connect-\S+ and connected/);
        // Not redone: the connection's run is still the first one.
        assert.equal((await client.workflow.getHandle(c.workflowId).describe()).runId, runIds.get(c.alias));
      }
    }
    const info = await remoteInfo();
    assert.ok(aliases.every((a) => info[a]?.connected === true));
  });
});

describe('connectRemoteClusters: approval and cancellation', () => {
  it('cancelling the fleet while it awaits the approval starts nothing and says so per connection', async () => {
    const aliases = ['fleet-cancel-a', 'fleet-cancel-b', 'fleet-cancel-c'];
    const handle = await client.workflow.start('connectRemoteClusters', {
      taskQueue: worker.taskQueue,
      workflowId: `fleet-cancel-${Date.now()}`,
      args: [fleetRequest(aliases.map((alias) => ({ alias })))],
    });
    await statusWhen(handle, (s) => s.phase === 'awaiting-approval');
    await handle.cancel();
    await assert.rejects(handle.result(), (err) => err instanceof WorkflowFailedError);
    const s = await handle.query<FleetStatus>('status');
    assert.equal(s.phase, 'cancelled');
    assert.deepEqual(
      s.connections.map((c) => c.state),
      ['cancelled', 'cancelled', 'cancelled'],
    );
    const info = await remoteInfo();
    assert.ok(aliases.every((a) => info[a] === undefined));
  });

  it('a connection waiting for the self-managed org: `ech-remote status <fleet>` says for what; cancelling the fleet leaves it running', async () => {
    const alias = 'fleet-waits';
    const handle = await client.workflow.start('connectRemoteClusters', {
      taskQueue: worker.taskQueue,
      workflowId: `fleet-waits-${Date.now()}`,
      // No approval asked: the child starts at once and waits at remote-cluster-server (the worker cannot reach it).
      args: [
        fleetRequest([{ alias, remote: { proxyAddress: closedAddress }, approvals: { beforeLocalChanges: false } }]),
      ],
    });
    const running = await statusWhen(handle, (s) => s.connections[0]?.state === 'running');
    assert.equal(running.approval, 'none');
    const childId = running.connections[0]!.workflowId;
    // The fleet knows the connection runs; `status` asks the connection's run what it waits for.
    const deadline = Date.now() + 60_000;
    let shown: { connections: { state: string; waitingFor?: { step: string; who: string } }[] };
    for (;;) {
      const res = await runCli(['status', handle.workflowId, '--json'], env);
      assert.equal(res.code, 0, res.stderr);
      shown = JSON.parse(res.stdout);
      if (shown.connections[0]?.waitingFor) break;
      assert.ok(Date.now() < deadline, res.stdout);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(shown.connections[0], {
      ...running.connections[0],
      waitingFor: { ...shown.connections[0]!.waitingFor, step: 'remote-cluster-server', who: 'self-managed-org' },
    });
    const table = await runCli(['status', handle.workflowId], env);
    assert.match(
      table.stdout,
      new RegExp(`${alias}\\s+running[\\s\\S]*waiting for self-managed-org at step remote-cluster-server`),
    );

    await handle.cancel();
    await assert.rejects(handle.result(), (err) => err instanceof WorkflowFailedError);
    const s = await handle.query<FleetStatus>('status');
    assert.equal(s.phase, 'cancelled');
    assert.equal(s.connections[0]!.state, 'running');
    assert.match(s.connections[0]!.reason ?? '', new RegExp(`goes on as ${childId}`));
    // The started connection was not cut short: its own run goes on (and is cancelled here by hand, as one would).
    const child = client.workflow.getHandle(childId);
    assert.equal((await child.describe()).status.name, 'RUNNING');
    await child.cancel();
    await assert.rejects(child.result());
  });

  it('per-deployment approvals: a decision without deploymentId is refused; a rejection starts nothing', async () => {
    const aliases = ['fleet-reject-a', 'fleet-reject-b'];
    const handle = await client.workflow.start('connectRemoteClusters', {
      taskQueue: worker.taskQueue,
      workflowId: `fleet-reject-${Date.now()}`,
      args: [
        fleetRequest(
          aliases.map((alias) => ({ alias })),
          { approval: 'per-deployment' },
        ),
      ],
    });
    await statusWhen(handle, (s) => s.phase === 'awaiting-approval');
    await handle.signal('approve', { step: 'approve-local-changes', approver: APPROVER });
    const refused = await statusWhen(handle, (s) => s.refused.length > 0);
    assert.match(refused.refused[0]!.reason, /deploymentId: approvals of this fleet are per deployment/);
    await handle.signal('reject', {
      step: 'approve-local-changes',
      approver: APPROVER,
      reason: 'not this week',
      deploymentId: estate.info.cloud.deploymentId,
    });
    const result = (await handle.result()) as FleetResult;
    assert.deepEqual(
      result.connections.map((c) => c.state),
      ['rejected', 'rejected'],
    );
    assert.match(result.connections[0]!.reason ?? '', /rejected by sre@example.com: not this week/);
    const info = await remoteInfo();
    assert.ok(aliases.every((a) => info[a] === undefined));
  });
});

describe('ech-remote fleet (built CLI) with sandbox.json requests.fleet', () => {
  it('invalid: names the field of the connection, nothing is started (exit 2)', async () => {
    const file = path.join(dir, 'invalid.json');
    const r = fleetRequest([{ alias: 'ok-one' }, { alias: 'Not An Alias' }]);
    fs.writeFileSync(file, JSON.stringify(r));
    const run = await runCli(['fleet', '--request', file, '--json'], env);
    assert.equal(run.code, 2, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.ok(
      out.problems.some((p: { path: string }) => p.path === '$.connections[1].alias'),
      run.stdout,
    );
  });

  it('started without --wait, the fleet waits for its one approval; `ech-remote approve <fleet id>` gives it', async () => {
    const file = path.join(dir, 'fleet-approve.json');
    fs.writeFileSync(file, JSON.stringify(fleetRequest([{ alias: 'fleet-cli-approved' }])));
    const started = await runCli(['fleet', '--request', file, '--json'], env);
    assert.equal(started.code, 0, started.stderr);
    const { workflowId, outcome } = JSON.parse(started.stdout) as { workflowId: string; outcome: string };
    assert.equal(outcome, 'started');
    const handle = client.workflow.getHandle(workflowId);
    await statusWhen(handle, (s) => s.phase === 'awaiting-approval');
    // The same connection from a different request (another address): refused, not attached, and not approved.
    const other = path.join(dir, 'fleet-approve-other.json');
    const changed = fleetRequest([{ alias: 'fleet-cli-approved', remote: { proxyAddress: '127.0.0.1:1' } }]);
    fs.writeFileSync(other, JSON.stringify(changed));
    const hijack = await runCli(['fleet', '--request', other, '--approve', '--as', 'mallory@example.com'], env);
    assert.equal(hijack.code, 1, hijack.stdout + hijack.stderr);
    assert.match(
      hijack.stderr,
      new RegExp(`${workflowId} is running with the same connections but a different request`),
    );
    const still = await handle.query<FleetStatus>('status');
    assert.equal(still.phase, 'awaiting-approval');
    assert.deepEqual(still.approvals, []);
    const approved = await runCli(
      ['approve', workflowId, '--step', 'approve-local-changes', '--as', APPROVER, '--json'],
      env,
    );
    assert.equal(approved.code, 0, approved.stderr + approved.stdout);
    const result = (await handle.result()) as FleetResult;
    assert.deepEqual(
      result.connections.map((c) => c.state),
      ['connected'],
    );
    assert.equal(result.approvals[0]?.approver, APPROVER);
  });

  it('--approve --as --wait connects every connection (exit 0); again, all already-connected (exit 0)', async () => {
    const file = path.join(dir, 'fleet.json');
    fs.writeFileSync(file, JSON.stringify(fleetRequest(estate.info.requests.fleet.connections)));
    const args = ['fleet', '--request', file, '--approve', '--as', APPROVER, '--wait', '--json'];
    const run = await runCli(args, env);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const out = JSON.parse(run.stdout) as FleetResult & { workflowId: string };
    assert.ok(out.connections.length >= 3);
    assert.ok(out.connections.every((c) => c.state === 'connected'));
    const again = await runCli(args, env);
    assert.equal(again.code, 0, again.stderr);
    const second = JSON.parse(again.stdout) as FleetResult & { workflowId: string };
    assert.equal(second.workflowId, out.workflowId, 'the same request, the same fleet id');
    assert.ok(second.connections.every((c) => c.state === 'already-connected'));
    // The table names every connection and its state.
    const table = await runCli(['fleet', '--request', file, '--wait'], env);
    assert.equal(table.code, 0, table.stderr);
    for (const c of out.connections) assert.match(table.stdout, new RegExp(`${c.alias}\\s+already-connected`));
  });
});
