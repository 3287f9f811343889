/** The CI example runs commands and flags the built CLI has, so a team that copies it gets a working pipeline. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import yaml from 'js-yaml';
import { runCli } from '../helpers/cli';

it('examples/ci/github-actions.yml uses only commands and options ech-remote has', async () => {
  const file = path.resolve(__dirname, '../../examples/ci/github-actions.yml');
  const workflow = yaml.load(fs.readFileSync(file, 'utf8')) as { jobs: Record<string, { steps: { run?: string }[] }> };
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
