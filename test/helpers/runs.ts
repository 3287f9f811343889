/**
 * Driving connectRemoteCluster runs as the people of both organisations would: a request for a sandbox path, waiting
 * for a human step, approving, and the self-managed admin creating and handing over the cross-cluster key by hand.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ConnectRequestInput } from '../../src/contract/request';
import type { Artifacts, ConnectStatus } from '../../src/contract/status';
import type { Estate } from './estate';

export type Req = ConnectRequestInput & Record<string, unknown>;

/** The sandbox's ready request for a path; with or without credentials for the self-managed cluster's API. */
export function connectRequest(
  estate: Estate,
  path: 'api-key-public' | 'api-key-private',
  over: Partial<Req> = {},
  withRemoteCredentials = true,
): Req {
  const base = structuredClone(estate.info.requests[path]) as Req;
  if (withRemoteCredentials) {
    base.remote = {
      ...base.remote,
      elasticsearch: {
        url: estate.info.selfManaged.url,
        credentialsSecret: 'ONPREM_ES_CREDENTIALS',
        caPem: estate.info.selfManaged.httpCa,
      },
    };
  } else {
    delete (base.remote as Record<string, unknown>).elasticsearch;
  }
  return { ...base, verify: { searchIndex: 'logs-*', timeout: '20s' }, humanStepTimeout: '2m', ...over };
}

export async function waitForStep(handle: WorkflowHandle, step: string, timeoutMs = 30_000): Promise<ConnectStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await handle.query<ConnectStatus>('status');
    if (status.waitingFor?.step === step) return status;
    if (['failed', 'completed', 'rejected', 'timed-out'].includes(status.phase)) {
      assert.fail(`run ended in phase ${status.phase} before waiting on ${step}: ${status.error?.message}`);
    }
    if (Date.now() > deadline) assert.fail(`not waiting on ${step} after ${timeoutMs} ms (phase ${status.phase})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The user the sample requests create (`cross-search-user`) searches the remote with the password from its secret. */
export async function assertRunUserSearchesRemote(estate: Estate, alias: string): Promise<void> {
  const search = await estate.es(
    'ech',
    'GET',
    `/${alias}:logs-*/_search`,
    undefined,
    `cross-search-user:${process.env.CROSS_SEARCH_USER_PASSWORD}`,
  );
  assert.equal(search.status, 200, JSON.stringify(search.body));
  assert.equal(search.body.hits.total.value, estate.info.seededIndex.documents);
}

export async function approve(handle: WorkflowHandle): Promise<void> {
  const status = await waitForStep(handle, 'approve-local-changes');
  assert.equal(status.waitingFor?.who, 'ech-org');
  await handle.signal('approve', { step: 'approve-local-changes', approver: 'sre@example.com', comment: 'ok' });
}

/** The self-managed admin runs the published request by hand and hands over `encoded`; returns the key id. */
export async function handOverKeyByHand(estate: Estate, handle: WorkflowHandle): Promise<string> {
  const status = await waitForStep(handle, 'cross-cluster-api-key');
  assert.equal(status.waitingFor?.who, 'self-managed-org');
  const req = status.waitingFor?.artifacts?.requests?.[0];
  assert.ok(req, 'the step publishes the request to run');
  assert.match(status.waitingFor!.instructions, /POST \/_security\/cross_cluster\/api_key/);
  const created = await estate.es('self-managed', req.method, req.path, req.body);
  assert.equal(created.status, 200, JSON.stringify(created.body));
  await handle.signal('provideCrossClusterApiKey', { encoded: created.body.encoded });
  return created.body.id as string;
}

/**
 * Path C by hand: the self-managed admin hands over its transport CA by signal (when asked), then follows step
 * `remote-trust` literally (the published role requests, each phase's files and settings applied with a restart
 * through the sandbox control API) and confirms.
 */
export async function doRemoteTrustByHand(estate: Estate, handle: WorkflowHandle): Promise<Artifacts> {
  const asked = await waitForStep(handle, 'remote-ca-certificate');
  assert.equal(asked.waitingFor?.who, 'self-managed-org');
  await handle.signal('provideRemoteCaCertificate', { pem: estate.info.ca.selfManagedTransport });
  const status = await waitForStep(handle, 'remote-trust');
  const artifacts = status.waitingFor!.artifacts!;
  for (const req of artifacts.requests ?? []) {
    const res = await estate.es('self-managed', req.method, req.path, req.body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  const { phases, requests: _requests, ...flat } = artifacts;
  for (const phase of phases ?? [flat]) {
    assert.equal(phase.files?.['instances.yml'], undefined, 'this scenario needs no certificate re-issue');
    const applied = await estate.control('POST', '/self-managed/apply', phase);
    assert.equal(applied.restarted, true, JSON.stringify(applied));
  }
  await handle.signal('confirmRemoteStep', { step: 'remote-trust', by: 'admin@corp.example' });
  return artifacts;
}

/** The run's failure (it must fail): the ApplicationFailure with the classified type and the message people see. */
export async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const err = await handle.result().then(
    () => assert.fail('the run must fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
  return err.cause;
}
