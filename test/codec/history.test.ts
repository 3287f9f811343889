/**
 * What Temporal stores, read raw (no codec) from a real dev server: inputs, user metadata (static summary and
 * details, activity summaries), failure messages of activities and workflows, and query results are all encrypted;
 * the run's own client reads them back; and histories written with an older key still decode after a rotation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActivityFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { connectStartOptions } from '../../src/client';
import type { ConnectRequestInput } from '../../src/contract/request';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  generateEncryptionKey,
  loadDataConverter,
  parseEncryptionKeys,
} from '../../src/codec';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';
import example from '../../examples/connect-api-key-public.json';

const EventType = temporal.api.enums.v1.EventType;
const encodingOf = (p: Payload | null | undefined) => Buffer.from(p?.metadata?.encoding ?? []).toString();
const MARKER = 'deployment-marker-7f3a';

let client: Client;
let worker: RunningWorker;

before(async () => {
  client = await testClient();
  worker = await startWorker({
    activities: {
      checkSecrets: async () => ({ checked: 0 }),
      async describeDeployment() {
        throw ApplicationFailure.create({ type: 'DeploymentNotFound', message: `no ${MARKER}`, nonRetryable: true });
      },
    },
  });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
});

describe('what the history holds (real Temporal dev server, read without the codec)', () => {
  it('input, static summary/details, activity summary, failure messages and the status query are encrypted', async () => {
    const request = { ...example, alias: 'codec-history' } as ConnectRequestInput;
    const options = connectStartOptions(request);
    const handle = await client.workflow.start('connectRemoteCluster', {
      ...options,
      workflowId: `${options.workflowId}-${Date.now()}`,
      taskQueue: worker.taskQueue,
    });
    const err = await handle.result().catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    // The run's own client decodes everything.
    const cause = err.cause instanceof ActivityFailure ? err.cause.cause : err.cause;
    assert.ok(cause instanceof ApplicationFailure, String(cause));
    assert.equal(cause.type, 'DeploymentNotFound');
    assert.match(cause.message, new RegExp(MARKER));
    const description = await handle.describe();
    assert.match((await description.staticSummary()) ?? '', /as "codec-history"/);

    const history = await handle.fetchHistory();
    const raw = JSON.stringify(temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History));
    // (The workflow id and the search attributes name the alias in plaintext on purpose: they are for searching.)
    for (const visible of [
      MARKER,
      example.remote.proxyAddress,
      'Describe the ECH deployment',
      'Remote cluster alias',
    ]) {
      assert.ok(!raw.includes(visible), `"${visible}" is readable in the raw history`);
      assert.ok(!raw.includes(Buffer.from(visible).toString('base64').slice(0, 12)), `"${visible}" in base64`);
    }
    const events = history.events ?? [];
    const started = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)!;
    assert.equal(encodingOf(started.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]), ENCRYPTED_ENCODING);
    assert.equal(encodingOf(started.userMetadata?.summary), ENCRYPTED_ENCODING);
    assert.equal(encodingOf(started.userMetadata?.details), ENCRYPTED_ENCODING);
    const scheduled = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)!;
    assert.equal(encodingOf(scheduled.userMetadata?.summary), ENCRYPTED_ENCODING, 'activity summary');
    const activityFailure = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED)!
      .activityTaskFailedEventAttributes!.failure!;
    assert.equal(activityFailure.message, 'Encoded failure');
    assert.equal(activityFailure.stackTrace, '');
    assert.equal(encodingOf(activityFailure.encodedAttributes), ENCRYPTED_ENCODING);
    const workflowFailure = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED)!
      .workflowExecutionFailedEventAttributes!.failure!;
    assert.equal(workflowFailure.message, 'Encoded failure', 'the workflow failure (made in the workflow isolate)');
    assert.equal(encodingOf(workflowFailure.encodedAttributes), ENCRYPTED_ENCODING);

    // Query results (the status query, and the current details the UI reads through the metadata query).
    for (const queryType of ['status', '__temporal_workflow_metadata']) {
      const res = await client.workflowService.queryWorkflow({
        namespace: 'default',
        execution: { workflowId: handle.workflowId },
        query: { queryType },
      });
      assert.equal(encodingOf(res.queryResult?.payloads?.[0]), ENCRYPTED_ENCODING, queryType);
    }
    // The run's own client reads the same query in clear.
    const status = await handle.query<{ steps: { id: string; state: string }[] }>('status');
    assert.deepEqual(status.steps[0], { ...status.steps[0], id: 'validate', state: 'done' });
  });

  it('a flipped byte in a stored input makes decoding fail loudly', async () => {
    const handle = await client.workflow.start('connectRemoteCluster', {
      taskQueue: `no-worker-${Date.now()}`,
      workflowId: `codec-tamper-${Date.now()}`,
      args: [{ alias: 'tamper' }],
    });
    try {
      const history = await handle.fetchHistory();
      const stored = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]! as Payload;
      const codec = loadDataConverter().payloadCodecs![0]!;
      assert.deepEqual(defaultPayloadConverter.fromPayload((await codec.decode([stored]))[0]!), { alias: 'tamper' });
      const data = Buffer.from(stored.data!);
      data[data.length >> 1]! ^= 0x80;
      await assert.rejects(codec.decode([{ ...stored, data }]), /failed authentication: it was altered/);
    } finally {
      await handle.terminate();
    }
  });

  it('rotation: a history written with k1 still decodes with `k2=…,k1=…`, which writes new payloads with k2', async () => {
    const k1 = generateEncryptionKey('k1');
    const k2 = generateEncryptionKey('k2');
    const withKeys = (line: string) =>
      testClient({ dataConverter: loadDataConverter({ env: { ECH_REMOTE_ENCRYPTION_KEYS: line } }) });
    const before = await withKeys(k1);
    const after = await withKeys(`${k2},${k1}`);
    const workflowId = `codec-rotation-${Date.now()}`;
    try {
      await before.workflow.start('connectRemoteCluster', {
        taskQueue: `no-worker-${Date.now()}`,
        workflowId,
        args: [{ alias: 'written-with-k1' }],
      });
      const handle = after.workflow.getHandle(workflowId);
      await handle.signal('confirmRemoteStep', { step: 'written-with-k2', by: 'rotation-test' });
      const events = (await handle.fetchHistory()).events ?? [];
      const input = events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]! as Payload;
      const signal = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)!
        .workflowExecutionSignaledEventAttributes!.input!.payloads![0]! as Payload;
      const keyId = (p: Payload) => Buffer.from(p.metadata!['encryption-key-id']!).toString();
      assert.equal(keyId(input), 'k1');
      assert.equal(keyId(signal), 'k2');
      const rotated = new AesGcmPayloadCodec(parseEncryptionKeys(`${k2},${k1}`));
      const [oldInput, newSignal] = await rotated.decode([input, signal]);
      assert.deepEqual(defaultPayloadConverter.fromPayload(oldInput!), { alias: 'written-with-k1' });
      assert.equal(defaultPayloadConverter.fromPayload<{ step: string }>(newSignal!).step, 'written-with-k2');
      await handle.terminate();
    } finally {
      await before.connection.close();
      await after.connection.close();
    }
  });
});
