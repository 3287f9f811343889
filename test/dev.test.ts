/**
 * The README's first command: `ech-remote dev` brings up a Temporal dev server with its Web UI, the sandbox and a
 * worker, prints a Start Workflow link, and a connection started against it with a printed sample request completes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { connectStartOptions } from '../src/client';
import { loadDataConverter } from '../src/codec';
import type { ConnectResult, ConnectStatus } from '../src/contract/status';

const root = path.resolve(__dirname, '..');
let dev: ChildProcess;
let output = '';
const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-dev-'));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

let port: number;
let uiPort: number;

before(async () => {
  port = await freePort();
  uiPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, ECH_REMOTE_CACHE_DIR: cwd };
  delete env.NODE_EXTRA_CA_CERTS; // dev sets up its own trust, as on a fresh machine
  delete env.TEMPORAL_ADDRESS;
  delete env.ECH_REMOTE_ENCRYPTION_KEYS; // dev makes its own key, as on a fresh machine
  dev = spawn(
    process.execPath,
    [
      path.join(root, 'bin/ech-remote.js'),
      'dev',
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--sandbox-ports',
      'random',
    ],
    {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  dev.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  dev.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 90_000;
  while (!output.includes('Stop with Ctrl-C')) {
    if (dev.exitCode !== null || Date.now() > deadline) assert.fail(`dev did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(async () => {
  if (dev.pid) process.kill(-dev.pid, 'SIGINT');
  await new Promise((r) => setTimeout(r, 1500));
  if (dev.pid && dev.exitCode === null) process.kill(-dev.pid, 'SIGKILL');
});

it('prints the UI and a prefilled Start Workflow link that the UI serves', async () => {
  const link = /(http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/start-workflow\?\S+)/.exec(output)?.[1];
  assert.ok(link, output);
  const url = new URL(link);
  assert.equal(url.port, String(uiPort));
  assert.equal(url.searchParams.get('workflowType'), 'connectRemoteCluster');
  assert.equal(url.searchParams.get('taskQueue'), 'ech-remote-clusters');
  const page = await fetch(link);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  assert.ok(fs.existsSync(path.join(cwd, 'sandbox.json')));
});

it('a connection started with the printed sample request completes after approval', async () => {
  const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  try {
    const client = new Client({ connection, dataConverter: devDataConverter() });
    const request = JSON.parse(fs.readFileSync(path.join(root, 'examples/dev/connect-api-key-public.json'), 'utf8'));
    const handle = await client.workflow.start('connectRemoteCluster', connectStartOptions(request));
    const description = await handle.describe();
    assert.equal(description.workflowId, `connect-${request.local.deploymentId}-${request.alias}`);
    assert.match((await description.staticSummary()) ?? '', /Connect ECH .* as "onprem-logs" \(api-key\)/);
    assert.match(
      (await description.staticDetails()) ?? '',
      request.remote.elasticsearch ? /key:\*\* created by this tool/ : /key:\*\* handed over by the self-managed org/,
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await handle.query<ConnectStatus>('status');
      if (status.waitingFor?.step === 'approve-local-changes') break;
      assert.ok(!['failed', 'completed'].includes(status.phase), JSON.stringify(status.error));
      assert.ok(Date.now() < deadline, 'never asked for approval');
      await new Promise((r) => setTimeout(r, 200));
    }
    await handle.signal('approve', { step: 'approve-local-changes', approver: 'dev@example.com' });
    const result = (await handle.result()) as ConnectResult;
    assert.equal(result.connected, true);
    assert.ok((result.evidence.searchHits ?? 0) > 0);
  } finally {
    await connection.close();
  }
});

/** A client of the dev environment uses the key dev made in its home (ECH_REMOTE_CACHE_DIR/dev). */
function devDataConverter() {
  return loadDataConverter({ env: { ECH_REMOTE_ENCRYPTION_KEYS_FILE: path.join(cwd, 'dev', 'encryption-keys') } });
}

it('payloads are encrypted with a private key dev made outside the repo; the printed CLI command decrypts them', async () => {
  const keyFile = path.join(cwd, 'dev', 'encryption-keys');
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  assert.match(output, /Codec server\s+http:\/\/127\.0\.0\.1:\d+/);
  const printed = /^\s*(temporal workflow show .*--codec-auth .*)$/m.exec(output)?.[1];
  assert.ok(printed, output);
  const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  try {
    const client = new Client({ connection, dataConverter: devDataConverter() });
    const workflowId = `dev-codec-${Date.now()}`;
    await client.workflow.start('connectRemoteCluster', {
      taskQueue: 'nobody',
      workflowId,
      args: [{ alias: workflowId }],
    });
    const command = printed
      .replace(/^temporal /, `'${process.env.TEMPORAL_CLI_PATH}' `)
      .replace(/--workflow-id \S+/, `--workflow-id ${workflowId} --output json`);
    const show = (cmd: string) => JSON.parse(execFileSync('bash', ['-c', cmd], { encoding: 'utf8' }));
    const input = (history: any) => history.events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
    const decoded = input(show(command));
    assert.deepEqual(JSON.parse(Buffer.from(decoded.data, 'base64').toString()), { alias: workflowId });
    const raw = input(show(command.replace(/--codec-endpoint .*$/, '')));
    assert.equal(Buffer.from(raw.metadata.encoding, 'base64').toString(), 'binary/encrypted');
    await client.workflow.getHandle(workflowId).terminate();
  } finally {
    await connection.close();
  }
});
