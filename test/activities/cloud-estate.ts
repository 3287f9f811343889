/**
 * The Cloud side of the sandbox for the activity tests: the real sandbox (`start()` from src/sandbox), used only
 * through what the contract gives any client — `info` (sandbox.json), the `/_sandbox` control API (reset, faults,
 * plans) and the Cloud API itself for read-backs.
 */
import assert from 'node:assert/strict';
import { start, type Sandbox, type SandboxInfo } from '../../src/sandbox';
import type { FaultRule } from '../../src/sandbox/faults';
import type { PlanSettings } from '../../src/sandbox/cloud';
import type { CloudSchemas } from '../../src/clients/cloud';
import { httpsJson } from '../sandbox/cloud-helpers';

type Trust = CloudSchemas['ElasticsearchClusterTrustSettings'];

/** Short plans keep the tests fast; tests that need longer ones set them through the control API. */
const PLAN_PENDING_MS = 60;

export interface CloudEstate {
  info: SandboxInfo;
  /** `POST /_sandbox/reset` (fresh trust, keystore, plans, faults; same deployment id), then short plans. */
  reset(): Promise<void>;
  /** `POST /_sandbox/faults`. */
  injectFaults(body: { seed: number; rules: FaultRule[] }): Promise<void>;
  /** `POST /_sandbox/plans`. */
  setPlans(p: Partial<PlanSettings>): Promise<void>;
  /** `POST /_sandbox/ech/certificate-authority`: an inactive ECH transport CA beside the active one. */
  addInactiveEchCa(inactive: 'valid' | 'expired'): Promise<void>;
  /** Name of the direct trust entry "someone else" (the ECH org by hand) created. */
  foreignDirectName: string;
  /** Someone else adds a direct entry through the Cloud API (keeping what is there) and waits for its plan. */
  seedForeignTrust(): Promise<{ accounts: Trust['accounts']; directName: string; directUid: string }>;
  trust(): Promise<Trust>;
  resourceVersion(): Promise<string>;
  stop(): Promise<void>;
}

export async function startCloudEstate(): Promise<CloudEstate> {
  // start() reuses the run's shared public root under `npm test`.
  const sandbox: Sandbox = await start({ planPendingMs: PLAN_PENDING_MS });
  const { info } = sandbox;
  const auth = { authorization: `ApiKey ${info.cloud.apiKey}` };
  const ca = info.ca.publicRoot;

  const control = async (method: string, p: string, body?: unknown) => {
    const res = await httpsJson(`${info.control}${p}`, { method, body, ca, headers: auth });
    if (res.status !== 200) throw new Error(`${method} /_sandbox${p}: ${res.status} ${res.text}`);
    return res.body;
  };
  const cloud = (method: string, p: string, body?: unknown) =>
    httpsJson(`${info.cloud.endpoint}/api/v1${p}`, { method, body, ca, headers: auth });

  const read = async () => {
    const res = await cloud(
      'GET',
      `/deployments/${info.cloud.deploymentId}?show_settings=true&show_plans=true&clear_transient=true`,
    );
    if (res.status !== 200) throw new Error(`GET deployment: ${res.status} ${res.text}`);
    return { es: res.body.resources.elasticsearch[0], version: String(res.headers['x-cloud-resource-version']) };
  };

  const waitIdle = async () => {
    for (let i = 0; i < 400; i++) {
      if (!(await read()).es.info.plan_info.pending) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('plan still pending');
  };

  const foreignDirectName = 'customer-managed-ece';

  return {
    info,
    foreignDirectName,
    async reset() {
      await control('POST', '/reset');
      await control('POST', '/plans', { pendingMs: PLAN_PENDING_MS, failNext: 0 });
    },
    async injectFaults(body) {
      await control('POST', '/faults', body);
    },
    async setPlans(p) {
      await control('POST', '/plans', p);
    },
    async addInactiveEchCa(inactive) {
      await control('POST', '/ech/certificate-authority', { inactive });
    },
    async seedForeignTrust() {
      await waitIdle();
      const { es, version } = await read();
      const trust: Trust = es.info.settings?.trust ?? {};
      if (!(trust.direct ?? []).some((d) => d.name === foreignDirectName)) {
        const direct = [
          ...(trust.direct ?? []),
          {
            name: foreignDirectName,
            type: 'generic' as const,
            trust_all: true,
            scope_id: 'abc123',
            certificates: [{ pem: info.ca.selfManagedTransport }],
          },
        ].map((d) => ({ ...d, certificates: d.certificates.map((c) => ({ pem: c.pem })) }));
        const res = await cloud('PUT', `/deployments/${info.cloud.deploymentId}?version=${version}`, {
          prune_orphans: false,
          resources: {
            elasticsearch: [
              {
                ref_id: es.ref_id,
                region: es.region,
                plan: es.info.plan_info.current.plan,
                settings: { trust: { ...trust, direct } },
              },
            ],
          },
        });
        if (res.status !== 200) throw new Error(`seed PUT: ${res.status} ${res.text}`);
        await waitIdle();
      }
      const after = (await read()).es.info.settings.trust as Trust;
      const d = after.direct?.find((x) => x.name === foreignDirectName);
      return { accounts: after.accounts, directName: foreignDirectName, directUid: d?.uid ?? '' };
    },
    async trust() {
      return ((await read()).es.info.settings?.trust ?? {}) as Trust;
    },
    async resourceVersion() {
      return (await read()).version;
    },
    stop: () => sandbox.stop(),
  };
}

/** The plan attempt seen before a trust write (for waitForPlan) is reported; the rest is compared exactly. */
export function withoutAttempt<T extends { previousAttemptId?: string }>(res: T): Omit<T, 'previousAttemptId'> {
  const { previousAttemptId, ...rest } = res;
  assert.equal(typeof previousAttemptId, 'string', 'the plan attempt seen before the write');
  return rest;
}
