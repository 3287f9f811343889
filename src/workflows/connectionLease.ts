/**
 * One run per connection at a time. A run that will change a connection (deployment + alias) first starts this tiny
 * child workflow under an id made of both; Temporal refuses a second running workflow with the same id, so a second
 * run cannot get the lease while the first one lives, whatever workflow id it was started under (UI, CLI, CI). The
 * lease ends with its holder (parent close policy TERMINATE), even when the holder is terminated or times out, so it
 * can never be left behind. A run refused the lease asks it who holds it and says so.
 *
 * Every lifecycle workflow (connect today; rotate, update, disconnect later) takes the same lease, so they exclude
 * each other too.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import { z } from 'zod';

export interface LeaseHolder {
  workflowId: string;
  runId: string;
  workflowType: string;
  since: string;
}

const holderSchema = z
  .object({
    workflowId: z.string().min(1).max(1000),
    runId: z.string().min(1).max(200),
    workflowType: z.string().min(1).max(200),
    since: z.string().max(64),
  })
  .strict();

/** Asks the lease who holds it; the answer comes back as `connectionLeaseHeld` to `replyTo`. */
export const whoHoldsSignal = wf.defineSignal<[{ replyTo: string }]>('whoHolds');
export const leaseHeldSignal = wf.defineSignal<[LeaseHolder]>('connectionLeaseHeld');
export const leaseHolderQuery = wf.defineQuery<LeaseHolder>('holder');

export function connectionLeaseId(deploymentId: string, alias: string): string {
  return `ech-remote-connection/${deploymentId}/${alias}`;
}

/** The lease itself: answers who holds it, and lives as long as its holder. */
export async function connectionLease(holder: LeaseHolder): Promise<void> {
  wf.setHandler(leaseHolderQuery, () => holder, { description: 'The run that holds this connection.' });
  wf.setHandler(
    whoHoldsSignal,
    async (raw: unknown) => {
      const replyTo = (raw as { replyTo?: unknown } | null)?.replyTo;
      if (typeof replyTo !== 'string' || replyTo.length === 0 || replyTo.length > 1000) return;
      // The asker may have ended already: nothing to tell then.
      await wf
        .getExternalWorkflowHandle(replyTo)
        .signal(leaseHeldSignal, holder)
        .catch(() => undefined);
    },
    { description: 'Internal: a run refused the lease asks who holds it.' },
  );
  await wf.condition(() => false);
}

/** How long a refused run waits for the lease's answer before failing without the holder's name. */
const ASK_TIMEOUT = '20s';

/**
 * Take the lease of `deploymentId`/`alias` for this run, or fail with ConnectionBusy naming the run that holds it.
 * Call it before the preflight reads the state it will change.
 */
export async function acquireConnectionLease(deploymentId: string, alias: string): Promise<void> {
  const info = wf.workflowInfo();
  const id = connectionLeaseId(deploymentId, alias);
  let heldBy: LeaseHolder | undefined;
  wf.setHandler(
    leaseHeldSignal,
    (raw: unknown) => {
      const parsed = holderSchema.safeParse(raw);
      if (parsed.success) heldBy = parsed.data;
    },
    { description: 'Internal: the answer of a connection lease held by another run.' },
  );
  for (let attempt = 1; ; attempt++) {
    try {
      await wf.startChild(connectionLease, {
        workflowId: id,
        args: [
          {
            workflowId: info.workflowId,
            runId: info.runId,
            workflowType: info.workflowType,
            since: new Date().toISOString(),
          },
        ],
        parentClosePolicy: 'TERMINATE',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: `Lease of connection ${alias} on deployment ${deploymentId}, held by ${info.workflowId}`,
      });
      return;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    // Held: ask who holds it. A lease that ended meanwhile is free: try once more.
    const asked = await wf
      .getExternalWorkflowHandle(id)
      .signal(whoHoldsSignal, { replyTo: info.workflowId })
      .then(
        () => true,
        () => false,
      );
    if (!asked && attempt < 3) continue;
    if (asked) await wf.condition(() => heldBy !== undefined, ASK_TIMEOUT);
    const holder = heldBy as LeaseHolder | undefined;
    throw wf.ApplicationFailure.create({
      type: 'ConnectionBusy',
      nonRetryable: true,
      message:
        `Another run is changing connection "${alias}" of deployment ${deploymentId}: ` +
        (holder
          ? `${holder.workflowType} ${holder.workflowId} (run ${holder.runId}, since ${holder.since})`
          : `the run holding lease ${id}`) +
        '. Nothing was changed → wait for that run to end (or cancel it), then start again.',
      details: holder ? [{ heldBy: holder }] : [],
    });
  }
}
