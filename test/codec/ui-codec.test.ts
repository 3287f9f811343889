/**
 * The Temporal Web UI (of `temporal server start-dev --ui-codec-endpoint`, as `ech-remote dev` runs it) shows
 * decrypted values in a real browser (Debian Chromium driven by playwright-core): the page calls the codec server
 * cross-origin, authenticated by the token in the endpoint path, allowed by CORS for the UI's origin only; and what
 * a person types into the signal dialog (the remote org handing over its key) is encrypted before it is stored.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { AesGcmPayloadCodec, loadDataConverter, loadEncryptionKeys } from '../../src/codec';
import { startCodecServer, type CodecServer } from '../../src/codec/server';
import { SEARCH_ATTRIBUTES } from '../../src/contract/searchAttributes';
import example from '../../examples/connect-api-key-public.json';
import { launchChromium, type Browser } from '../helpers/browser';
import { freePorts } from '../helpers/cli';
import { startWorker } from '../helpers/temporal';

let codecServer: CodecServer;
let temporalServer: ChildProcess;
let browser: Browser;
let port: number;
let uiPort: number;
const requests: { origin?: string; path: string; status: number }[] = [];

before(async () => {
  [port, uiPort] = (await freePorts(2)) as [number, number];
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
      ...SEARCH_ATTRIBUTES.flatMap((sa) => ['--search-attribute', `${sa.name}=Keyword`]),
    ],
    { stdio: 'ignore' },
  );
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  temporalServer?.kill('SIGTERM');
  await codecServer?.close();
});

async function connectToDevServer(): Promise<Connection> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 }).catch(
      () => undefined,
    );
    if (connection) return connection;
    if (Date.now() > deadline) assert.fail('the Temporal dev server did not start');
  }
}

it('the workflow page shows decrypted values, and a key handed over in the UI is stored encrypted', async () => {
  const connection = await connectToDevServer();
  const client = new Client({ connection, dataConverter: loadDataConverter() });
  // A run that waits in its first activity, so its signal handlers are registered and the UI can list them.
  const worker = await startWorker({
    address: `127.0.0.1:${port}`,
    shutdownGraceTime: '100ms',
    activities: {
      checkSecrets: async () => ({ checked: 0 }),
      describeDeployment: () => Context.current().sleep(60_000) as Promise<never>,
    },
  });
  const workflowId = `ui-decoded-${Date.now()}`;
  const proxyAddress = `${workflowId}.example:9443`;
  const handle = await client.workflow.start('connectRemoteCluster', {
    taskQueue: worker.taskQueue,
    workflowId,
    args: [{ ...example, remote: { ...example.remote, proxyAddress } }],
  });
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('response', (res) => {
      if (!res.url().startsWith(codecServer.url)) return;
      void res
        .request()
        .allHeaders()
        .then((headers) =>
          requests.push({
            origin: headers.origin,
            path: new URL(res.url()).pathname.replace(/^\/[^/]+/, '/<token>'),
            status: res.status(),
          }),
        );
    });
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${workflowId}`);
    // The input card shows the decrypted request (the proxy address appears nowhere else).
    await page.getByText(proxyAddress).first().waitFor();
    const origin = `http://127.0.0.1:${uiPort}`;
    assert.ok(
      requests.some((r) => r.path === '/<token>/decode' && r.status === 200 && r.origin === origin),
      `the page decoded through the codec server, cross-origin: ${JSON.stringify(requests)}`,
    );

    // The remote org hands the key over in the UI: the UI encrypts the signal's input through the codec server.
    const encoded = Buffer.from(`${workflowId}:handed-over-in-the-ui`).toString('base64');
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
    await dialog.getByTestId('signal-select-button').click();
    await dialog.getByRole('option', { name: /^provideCrossClusterApiKey/ }).click();
    await dialog.getByRole('textbox', { name: 'Data' }).fill(JSON.stringify({ encoded }));
    await dialog.getByRole('textbox', { name: 'Data' }).blur(); // the editor commits its text on blur
    await dialog.getByRole('button', { name: 'Submit' }).click();

    await dialog.waitFor({ state: 'hidden' });
    assert.ok(
      requests.some((r) => r.path === '/<token>/encode' && r.status === 200),
      JSON.stringify(requests),
    );
    const events = (await handle.fetchHistory()).events ?? [];
    const signal = events.find(
      (e) => e.workflowExecutionSignaledEventAttributes,
    )!.workflowExecutionSignaledEventAttributes!;
    assert.equal(signal.signalName, 'provideCrossClusterApiKey');
    const stored = signal.input!.payloads![0]!;
    assert.equal(Buffer.from(stored.metadata!.encoding!).toString(), 'binary/encrypted');
    assert.ok(!Buffer.from(stored.data!).toString('latin1').includes(encoded));
    const [decoded] = await loadDataConverter().payloadCodecs![0]!.decode([stored]);
    assert.deepEqual(JSON.parse(Buffer.from(decoded!.data!).toString()), { encoded });
  } finally {
    await handle.terminate();
    await worker.stop();
    await connection.close();
  }
});
