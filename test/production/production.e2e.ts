/**
 * The production topology, proven (`npm run test:production`, scripts/run-production-test.ts): docker-compose.yml's
 * stack on this host without Docker (topology.ts): the Temporal server built from its Go module on PostgreSQL, its
 * schema set up by temporal-sql-tool, the namespace and the search attributes registered, two `ech-remote worker`
 * processes and the codec server, all with compose's settings. The Elastic side is the sandbox, as in the other tests.
 *
 * Claims: a worker SIGKILLed in the middle of an activity loses the run to nobody (the other worker finishes it); 50
 * connects at once complete, spread over both workers; the Temporal server SIGKILLed and restarted mid-run loses no
 * event of any run; the UI's codec endpoint decodes payloads this server stores.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { loadDataConverter } from '../../src/codec';
import { SEARCH_ATTRIBUTES } from '../../src/contract/searchAttributes';
import type { ConnectResult, ConnectStatus } from '../../src/contract/status';
import { Estate } from '../helpers/estate';
import { connectRequest, type Req } from '../helpers/runs';
import { callRule, held } from '../proof/harness';
import { WHY, hostPathOf } from './compose';
import { Topology, type Proc } from './topology';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

let estate: Estate;
let topology: Topology;
let client: Client;

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this test with \`npm run test:production\``);
  return v;
}

before(
  async () => {
    estate = await Estate.start('api-key-public');
    const env = estate.info.env;
    topology = new Topology({
      serverDir: required('ECH_REMOTE_PRODUCTION_SERVER_DIR'),
      temporalCli: required('TEMPORAL_CLI_PATH'),
      postgresBin: required('ECH_REMOTE_PRODUCTION_POSTGRES_BIN'),
      cli: required('ECH_REMOTE_TEST_CLI'),
      bundle: required('ECH_REMOTE_WORKFLOW_BUNDLE'),
      caFile: required('NODE_EXTRA_CA_CERTS'),
      workDir: required('ECH_REMOTE_PRODUCTION_WORK_DIR'),
      workerSecrets: {
        EC_API_KEY: env.EC_API_KEY,
        ECH_ES_CREDENTIALS: env.ECH_ES_CREDENTIALS,
        ONPREM_ES_CREDENTIALS: env.ONPREM_ES_CREDENTIALS,
        CROSS_SEARCH_USER_PASSWORD: env.CROSS_SEARCH_USER_PASSWORD,
      },
      secretBindings: JSON.parse(env.ECH_REMOTE_SECRET_BINDINGS),
    });
    const t0 = Date.now();
    await topology.start();
    console.log(`# topology up in ${Date.now() - t0} ms: Temporal ${topology.address}, codec ${topology.codecUrl}`);
    // This process is a client of the stack as an operator's would be: the keys file init-secrets.sh made.
    delete process.env.ECH_REMOTE_ENCRYPTION_KEYS;
    process.env.ECH_REMOTE_ENCRYPTION_KEYS_FILE = topology.secretFile('encryption_keys');
    const connection = await Connection.connect({ address: topology.address });
    client = new Client({ connection, namespace: topology.namespace, dataConverter: loadDataConverter() });
  },
  { timeout: 300_000 },
);

after(async () => {
  await client?.connection.close();
  await topology?.stop();
  await estate?.stop();
});

/** The sandbox's request, with its own alias, role and user (runs on distinct connections do not exclude each other). */
function request(tag: string): Req {
  const base = connectRequest(estate, 'api-key-public', { humanStepTimeout: '10m' });
  const role = `remote-search-${tag}`;
  return {
    ...base,
    alias: `prod-${tag}`,
    roles: base.roles!.map((r) => ({ ...r, name: role })),
    users: base.users!.map((u) => ({ ...u, username: `cross-search-${tag}`, roles: [role] })),
  };
}

async function start(tag: string): Promise<WorkflowHandle> {
  return client.workflow.start('connectRemoteCluster', {
    taskQueue: topology.taskQueue,
    workflowId: `production-${tag}-${Date.now()}`,
    args: [request(tag)],
  });
}

const TERMINAL = ['completed', 'failed', 'rejected', 'timed-out'];

/** Approves the run's ECH changes when asked and waits for its end; `until` stops earlier. Polls gently (50 runs). */
async function drive(
  handle: WorkflowHandle,
  timeoutMs: number,
  until?: () => Promise<boolean>,
): Promise<ConnectStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ConnectStatus | undefined;
  for (;;) {
    if (until && (await until())) return last!;
    last = (await handle.query<ConnectStatus>('status').catch(() => undefined)) ?? last;
    if (last && TERMINAL.includes(last.phase)) return last;
    const step = last?.waitingFor?.step;
    if (step === 'approve-local-changes') await handle.signal('approve', { step, approver: 'sre@example.com' });
    else assert.ok(!step, `the run waits on ${step}, which this test does not expect`);
    assert.ok(Date.now() < deadline, `${handle.workflowId} not done in ${timeoutMs} ms (phase ${last?.phase})`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Until the run waits for its approval (not given). */
async function waitForApproval(handle: WorkflowHandle, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await handle.query<ConnectStatus>('status').catch(() => undefined);
    if (status?.waitingFor?.step === 'approve-local-changes') return;
    assert.ok(!status || !TERMINAL.includes(status.phase), `${handle.workflowId} ended: ${status?.phase}`);
    assert.ok(Date.now() < deadline, `${handle.workflowId} never asked for approval (phase ${status?.phase})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function history(workflowId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: topology.namespace,
      execution: { workflowId },
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

/** The identity a worker process polls with: the SDK's default `<pid>@<host>`. */
const identityOf = (w: Proc) => new RegExp(`^${w.pid}@`);

/** Who did what in a run: the worker identity of every activity attempt and workflow task recorded. */
function workDoneBy(events: HistoryEvent[]): string[] {
  return events.flatMap((e) => [
    ...(e.activityTaskStartedEventAttributes?.identity ? [e.activityTaskStartedEventAttributes.identity] : []),
    ...(e.workflowTaskCompletedEventAttributes?.identity ? [e.workflowTaskCompletedEventAttributes.identity] : []),
  ]);
}

describe('the compose topology on this host (PostgreSQL, Temporal server, two workers, codec server)', () => {
  it('runs with compose settings: only container networking and mounts differ', () => {
    const reasons: string[] = Object.values(WHY);
    for (const [service, changes] of Object.entries(topology.changes)) {
      for (const c of changes) {
        assert.ok(reasons.includes(c.why), `${service}: ${c.key} differs for no stated reason: ${c.why}`);
        console.log(`# ${service}: ${c.key}: compose ${c.compose} → here ${c.host} (${c.why})`);
      }
    }
    // The dynamic config the server runs with is the file compose mounts, and the server accepts it.
    const temporalService = topology.compose.services.temporal!;
    const dynamic = topology.temporalEnv.DYNAMIC_CONFIG_FILE_PATH!;
    const composePath = String(temporalService.environment!.DYNAMIC_CONFIG_FILE_PATH);
    assert.equal(dynamic, hostPathOf(topology.compose, temporalService, composePath, topology.projectDir));
    const server = `${topology.opts.serverDir}/temporal-server`;
    const validation = execFileSync(server, ['validate-dynamic-config', dynamic], { encoding: 'utf8' });
    assert.doesNotMatch(validation, /error|warning/, validation);
    assert.match(topology.temporal!.output(), /Updated dynamic config/, 'the server loaded that file');
    assert.doesNotMatch(topology.temporal!.output(), /dynamic config (error|warning)/);
    // The namespace and the search attributes, as auto-setup and admin-tools leave them.
    const attributes = topology.temporalCli([
      'operator',
      'search-attribute',
      'list',
      '--namespace',
      topology.namespace,
    ]);
    for (const sa of SEARCH_ATTRIBUTES) assert.match(attributes, new RegExp(`\\b${sa.name}\\s+Keyword`, 'i'));
    assert.equal(topology.workers.filter((w) => w.running).length, 2);
  });

  let failoverRun: string | undefined;
  /** The 50 finished runs and their history lengths: the server restart must keep them as they are. */
  const finished = new Map<string, number>();

  it(
    'a worker SIGKILLed in the middle of an activity: the other worker finishes the run',
    { timeout: 180_000 },
    async () => {
      // The Cloud API keystore write is held: its activity is in flight on one worker when that worker dies.
      await estate.faults([callRule('keystore', { hold: true, when: 'before', times: 1 })]);
      const handle = await start('failover');
      failoverRun = handle.workflowId;
      let point: { id: number } | undefined;
      await drive(handle, 90_000, async () => (point = (await held(estate))[0]) !== undefined);
      assert.ok(point, 'the run reached the keystore write');
      const described = await client.workflowService.describeWorkflowExecution({
        namespace: topology.namespace,
        execution: { workflowId: handle.workflowId },
      });
      const inFlight = described.pendingActivities?.find((a) => a.lastWorkerIdentity);
      assert.ok(inFlight, 'an activity is running');
      const victim = topology.workers.find((w) => identityOf(w).test(inFlight.lastWorkerIdentity!));
      assert.ok(victim, `the activity runs on one of our workers: ${inFlight.lastWorkerIdentity}`);
      const survivor = topology.workers.find((w) => w !== victim && w.running)!;

      await victim.stop('SIGKILL');
      await estate.control('POST', '/faults/release', { id: point.id, action: 'drop' });
      const status = await drive(handle, 120_000);
      assert.equal(status.phase, 'completed', status.error?.message);
      assert.equal(((await handle.result()) as ConnectResult).connected, true);

      // The attempt that completed the interrupted activity ran on the survivor, after the first attempt was lost.
      const events = await history(handle.workflowId);
      const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityId === inFlight.activityId);
      const started = events.find(
        (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled?.eventId?.toString(),
      );
      assert.ok(started, `the interrupted activity ${inFlight.activityType?.name} completed`);
      assert.match(started.activityTaskStartedEventAttributes!.identity!, identityOf(survivor));
      assert.ok(started.activityTaskStartedEventAttributes!.attempt! >= 2, 'a retry, after the lost attempt');
      const killedAt = events.findIndex((e) => e === started);
      assert.ok(
        !workDoneBy(events.slice(killedAt)).some((id) => identityOf(victim).test(id)),
        'nothing after the kill was done by the dead worker',
      );
      // Two workers again for what follows, as `restart: unless-stopped` would bring it back.
      await topology.startWorker();
    },
  );

  it('50 connects at once all complete, spread across both workers', { timeout: 900_000 }, async () => {
    const live = topology.workers.filter((w) => w.running);
    assert.equal(live.length, 2);
    const t0 = Date.now();
    const handles = await Promise.all(
      Array.from({ length: 50 }, (_, i) => start(`load-${String(i).padStart(2, '0')}`)),
    );
    const statuses = await Promise.all(handles.map((h) => drive(h, 840_000)));
    const failed = statuses.flatMap((s, i) =>
      s.phase === 'completed' ? [] : [`${handles[i]!.workflowId}: ${s.phase} ${s.error?.message}`],
    );
    assert.deepEqual(failed, []);
    for (const h of handles) assert.equal(((await h.result()) as ConnectResult).connected, true);
    console.log(`# 50 connects completed in ${Math.round((Date.now() - t0) / 1000)} s`);

    const perWorker = new Map(live.map((w) => [w, { runs: 0, tasks: 0 }]));
    for (const h of handles) {
      const events = await history(h.workflowId);
      finished.set(h.workflowId, events.length);
      const ids = workDoneBy(events);
      for (const [w, count] of perWorker) {
        const mine = ids.filter((id) => identityOf(w).test(id)).length;
        count.tasks += mine;
        if (mine) count.runs++;
      }
    }
    for (const [w, count] of perWorker) {
      console.log(`# ${w.name} (pid ${w.pid}): ${count.tasks} tasks in ${count.runs} runs`);
      assert.ok(count.runs >= 5, `${w.name} did work in only ${count.runs} of 50 runs`);
    }
    // Every connection is configured on the ECH side.
    const settings = await estate.es('ech', 'GET', '/_cluster/settings?flat_settings=true');
    for (let i = 0; i < 50; i++) {
      const alias = `prod-load-${String(i).padStart(2, '0')}`;
      assert.ok(settings.body.persistent[`cluster.remote.${alias}.mode`], `${alias} is configured`);
    }
  });

  it(
    'the Temporal server SIGKILLed and restarted mid-run loses no event of any run, running or finished',
    { timeout: 300_000 },
    async () => {
      // One run with an activity in flight (the keystore write held), two waiting for their approval.
      await estate.faults([callRule('keystore', { hold: true, when: 'before', times: 1 })]);
      const busy = await start('restart-busy');
      let point: { id: number } | undefined;
      await drive(busy, 90_000, async () => (point = (await held(estate))[0]) !== undefined);
      assert.ok(point);
      const waiting = await Promise.all(['restart-a', 'restart-b'].map(start));
      for (const h of waiting) await waitForApproval(h);
      const runs = [busy, ...waiting];
      const before = await Promise.all(runs.map((h) => history(h.workflowId)));

      await topology.restartTemporal();
      await estate.control('POST', '/faults/release', { id: point.id, action: 'continue' });

      for (const h of runs) {
        const status = await drive(h, 180_000);
        assert.equal(status.phase, 'completed', `${h.workflowId}: ${status.error?.message}`);
      }
      for (const [i, h] of runs.entries()) {
        const afterRestart = await history(h.workflowId);
        const kept = afterRestart.slice(0, before[i]!.length).map((e) => [e.eventId?.toString(), e.eventType]);
        assert.deepEqual(
          kept,
          before[i]!.map((e) => [e.eventId?.toString(), e.eventType]),
          `${h.workflowId} kept its history`,
        );
      }
      // The runs that had finished before the kill are still there, completed, with every event.
      assert.equal(finished.size, 50, 'the 50 connects ran before');
      for (const [workflowId, length] of finished) {
        const d = await client.workflow.getHandle(workflowId).describe();
        assert.equal(d.status.name, 'COMPLETED', workflowId);
        assert.equal((await history(workflowId)).length, length, `${workflowId} kept its history`);
      }
      // Visibility (PostgreSQL) still answers by the custom search attribute.
      const found: string[] = [];
      for await (const w of client.workflow.list({ query: `RemoteClusterAlias = 'prod-restart-a'` }))
        found.push(w.workflowId);
      assert.deepEqual(found, [waiting[0]!.workflowId]);
    },
  );

  it("the UI's codec endpoint decodes a history this server stores", async () => {
    assert.ok(failoverRun, 'the failover run completed');
    const events = await history(failoverRun);
    const input = events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
    const b64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('base64');
    const payloads = input.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
      data: b64(p.data),
    }));
    assert.equal(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString(), 'binary/encrypted');
    assert.doesNotMatch(Buffer.from(payloads[0]!.data, 'base64').toString('latin1'), /prod-failover/);

    const { endpoint, origin, change } = topology.uiCodecEndpoint();
    console.log(`# temporal-ui TEMPORAL_CODEC_ENDPOINT: compose ${change.compose.replace(/[0-9a-f]{64}$/, '<token>')}`);
    const decode = (url: string) =>
      fetch(`${url}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin, 'x-namespace': topology.namespace },
        body: JSON.stringify({ payloads }),
      });
    const res = await decode(endpoint);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('access-control-allow-origin'), origin, 'the UI origin may read the answer');
    const decoded = ((await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
    assert.equal(Buffer.from(decoded[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');
    const req = JSON.parse(Buffer.from(decoded[0]!.data, 'base64').toString()) as Req;
    assert.equal(req.alias, 'prod-failover');
    // Without the token in the endpoint, nothing is decoded.
    assert.equal((await decode(topology.codecUrl)).status, 401);
  });
});
