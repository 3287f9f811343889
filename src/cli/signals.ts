/**
 * Answering a run's human steps from a shell or a pipeline: approve, reject, confirm, provide-key. Each sends the
 * contract's signal (src/contract/messages.ts). provide-key reads the key from an environment variable, so it is never
 * on a command line (shell history, process list) and never printed.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { Option, type Command } from 'commander';
import {
  ENCODED_API_KEY_RE,
  approveSignal,
  confirmRemoteStepSignal,
  provideCrossClusterApiKeySignal,
  rejectSignal,
} from '../contract/messages';
import { HUMAN_STEPS, type HumanStepId } from '../contract/steps';
import { connectClient } from '../temporal/connection';
import { CliError, EXIT } from './exitCodes';
import { exitWith, runCommand } from './output';

const stepOption = (choices: HumanStepId[]) =>
  new Option('--step <step>', 'the human step answered').choices(choices).makeOptionMandatory();

async function send(workflowId: string, what: string, signal: (h: WorkflowHandle) => Promise<void>): Promise<never> {
  const client = await connectClient();
  try {
    await signal(client.workflow.getHandle(workflowId));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(`no running workflow "${workflowId}" (it may have ended; see ech-remote status)`, EXIT.error);
    }
    throw err;
  }
  return exitWith(EXIT.done, `Sent ${what} to ${workflowId}.\n`);
}

function required(value: string | undefined, flag: string): string {
  const v = value?.trim();
  if (!v) throw new CliError(`${flag} must not be empty`, EXIT.invalid, 'InvalidInput');
  return v;
}

export function registerSignals(program: Command): void {
  program
    .command('approve')
    .description('ECH org: approve the changes to the ECH deployment')
    .argument('<workflow-id>')
    .addOption(stepOption([HUMAN_STEPS.approveLocalChanges]))
    .requiredOption('--as <name>', 'who approves (recorded in the run)')
    .option('--comment <text>')
    .action((id: string, o: { step: HumanStepId; as: string; comment?: string }) =>
      runCommand(false, () =>
        send(id, `approve (${o.step}, by ${o.as})`, (h) =>
          h.signal(approveSignal, {
            step: o.step,
            approver: required(o.as, '--as'),
            ...(o.comment ? { comment: o.comment } : {}),
          }),
        ),
      ),
    );

  program
    .command('reject')
    .description('ECH org: reject; the run ends with nothing changed on ECH (exit 5 for whoever waits on it)')
    .argument('<workflow-id>')
    .addOption(stepOption([HUMAN_STEPS.approveLocalChanges]))
    .requiredOption('--as <name>', 'who rejects')
    .requiredOption('--reason <text>', 'why (recorded in the run and its failure)')
    .action((id: string, o: { step: HumanStepId; as: string; reason: string }) =>
      runCommand(false, () =>
        send(id, `reject (${o.step}, by ${o.as})`, (h) =>
          h.signal(rejectSignal, {
            step: o.step,
            approver: required(o.as, '--as'),
            reason: required(o.reason, '--reason'),
          }),
        ),
      ),
    );

  program
    .command('confirm')
    .description('Self-managed org: confirm a step it completed (remote-cluster-server, remote-trust)')
    .argument('<workflow-id>')
    .addOption(stepOption([HUMAN_STEPS.remoteClusterServer, HUMAN_STEPS.remoteTrust]))
    .requiredOption('--as <name>', 'who did it')
    .action((id: string, o: { step: HumanStepId; as: string }) =>
      runCommand(false, () =>
        send(id, `confirmRemoteStep (${o.step}, by ${o.as})`, (h) =>
          h.signal(confirmRemoteStepSignal, { step: o.step, by: required(o.as, '--as') }),
        ),
      ),
    );

  program
    .command('provide-key')
    .description(
      'Self-managed org: hand over the cross-cluster API key (its "encoded" value) from an environment variable',
    )
    .argument('<workflow-id>')
    .requiredOption('--from-env <var>', 'the environment variable holding the encoded key (never the key itself)')
    .action((id: string, o: { fromEnv: string }) =>
      runCommand(false, () => {
        const encoded = process.env[o.fromEnv]?.trim();
        if (!encoded)
          throw new CliError(`environment variable ${o.fromEnv} is not set or empty`, EXIT.invalid, 'InvalidInput');
        if (!ENCODED_API_KEY_RE.test(encoded)) {
          throw new CliError(
            `${o.fromEnv} does not hold an encoded API key (the "encoded" value of the create API key response)`,
            EXIT.invalid,
            'InvalidInput',
          );
        }
        return send(id, `the cross-cluster API key from $${o.fromEnv} (not printed)`, (h) =>
          h.signal(provideCrossClusterApiKeySignal, { encoded }),
        );
      }),
    );
}
