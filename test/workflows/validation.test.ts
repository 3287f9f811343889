import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { testClient, startWorker, type RunningWorker } from '../helpers/temporal';
import type { Client } from '@temporalio/client';

describe('connectRemoteCluster validation (real Temporal dev server)', () => {
  let client: Client;
  let worker: RunningWorker;
  const calls: string[] = [];
  before(async () => {
    client = await testClient();
    // Any activity call would be a change (or a look) the workflow must not make on invalid input.
    const record = (name: string) => async () => {
      calls.push(name);
      throw new Error('must not be called');
    };
    worker = await startWorker({
      activities: {
        checkSecrets: record('checkSecrets'),
        describeDeployment: record('describeDeployment'),
        inspectCluster: record('inspectCluster'),
      },
    });
  });
  after(async () => {
    await worker.stop();
    await client.connection.close();
  });

  it('fails at once with InvalidRequest listing every problem by path, calling no activity', async () => {
    const handle = await client.workflow.start('connectRemoteCluster', {
      taskQueue: worker.taskQueue,
      workflowId: `invalid-${Date.now()}`,
      args: [
        {
          alias: 'Not Valid',
          securityModel: 'api-key',
          local: {
            deploymentId: 'short',
            cloud: { apiKeySecret: 'EC_API_KEY' },
            elasticsearch: { credentialsSecret: 'X' },
          },
          remote: { proxyAddress: 'no-port', ca: { kind: 'private', pem: 'not a pem' } },
          access: {},
        },
      ],
    });
    const err = await handle.result().then(
      () => assert.fail('an invalid request must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'InvalidRequest');
    assert.equal(cause.nonRetryable, true);
    for (const path of ['$.alias', '$.local.deploymentId', '$.remote.proxyAddress', '$.remote.ca.pem', '$.access']) {
      assert.match(cause.message, new RegExp(path.replace(/[$.[\]]/g, '\\$&')), `message names ${path}`);
    }
    assert.deepEqual(calls, []);
    const status = await handle.query('status');
    assert.equal((status as { phase: string }).phase, 'failed');
  });
});
