/**
 * `ech-remote rotate|update-access|disconnect|migrate --request FILE [--wait] [--json] [--approve --as NAME] [--timeout D]`:
 * validate before anything is sent, start the day-2 run for the connection (or attach to the one going), optionally
 * pre-approve, follow it. Exit codes as `connect`: 0 done, 2 invalid, 3 failed, 4 still waiting, 5 rejected.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { taskQueue } from '../temporal/connection';
import {
  validateDisconnectRequest,
  validateMigrateRequest,
  validateRotateRequest,
  validateUpdateAccessRequest,
  type Day2Request,
} from '../contract/lifecycle';
import type { ValidationProblem } from '../contract/request';
import type { WorkflowKind } from '../contract/steps';
import { day2WorkflowId } from '../contract/lifecycle';
import { cliClient } from './client';
import { DAY2_COMMAND_NAMES } from './commands';
import { followStartedRun, invalid, readRunOptions, type RunCommandOptions } from './connect';

type Day2CommandName = (typeof DAY2_COMMAND_NAMES)[number]['name'];

interface Day2Command {
  name: string;
  kind: WorkflowKind;
  workflowType: string;
  requestName: string;
  validate(input: unknown): { ok: true; request: Day2Request } | { ok: false; problems: ValidationProblem[] };
  describe(r: Day2Request): string;
}

const HOW: Record<Day2CommandName, Pick<Day2Command, 'validate' | 'describe'>> = {
  rotate: {
    validate: validateRotateRequest,
    describe: (r) => `Rotate the cross-cluster API key of "${r.alias}" on ECH ${r.local.deploymentId}`,
  },
  'update-access': {
    validate: validateUpdateAccessRequest,
    describe: (r) => `Update the access of "${r.alias}" on ECH ${r.local.deploymentId}`,
  },
  disconnect: {
    validate: validateDisconnectRequest,
    describe: (r) => `Disconnect "${r.alias}" from ECH ${r.local.deploymentId}`,
  },
  migrate: {
    validate: validateMigrateRequest,
    describe: (r) => `Migrate "${r.alias}" on ECH ${r.local.deploymentId} to API key authentication`,
  },
};

export const DAY2_COMMANDS: Day2Command[] = DAY2_COMMAND_NAMES.map((c) => ({ ...c, ...HOW[c.name] }));

export { day2WorkflowId };

export type Options = RunCommandOptions;

async function startOrAttach(
  client: Client,
  cmd: Day2Command,
  r: Day2Request,
  input: unknown,
): Promise<{ handle: WorkflowHandle; runId: string; attached: boolean }> {
  const workflowId = day2WorkflowId(cmd.kind, r);
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name === 'RUNNING')
      return { handle: client.workflow.getHandle(workflowId, d.runId), runId: d.runId, attached: true };
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  try {
    const handle = await client.workflow.start(cmd.workflowType, {
      workflowId,
      taskQueue: taskQueue(),
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      staticSummary: cmd.describe(r),
    });
    return { handle, runId: handle.firstExecutionRunId, attached: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const d = await client.workflow.getHandle(workflowId).describe();
    return { handle: client.workflow.getHandle(workflowId, d.runId), runId: d.runId, attached: true };
  }
}

async function run(cmd: Day2Command, opts: Options): Promise<never> {
  const json = !!opts.json;
  const { input, usage } = readRunOptions(opts);
  if (usage.length) return invalid(usage, json, cmd.requestName);
  const v = cmd.validate(input);
  if (!v.ok) return invalid(v.problems, json, cmd.requestName);

  const client = await cliClient();
  const started = await startOrAttach(client, cmd, v.request, input);
  return followStartedRun(client, started, opts, cmd.name);
}

/** Runs the day-2 command `name` (rotate, update-access, disconnect, migrate). */
export function runDay2(name: string, opts: Options): Promise<never> {
  const cmd = DAY2_COMMANDS.find((c) => c.name === name);
  if (!cmd) throw new Error(`no day-2 command ${name}`);
  return run(cmd, opts);
}
