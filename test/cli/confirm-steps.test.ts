/**
 * `ech-remote confirm --step` takes every step a workflow lets the self-managed org confirm: the literal command the
 * rotate and update-access instructions print is accepted (it gets as far as asking Temporal for the run), and a step
 * no workflow confirms is refused as a usage error before connecting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIRMABLE_STEPS, WORKFLOW_KINDS } from '../../src/contract/steps';
import { invalidateOldKeyInstructions, updateRemoteKeyInstructions } from '../../src/domain/day2';
import { runCli } from '../helpers/cli';

/** A step the CLI accepts reaches the run's dev server, which has no such run (exit 1); a refused one exits 2 first. */
function reachedTheServer(r: { code: number | null; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
  assert.equal(JSON.parse(r.stdout).error.type, 'WorkflowNotFound', what);
}

/** The `ech-remote confirm …` line of a step's instructions, as argv. */
function printedConfirm(instructions: string): string[] {
  const line = instructions.split('\n').find((l) => /ech-remote confirm /.test(l));
  assert.ok(line, `the instructions print an ech-remote confirm command:\n${instructions}`);
  const cmd = line.slice(line.indexOf('ech-remote confirm ') + 'ech-remote '.length).replace(/`.*$/, '');
  return cmd
    .trim()
    .split(/\s+/)
    .map((a) => a.replace(/^'(.*)'$/, '$1'));
}

describe('ech-remote confirm --step', () => {
  it('accepts the confirm command the rotate and update-access instructions print', async () => {
    const printed = [
      printedConfirm(invalidateOldKeyInstructions('rotate-d1-onprem', 'old-id', 'new-id').instructions),
      printedConfirm(
        updateRemoteKeyInstructions('update-access-d1-onprem', 'key-id', { search: [{ names: ['logs-*'] }] })
          .instructions,
      ),
    ];
    assert.deepEqual(
      printed.map((a) => a[a.indexOf('--step') + 1]),
      ['invalidate-old-key', 'update-remote-key'],
    );
    for (const args of printed) {
      reachedTheServer(await runCli([...args, '--json']), args.join(' '));
    }
  });

  it('accepts every step a workflow confirms, and refuses the others before connecting', async () => {
    const confirmable = [...new Set(WORKFLOW_KINDS.flatMap((k) => [...CONFIRMABLE_STEPS[k]]))];
    assert.deepEqual([...confirmable].sort(), [
      'invalidate-old-key',
      'remote-cluster-server',
      'remote-trust',
      'update-remote-key',
    ]);
    for (const step of confirmable) {
      reachedTheServer(
        await runCli(['confirm', 'no-such-run', '--step', step, '--as', 'admin@corp.example', '--json']),
        step,
      );
    }
    for (const step of ['approve-local-changes', 'cross-cluster-api-key', 'invalidate-remote-key', 'nonsense']) {
      const r = await runCli(['confirm', 'no-such-run', '--step', step, '--as', 'admin@corp.example', '--json']);
      assert.equal(r.code, 2, `${step}: ${r.stdout}${r.stderr}`);
      const report = JSON.parse(r.stdout);
      assert.equal(report.outcome, 'invalid');
      assert.match(report.problems[0].message, /Allowed choices are .*invalidate-old-key/);
    }
  });
});
