/**
 * No signal can wedge a run. A run waiting for the ECH org's approval receives every malformed payload an attacker or
 * a hurried person could send (null, nothing, wrong types, blank names, unknown fields, oversized values, a key that
 * is not a key, a CA over the size limit, a step that takes no such answer). Each one is refused and recorded in the
 * status with a reason that names the field (never the value sent); the status query keeps answering; the run keeps
 * waiting; and a proper approval afterwards completes it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { ConnectResult, ConnectStatus } from '../../src/contract/status';
import { Estate } from '../helpers/estate';
import { approve, connectRequest, waitForStep } from '../helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;

before(async () => {
  estate = await Estate.start('api-key-public');
  client = await testClient();
  worker = await startWorker({ activities: createActivities() });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
});

const STEP = 'approve-local-changes';
const SECRETISH = 'c2VjcmV0LWlkOnNlY3JldC1rZXktdGhhdC1tdXN0LW5vdC1sZWFr';

/** [signal, payload (undefined = none), what the refusal must say] */
const HOSTILE: [string, unknown, RegExp][] = [
  ['approve', null, /JSON object/],
  ['approve', undefined, /JSON object/],
  ['approve', 'yes', /JSON object/],
  ['approve', [STEP, 'me'], /JSON object/],
  ['approve', {}, /step/],
  ['approve', { step: STEP }, /approver/],
  ['approve', { step: STEP, approver: '   ' }, /approver: must not be blank/],
  ['approve', { step: STEP, approver: { name: 'x' } }, /approver/],
  ['approve', { step: STEP, approver: 42 }, /approver/],
  ['approve', { step: STEP, approver: 'x'.repeat(10_000) }, /approver: at most 256/],
  ['approve', { step: STEP, approver: 'eve\u0000@example.com' }, /approver: must not contain control/],
  ['approve', { step: STEP, approver: 'eve@example.com', extra: SECRETISH }, /unknown field/],
  ['approve', { step: 'no-such-step', approver: 'eve@example.com' }, /step: must be one of/],
  ['approve', { step: 'remote-trust', approver: 'eve@example.com' }, /takes no decision/],
  ['reject', { step: STEP, approver: 'eve@example.com' }, /reason/],
  ['reject', { step: STEP, approver: 'eve@example.com', reason: '  ' }, /reason must not be blank/],
  ['provideCrossClusterApiKey', null, /JSON object/],
  ['provideCrossClusterApiKey', { encoded: 'not a key!' }, /encoded: must be the "encoded" value/],
  ['provideCrossClusterApiKey', { encoded: `${SECRETISH}$` }, /encoded/],
  ['provideCrossClusterApiKey', { encoded: 'A'.repeat(5000) }, /encoded: at most 512/],
  ['provideRemoteCaCertificate', { pem: 'x'.repeat(70_000) }, /pem: at most 64000/],
  [
    'provideRemoteCaCertificate',
    { pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----' },
    /pem: must not contain a private key/,
  ],
  ['confirmRemoteStep', { step: STEP }, /not confirmed by the self-managed org/],
  ['confirmRemoteStep', { step: 'remote-trust', by: ['x'] }, /by/],
];

describe('hostile signal payloads', () => {
  let handle: WorkflowHandle;

  it('each is refused and recorded, the status keeps answering and the run keeps waiting', async () => {
    const req = connectRequest(estate, 'api-key-public', { alias: 'hostile-signals' });
    handle = await client.workflow.start('connectRemoteCluster', {
      taskQueue: worker.taskQueue,
      workflowId: `hostile-signals-${Date.now()}`,
      args: [req],
    });
    await waitForStep(handle, STEP);
    for (const [signal, payload] of HOSTILE) {
      if (payload === undefined) await handle.signal(signal);
      else await handle.signal(signal, payload as never);
    }
    // Signals are handled in order: once the last refusal shows, every one was handled.
    const deadline = Date.now() + 20_000;
    let status: ConnectStatus;
    for (;;) {
      status = await handle.query<ConnectStatus>('status');
      if ((status.refused?.length ?? 0) >= 20 && status.refused?.at(-1)?.signal === 'confirmRemoteStep') break;
      assert.ok(Date.now() < deadline, `refusals not all recorded: ${JSON.stringify(status.refused)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status.phase, 'awaiting-approval');
    assert.equal(status.waitingFor?.step, STEP);
    assert.deepEqual(status.approvals, [], 'no refused signal counts as a decision');
    // The status keeps the newest 20; each says why, naming the field, never echoing the value.
    const expected = HOSTILE.slice(-20);
    assert.equal(status.refused!.length, expected.length);
    status.refused!.forEach((r, i) => {
      const [signal, , reason] = expected[i]!;
      assert.equal(r.signal, signal, JSON.stringify(r));
      assert.match(r.reason, reason, `${signal} #${i}: ${r.reason}`);
    });
    const text = JSON.stringify(status);
    assert.ok(!text.includes(SECRETISH), 'a refused payload value is echoed in the status');
    const described = await handle.describe();
    assert.equal(described.status.name, 'RUNNING');
  });

  it('a proper approval afterwards completes the run; a second decision is refused', async () => {
    await approve(handle);
    await handle.signal('reject', { step: STEP, approver: 'late@example.com', reason: 'too late' });
    const result = (await handle.result()) as ConnectResult;
    assert.equal(result.connected, true);
    const status = await handle.query<ConnectStatus>('status');
    assert.equal(status.approvals.length, 1);
    assert.equal(status.approvals[0]!.decision, 'approved');
    assert.match(status.refused!.at(-1)!.reason, /approved already by sre@example.com|past the approval/);
  });
});
