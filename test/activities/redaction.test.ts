/**
 * Redaction: every secret value the worker resolves or handles is hidden in what activities throw (and so in the
 * failure a client sees and in the worker's log), even when an activity builds a message from it by mistake.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActivityFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { redact, registerEncodedApiKey, resolveSecret } from '../../src/activities/secrets';
import example from '../../examples/connect-api-key-public.json';
import { startWorker, testClient, workerLogLines, type RunningWorker } from '../helpers/temporal';

describe('redact', () => {
  it('hides an encoded API key, its decoded id:api_key and the api_key alone, but keeps the id readable', () => {
    const id = 'VuaCfGcBCdbkQm-e5aOx';
    const apiKey = 'ui2lp2axTNmsyakw9tvNnw';
    const encoded = Buffer.from(`${id}:${apiKey}`).toString('base64');
    registerEncodedApiKey(encoded);
    const text = redact(`key ${id}: encoded=${encoded} pair=${id}:${apiKey} bare=${apiKey}`);
    assert.ok(!text.includes(apiKey) && !text.includes(encoded), text);
    assert.match(text, new RegExp(`key ${id}:`));
  });
});

describe('errors thrown by activities (real worker)', () => {
  let client: Client;
  let worker: RunningWorker;
  const password = `pw-${Date.now()}-s3cr3t`;

  before(async () => {
    process.env.REDACTION_TEST_SECRET = `elastic:${password}`;
    client = await testClient();
    worker = await startWorker({
      activities: {
        async describeDeployment() {
          // A careless message: the resolved secret interpolated into an error.
          const value = resolveSecret('REDACTION_TEST_SECRET');
          throw ApplicationFailure.nonRetryable(`login failed with ${value}`, 'AuthenticationFailed');
        },
      },
    });
  });
  after(async () => {
    await worker?.stop();
    await client?.connection.close();
  });

  it('reach the client and the worker log redacted', async () => {
    const logStart = workerLogLines.length;
    const handle = await client.workflow.start('connectRemoteCluster', {
      taskQueue: worker.taskQueue,
      workflowId: `redaction-${Date.now()}`,
      args: [{ ...example, alias: 'redaction' }],
    });
    const err = await handle.result().catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ActivityFailure, String(err));
    const failure = err.cause.cause as Error;
    const failureText = `${failure.message}\n${failure.stack}`;
    assert.match(failure.message, /login failed with \[REDACTED\]/);
    assert.ok(!failureText.includes(password), failureText);
    const log = workerLogLines.slice(logStart).join('\n');
    assert.match(log, /login failed with \[REDACTED\]/);
    assert.ok(!log.includes(password), 'the worker log has the password');
  });
});
