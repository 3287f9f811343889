/**
 * Every recorded history (test/replay/histories, `npm run record-histories`) replays against today's workflow code,
 * the prebuilt bundle a worker runs (ECH_REMOTE_WORKFLOW_BUNDLE), with the workers' data converter: a change that
 * would break runs in flight (a DeterminismViolationError: commands in another order, an activity more or less) fails
 * here before it reaches a worker with open runs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJson } from './historyJson';
import { HISTORIES_DIR, recordingDataConverter } from './recording';

/** The kinds scripts/record-histories.ts records; each must have a history. */
const EXPECTED = [
  'path-a-remote-credentials',
  'path-a-by-hand',
  'path-b-by-hand',
  'path-c',
  'rejected',
  'rolled-back',
  'path-b-unattended',
  'path-b-fewer-hops',
  'migrate',
  'fleet',
  'coordinator-back-to-back',
];

it('every recorded history replays on the current workflow code without a determinism violation', async () => {
  const bundle = process.env.ECH_REMOTE_WORKFLOW_BUNDLE;
  assert.ok(bundle && fs.existsSync(bundle), 'run with `npm test` (it prebuilds the workflow bundle)');
  const files = fs.readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));
  assert.deepEqual(
    files.map((f) => f.replace(/\.json$/, '')).sort(),
    [...EXPECTED].sort(),
    'one history per recorded kind (npm run record-histories)',
  );
  const histories = files.map((f) => ({
    workflowId: f.replace(/\.json$/, ''),
    history: historyFromJson(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, f), 'utf8'))),
  }));
  for (const h of histories) assert.ok((h.history.events?.length ?? 0) > 10, `${h.workflowId} is a whole run`);

  const results = Worker.runReplayHistories(
    { workflowBundle: { codePath: bundle }, dataConverter: recordingDataConverter() },
    histories,
  );
  const replayed: string[] = [];
  for await (const result of results) {
    replayed.push(result.workflowId);
    assert.ok(
      !(result.error instanceof DeterminismViolationError),
      `${result.workflowId}: determinism violation: ${result.error?.message}`,
    );
    assert.equal(result.error, undefined, `${result.workflowId}: ${result.error?.message}`);
  }
  assert.deepEqual(replayed.sort(), [...EXPECTED].sort());
});

it('control: a history whose activity differs from what the code schedules is a determinism violation', async () => {
  const bundle = process.env.ECH_REMOTE_WORKFLOW_BUNDLE as string;
  const json = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, 'path-a-remote-credentials.json'), 'utf8'));
  const scheduled = json.events.find((e: any) => e.activityTaskScheduledEventAttributes);
  scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
  const results = Worker.runReplayHistories(
    { workflowBundle: { codePath: bundle }, dataConverter: recordingDataConverter() },
    [{ workflowId: 'tampered', history: historyFromJson(json) }],
  );
  let error: unknown;
  for await (const result of results) error = result.error;
  assert.ok(error instanceof DeterminismViolationError, `expected a determinism violation, got ${String(error)}`);
});
