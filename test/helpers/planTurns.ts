/**
 * Stand-ins for runs that ask a deployment's plan-turn coordinator for turns, without a connect behind them
 * (test/workflows/deployment-plans.test.ts, scripts/record-histories.ts).
 */
import type { Client, WorkflowHandleWithFirstExecutionRunId as WorkflowHandle } from '@temporalio/client';
import type { DirectTrustEntry } from '../../src/activities/types';
import {
  deploymentCoordinatorId,
  type CoordinatorInput,
  type PlanTurnRequest,
  type PlanTurnsView,
} from '../../src/workflows/deploymentPlans';

let seq = 0;

/** A running workflow to stand for a requester: a lease (it lives until terminated, and ignores other signals). */
export function startRequester(client: Client, taskQueue: string): Promise<WorkflowHandle> {
  const id = `requester-${Date.now()}-${++seq}`;
  return client.workflow.start('connectionLease', {
    taskQueue,
    workflowId: id,
    args: [{ workflowId: id, runId: 'r', workflowType: 'test', since: new Date().toISOString() }],
  });
}

/** A trust entry as a path B run would carry it (the certificate is never parsed by the coordinator). */
export function trustEntryFor(alias: string): DirectTrustEntry {
  return {
    type: 'generic',
    name: `ech-remote-clusters/${alias}`,
    certificates: [{ pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' }],
    trust_all: true,
  };
}

/** The requester asks for a turn (a trust entry's when `alias` is given, else a restart), starting the coordinator. */
export async function askPlanTurn(
  client: Client,
  taskQueue: string,
  deploymentId: string,
  h: WorkflowHandle,
  limits?: CoordinatorInput['limits'],
  alias?: string,
): Promise<PlanTurnRequest> {
  const request: PlanTurnRequest = {
    requestId: `${h.firstExecutionRunId}/1`,
    workflowId: h.workflowId,
    runId: h.firstExecutionRunId,
    what: alias ? `trust ${alias}` : 'restart',
    ...(alias ? { trustEntry: trustEntryFor(alias) } : {}),
    at: new Date().toISOString(),
  };
  await client.workflow.signalWithStart('deploymentPlanCoordinator', {
    taskQueue,
    workflowId: deploymentCoordinatorId(deploymentId, taskQueue),
    args: [{ deploymentId, limits }],
    signal: 'requestPlanTurn',
    signalArgs: [request],
  });
  return request;
}

/** Who holds a turn and who waits. */
export function planTurnsOf(client: Client, taskQueue: string, deploymentId: string): Promise<PlanTurnsView> {
  return client.workflow.getHandle(deploymentCoordinatorId(deploymentId, taskQueue)).query<PlanTurnsView>('planTurns');
}
