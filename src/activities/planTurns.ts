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

export interface PlanTurnActivities {
  requestPlanTurn(i: { deploymentId: string; request: PlanTurnRequest }): Promise<void>;
  closedPlanTurnHolders(i: { holders: { workflowId: string; runId: string }[] }): Promise<string[]>;
}

export function createPlanTurnActivities(): PlanTurnActivities {
  return {
    async requestPlanTurn({ deploymentId, request }) {
      const ctx = Context.current();
      await ctx.client.workflow.signalWithStart(COORDINATOR_TYPE, {
        workflowId: `ech-remote-deployment/${deploymentId}`,
        taskQueue: ctx.info.taskQueue,
        args: [{ deploymentId }],
        signal: REQUEST_SIGNAL,
        signalArgs: [request],
        staticSummary: `One plan at a time on ECH deployment ${deploymentId}: grants turns to the runs that change it`,
      });
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
