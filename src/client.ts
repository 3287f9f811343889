/**
 * Starting a connection from code (CI, the CLI): validate before anything is sent, derive the workflow id from the
 * deployment and the alias (so a second start for the same connection finds the first), and give the Temporal UI a
 * static summary and details of what was asked.
 */
import type { WorkflowStartOptions } from '@temporalio/client';
import {
  formatProblems,
  validateConnectRequest,
  type ConnectRequestInput,
  type ValidationProblem,
} from './contract/request';
import { taskQueue } from './temporal/connection';

export function connectWorkflowId(r: { alias: string; local: { deploymentId: string } }): string {
  return `connect-${r.local.deploymentId}-${r.alias}`;
}

export class InvalidRequestError extends Error {
  constructor(readonly problems: ValidationProblem[]) {
    super(formatProblems(problems));
  }
}

export function connectStartOptions(
  input: ConnectRequestInput,
): WorkflowStartOptions & { args: [ConnectRequestInput] } {
  const v = validateConnectRequest(input);
  if (!v.ok) throw new InvalidRequestError(v.problems);
  const r = v.request;
  const remoteSide = r.remote.elasticsearch ? 'created by this tool' : 'handed over by the self-managed org';
  return {
    workflowId: connectWorkflowId(r),
    taskQueue: taskQueue(),
    args: [input],
    staticSummary: `Connect ECH ${r.local.deploymentId} to ${r.remote.proxyAddress} as "${r.alias}" (${r.securityModel})`,
    staticDetails: [
      `**Remote cluster alias:** \`${r.alias}\``,
      `**Security model:** ${r.securityModel}, ${r.remote.ca.kind} CA`,
      `**ECH deployment:** \`${r.local.deploymentId}\``,
      `**Remote address:** \`${r.remote.proxyAddress}\`${r.remote.serverName ? ` (server name \`${r.remote.serverName}\`)` : ''}`,
      r.securityModel === 'api-key' ? `**Cross-cluster API key:** ${remoteSide}` : '',
      `**Approval before ECH changes:** ${r.approvals.beforeLocalChanges ? `yes (timeout ${r.approvals.timeout})` : 'no'}`,
      `**On failure:** ${r.onFailure}${r.dryRun ? ' — **dry run**' : ''}`,
    ]
      .filter(Boolean)
      .join('\n'),
  };
}
