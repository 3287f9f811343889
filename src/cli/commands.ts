/**
 * The client commands' definitions (names, options, help). Each action loads its module (./connect, ./status…) only
 * when it runs, so `--help` and every other command do not pay for the Temporal client, the contract's zod schemas and
 * the payload codec they load.
 */
import { Option, type Command } from 'commander';
import { ALL_CONFIRMABLE_STEPS, HUMAN_STEPS, type HumanStepId, type WorkflowKind } from '../contract/steps';
import { load } from './load';
import { runCommand } from './output';

type Connect = typeof import('./connect');
type Lifecycle = typeof import('./lifecycle');
type Status = typeof import('./status');
type Signals = typeof import('./signals');
type Audit = typeof import('./audit');
type Fleet = typeof import('./fleet');

const stepOption = (choices: HumanStepId[]) =>
  new Option('--step <step>', 'the human step answered').choices(choices).makeOptionMandatory();
const jsonOption = () => new Option('--json', 'print one JSON object on stdout');

/** The day-2 commands: what the help needs (src/cli/lifecycle.ts adds how each is validated and described). */
export const DAY2_COMMAND_NAMES = [
  { name: 'rotate', kind: 'rotate', workflowType: 'rotateRemoteClusterKey', requestName: 'RotateRequest' },
  {
    name: 'update-access',
    kind: 'update-access',
    workflowType: 'updateRemoteClusterAccess',
    requestName: 'UpdateAccessRequest',
  },
  { name: 'disconnect', kind: 'disconnect', workflowType: 'disconnectRemoteCluster', requestName: 'DisconnectRequest' },
  { name: 'migrate', kind: 'migrate', workflowType: 'migrateRemoteClusterToApiKey', requestName: 'MigrateRequest' },
] as const satisfies readonly { name: string; kind: WorkflowKind; workflowType: string; requestName: string }[];

export function registerClientCommands(program: Command): void {
  program
    .command('connect')
    .description(
      'Start (or attach to) the connection a ConnectRequest describes; validated before anything is sent. ' +
        'Exit codes: 0 done/started, 2 invalid request, 3 failed, 4 still waiting at --timeout, 5 rejected',
    )
    .requiredOption('--request <file>', 'the ConnectRequest (JSON)')
    .option('--wait', 'follow the run to its end, printing each step and what a person must do next')
    .option('--timeout <duration>', 'with --wait (implied): stop waiting after this long ("30m", "2h"); exit 4')
    .option('--approve', 'approve the ECH changes in advance (needs --as)')
    .option('--as <name>', 'the approver recorded with --approve')
    .option('--new-run', 'when the connection has already run and ended, start a new run (default: report that one)')
    .option('--json', 'print one JSON object on stdout (progress is not printed)')
    .action((opts: import('./connect').ConnectOptions) =>
      runCommand(!!opts.json, () => load<Connect>('./connect').connect(opts)),
    );
  for (const cmd of DAY2_COMMAND_NAMES) {
    program
      .command(cmd.name)
      .description(
        `${cmd.workflowType}: validated before anything is sent. ` +
          'Exit codes: 0 done/started, 2 invalid request, 3 failed, 4 still waiting at --timeout, 5 rejected',
      )
      .requiredOption('--request <file>', `the ${cmd.requestName} (JSON)`)
      .option('--wait', 'follow the run to its end, printing each step and what a person must do next')
      .option('--timeout <duration>', 'with --wait (implied): stop waiting after this long ("30m", "2h"); exit 4')
      .option('--approve', 'approve the ECH changes in advance (needs --as)')
      .option('--as <name>', 'the approver recorded with --approve')
      .option('--json', 'print one JSON object on stdout (progress is not printed)')
      .action((opts: import('./lifecycle').Options) =>
        runCommand(!!opts.json, () => load<Lifecycle>('./lifecycle').runDay2(cmd.name, opts)),
      );
  }
  program
    .command('status')
    .description('Where a connection stands: phase, steps, what it waits for and from whom, or how it ended')
    .argument('<workflow-id>', 'e.g. connect-<deploymentId>-<alias>')
    .option('--json', 'print one JSON object')
    .action((workflowId: string, opts: { json?: boolean }) =>
      runCommand(!!opts.json, () => load<Status>('./status').status(workflowId, opts)),
    );
  program
    .command('approve')
    .description('ECH org: approve the changes to the ECH deployment (the run must be waiting for the approval)')
    .argument('<workflow-id>')
    .addOption(stepOption([HUMAN_STEPS.approveLocalChanges]))
    .requiredOption('--as <name>', 'who approves (recorded in the run)')
    .option('--comment <text>')
    .addOption(jsonOption())
    .action((id: string, o: { step: HumanStepId; as: string; comment?: string; json?: boolean }) =>
      runCommand(!!o.json, () => load<Signals>('./signals').approve(id, o)),
    );

  program
    .command('reject')
    .description('ECH org: reject; the run ends with nothing changed on ECH (exit 5 for whoever waits on it)')
    .argument('<workflow-id>')
    .addOption(stepOption([HUMAN_STEPS.approveLocalChanges]))
    .requiredOption('--as <name>', 'who rejects')
    .requiredOption('--reason <text>', 'why (recorded in the run and its failure)')
    .addOption(jsonOption())
    .action((id: string, o: { step: HumanStepId; as: string; reason: string; json?: boolean }) =>
      runCommand(!!o.json, () => load<Signals>('./signals').reject(id, o)),
    );

  program
    .command('confirm')
    .description(`Self-managed org: confirm a step it completed (${ALL_CONFIRMABLE_STEPS.join(', ')})`)
    .argument('<workflow-id>')
    .addOption(stepOption([...ALL_CONFIRMABLE_STEPS]))
    .requiredOption('--as <name>', 'who did it')
    .addOption(jsonOption())
    .action((id: string, o: { step: HumanStepId; as: string; json?: boolean }) =>
      runCommand(!!o.json, () => load<Signals>('./signals').confirm(id, o)),
    );

  program
    .command('provide-key')
    .description(
      'Self-managed org: hand over the cross-cluster API key (its "encoded" value) from an environment variable',
    )
    .argument('<workflow-id>')
    .requiredOption('--from-env <var>', 'the environment variable holding the encoded key (never the key itself)')
    .addOption(jsonOption())
    .action((id: string, o: { fromEnv: string; json?: boolean }) =>
      runCommand(!!o.json, () => load<Signals>('./signals').provideKey(id, o)),
    );

  program
    .command('provide-ca')
    .description('Self-managed org (TLS model): hand over the transport CA certificate (PEM) from a file')
    .argument('<workflow-id>')
    .requiredOption('--file <pem>', 'the CA certificate of the self-managed transport layer (no private key)')
    .addOption(jsonOption())
    .action((id: string, o: { file: string; json?: boolean }) =>
      runCommand(!!o.json, () => load<Signals>('./signals').provideCa(id, o)),
    );
  program
    .command('audit')
    .description(
      'auditRemoteClusters (read-only): one row per connection. Exit codes: 0 all healthy, 2 invalid request, ' +
        '3 anything broken, drifted, expiring or orphaned',
    )
    .requiredOption('--request <file>', 'the AuditRequest (JSON)')
    .option('--json', 'print one JSON object on stdout')
    .action((opts: { request: string; json?: boolean }) =>
      runCommand(!!opts.json, () => load<Audit>('./audit').audit(opts)),
    );
  program
    .command('fleet')
    .description(
      'connectRemoteClusters: many connections (shared defaults) under one approval, child connect runs with bounded ' +
        'concurrency. Exit codes: 0 all connected or already connected (or started), 2 invalid request, ' +
        '3 any connection failed, timed out or was cancelled, 5 all rejected',
    )
    .requiredOption('--request <file>', 'the FleetRequest (JSON)')
    .option('--wait', 'follow the fleet to its report, printing progress and the approval it waits for')
    .option('--approve', "approve the fleet's ECH changes in advance (the batch, or every deployment; needs --as)")
    .option('--as <name>', 'the approver recorded with --approve (in the fleet and in every connection it starts)')
    .option('--json', 'print one JSON object on stdout (progress is not printed)')
    .action((opts: import('./fleet').FleetOptions) =>
      runCommand(!!opts.json, () => load<Fleet>('./fleet').fleet(opts)),
    );
  program
    .command('schedule')
    .description('Temporal Schedules of this tool')
    .command('audit')
    .description('create or update the Schedule that runs auditRemoteClusters (same id per request; overlap skip)')
    .requiredOption('--request <file>', 'the AuditRequest (JSON)')
    .requiredOption('--every <duration>', 'how often ("24h", "6h", "30m")')
    .option('--json', 'print one JSON object on stdout')
    .action((opts: { request: string; every: string; json?: boolean }) =>
      runCommand(!!opts.json, () => load<Audit>('./audit').scheduleAudit(opts)),
    );
}
