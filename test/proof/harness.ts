/**
 * What the proof tests (crash recovery, rollback) share: the three paths with remote credentials, the mutating calls
 * a run makes (each a fault-rule matcher, i.e. a kill point), driving a run through its human steps, and the estate
 * compared across runs.
 *
 * ECH_REMOTE_PROOF=long (`npm run proof`) runs every kill point and step; `npm test` a few representative ones.
 */
import assert from 'node:assert/strict';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { ConnectStatus } from '../../src/contract/status';
import type { FaultRule, FaultTarget } from '../../src/sandbox/faults';
import type { Estate, EstateView } from '../helpers/estate';
import { connectRequest, type Req } from '../helpers/runs';

export const LONG = process.env.ECH_REMOTE_PROOF === 'long';

export type PathName = 'A' | 'B' | 'C';
export const PATHS: Record<PathName, { scenario: 'api-key-public' | 'api-key-private' | 'tls-certificate' }> = {
  A: { scenario: 'api-key-public' },
  B: { scenario: 'api-key-private' },
  C: { scenario: 'tls-certificate' },
};

export type CallName = 'key' | 'trust' | 'keystore' | 'settings' | 'remote-role' | 'role' | 'user';

/** Every call that changes the estate, as a fault-rule matcher; `label` matches its rollback item. */
export const CALLS: Record<CallName, { target: FaultTarget; method: string; path: string; label: RegExp }> = {
  key: {
    target: 'self-managed',
    method: 'POST',
    path: '^/_security/cross_cluster/api_key$',
    label: /cross-cluster API key/,
  },
  trust: { target: 'cloud', method: 'PUT', path: '^/api/v1/deployments/[^/]+$', label: /trust entry/ },
  keystore: { target: 'cloud', method: 'PATCH', path: '/keystore$', label: /keystore entry/ },
  settings: { target: 'ech', method: 'PUT', path: '^/_cluster/settings$', label: /cluster settings/ },
  'remote-role': {
    target: 'self-managed',
    method: 'PUT',
    path: '^/_security/role/',
    label: /^role .* on the self-managed cluster/,
  },
  role: { target: 'ech', method: 'PUT', path: '^/_security/role/', label: /^role [^ ]+$/ },
  user: { target: 'ech', method: 'PUT', path: '^/_security/user/', label: /^user / },
};

/** Requests that are not GET but change nothing (reads with a body). */
const READS_WITH_A_BODY = [/\/_search$/, /\/_has_privileges$/];

export function callRule(call: CallName, extra: Partial<FaultRule>): FaultRule {
  const { target, method, path } = CALLS[call];
  return { target, method, path, ...extra };
}

/**
 * Paths A and B make the roles and users while the remote cluster is registered (FEWER_HOPS_PATCH): the settings
 * write comes before, between or after them (the role always before the user).
 */
export const SIDE_BY_SIDE: Record<PathName, CallName[]> = {
  A: ['settings', 'role', 'user'],
  B: ['settings', 'role', 'user'],
  C: [],
};

/** The sandbox request for a path, with remote credentials (the tool creates the key and the remote roles). */
export function proofRequest(estate: Estate, path: PathName): Req {
  if (path === 'C') {
    const base = structuredClone(estate.info.requests['tls-certificate']) as Req;
    return { ...base, verify: { searchIndex: 'logs-*', timeout: '20s' }, humanStepTimeout: '5m' };
  }
  return connectRequest(estate, PATHS[path].scenario as 'api-key-public' | 'api-key-private', {
    humanStepTimeout: '5m',
  });
}

let seq = 0;
export async function startRun(client: Client, taskQueue: string, req: Req, tag: string): Promise<WorkflowHandle> {
  return client.workflow.start('connectRemoteCluster', {
    taskQueue,
    workflowId: `proof-${tag}-${Date.now()}-${++seq}`,
    args: [req],
  });
}

const TERMINAL = ['completed', 'failed', 'rejected', 'timed-out'];

/**
 * Plays the people of a run (approves the ECH changes; path C: applies step `remote-trust` literally and confirms)
 * until `stop()` says so or the run ends. Returns the last status. Bounded by `timeoutMs`.
 */
export async function drive(
  estate: Estate,
  handle: WorkflowHandle,
  stop: () => Promise<boolean> = async () => false,
  timeoutMs = 90_000,
): Promise<ConnectStatus | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: ConnectStatus | undefined;
  // A run that ends without reaching a terminal phase (a workflow failure out of its rollback) ends the driving too.
  let closed = false;
  handle.result().then(
    () => (closed = true),
    () => (closed = true),
  );
  for (;;) {
    if (await stop()) return last;
    const wasClosed = closed;
    const status = await handle.query<ConnectStatus>('status').catch(() => undefined);
    if (status) {
      last = status;
      if (TERMINAL.includes(status.phase) || wasClosed) return status;
      const step = status.waitingFor?.step;
      if (step === 'approve-local-changes') {
        await handle.signal('approve', { step, approver: 'sre@example.com' });
      } else if (step === 'remote-trust') {
        if (!trustApplied.has(handle.workflowId)) await applyRemoteTrust(estate, status);
        trustApplied.add(handle.workflowId);
        await handle.signal('confirmRemoteStep', { step, by: 'admin@corp.example' });
      } else if (step) {
        assert.fail(`the run waits on ${step}, which the proof does not expect`);
      }
    }
    if (Date.now() >= deadline) {
      const steps = last?.steps.map((st) => `${st.id}: ${st.state}${st.detail ? ` (${st.detail})` : ''}`);
      assert.fail(`run not done in ${timeoutMs} ms; phase ${last?.phase}, steps:\n${steps?.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Runs whose `remote-trust` step the admin has applied (a status read before the signal arrives asks again). */
const trustApplied = new Set<string>();

/** Path C: the self-managed admin applies the published phases (files, settings, restart). */
async function applyRemoteTrust(estate: Estate, status: ConnectStatus): Promise<void> {
  const artifacts = status.waitingFor!.artifacts!;
  assert.equal(artifacts.requests, undefined, 'with remote credentials the run creates the remote role itself');
  const { phases, requests: _requests, ...flat } = artifacts;
  for (const phase of phases ?? [flat]) {
    assert.equal(phase.files?.['instances.yml'], undefined, 'this scenario needs no certificate re-issue');
    const res = await estate.control('POST', '/self-managed/apply', phase);
    assert.equal(res.restarted, true, JSON.stringify(res));
  }
}

/** The view of the estate with what differs between equivalent runs (key ids, workflow ids) reduced to its shape. */
export function shape(view: EstateView) {
  return {
    ...view,
    activeCrossClusterKeys: view.activeCrossClusterKeys.length,
    echRemoteSettings: Object.fromEntries(
      Object.entries(view.echRemoteSettings).map(([k, v]) => [k, k.startsWith('cluster.metadata.') ? 'record' : v]),
    ),
  };
}

/**
 * One clean run of a path with every mutating request recorded (pass-through rules: the fault history lists what
 * they matched). Returns the mutating calls in order and the estate after it. Fails on a non-GET request the proof
 * does not know, so a new mutating call cannot go without its kill points.
 */
export async function discover(
  estate: Estate,
  client: Client,
  taskQueue: string,
  path: PathName,
): Promise<{ calls: CallName[]; after: EstateView }> {
  await estate.faults(
    (['cloud', 'ech', 'self-managed'] as FaultTarget[]).flatMap((target) =>
      ['POST', 'PUT', 'PATCH', 'DELETE'].map((method) => ({ target, method })),
    ),
  );
  const handle = await startRun(client, taskQueue, proofRequest(estate, path), `discover-${path}`);
  const status = await drive(estate, handle);
  assert.equal(status?.phase, 'completed', `the clean run of path ${path}: ${status?.error?.message}`);
  const { history } = await estate.control('DELETE', '/faults');
  const calls: CallName[] = [];
  for (const e of history as { target: FaultTarget; method: string; path: string }[]) {
    const name = (Object.keys(CALLS) as CallName[]).find((n) => {
      const c = CALLS[n];
      return c.target === e.target && c.method === e.method && new RegExp(c.path).test(e.path);
    });
    if (name) calls.push(name);
    else
      assert.ok(
        READS_WITH_A_BODY.some((re) => re.test(e.path)),
        `unknown mutating call ${JSON.stringify(e)}`,
      );
  }
  return { calls, after: await estate.view() };
}

/** Held requests of the sandbox now. */
export async function held(estate: Estate): Promise<{ id: number; path: string; when: string }[]> {
  return (await estate.control('GET', '/faults/held')).held;
}
