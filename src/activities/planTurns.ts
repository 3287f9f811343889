/**
 * The two Temporal calls of the per-deployment plan coordinator (src/workflows/deploymentPlans.ts): a run asks for a
 * turn by signal-with-start (whoever asks first starts the coordinator; a workflow cannot do that itself), and the
 * coordinator asks which holders of a turn have ended. Both use the worker's own client.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { PlanTurnRequest } from '../workflows/deploymentPlans';

/** Same names as src/workflows/deploymentPlans.ts (not imported: that module is workflow code). */
const COORDINATOR_TYPE = 'deploymentPlanCoordinator';
const REQUEST_SIGNAL = 'requestPlanTurn';

/**
 * An early request (askPlanTurnEarly) is not sent when a run of this worker asked the same coordinator for a turn this
 * recently: many runs starting together would only add signals the coordinator drops (it grants an early request only
 * when nobody holds or waits), each one a workflow task of the coordinator that every run waits behind.
 */
const EARLY_QUIET_MS = 1_000;
/** When a run of this worker last asked each coordinator for a turn (bounded: old entries are dropped). */
const lastAsked = new Map<string, number>();

export interface PlanTurnActivities {
  /** `coordinatorId`: the workflow's deploymentCoordinatorId (per deployment and task queue). */
  requestPlanTurn(i: {
    deploymentId: string;
    coordinatorId?: string;
    request: PlanTurnRequest;
    early?: boolean;
  }): Promise<{ sent: boolean } | void>;
  closedPlanTurnHolders(i: { holders: { workflowId: string; runId: string }[] }): Promise<string[]>;
}

export function createPlanTurnActivities(): PlanTurnActivities {
  return {
    async requestPlanTurn({ deploymentId, coordinatorId, request, early }) {
      const ctx = Context.current();
      // Runs that asked before the id named the task queue pass none.
      const workflowId = coordinatorId ?? `ech-remote-deployment/${deploymentId}`;
      const now = Date.now();
      const last = lastAsked.get(workflowId);
      if (early && last !== undefined && now - last < EARLY_QUIET_MS) return { sent: false };
      // Only requests that go out count (a skipped one must not keep later ones from going out).
      lastAsked.set(workflowId, now);
      if (lastAsked.size > 1_000) {
        for (const [id, at] of lastAsked) if (now - at > EARLY_QUIET_MS) lastAsked.delete(id);
      }
      await ctx.client.workflow.signalWithStart(COORDINATOR_TYPE, {
        workflowId,
        taskQueue: ctx.info.taskQueue,
        args: [{ deploymentId }],
        signal: REQUEST_SIGNAL,
        signalArgs: [request],
        staticSummary: `One plan at a time on ECH deployment ${deploymentId}: grants turns to the runs that change it`,
      });
      return early ? { sent: true } : undefined;
    },

    async closedPlanTurnHolders({ holders }) {
      const client = Context.current().client;
      const closed: string[] = [];
      for (const h of holders) {
        try {
          const d = await client.workflow.getHandle(h.workflowId, h.runId).describe();
          if (d.status.name !== 'RUNNING') closed.push(h.runId);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) closed.push(h.runId);
          else throw err;
        }
      }
      return closed;
    },
  };
}
