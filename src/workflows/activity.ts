/** How the workflows call activities: one retry policy, a summary per call site, and the saga's compensation type. */
import * as wf from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import type { Activities, CloudTarget } from '../activities/types';
import type { DirectTrustEntry } from '../domain/requests';
import type { RunState } from './humanSteps';

export const RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 10,
} as const;

/** One proxy per call site, so each activity carries a summary the Temporal UI shows. */
export function activity(summary: string, options: Partial<ActivityOptions> = {}): Activities {
  return wf.proxyActivities<Activities>({ startToCloseTimeout: '2m', retry: RETRY, summary, ...options });
}
export const LONG = { startToCloseTimeout: '45m', heartbeatTimeout: '1m' } as const;

export interface Compensation {
  label: string;
  undo: () => Promise<unknown>;
}

/**
 * Step `ech-trust`: our direct trust entry on the deployment (read-modify-write, others' entries kept), then the plan.
 * Only an entry this run added is undone on rollback.
 */
export async function trustOnEch(
  ctx: { state: RunState; cloud: CloudTarget; existingTrustNames: string[]; compensations: Compensation[] },
  entry: DirectTrustEntry,
  what: string,
): Promise<{ created: boolean }> {
  const { state, cloud } = ctx;
  state.step('ech-trust', 'running', what);
  const existed = ctx.existingTrustNames.includes(entry.name);
  // Workflow time (deterministic): an older failed plan on the deployment is not this change's plan.
  const notBefore = new Date().toISOString();
  await activity(`Trust ${what} on ECH`).ensureDirectTrust({ target: cloud, entry });
  if (!existed) {
    ctx.compensations.push({
      label: `trust entry "${entry.name}" on the ECH deployment`,
      undo: async () => {
        const removedAt = new Date().toISOString();
        await activity('Remove the trust entry').removeDirectTrust({ target: cloud, name: entry.name });
        await activity('Wait for the ECH plan', LONG).waitForPlan({ target: cloud, notBefore: removedAt });
      },
    });
  }
  await activity('Wait for the ECH plan', LONG).waitForPlan({ target: cloud, notBefore });
  state.step('ech-trust', 'done', entry.name);
  return { created: !existed };
}
