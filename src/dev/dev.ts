/**
 * `ech-remote dev` / `npm run dev`: the embedded default. A Temporal dev server with its Web UI (custom search
 * attributes registered), the sandbox on fixed loopback ports (so examples/ requests work as committed) with one
 * self-managed cluster per path (every sample in examples/dev/ works at once), and a worker; writes dev.env (what a
 * shell or `npm run ech` needs to reach it), then prints the UI, a Start Workflow link per sample and CLI commands
 * that work as printed after `source dev.env`. Ctrl-C stops everything.
 *
 * Payloads are encrypted as in production: a local key made on first run in DEV_HOME (outside the repository, mode
 * 0600) unless ECH_REMOTE_ENCRYPTION_KEYS(_FILE) is set, and a codec server the dev server's Web UI is pointed at, so
 * the UI shows decrypted values.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connectWorkflowId } from '../client';
import {
  AesGcmPayloadCodec,
  createPrivateFileOnce,
  ENCRYPTION_KEYS_FILE_ENV,
  loadEncryptionKeys,
  loadOrCreateKeyFile,
} from '../codec';
import { startCodecServer } from '../codec/server';
import { DAY2_COMMAND_NAMES } from '../cli/commands';
import { day2WorkflowId } from '../contract/lifecycle';
import { SEARCH_ATTRIBUTES } from '../contract/searchAttributes';
import { DEFAULT_TASK_QUEUE } from '../contract/steps';
import { EXTRA_REMOTES, PRIMARY_ALIAS, start, type RequestName, type SandboxInfo, type ScenarioName } from '../sandbox';
import { loadOrCreatePublicRoot } from '../sandbox/pki';
import { installTelemetry } from '../telemetry';
import { createWorker } from '../worker';
import { DEV_ENV_FILE, writeDevEnv } from './devEnv';
import { ensureTemporalCli } from './temporalCli';

export const DEV_HOME = path.join(
  process.env.ECH_REMOTE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'ech-remote-clusters'),
  'dev',
);

/**
 * Fixed sandbox ports of the dev environment; examples/*.json use them. The scenario's self-managed cluster
 * (`onprem-logs`) is `selfManaged`/`remoteClusterServer`/`transport`; `remotes` are the clusters of the other paths.
 * (ECH itself listens on `ech`, `ech`+1000 and `ech`+2000.)
 */
export const DEV_PORTS = {
  cloud: 19243,
  ech: 19200,
  selfManaged: 19201,
  remoteClusterServer: 19443,
  transport: 19300,
  remotes: {
    'onprem-metrics': { http: 19202, remoteClusterServer: 19444, transport: 19301 },
    'onprem-legacy': { http: 19203, remoteClusterServer: 19445, transport: 19302 },
  },
};
export const DEV_DEPLOYMENT_ID = '0123456789abcdef0123456789abcdef';
/** The dev codec server's port with fixed sandbox ports (the contract's default ECH_REMOTE_CODEC_LISTEN port). */
export const DEV_CODEC_PORT = 8888;

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

/**
 * A run id no run has. The UI's start form, given a workflow id or type, fills summary, details, input and search
 * attributes from the latest run matching `RunId AND WorkflowType AND WorkflowId` of its query parameters (UI 2.44+,
 * temporalio/ui src/lib/services/workflow-service.ts fetchInitialValuesForStartWorkflow); with this run id it finds
 * none, so an earlier run of the same connection (e.g. `Phase=completed`) never leaks into a new start.
 */
export const NO_RUN_ID = '00000000-0000-0000-0000-000000000000';

export function startWorkflowLink(uiPort: number, workflowId: string, workflowType = 'connectRemoteCluster'): string {
  const q = new URLSearchParams({
    workflowId,
    taskQueue: DEFAULT_TASK_QUEUE,
    workflowType,
    runId: NO_RUN_ID,
  });
  return `http://127.0.0.1:${uiPort}/namespaces/default/workflows/start-workflow?${q.toString()}`;
}

/** What each sample request of examples/dev/ connects to, for the banner. */
const SAMPLE_SETUPS: Record<RequestName, string> = {
  'api-key-public': 'API key; remote cluster server, publicly trusted certificate',
  'api-key-private': 'API key; remote cluster server, private CA',
  'tls-certificate': 'TLS certificate model; transport port',
};

/** A value as one shell word. */
function sh(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/** Ready requests in examples/dev/ (one per path), and the current scenario's in examples/dev/scenario/. */
function writeSamples(dir: string, info: SandboxInfo): void {
  fs.mkdirSync(path.join(dir, 'scenario'), { recursive: true });
  for (const [name, req] of Object.entries(info.requests)) {
    // Day 2 (rotate, updateAccess, disconnect, audit, migrate) as rotate.json, update-access.json, … migrate.json;
    // the fleet as fleet.json.
    const file = ['rotate', 'updateAccess', 'disconnect', 'audit', 'migrate', 'fleet'].includes(name)
      ? `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.json`
      : `connect-${name}.json`;
    fs.writeFileSync(path.join(dir, file), JSON.stringify(req, null, 2) + '\n');
  }
  // Not beside the samples: after a switch to a failure scenario it is meant to fail.
  fs.writeFileSync(
    path.join(dir, 'scenario', `connect-${info.scenario}.json`),
    JSON.stringify(info.scenarioRequest, null, 2) + '\n',
  );
}

export async function runDev(opts: {
  scenario: string;
  port: number;
  uiPort: number;
  /** `fixed` (default): DEV_PORTS, which the committed examples use; `random`: free ports, for parallel runs. */
  sandboxPorts?: 'fixed' | 'random';
}): Promise<void> {
  fs.mkdirSync(DEV_HOME, { recursive: true });
  const root = await loadOrCreatePublicRoot(DEV_HOME);
  // A worker trusts public CAs through the process trust store; the sandbox's public root joins it the same way.
  if (process.env.NODE_EXTRA_CA_CERTS !== root.certFile) {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: root.certFile },
    });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
    await new Promise<void>((resolve) => child.on('exit', (code) => ((process.exitCode = code ?? 0), resolve())));
    return;
  }

  // A key made once and kept (histories of earlier dev runs stay readable), unless the user brought their own.
  if (!loadEncryptionKeys()) process.env[ENCRYPTION_KEYS_FILE_ENV] = loadOrCreateKeyFile(DEV_HOME);
  const keys = loadEncryptionKeys()!;
  const tokenFile = loadOrCreateCodecToken(DEV_HOME);
  const codecServer = await startCodecServer({
    codec: new AesGcmPayloadCodec(keys, { plaintext: 'allow' }),
    token: fs.readFileSync(tokenFile, 'utf8').trim(),
    corsOrigins: [`http://127.0.0.1:${opts.uiPort}`, `http://localhost:${opts.uiPort}`],
    port: opts.sandboxPorts === 'random' ? 0 : DEV_CODEC_PORT,
  });

  const temporal = ensureTemporalCli();
  const server: ChildProcess = spawn(
    temporal,
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(opts.port),
      '--ui-port',
      String(opts.uiPort),
      '--db-filename',
      path.join(DEV_HOME, 'temporal.db'),
      '--log-level',
      'error',
      // The browser calls the codec server with the token in the endpoint path (see src/codec/server.ts).
      '--ui-codec-endpoint',
      codecServer.browserUrl,
      ...SEARCH_ATTRIBUTES.flatMap((sa) => ['--search-attribute', `${sa.name}=Keyword`]),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const stopServer = () => server.kill('SIGTERM');
  process.once('exit', stopServer);
  await waitForPort(opts.port, 30_000);

  // Ready requests for this sandbox (its private CA is made anew at each start), in examples/dev/ of the working
  // directory like sandbox.json (from the repository root: beside the committed examples), so runs never share them.
  const examples = path.resolve('examples', 'dev');
  const sandbox = await start({
    scenario: opts.scenario as ScenarioName,
    estate: 'every-path',
    publicRoot: root,
    ...(opts.sandboxPorts === 'random' ? {} : { ports: DEV_PORTS }),
    deploymentId: DEV_DEPLOYMENT_ID,
    outFile: path.resolve('sandbox.json'),
    onInfo: (info) => writeSamples(examples, info),
  });
  // The worker resolves the request's secret names from its environment, as in production.
  for (const [k, v] of Object.entries(sandbox.info.env)) if (k !== 'NODE_EXTRA_CA_CERTS') process.env[k] = String(v);
  process.env.TEMPORAL_ADDRESS = `127.0.0.1:${opts.port}`;

  installTelemetry(); // the worker's logs as `ech-remote worker` writes them (src/log.ts), before its connection
  const worker = await createWorker();
  const running = worker.run();

  const address = `127.0.0.1:${opts.port}`;
  const uiUrl = `http://127.0.0.1:${opts.uiPort}`;
  // Everything a new shell (`source dev.env`) or `npm run ech` needs to use this environment.
  const devEnvFile = writeDevEnv(
    process.cwd(),
    {
      path: [path.dirname(temporal), path.resolve(__dirname, '..', '..', 'bin')],
      vars: {
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: 'default',
        // Read by `temporal` (--codec-endpoint/--codec-auth) so that every payload it shows or sends is decrypted or
        // encrypted like the worker's; the printed commands still name them, to work without this file too.
        TEMPORAL_CODEC_ENDPOINT: codecServer.url,
        TEMPORAL_CODEC_AUTH: `Bearer ${fs.readFileSync(tokenFile, 'utf8').trim()}`,
        [ENCRYPTION_KEYS_FILE_ENV]: process.env[ENCRYPTION_KEYS_FILE_ENV] ?? '',
        ECH_REMOTE_UI_URL: uiUrl,
        ECH_REMOTE_SANDBOX_CONTROL: sandbox.info.control,
        ECH_REMOTE_SANDBOX_API_KEY: sandbox.info.cloud.apiKey,
        ECH_REMOTE_SANDBOX_CA: sandbox.info.files.publicRootPem,
      },
    },
    [
      `Written by \`ech-remote dev\` (npm run dev) for the environment it runs: Temporal ${address}, Web UI ${uiUrl}.`,
      '`source dev.env` puts ech-remote and temporal on PATH and points them at it; `npm run ech -- …` reads it itself.',
      'Holds the dev codec token: keep it to yourself (mode 0600, gitignored).',
    ],
  );
  // The ids `ech-remote connect` derives for the sample requests, so both ways of starting meet the same run.
  const idOf = (alias: string) =>
    connectWorkflowId({ alias, local: { deploymentId: sandbox.info.cloud.deploymentId } });
  const rel = (f: string) => path.relative(process.cwd(), f) || '.';
  const samples = (Object.keys(SAMPLE_SETUPS) as RequestName[]).map((name) => {
    const alias = sandbox.info.requests[name].alias;
    const remote = sandbox.info.remotes[alias]!;
    const listener = name === 'tls-certificate' ? remote.transport : remote.remoteClusterServer;
    return { name, alias, listener, file: rel(path.join(examples, `connect-${name}.json`)), id: idOf(alias) };
  });
  // Day 2 of a sample once connected: the id `ech-remote rotate|update-access|…` derives for examples/dev/<name>.json.
  const day2 = DAY2_COMMAND_NAMES.map((cmd) => {
    const key = cmd.name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof SandboxInfo['requests'];
    const r = sandbox.info.requests[key] as { alias: string; local: { deploymentId: string } };
    return { ...cmd, file: rel(path.join(examples, `${cmd.name}.json`)), id: day2WorkflowId(cmd.kind, r) };
  });
  const first = samples[0]!;
  const pad = Math.max(...samples.map((s) => s.alias.length));
  const codecFlags = `--codec-endpoint ${codecServer.url} --codec-auth "Bearer $(cat ${sh(tokenFile)})"`;
  console.log(
    [
      '',
      'ech-remote dev is running:',
      `  Temporal Web UI     ${uiUrl}`,
      `  Temporal frontend   ${address}   (task queue "${DEFAULT_TASK_QUEUE}")`,
      `  Sandbox             ${sandbox.info.cloud.endpoint} (scenario ${opts.scenario}; details in sandbox.json; control API and scenarios: docs/sandbox.md)`,
      `  Codec server        ${codecServer.url}   (payloads encrypted with key "${keys.current.id}"; the UI decrypts through it)`,
      '',
      'Self-managed clusters, one per sample request (all work at once):',
      ...samples.map(
        (s) => `  ${s.alias.padEnd(pad)}  ${s.listener.padEnd(15)}  ${SAMPLE_SETUPS[s.name]}  →  ${s.file}`,
      ),
      '',
      'Start a connection in the UI: open the link of a sample, paste the sample as the input, Start Workflow:',
      ...samples.map((s) => `  ${s.alias.padEnd(pad)}  ${startWorkflowLink(opts.uiPort, s.id)}`),
      'Day 2 in the UI, once its sample is connected (paste the file as the input):',
      ...day2.map(
        (d) => `  ${d.name.padEnd(13)}  ${d.file.padEnd(28)}  ${startWorkflowLink(opts.uiPort, d.id, d.workflowType)}`,
      ),
      '',
      `Sample requests for this sandbox: ${rel(examples)}/connect-{${samples.map((s) => s.name).join(',')}}.json`,
      '',
      `By CLI, in a new shell (${rel(devEnvFile)} puts ech-remote and temporal on PATH and points them here):`,
      `  cd ${sh(process.cwd())} && source ${DEV_ENV_FILE}`,
      `  ech-remote connect --request ${first.file} --approve --as you@example.com --wait`,
      `  ech-remote status ${first.id}`,
      `  temporal workflow list --address ${address}`,
      'Read a run with the temporal CLI, decrypted:',
      `  temporal workflow show --workflow-id ${first.id} --address ${address} ${codecFlags}`,
      `Or, without sourcing anything, from ${sh(process.cwd())}: npm run ech -- status ${first.id}`,
      `The scenario's cluster is ${PRIMARY_ALIAS}; ${EXTRA_REMOTES.map((r) => r.alias).join(' and ')} keep their set-up when you switch scenario (docs/sandbox.md).`,
      'Stop with Ctrl-C.',
    ].join('\n'),
  );
  const shutdown = () => worker.shutdown();
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  await running;
  await sandbox.stop();
  await codecServer.close();
  stopServer();
}

/** The dev codec server's token: made once (mode 0600), so the UI's configured endpoint stays valid across runs. */
export function loadOrCreateCodecToken(dir: string): string {
  return createPrivateFileOnce(path.join(dir, 'codec-token'), () => randomBytes(24).toString('hex'));
}
