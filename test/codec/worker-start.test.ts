/** `ech-remote worker` outside dev: no key, no start — unless plaintext is asked for by its loud name. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { BUNDLE_MARKER } from '../../src/workflowBundle';

const bin = path.resolve(__dirname, '../../bin/ech-remote.js');

/** Runs `ech-remote worker` until it exits or prints `until`; returns its exit code (null: still running) and stderr. */
function runWorker(
  args: string[],
  env: NodeJS.ProcessEnv,
  until: RegExp,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [bin, 'worker', ...args], {
    env: { ...env, ECH_REMOTE_TASK_QUEUE: `worker-start-${randomUUID()}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (until.test(stderr)) {
        child.once('exit', () => resolve({ code: null, stderr }));
        child.kill('SIGTERM');
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function envWithoutKeys(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.ECH_REMOTE_ENCRYPTION_KEYS;
  delete env.ECH_REMOTE_ENCRYPTION_KEYS_FILE;
  delete env.ECH_REMOTE_INSECURE_PLAINTEXT_PAYLOADS;
  return env;
}

describe('ech-remote worker and the encryption key', () => {
  // The four starts run side by side (each pays for loading the CLI); each test reads its own.
  type Started = ReturnType<typeof runWorker>;
  let noKey: Started, byFlag: Started, byEnv: Started, withKey: Started, staleBundle: Started;
  const bundle = process.env.ECH_REMOTE_WORKFLOW_BUNDLE!;
  before(() => {
    // A bundle as built before the marker existed: the same code without it.
    const stale = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stale-bundle-')), 'workflow-bundle.js');
    fs.writeFileSync(stale, fs.readFileSync(bundle, 'utf8').slice(BUNDLE_MARKER.length));
    staleBundle = runWorker([], { ...process.env, ECH_REMOTE_WORKFLOW_BUNDLE: stale }, /task queue/);
    noKey = runWorker([], envWithoutKeys(), /task queue/);
    byFlag = runWorker(['--insecure-plaintext-payloads'], envWithoutKeys(), /task queue/);
    byEnv = runWorker([], { ...envWithoutKeys(), ECH_REMOTE_INSECURE_PLAINTEXT_PAYLOADS: 'true' }, /task queue/);
    withKey = runWorker([], process.env, /task queue/);
  });

  it('refuses to start without a key, saying how to set one and what the opt-out is', async () => {
    const { code, stderr } = await noKey;
    assert.equal(code, 1);
    assert.match(stderr, /No payload encryption key: set ECH_REMOTE_ENCRYPTION_KEYS=/);
    assert.match(stderr, /--insecure-plaintext-payloads/);
  });

  it('starts in plaintext only when asked by flag or environment, and says so loudly', async () => {
    for (const started of [byFlag, byEnv]) {
      const { code, stderr } = await started;
      assert.equal(code, null, stderr);
      assert.match(stderr, /INSECURE: payloads are NOT encrypted/);
    }
  });

  it('refuses a prebuilt workflow bundle older than the failure converter, saying to run `npm run build`', async () => {
    assert.ok(fs.readFileSync(bundle, 'utf8').startsWith(BUNDLE_MARKER), 'bundleWorkflows writes the marker');
    const { code, stderr } = await staleBundle;
    assert.equal(code, 1, stderr);
    assert.match(stderr, /workflow bundle .*stale-bundle-.* was not built by this version/);
    assert.match(stderr, /workflow failures.*plaintext.*Rebuild it with `npm run build`/s);
  });

  it('starts quietly with a key', async () => {
    const { code, stderr } = await withKey;
    assert.equal(code, null, stderr);
    assert.doesNotMatch(stderr, /INSECURE/);
  });
});
