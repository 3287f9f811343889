/**
 * Redaction: every secret value the worker resolves or handles is hidden in what activities throw (and so in the
 * failure a client sees and in the worker's log), even when an activity builds a message from it by mistake.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActivityFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  MAX_REDACTED_SECRETS,
  redact,
  redactedSecretCount,
  registerEncodedApiKey,
  registerSecret,
  resolveSecret,
} from '../../src/activities/secrets';
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

  it('hides a secret that contains another one whole, whichever was registered first', () => {
    registerSecret('inner-7c1d');
    registerSecret('outer-inner-7c1d-tail');
    registerSecret('inner-7c1d'); // re-registering keeps the order longest first
    assert.equal(redact('a outer-inner-7c1d-tail b inner-7c1d c'), 'a [REDACTED] b [REDACTED] c');
  });

  it('remembers at most MAX_REDACTED_SECRETS forms, forgetting the least recently registered first', () => {
    const keep = 'kept-alive-secret-0001';
    registerSecret(keep);
    for (let i = 0; i < MAX_REDACTED_SECRETS + 500; i++) {
      registerSecret(`flood-${i}-xyz`);
      if (i % 1000 === 0) registerSecret(keep); // in use: stays
    }
    assert.ok(redactedSecretCount() <= MAX_REDACTED_SECRETS, String(redactedSecretCount()));
    assert.equal(redact(`x ${keep} y`), 'x [REDACTED] y');
    const last = `flood-${MAX_REDACTED_SECRETS + 499}-xyz`;
    assert.equal(redact(last), '[REDACTED]');
    // The oldest flood entries are gone; the newest ones (and longest-first order) are kept.
    assert.equal(redact('flood-0-xyz'), 'flood-0-xyz');
  });
});

describe('errors thrown by activities (real worker)', () => {
  let client: Client;
  let worker: RunningWorker;
  const password = `pw-${Date.now()}-s3cr3t`;

  before(async () => {
    process.env.REDACTION_TEST_SECRET = `elastic:${password}`;
    process.env.ECH_REMOTE_SECRET_BINDINGS = JSON.stringify({ REDACTION_TEST_SECRET: { use: 'user-password' } });
    client = await testClient();
    worker = await startWorker({
      activities: {
        checkSecrets: async () => ({ checked: 0 }),
        async describeDeployment() {
          // A careless message: the resolved secret interpolated into an error.
          const value = resolveSecret('REDACTION_TEST_SECRET', { use: 'user-password' });
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
    assert.ok(err instanceof WorkflowFailedError, String(err));
    // The run's failure (preflight) and, under it, the activity's own failure: both redacted.
    const runFailure = err.cause as ApplicationFailure;
    assert.equal(runFailure.type, 'AuthenticationFailed');
    assert.ok(runFailure.cause instanceof ActivityFailure, String(runFailure.cause));
    const failure = runFailure.cause.cause as Error;
    const failureText = [runFailure, failure].map((f) => `${f.message}\n${f.stack}`).join('\n');
    assert.match(runFailure.message, /login failed with \[REDACTED\]/);
    assert.match(failure.message, /login failed with \[REDACTED\]/);
    assert.ok(!failureText.includes(password), failureText);
    const log = workerLogLines.slice(logStart).join('\n');
    assert.match(log, /login failed with \[REDACTED\]/);
    assert.ok(!log.includes(password), 'the worker log has the password');
  });
});
