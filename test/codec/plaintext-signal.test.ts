/**
 * A human step answered without the codec (`temporal workflow signal` without --codec-endpoint, as docs/secrets.md allows
 * for approve/reject/confirm) still reaches the run, and the worker's log says so, naming the workflow: the worker
 * lets a workflow's plaintext payload through with a warning, once however often the history is replayed; everything
 * else refuses plaintext (test/codec/codec.test.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { connectStartOptions } from '../../src/client';
import type { ConnectRequestInput } from '../../src/contract/request';
import example from '../../examples/connect-api-key-public.json';
import { startWorker, testClient, workerLogLines, type RunningWorker } from '../helpers/temporal';

let client: Client;
let worker: RunningWorker;
let signalled: () => void;
const signalSeen = new Promise<void>((resolve) => (signalled = resolve));

before(async () => {
  client = await testClient();
  worker = await startWorker({
    activities: {
      checkSecrets: async () => ({ checked: 0 }),
      async describeDeployment() {
        await Promise.race([signalSeen, new Promise((r) => setTimeout(r, 10_000))]);
        throw ApplicationFailure.create({ type: 'DeploymentNotFound', message: 'stop here', nonRetryable: true });
      },
    },
  });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
});

describe('a signal sent without the codec', () => {
  it('is accepted by the worker with a warning naming the workflow and the encoding', async () => {
    const logStart = workerLogLines.length;
    const options = connectStartOptions({ ...example, alias: 'plaintext-signal' } as ConnectRequestInput);
    const workflowId = `${options.workflowId}-${Date.now()}`;
    const handle = await client.workflow.start('connectRemoteCluster', {
      ...options,
      workflowId,
      taskQueue: worker.taskQueue,
    });
    await promisify(execFile)(process.env.TEMPORAL_CLI_PATH!, [
      'workflow',
      'signal',
      '--workflow-id',
      workflowId,
      '--name',
      'confirmRemoteStep',
      '--input',
      '{"step":"remote-cluster-server","by":"admin@corp.example"}',
      '--address',
      process.env.TEMPORAL_ADDRESS!,
    ]);
    // The worker decodes the signal with the next workflow task.
    const deadline = Date.now() + 10_000;
    const warning = () => workerLogLines.slice(logStart).find((l) => l.includes(`workflow "${workflowId}"`));
    while (!warning() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    signalled();
    assert.match(warning() ?? '', /^WARN .*is not encrypted \(encoding "json\/plain"\): accepted/);
    // The run was not stuck on the payload: it went on to its (stubbed) end.
    const err = await handle.result().catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, String(err));
    // A query on the closed run replays its history, decoding the signal again: the warning is not repeated.
    for (let i = 0; i < 2; i++) await handle.query('status');
    const warnings = workerLogLines.slice(logStart).filter((l) => l.includes(`workflow "${workflowId}"`));
    assert.equal(warnings.length, 1, warnings.join('\n'));
  });
});
