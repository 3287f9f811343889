/**
 * What the built CLI loads before it answers (issue 13: `status` ≤ 0.6 s, a worker polling ≤ 1 s): `status` asks its
 * question with the Temporal client only (no zod, no workflow library, no worker), and a worker polls before it loads
 * the clients of the systems its activities call (they load at the first activity). Timings themselves are in
 * docs/benchmarks.md (`npm run bench -- --only cold`); here, the modules, which do not depend on the machine's load.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { before, it } from 'node:test';
import { cliPath } from '../helpers/cli';

let hook: string;
let modulesFile: string;

before(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-startup-'));
  modulesFile = path.join(dir, 'modules.json');
  hook = path.join(dir, 'hook.js');
  // Writes the packages the process has loaded when it exits (after its answer, or after a graceful shutdown).
  fs.writeFileSync(
    hook,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(modulesFile)}, ` +
      `JSON.stringify(Object.keys(require.cache))));\n`,
  );
});

/** The packages (node_modules/<name>) among the loaded files. */
function packagesOf(files: string[]): Set<string> {
  return new Set(files.flatMap((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.slice(1, 2) ?? []));
}

function loadedPackages(): Set<string> {
  return packagesOf(JSON.parse(fs.readFileSync(modulesFile, 'utf8')) as string[]);
}

it('`status` loads the Temporal client to ask, and neither zod, the workflow library nor the worker', async () => {
  fs.rmSync(modulesFile, { force: true });
  const child = spawn(process.execPath, ['--require', hook, cliPath(), 'status', `no-such-run-${randomUUID()}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  // It did ask the server: the run is unknown there.
  assert.notEqual(code, 0);
  assert.match(stderr, /no-such-run-/);
  const loaded = loadedPackages();
  assert.ok(loaded.has('@temporalio/client'), `control: the hook sees what status loads (${[...loaded].join(', ')})`);
  for (const pkg of ['zod', '@temporalio/workflow', '@temporalio/worker', '@elastic/elasticsearch']) {
    assert.ok(!loaded.has(pkg), `status loaded ${pkg}`);
  }
});

it('a worker polls without loading the Elasticsearch client, @peculiar/x509, the Cloud API client or memfs', async () => {
  fs.rmSync(modulesFile, { force: true });
  const child = spawn(process.execPath, ['--require', hook, cliPath(), 'worker'], {
    env: { ...process.env, ECH_REMOTE_TASK_QUEUE: `startup-${randomUUID()}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 60_000;
  while (!stderr.includes('ech-remote worker started')) {
    assert.ok(child.exitCode === null && Date.now() < deadline, `worker did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  const loaded = loadedPackages();
  assert.ok(
    loaded.has('@temporalio/worker'),
    `control: the hook sees what the worker loads (${[...loaded].join(', ')})`,
  );
  for (const pkg of ['@elastic/elasticsearch', '@peculiar/x509', 'openapi-fetch']) {
    assert.ok(!loaded.has(pkg), `the worker loaded ${pkg} before any activity ran`);
  }
  // The SDK's bundler requires memfs; with the prebuilt bundle only its stand-in (one entry, no file of memfs's own
  // modules or dependencies) is in the module cache (src/temporal/deferBundler.ts).
  const files = JSON.parse(fs.readFileSync(modulesFile, 'utf8')) as string[];
  const memfsFiles = files.filter((f) => /node_modules\/(memfs|@jsonjoy\.com)\//.test(f));
  assert.ok(memfsFiles.length <= 1, `the worker loaded memfs: ${memfsFiles.slice(0, 5).join(', ')}`);
});
