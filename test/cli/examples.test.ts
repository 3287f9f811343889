/** The CI example runs commands and flags the built CLI has, so a team that copies it gets a working pipeline. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import yaml from 'js-yaml';
import { runCli } from '../helpers/cli';

it('examples/ci/github-actions.yml uses only commands and options ech-remote has', async () => {
  const file = path.resolve(__dirname, '../../examples/ci/github-actions.yml');
  const workflow = yaml.load(fs.readFileSync(file, 'utf8')) as {
    env?: Record<string, string>;
    jobs: Record<string, { env?: Record<string, string>; steps: { run?: string; env?: Record<string, string> }[] }>;
  };
  const scripts = Object.values(workflow.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ''));
  const calls = scripts.flatMap((s) => [...s.matchAll(/ech-remote\.js (\S+)([^\n;]*(?:\n\s+--[^\n]*)*)/g)]);
  assert.deepEqual([...new Set(calls.map((c) => c[1]))].sort(), ['approve', 'connect']);
  for (const [, command, rest] of calls) {
    const help = await runCli([command as string, '--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const flag of (rest as string).match(/--[a-z-]+/g) ?? []) {
      assert.ok(help.stdout.includes(flag), `ech-remote ${command} has no ${flag}`);
    }
  }
});

it('examples/ci/github-actions.yml gives every ech-remote call the payload encryption key, from a secret', () => {
  const file = path.resolve(__dirname, '../../examples/ci/github-actions.yml');
  const workflow = yaml.load(fs.readFileSync(file, 'utf8')) as {
    env?: Record<string, string>;
    jobs: Record<string, { env?: Record<string, string>; steps: { run?: string; env?: Record<string, string> }[] }>;
  };
  for (const [name, job] of Object.entries(workflow.jobs)) {
    for (const step of job.steps.filter((s) => s.run?.includes('ech-remote.js'))) {
      // The CLI decrypts status and results and encrypts what it sends: without the key it refuses to run.
      const env = { ...workflow.env, ...job.env, ...step.env };
      assert.match(
        env.ECH_REMOTE_ENCRYPTION_KEYS ?? '',
        /^\$\{\{\s*secrets\.[A-Z_]+\s*\}\}$/,
        `${name}: ECH_REMOTE_ENCRYPTION_KEYS from a secret`,
      );
      // Expressions go through env:, not into the script (no shell injection from outputs).
      assert.doesNotMatch(step.run as string, /\$\{\{/, `${name}: an expression inline in run:`);
    }
  }
});
