/**
 * The README's first command: `ech-remote dev` brings up a Temporal dev server with its Web UI, the sandbox and a
 * worker, prints a Start Workflow link, and a connection started against it with a printed sample request completes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { connectStartOptions } from '../src/client';
import type { ConnectResult, ConnectStatus } from '../src/contract/status';
import { freePort } from './helpers/cli';

const root = path.resolve(__dirname, '..');
let dev: ChildProcess;
let output = '';
const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-dev-'));

let port: number;
let uiPort: number;

before(async () => {
  port = await freePort();
  uiPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, ECH_REMOTE_CACHE_DIR: cwd };
  delete env.NODE_EXTRA_CA_CERTS; // dev sets up its own trust, as on a fresh machine
  delete env.TEMPORAL_ADDRESS;
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
    const client = new Client({ connection });
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
