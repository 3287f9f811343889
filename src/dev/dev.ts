/**
 * `ech-remote dev` / `npm run dev`: the embedded default. A Temporal dev server with its Web UI (custom search
 * attributes registered), the sandbox on fixed loopback ports (so examples/ requests work as committed), and a worker;
 * then prints the UI and a prefilled Start Workflow link. Ctrl-C stops everything.
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
import { SEARCH_ATTRIBUTES } from '../contract/searchAttributes';
import { DEFAULT_TASK_QUEUE } from '../contract/steps';
import { start, type ScenarioName } from '../sandbox';
import { loadOrCreatePublicRoot } from '../sandbox/pki';
import { installTelemetry } from '../telemetry';
import { createWorker } from '../worker';
import { ensureTemporalCli } from './temporalCli';

export const DEV_HOME = path.join(
  process.env.ECH_REMOTE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'ech-remote-clusters'),
  'dev',
);

/** Fixed sandbox ports of the dev environment; examples/*.json use them. */
export const DEV_PORTS = { cloud: 19243, ech: 19200, selfManaged: 19201, remoteClusterServer: 19443, transport: 19300 };
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

export function startWorkflowLink(uiPort: number, workflowId: string): string {
  const q = new URLSearchParams({ workflowId, taskQueue: DEFAULT_TASK_QUEUE, workflowType: 'connectRemoteCluster' });
  return `http://127.0.0.1:${uiPort}/namespaces/default/workflows/start-workflow?${q.toString()}`;
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

  const sandbox = await start({
    scenario: opts.scenario as ScenarioName,
    publicRoot: root,
    ...(opts.sandboxPorts === 'random' ? {} : { ports: DEV_PORTS }),
    deploymentId: DEV_DEPLOYMENT_ID,
    outFile: path.resolve('sandbox.json'),
  });
  // The worker resolves the request's secret names from its environment, as in production.
  for (const [k, v] of Object.entries(sandbox.info.env)) if (k !== 'NODE_EXTRA_CA_CERTS') process.env[k] = String(v);
  process.env.TEMPORAL_ADDRESS = `127.0.0.1:${opts.port}`;

  installTelemetry(); // the worker's logs as `ech-remote worker` writes them (src/log.ts), before its connection
  const worker = await createWorker();
  const running = worker.run();
  // Ready requests for this sandbox (its private CA is made anew at each start), in examples/dev/ of the working
  // directory like sandbox.json (from the repository root: beside the committed examples), so runs never share them.
  const examples = path.resolve('examples', 'dev');
  fs.mkdirSync(examples, { recursive: true });
  for (const [name, req] of Object.entries(sandbox.info.requests)) {
    // Day 2 (rotate, updateAccess, disconnect) as rotate.json, update-access.json, disconnect.json.
    const file = ['rotate', 'updateAccess', 'disconnect'].includes(name)
      ? `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.json`
      : `connect-${name}.json`;
    fs.writeFileSync(path.join(examples, file), JSON.stringify(req, null, 2) + '\n');
  }
  // The id `ech-remote connect` derives for the sample requests, so both ways of starting meet the same run.
  const sampleWorkflowId = connectWorkflowId({ alias: 'onprem-logs', local: { deploymentId: DEV_DEPLOYMENT_ID } });
  console.log(
    [
      '',
      'ech-remote dev is running:',
      `  Temporal Web UI     http://127.0.0.1:${opts.uiPort}`,
      `  Temporal frontend   127.0.0.1:${opts.port}   (task queue "${DEFAULT_TASK_QUEUE}")`,
      `  Sandbox             ${sandbox.info.cloud.endpoint} (scenario ${opts.scenario}; details in sandbox.json)`,
      `  Codec server        ${codecServer.url}   (payloads encrypted with key "${keys.current.id}"; the UI decrypts through it)`,
      '',
      'Start a connection in the UI: open this link, paste a request from examples/dev/ as the input, Start:',
      `  ${startWorkflowLink(opts.uiPort, sampleWorkflowId)}`,
      '',
      `Sample requests for this sandbox: ${path.relative(process.cwd(), examples)}/connect-{api-key-public,api-key-private,tls-certificate}.json`,
      'Read a run with the temporal CLI, decrypted:',
      `  temporal workflow show --workflow-id ${sampleWorkflowId} --address 127.0.0.1:${opts.port} --codec-endpoint ${codecServer.url} --codec-auth "Bearer $(cat ${tokenFile})"`,
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
