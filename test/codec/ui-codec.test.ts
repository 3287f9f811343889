/**
 * The Temporal Web UI (of `temporal server start-dev --ui-codec-endpoint`, as `ech-remote dev` runs it) shows
 * decrypted values in a real browser (Debian Chromium driven by playwright-core): the page calls the codec server
 * cross-origin, authenticated by the token in the endpoint path, allowed by CORS for the UI's origin only.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { chromium, type BrowserContext } from 'playwright-core';
import { AesGcmPayloadCodec, loadDataConverter, loadEncryptionKeys } from '../../src/codec';
import { startCodecServer, type CodecServer } from '../../src/codec/server';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

let codecServer: CodecServer;
let temporalServer: ChildProcess;
let browser: BrowserContext;
let profile: string;
let port: number;
let uiPort: number;
const requests: { origin?: string; path: string; status: number }[] = [];

before(async () => {
  [port, uiPort] = [await freePort(), await freePort()];
  codecServer = await startCodecServer({
    codec: new AesGcmPayloadCodec(loadEncryptionKeys()!),
    token: randomBytes(24).toString('hex'),
    corsOrigins: [`http://127.0.0.1:${uiPort}`],
  });
  temporalServer = spawn(
    process.env.TEMPORAL_CLI_PATH!,
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--ui-codec-endpoint',
      codecServer.browserUrl,
      '--log-level',
      'error',
    ],
    { stdio: 'ignore' },
  );
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  browser.setDefaultTimeout(20_000);
});

after(async () => {
  await browser?.close();
  temporalServer?.kill('SIGTERM');
  await codecServer?.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

it('the workflow page shows the decrypted input', async () => {
  const deadline = Date.now() + 30_000;
  let connection: Connection | undefined;
  while (!connection) {
    connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 }).catch(
      () => undefined,
    );
    if (!connection && Date.now() > deadline) assert.fail('the Temporal dev server did not start');
  }
  const client = new Client({ connection, dataConverter: loadDataConverter() });
  const marker = `ui-decoded-${Date.now()}`;
  const handle = await client.workflow.start('connectRemoteCluster', {
    taskQueue: 'nobody',
    workflowId: marker,
    args: [{ alias: marker }],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.on('response', (res) => {
    if (res.url().startsWith(codecServer.url))
      requests.push({
        origin: res.request().headers().origin,
        path: new URL(res.url()).pathname.replace(/^\/[^/]+/, '/<token>'),
        status: res.status(),
      });
  });
  await page.goto(
    `http://127.0.0.1:${uiPort}/namespaces/default/workflows/${marker}/${handle.firstExecutionRunId}/history`,
  );
  await page.waitForTimeout(5000);
  await page.screenshot({ path: '/tmp/secrets-ui.png', fullPage: true });
  fs.writeFileSync('/tmp/secrets-ui.txt', await page.locator('body').innerText());
  page.on('console', (m) => console.log('console', m.text()));
  assert.ok(
    requests.some((r) => r.path === '/<token>/decode' && r.status === 200),
    JSON.stringify(requests),
  );
  await handle.terminate();
  await connection.close();
});
