/**
 * `npm run bench` (not part of `npm test`): the performance figures of issue 13, measured against the sandbox and a
 * local Temporal dev server, with the worker run as operators run it (the built CLI `ech-remote worker`, the prebuilt
 * workflow bundle) in a child process whose memory is read from /proc.
 *
 *   1. critical path: one automatic path B connect (the tool creates the key, no approval) through the workflow vs a
 *      plain script making the same API calls directly; a fresh sandbox per arm and round, the same plan time; the
 *      ratio per round, the median, and per-activity time from the run's history.
 *   2. N concurrent path B connects to ONE deployment (N = 1, 10, 50, 100): wall time, failures, peak worker RSS.
 *   3. cold start: worker spawn → polling; `ech-remote --help`; `ech-remote status <id>`.
 *   4. memory: a worker holding W runs that wait for a human (RSS), with its workflow cache size.
 *
 * Prints a table and writes JSON (default bench-results.json). For looking closer: BENCH_WORKER_NODE_ARGS adds node
 * flags to the worker (e.g. `--cpu-prof --cpu-prof-dir=prof`), BENCH_WORKER_LOG=<prefix> writes each critical-path
 * round's worker log to <prefix>-<round>.log (with ECH_REMOTE_LOG_LEVEL=debug: every activity's start and end).
 *
 *   npm run bench -- [--rounds 5] [--plan-ms 2000] [--concurrency 1,10,50,100] [--waiting 500] [--out file]
 *                    [--only critical,concurrency,cold,memory] [--timeline] [--cold-worker] [--compare dir]
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- sandbox info and JSON answers are read loosely here, as in tests */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { Agent, request as undiciRequest } from 'undici';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { generateEncryptionKey } from '../src/codec';
import type { ConnectRequestInput } from '../src/contract/request';
import { validateConnectRequest } from '../src/contract/request';
import { SEARCH_ATTRIBUTES } from '../src/contract/searchAttributes';
import { ensureTemporalCli } from '../src/dev/temporalCli';
import { LOCAL_REQUIRED_PRIVILEGES, REMOTE_REQUIRED_PRIVILEGES } from '../src/domain/preflight';
import {
  connectRequest as connectSettingsRequest,
  crossClusterApiKeyName,
  crossClusterApiKeyRequest,
  keystorePatchBody,
  privateCaTrustEntry,
  roleRequest,
  userRequest,
} from '../src/domain/requests';
import { loadOrCreatePublicRoot } from '../src/sandbox/pki';
import { bundleWorkflows } from './bundle-workflows';

type Args = {
  rounds: number;
  planMs: number;
  concurrency: number[];
  waiting: number;
  out: string;
  only: Set<string>;
  /** Print each critical-path round's history timeline (activities and workflow tasks). */
  timeline: boolean;
  /** Measure the first run of a new worker (default: a worker warmed by one dry run). */
  coldWorker: boolean;
  /** Memory: how long RSS is followed after the waiting runs settled. */
  settleS: number;
  /**
   * Critical path: a directory holding another build (`lib/` and `workflow-bundle.js`, e.g. from `git worktree` +
   * `npx tsc -p tsconfig.build.json --outDir <dir>/lib` + scripts/bundle-workflows.ts), measured in the same rounds.
   */
  compare?: string;
};

function parseArgs(argv: string[]): Args {
  const get = (name: string, def: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : def;
  };
  return {
    rounds: Number(get('rounds', '5')),
    planMs: Number(get('plan-ms', '2000')),
    concurrency: get('concurrency', '1,10,50,100').split(',').map(Number),
    waiting: Number(get('waiting', '500')),
    out: get('out', 'bench-results.json'),
    only: new Set(get('only', 'critical,concurrency,cold,memory').split(',')),
    timeline: argv.includes('--timeline'),
    coldWorker: argv.includes('--cold-worker'),
    settleS: Number(get('settle-s', '150')),
    ...(argv.includes('--compare') ? { compare: path.resolve(get('compare', '')) } : {}),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------- outer: the setup

async function outer(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-bench-'));
  const t0 = Date.now();
  const temporal = ensureTemporalCli();
  const { certFile } = await loadOrCreatePublicRoot(work);
  const bundle = path.join(work, 'workflow-bundle.js');
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'), 'dir');
  const tsc = require.resolve('typescript/bin/tsc');
  const [env] = await Promise.all([
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporal },
        ip: '127.0.0.1',
        searchAttributes: SEARCH_ATTRIBUTES,
        log: { format: 'pretty', level: 'error' },
      },
    }),
    bundleWorkflows(bundle),
    promisify(execFile)(
      process.execPath,
      [tsc, '-p', 'tsconfig.build.json', '--noCheck', '--outDir', path.join(work, 'lib')],
      { cwd: root },
    ),
  ]);
  console.log(`# Temporal dev server, bundle and built CLI ready in ${Date.now() - t0} ms`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--inner', ...process.argv.slice(2)], {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.connection.options.address as string,
        TEMPORAL_NAMESPACE: 'default',
        ECH_REMOTE_WORKFLOW_BUNDLE: bundle,
        ECH_REMOTE_ENCRYPTION_KEYS: generateEncryptionKey('bench'),
        ECH_REMOTE_TEST_PUBLIC_ROOT_DIR: work,
        NODE_EXTRA_CA_CERTS: certFile,
        BENCH_CLI: path.join(work, 'lib', 'cli', 'main.js'),
      },
    });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  await env.teardown();
  fs.rmSync(work, { recursive: true, force: true });
  return code;
}

// ---------------------------------------------------------------------------------------------- inner: measuring

interface Sandbox {
  info: any;
  state(): Promise<any>;
  stop(): Promise<void>;
}

async function sandbox(
  planMs: number,
  scenario = 'api-key-private',
  estate: 'scenario' | 'every-path' = 'scenario',
): Promise<Sandbox> {
  const { start } = await import('../src/sandbox/index.js');
  return (await start({ scenario: scenario as never, planPendingMs: planMs, estate })) as unknown as Sandbox;
}

/** `ech-remote worker` (the built CLI) with the sandbox's secrets; resolves once it polls. */
async function spawnWorker(
  sb: Sandbox,
  taskQueue: string,
  extraEnv: Record<string, string> = {},
): Promise<{ child: ChildProcess; readyMs: number; stderr: () => string; stop: () => Promise<void> }> {
  const t0 = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, ECH_REMOTE_TASK_QUEUE: taskQueue, ...extraEnv };
  for (const [k, v] of Object.entries(sb.info.env as Record<string, string>)) {
    if (k !== 'NODE_EXTRA_CA_CERTS') env[k] = String(v);
  }
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const cli = extraEnv.BENCH_CLI ?? (process.env.BENCH_CLI as string);
  const child = spawn(process.execPath, [...nodeArgs, cli, 'worker'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  while (!err.includes('ech-remote worker started')) {
    if (child.exitCode !== null) throw new Error(`worker exited: ${err}`);
    await sleep(5);
  }
  const readyMs = performance.now() - t0;
  return {
    child,
    readyMs,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(15_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

function procStatus(pid: number): { rssMb: number; peakMb: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

function connectInput(sb: Sandbox, alias: string, over: Record<string, unknown> = {}, withRemote = true) {
  // The scenario's own self-managed cluster (`onprem-logs`), in either estate.
  const base = structuredClone(sb.info.scenarioRequest) as ConnectRequestInput & Record<string, unknown>;
  if (withRemote) {
    base.remote = {
      ...base.remote,
      elasticsearch: {
        url: sb.info.selfManaged.url,
        credentialsSecret: 'ONPREM_ES_CREDENTIALS',
        caPem: sb.info.selfManaged.httpCa,
      },
    };
  } else delete (base.remote as Record<string, unknown>).elasticsearch;
  return {
    ...base,
    alias,
    approvals: { beforeLocalChanges: false, timeout: '1h' },
    verify: { searchIndex: 'logs-*', timeout: '60s' },
    ...over,
  };
}

/** One TLS handshake with `hostPort` (the remote cluster server), verified against `caPem`. */
function tlsHandshake(hostPort: string, serverName: string | undefined, caPem: string): Promise<void> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i).replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host, port: Number(hostPort.slice(i + 1)), servername: serverName ?? host, ca: caPem },
      () => {
        socket.destroy();
        resolve();
      },
    );
    socket.once('error', reject);
  });
}

/**
 * The same API calls as the workflow's critical path, made directly by a plain script (keep-alive connections).
 * Returns the total and the time of each step (`steps`, for comparing phases with the workflow's history).
 */
async function directConnect(sb: Sandbox, alias: string): Promise<{ ms: number; steps: Record<string, number> }> {
  const info = sb.info;
  const req = validateConnectRequest(connectInput(sb, alias));
  if (!req.ok) throw new Error(JSON.stringify(req.problems));
  const r = req.request;
  const publicCa = info.ca.publicRoot as string;
  const echAgent = new Agent({ connect: { ca: publicCa } });
  const smAgent = new Agent({ connect: { ca: info.selfManaged.httpCa } });
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  const call = async (
    base: string,
    agent: Agent,
    auth: string,
    method: string,
    p: string,
    body?: unknown,
  ): Promise<any> => {
    const res = await undiciRequest(`${base}${p}`, {
      method: method as 'GET',
      dispatcher: agent,
      headers: { authorization: auth, 'content-type': 'application/json', accept: 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${p}: ${res.statusCode} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const cloudAuth = `ApiKey ${info.cloud.apiKey}`;
  const cloud = (m: string, p: string, b?: unknown) =>
    call(`${info.cloud.endpoint}/api/v1`, echAgent, cloudAuth, m, p, b);
  const ech = (m: string, p: string, b?: unknown) =>
    call(info.ech.url, echAgent, basic(info.ech.username, info.ech.password), m, p, b);
  const sm = (m: string, p: string, b?: unknown) =>
    call(info.selfManaged.url, smAgent, basic(info.selfManaged.username, info.selfManaged.password), m, p, b);
  const dep = `/deployments/${info.cloud.deploymentId}`;
  const es = `${dep}/elasticsearch/${info.cloud.refId}`;

  const t0 = performance.now();
  const steps: Record<string, number> = {};
  let last = t0;
  const lap = (name: string) => {
    const now = performance.now();
    steps[name] = now - last;
    last = now;
  };
  // Preflight: every read at once (a script knows both endpoints from its configuration): the deployment, both
  // clusters' identity, user, privileges, license, health, settings and certificates, and one TLS handshake with the
  // remote cluster server (the workflow's probe).
  const inspect = (call: typeof ech, privileges: string[], settings: boolean) => [
    call('GET', '/'),
    call('GET', '/_security/_authenticate'),
    call('POST', '/_security/user/_has_privileges', { cluster: privileges }),
    call('GET', '/_license'),
    call('GET', '/_cluster/health'),
    ...(settings ? [call('GET', '/_cluster/settings?flat_settings=true')] : []),
    call('GET', '/_ssl/certificates'),
  ];
  await Promise.all([
    cloud('GET', `${dep}?show_settings=true&show_plans=true`),
    ...inspect(ech, LOCAL_REQUIRED_PRIVILEGES, true),
    ...inspect(sm, REMOTE_REQUIRED_PRIVILEGES, false),
    tlsHandshake(r.remote.proxyAddress, r.remote.serverName, (r.remote.ca as { pem: string }).pem),
  ]);
  lap('preflight');
  // As the workflow does with nothing to wait for: the key (looked up first: a rerun reuses it), then its keystore
  // entry (read first: an entry already there is not overwritten), while the private CA's trust entry is written
  // (read-modify-write of the deployment) and its plan polled.
  const keySide = async () => {
    const t = performance.now();
    await sm('GET', `/_security/api_key?name=${encodeURIComponent(crossClusterApiKeyName(r.alias))}&active_only=true`);
    const key = crossClusterApiKeyRequest(r, 'direct');
    const created = await sm(key.method, key.path, key.body);
    await cloud('GET', `${es}/keystore`);
    await cloud('PATCH', `${es}/keystore`, keystorePatchBody(r.alias, created.encoded));
    steps.keyAndKeystore = performance.now() - t;
  };
  const trustSide = async () => {
    const t = performance.now();
    const read = await cloud('GET', `${dep}?show_settings=true&show_plans=true&clear_transient=true`);
    const res = read.resources.elasticsearch[0];
    const trust = res.info.settings?.trust ?? {};
    const entry = privateCaTrustEntry(r.alias, (r.remote.ca as { pem: string }).pem);
    await cloud('PUT', dep, {
      prune_orphans: false,
      resources: {
        elasticsearch: [
          {
            ref_id: res.ref_id,
            region: res.region,
            plan: res.info.plan_info.current.plan,
            settings: { trust: { ...trust, direct: [...(trust.direct ?? []), entry] } },
          },
        ],
      },
    });
    steps.trust = performance.now() - t;
    for (;;) {
      const s = await cloud('GET', `${es}?show_plans=true`);
      if (!s.info.plan_info.pending) break;
      await sleep(250);
    }
  };
  await Promise.all([keySide(), trustSide()]);
  lap('keyTrustAndPlan');
  // The remote cluster: the alias checked free, then the settings.
  await Promise.all([ech('GET', '/_cluster/settings?flat_settings=true'), ech('GET', '/_remote/info')]);
  const put = connectSettingsRequest(r, { workflowId: 'direct', alias: r.alias });
  await ech(put.method, put.path, put.body);
  lap('settings');
  for (;;) {
    const remote = await ech('GET', '/_remote/info');
    if (remote[r.alias]?.connected) break;
    await sleep(100);
  }
  await ech('GET', `/_resolve/cluster/${encodeURIComponent(`${r.alias}:logs-*`)}`);
  await ech('POST', `/${encodeURIComponent(`${r.alias}:logs-*`)}/_search`, { size: 0 });
  lap('verify');
  // Roles, then users: each looked up (not someone else's), then written.
  const o = { workflowId: 'direct', alias: r.alias };
  for (const role of r.roles) {
    const put = roleRequest(role, o);
    await ech('GET', put.path).catch(() => undefined);
    await ech(put.method, put.path, put.body);
  }
  for (const user of r.users) {
    const put = userRequest(user, o);
    await ech('GET', put.path).catch(() => undefined);
    await ech(put.method, put.path, { ...put.body, password: info.env[user.passwordSecret] });
  }
  lap('rolesAndUsers');
  const ms = performance.now() - t0;
  await Promise.all([echAgent.close(), smAgent.close()]);
  return { ms, steps };
}

/** One span of a run's history, in ms from the workflow's start: an activity or a workflow task. */
interface Span {
  kind: 'activity' | 'local-activity' | 'workflow-task' | 'event';
  name: string;
  scheduled: number;
  started?: number;
  completed?: number;
}

/**
 * What a run's history says about where its time went: each activity's and workflow task's scheduled → started
 * (waiting in the task queue / for a poller) → completed (running), relative to the start; and the time per activity
 * type (scheduled → completed, summed).
 */
async function historyProfile(
  client: Client,
  workflowId: string,
): Promise<{ activities: Record<string, number>; spans: Span[]; totalMs: number }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const ts = (e: any) => Number(e.eventTime.seconds) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6);
  const t0 = events.length ? ts(events[0]) : 0;
  const byId = new Map<string, Span>();
  const spans: Span[] = [];
  const out: Record<string, number> = {};
  for (const e of events) {
    const at = ts(e) - t0;
    const id = String(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const span: Span = { kind: 'activity', name: s.activityType?.name ?? '?', scheduled: at };
      byId.set(id, span);
      spans.push(span);
    }
    if (e.workflowTaskScheduledEventAttributes) {
      const span: Span = { kind: 'workflow-task', name: 'workflow task', scheduled: at };
      byId.set(id, span);
      spans.push(span);
    }
    const started = e.activityTaskStartedEventAttributes ?? e.workflowTaskStartedEventAttributes;
    if (started) {
      const span = byId.get(String(started.scheduledEventId));
      if (span) span.started = at;
    }
    const done =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.workflowTaskCompletedEventAttributes ??
      e.workflowTaskFailedEventAttributes ??
      e.workflowTaskTimedOutEventAttributes;
    if (done) {
      const span = byId.get(String(done.scheduledEventId));
      if (span) {
        span.completed = at;
        if (span.kind === 'activity') out[span.name] = (out[span.name] ?? 0) + (at - span.scheduled);
      }
    }
    // The other events that take part in the run's progress: the lease (a child), the plan turn (signals), timers.
    const other = [
      ['startChildWorkflowExecutionInitiatedEventAttributes', 'start child'],
      ['childWorkflowExecutionStartedEventAttributes', 'child started'],
      ['signalExternalWorkflowExecutionInitiatedEventAttributes', 'signal sent'],
      ['externalWorkflowExecutionSignaledEventAttributes', 'signal delivered'],
      ['workflowExecutionSignaledEventAttributes', 'signal received'],
      ['timerStartedEventAttributes', 'timer started'],
      ['timerFiredEventAttributes', 'timer fired'],
    ] as const;
    for (const [attr, name] of other) {
      const a = (e as any)[attr];
      if (a) spans.push({ kind: 'event', name: a.signalName ? `${name} ${a.signalName}` : name, scheduled: at });
    }
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      // A local activity leaves only a marker (written with the workflow task that saw it complete).
      spans.push({ kind: 'local-activity', name: 'local activity', scheduled: at, completed: at });
    }
  }
  const last = events.length ? ts(events[events.length - 1]) - t0 : 0;
  return { activities: out, spans, totalMs: last };
}

/** The spans as lines: start, queue wait, run time, name. */
function formatSpans(spans: Span[]): string {
  return spans
    .map((s) => {
      const wait = s.started !== undefined ? s.started - s.scheduled : NaN;
      const run = s.completed !== undefined && s.started !== undefined ? s.completed - s.started : NaN;
      if (s.kind === 'event') return `  ${String(s.scheduled).padStart(6)} ms  ${' '.repeat(20)}  - ${s.name}`;
      return `  ${String(s.scheduled).padStart(6)} ms  wait ${String(wait).padStart(4)}  run ${String(run).padStart(5)}  ${s.kind === 'workflow-task' ? '·' : '*'} ${s.name}`;
    })
    .join('\n');
}

async function temporalClient(): Promise<Client> {
  const { connectClient } = await import('../src/temporal/connection.js');
  return connectClient();
}

async function critical(args: Args, client: Client) {
  const rounds: {
    directMs: number;
    workflowMs: number;
    ratio: number;
    activities: Record<string, number>;
    spans: Span[];
    directSteps: Record<string, number>;
    /**
     * The ratio without the remote-cluster settings write in either arm: the sandbox opens the remote connection's
     * sockets inside that request (as Elasticsearch waits for the initial connection), CPU-bound work in the bench's
     * own process that is the same in both arms and swings by seconds on a loaded machine.
     */
    ratioWithoutSettingsWrite: number;
    /** --compare: the other build's workflow arm in the same round (its own fresh sandbox). */
    compared?: { workflowMs: number; ratio: number };
  }[] = [];
  let lastWorkflowId = '';
  for (let i = 1; i <= args.rounds; i++) {
    const a = await sandbox(args.planMs, 'api-key-private', 'every-path');
    const direct = await directConnect(a, 'bench');
    const directMs = direct.ms;
    await a.stop();

    // --compare: the other build's workflow arm on a fresh sandbox of its own, first in every other round.
    let compared: { workflowMs: number; ratio: number } | undefined;
    const measureCompared = async () => {
      if (!args.compare) return;
      const ms = await measureWorkflow(i, {
        BENCH_CLI: path.join(args.compare, 'lib', 'cli', 'main.js'),
        ECH_REMOTE_WORKFLOW_BUNDLE: path.join(args.compare, 'workflow-bundle.js'),
      });
      compared = { workflowMs: ms.workflowMs, ratio: ms.workflowMs / directMs };
    };
    if (i % 2 === 0) await measureCompared();
    const measured = await measureWorkflow(i);
    if (i % 2 === 1) await measureCompared();
    const { workflowMs, activities, spans, workflowId } = measured;
    lastWorkflowId = workflowId;
    const settingsWrite = activities.putRemoteCluster ?? 0;
    rounds.push({
      directMs,
      workflowMs,
      ratio: workflowMs / directMs,
      activities,
      spans,
      directSteps: direct.steps,
      ratioWithoutSettingsWrite: (workflowMs - settingsWrite) / (directMs - (direct.steps.settings ?? 0)),
      ...(compared ? { compared } : {}),
    });
    console.log(
      `critical path round ${i}: direct ${directMs.toFixed(0)} ms, workflow ${workflowMs.toFixed(0)} ms, ratio ${(workflowMs / directMs).toFixed(2)}` +
        ` (settings write: direct ${(direct.steps.settings ?? 0).toFixed(0)} ms, workflow ${settingsWrite.toFixed(0)} ms;` +
        ` ratio without it ${rounds.at(-1)!.ratioWithoutSettingsWrite.toFixed(2)})` +
        (compared ? `; compared build ${compared.workflowMs.toFixed(0)} ms, ratio ${compared.ratio.toFixed(2)}` : ''),
    );
    if (args.timeline) console.log(formatSpans(spans));
  }
  const activityMedians: Record<string, number> = {};
  for (const type of new Set(rounds.flatMap((r) => Object.keys(r.activities)))) {
    activityMedians[type] = median(rounds.map((r) => r.activities[type] ?? 0));
  }
  const comparedRounds = rounds.flatMap((r) => (r.compared ? [r.compared] : []));
  return {
    planMs: args.planMs,
    rounds,
    medianDirectMs: median(rounds.map((r) => r.directMs)),
    medianWorkflowMs: median(rounds.map((r) => r.workflowMs)),
    medianRatio: median(rounds.map((r) => r.ratio)),
    medianRatioWithoutSettingsWrite: median(rounds.map((r) => r.ratioWithoutSettingsWrite)),
    activityMediansMs: activityMedians,
    lastWorkflowId,
    ...(comparedRounds.length
      ? {
          compared: {
            build: args.compare,
            medianWorkflowMs: median(comparedRounds.map((c) => c.workflowMs)),
            medianRatio: median(comparedRounds.map((c) => c.ratio)),
          },
        }
      : {}),
  };

  /** One workflow arm: a fresh sandbox, a worker of the given build (default this one), warmed unless --cold-worker. */
  async function measureWorkflow(i: number, build: Record<string, string> = {}) {
    const b = await sandbox(args.planMs, 'api-key-private', 'every-path');
    const tq = `bench-critical-${i}-${Date.now()}`;
    const w = await spawnWorker(b, tq, build);
    if (!args.coldWorker) {
      // A worker serves many runs: it is measured warm, after the same kind of connect to ANOTHER self-managed cluster
      // on the same deployment (`onprem-metrics` of the every-path estate: its own alias, trust entry, plan, role and
      // user). Its code is loaded and compiled, its connections to the Cloud API and the ECH cluster are open, the
      // deployment's plan coordinator is running; the measured cluster (`onprem-logs`) is new to it, as a new remote
      // is. --cold-worker measures the first run of a new worker instead.
      const warmup = structuredClone(b.info.requests['api-key-private']) as Record<string, unknown>;
      await client.workflow
        .start('connectRemoteCluster', {
          taskQueue: tq,
          workflowId: `bench-warmup-${i}-${Date.now()}`,
          args: [
            {
              ...warmup,
              approvals: { beforeLocalChanges: false, timeout: '1h' },
              verify: { searchIndex: 'logs-*', timeout: '60s' },
            },
          ],
        })
        .then((h) => h.result());
    }
    const workflowId = `bench-critical-${i}-${Date.now()}`;
    const t0 = performance.now();
    const h = await client.workflow.start('connectRemoteCluster', {
      taskQueue: tq,
      workflowId,
      args: [connectInput(b, 'bench')],
    });
    await h.result();
    const workflowMs = performance.now() - t0;
    const { activities, spans } = await historyProfile(client, workflowId);
    await w.stop();
    const tag = build.BENCH_CLI ? '-compared' : '';
    if (process.env.BENCH_WORKER_LOG) fs.writeFileSync(`${process.env.BENCH_WORKER_LOG}-${i}${tag}.log`, w.stderr());
    await b.stop();
    return { workflowMs, activities, spans, workflowId };
  }
}

async function concurrency(args: Args, client: Client) {
  const out: { n: number; wallMs: number; completed: number; failed: number; peakRssMb: number; plans: number }[] = [];
  for (const n of args.concurrency) {
    const sb = await sandbox(args.planMs);
    const tq = `bench-many-${n}-${Date.now()}`;
    const w = await spawnWorker(sb, tq);
    const t0 = performance.now();
    const handles = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        client.workflow.start('connectRemoteCluster', {
          taskQueue: tq,
          workflowId: `bench-many-${n}-${i}-${Date.now()}`,
          args: [connectInput(sb, `many-${i}`)],
        }),
      ),
    );
    const settled = await Promise.allSettled(handles.map((h) => h.result()));
    const wallMs = performance.now() - t0;
    const failed = settled.filter((s) => s.status === 'rejected');
    const { peakMb } = procStatus(w.child.pid as number);
    const plans = ((await sb.state()).cloud.plans.history as unknown[]).length;
    await w.stop();
    await sb.stop();
    out.push({ n, wallMs, completed: n - failed.length, failed: failed.length, peakRssMb: peakMb, plans });
    console.log(
      `concurrent connects N=${n}: ${(wallMs / 1000).toFixed(1)} s, ${failed.length} failed, ${plans} plans, worker peak RSS ${peakMb.toFixed(0)} MB` +
        (failed.length ? ` (first failure: ${String((failed[0] as PromiseRejectedResult).reason).slice(0, 300)})` : ''),
    );
  }
  return out;
}

async function timeCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, [process.env.BENCH_CLI as string, ...argv], { env, stdio: 'ignore' });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
  return performance.now() - t0;
}

async function coldStart(client: Client) {
  const sb = await sandbox(150, 'api-key-private');
  const spawnToPolling: number[] = [];
  for (let i = 0; i < 5; i++) {
    const w = await spawnWorker(sb, `bench-cold-${i}-${Date.now()}`);
    spawnToPolling.push(w.readyMs);
    await w.stop();
  }
  const help: number[] = [];
  const status: number[] = [];
  for (let i = 0; i < 5; i++) help.push(await timeCommand(['--help']));
  // `status` of a run whose worker is up (a query needs one): a dry run, which ends at once.
  const tq = `bench-status-${Date.now()}`;
  const w = await spawnWorker(sb, tq);
  const statusWorkflowId = `bench-status-${Date.now()}`;
  await client.workflow
    .start('connectRemoteCluster', {
      taskQueue: tq,
      workflowId: statusWorkflowId,
      args: [connectInput(sb, 'status', { dryRun: true })],
    })
    .then((h) => h.result());
  for (let i = 0; i < 5; i++) status.push(await timeCommand(['status', statusWorkflowId]));
  await w.stop();
  await sb.stop();
  const res = {
    workerSpawnToPollingMs: median(spawnToPolling),
    helpMs: median(help),
    ...(status.length ? { statusMs: median(status) } : {}),
  };
  console.log(
    `cold start: worker ${res.workerSpawnToPollingMs.toFixed(0)} ms, --help ${res.helpMs.toFixed(0)} ms` +
      (status.length ? `, status ${median(status).toFixed(0)} ms` : ''),
  );
  return res;
}

async function memory(args: Args, client: Client) {
  const sb = await sandbox(150, 'api-key-private');
  const tq = `bench-waiting-${Date.now()}`;
  const w = await spawnWorker(sb, tq);
  const idle = procStatus(w.child.pid as number).rssMb;
  // Path B without credentials for the self-managed cluster: each run waits for the key from the other org (a human).
  const ids: string[] = [];
  for (let i = 0; i < args.waiting; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, args.waiting - i) }, async (_, j) => {
        const id = `bench-waiting-${i + j}-${Date.now()}`;
        ids.push(id);
        await client.workflow.start('connectRemoteCluster', {
          taskQueue: tq,
          workflowId: id,
          args: [connectInput(sb, `waiting-${i + j}`, {}, false)],
        });
      }),
    );
  }
  // Wait until every run waits for the human (sampled in batches).
  const deadline = Date.now() + 15 * 60_000;
  let waitingCount = 0;
  for (;;) {
    waitingCount = 0;
    for (let i = 0; i < ids.length; i += 50) {
      const statuses = await Promise.all(
        ids.slice(i, i + 50).map((id) =>
          client.workflow
            .getHandle(id)
            .query<{ waitingFor?: unknown }>('status')
            .catch(() => undefined),
        ),
      );
      waitingCount += statuses.filter((s) => s?.waitingFor).length;
    }
    if (waitingCount === ids.length || Date.now() > deadline) break;
    await sleep(2_000);
  }
  // RSS right after the last run settled, then every 5 s for `--settle-s` (default 150) with nothing happening (the
  // runs wait for people for hours): V8 gives memory back to the system only after the burst, when the heap is idle.
  const settling: number[] = [];
  for (let t = 0; t <= args.settleS; t += 5) {
    await sleep(t === 0 ? 3_000 : 5_000);
    settling.push(Math.round(procStatus(w.child.pid as number).rssMb));
  }
  const { rssMb, peakMb } = procStatus(w.child.pid as number);
  const cacheSize = /maxCachedWorkflows[^0-9]*(\d+)/.exec(w.stderr())?.[1];
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map((id) =>
        client.workflow
          .getHandle(id)
          .terminate('bench done')
          .catch(() => undefined),
      ),
    );
  }
  await w.stop();
  await sb.stop();
  const res = {
    runs: ids.length,
    waiting: waitingCount,
    idleRssMb: idle,
    rssMb,
    rssAfterSettledMb: settling[0],
    rssSettlingMb: settling,
    peakRssMb: peakMb,
    ...(cacheSize ? { maxCachedWorkflows: Number(cacheSize) } : {}),
  };
  console.log(
    `memory: ${waitingCount}/${ids.length} runs waiting for a human: worker RSS ${rssMb.toFixed(0)} MB ${args.settleS} s after they settled, ${settling[0]} MB right after (every 5 s: ${settling.join(', ')}; idle ${idle.toFixed(0)} MB, peak ${peakMb.toFixed(0)} MB)`,
  );
  return res;
}

async function inner(): Promise<number> {
  const args = parseArgs(process.argv);
  const client = await temporalClient();
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGb: +(os.totalmem() / 2 ** 30).toFixed(1),
      loadAverage: os.loadavg(),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    args: { ...args, only: [...args.only] },
  };
  let crit: Awaited<ReturnType<typeof critical>> | undefined;
  if (args.only.has('critical')) results.criticalPath = crit = await critical(args, client);
  if (args.only.has('concurrency')) results.concurrency = await concurrency(args, client);
  if (args.only.has('cold')) results.coldStart = await coldStart(client);
  if (args.only.has('memory')) results.memory = await memory(args, client);
  await client.connection.close();

  console.log('\n| measurement | value |\n| --- | --- |');
  const row = (k: string, v: string) => console.log(`| ${k} | ${v} |`);
  if (crit) {
    row(`critical path, direct calls (median of ${crit.rounds.length})`, `${crit.medianDirectMs.toFixed(0)} ms`);
    row('critical path, workflow (median)', `${crit.medianWorkflowMs.toFixed(0)} ms`);
    row('ratio workflow / direct (median of per-round ratios)', crit.medianRatio.toFixed(2));
    if (crit.compared) {
      row(
        `  the compared build (${crit.compared.build}): workflow, ratio (medians)`,
        `${crit.compared.medianWorkflowMs.toFixed(0)} ms, ${crit.compared.medianRatio.toFixed(2)}`,
      );
    }
    row(
      '  the same without the remote-cluster settings write (median)',
      crit.medianRatioWithoutSettingsWrite.toFixed(2),
    );
    for (const [type, ms] of Object.entries(crit.activityMediansMs).sort((x, y) => y[1] - x[1])) {
      row(`  activity ${type} (median, summed per run)`, `${ms.toFixed(0)} ms`);
    }
  }
  for (const c of (results.concurrency as Awaited<ReturnType<typeof concurrency>> | undefined) ?? []) {
    row(
      `${c.n} concurrent connects, one deployment`,
      `${(c.wallMs / 1000).toFixed(1)} s, ${c.completed}/${c.n} completed, ${c.plans} plans, peak RSS ${c.peakRssMb.toFixed(0)} MB`,
    );
  }
  const cold = results.coldStart as Awaited<ReturnType<typeof coldStart>> | undefined;
  if (cold) {
    row('worker spawn → polling (median of 5)', `${cold.workerSpawnToPollingMs.toFixed(0)} ms`);
    row('ech-remote --help (median of 5)', `${cold.helpMs.toFixed(0)} ms`);
    if (cold.statusMs !== undefined) row('ech-remote status (median of 5)', `${cold.statusMs.toFixed(0)} ms`);
  }
  const mem = results.memory as Awaited<ReturnType<typeof memory>> | undefined;
  if (mem) {
    row(
      `worker RSS with ${mem.waiting} runs waiting for a human, ${args.settleS} s after they settled`,
      `${mem.rssMb.toFixed(0)} MB`,
    );
    row(`  the same right after they settled (peak)`, `${mem.rssAfterSettledMb} MB (${mem.peakRssMb.toFixed(0)} MB)`);
  }
  fs.writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwritten: ${args.out}`);
  return 0;
}

(process.argv.includes('--inner') ? inner() : outer()).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
