/**
 * The README's first command: `ech-remote dev` brings up a Temporal dev server with its Web UI, the sandbox and a
 * worker, prints a Start Workflow link, and a connection started against it with a printed sample request completes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, before, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { connectStartOptions } from '../src/client';
import { loadDataConverter } from '../src/codec';
import type { ConnectResult, ConnectStatus } from '../src/contract/status';
import { startDev, type DevEnvironment } from './helpers/dev';

let dev: DevEnvironment;

before(async () => {
  dev = await startDev();
});

after(async () => {
  await dev?.stop();
});

it('prints the UI and a prefilled Start Workflow link that the UI serves', async () => {
  const link = dev.startWorkflowLink();
  const url = new URL(link);
  assert.equal(url.port, String(dev.uiPort));
  assert.equal(url.searchParams.get('workflowType'), 'connectRemoteCluster');
  assert.equal(url.searchParams.get('taskQueue'), 'ech-remote-clusters');
  const page = await fetch(link);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  assert.ok(fs.existsSync(path.join(dev.cwd, 'sandbox.json')));
  assert.match(dev.output(), /Sample requests for this sandbox: examples\/dev\/connect-/);
});

it('a connection started with the printed sample request completes after approval', async () => {
  const connection = await Connection.connect({ address: `127.0.0.1:${dev.port}` });
  try {
    const client = new Client({ connection, dataConverter: devDataConverter() });
    const request = dev.sampleRequest('api-key-public');
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
  return loadDataConverter({ env: { ECH_REMOTE_ENCRYPTION_KEYS_FILE: path.join(dev.cwd, 'dev', 'encryption-keys') } });
}

it('payloads are encrypted with a private key dev made outside the repo; the printed CLI command decrypts them', async () => {
  const keyFile = path.join(dev.cwd, 'dev', 'encryption-keys');
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  assert.match(dev.output(), /Codec server\s+http:\/\/127\.0\.0\.1:\d+/);
  const printed = /^\s*(temporal workflow show .*--codec-auth .*)$/m.exec(dev.output())?.[1];
  assert.ok(printed, dev.output());
  const connection = await Connection.connect({ address: `127.0.0.1:${dev.port}` });
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
