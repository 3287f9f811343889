/**
 * The self-managed org hands over its transport CA from a file with `ech-remote provide-ca` (TLS-certificate model):
 * a private key or a non-certificate is refused before anything is sent; the CA moves the run on to `remote-trust`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { createActivities } from '../../src/activities';
import type { ConnectRequestInput } from '../../src/contract/request';
import { runCli, statusWhenWaiting } from '../helpers/cli';
import { Estate } from '../helpers/estate';
import { startWorker, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let worker: RunningWorker;
let env: NodeJS.ProcessEnv;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-cli-ca-'));

before(async () => {
  estate = await Estate.start('tls-certificate');
  worker = await startWorker({ activities: createActivities() });
  env = { ECH_REMOTE_TASK_QUEUE: worker.taskQueue };
});
after(async () => {
  await worker?.stop();
  await estate?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

it('provide-ca: refuses a key or a non-certificate (exit 2, nothing sent), hands over the CA file', async () => {
  const req = structuredClone(estate.info.requests['tls-certificate']) as ConnectRequestInput & Record<string, unknown>;
  req.remote = { ...req.remote, ca: { kind: 'public' } }; // the CA is not known yet: the run asks for it
  const started = await runCli(['connect', '--request', write('request.json', JSON.stringify(req)), '--json'], env);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  const { workflowId } = JSON.parse(started.stdout);
  await statusWhenWaiting(workflowId, 'remote-ca-certificate', env);

  const ca = estate.info.ca.selfManagedTransport;
  const withKey = write('with-key.pem', `${ca}\n-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n`);
  const refusedKey = await runCli(['provide-ca', workflowId, '--file', withKey, '--json'], env);
  assert.equal(refusedKey.code, 2, refusedKey.stdout + refusedKey.stderr);
  assert.match(JSON.parse(refusedKey.stdout).error.message, /private key/);
  const refusedText = await runCli(['provide-ca', workflowId, '--file', write('notes.txt', 'hello')], env);
  assert.equal(refusedText.code, 2);
  assert.match(refusedText.stderr, /not a PEM certificate/);
  const huge = write('huge.pem', `-----BEGIN CERTIFICATE-----\n${'A'.repeat(70_000)}\n-----END CERTIFICATE-----\n`);
  const refusedSize = await runCli(['provide-ca', workflowId, '--file', huge], env);
  assert.equal(refusedSize.code, 2);
  assert.match(refusedSize.stderr, /larger than a run accepts/);
  await statusWhenWaiting(workflowId, 'remote-ca-certificate', env); // still waiting: nothing was sent

  const sent = await runCli(['provide-ca', workflowId, '--file', write('ca.crt', ca), '--json'], env);
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  assert.equal(JSON.parse(sent.stdout).signal, 'provideRemoteCaCertificate');
  const next = await statusWhenWaiting(workflowId, 'remote-trust', env);
  assert.equal(next.waitingFor.who, 'self-managed-org');
});
