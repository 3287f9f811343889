/** ech-remote: thin commands over the Temporal client, the worker, the sandbox and the dev environment. */
import { Command, CommanderError, Option } from 'commander';
import { registerClientCommands } from './commands';
import { EXIT } from './exitCodes';
import { exitWith, printJson } from './output';
import { load } from './load';

const program = new Command()
  .name('ech-remote')
  .description(
    'Connect Elastic Cloud Hosted deployments to self-managed Elasticsearch clusters, durably, with Temporal.',
  )
  // Usage errors (unknown option, missing --step…) exit 2 like an invalid request: nothing was sent.
  .exitOverride();

registerClientCommands(program);

program
  .command('worker')
  .description('Run a worker (Temporal connection from TEMPORAL_* / profiles; task queue ECH_REMOTE_TASK_QUEUE)')
  .option(
    '--insecure-plaintext-payloads',
    'without ECH_REMOTE_ENCRYPTION_KEYS, store payloads (including handed-over API keys) UNENCRYPTED in Temporal',
  )
  .action(async (opts: { insecurePlaintextPayloads?: boolean }) => {
    // Loaded only by the command that runs it: `--help` and the client commands never load the worker, the sandbox…
    const { runWorker } = load<typeof import('../worker')>('../worker');
    await runWorker({ insecurePlaintextPayloads: opts.insecurePlaintextPayloads === true });
  });

program
  .command('codec-server')
  .description(
    'Decrypt payloads for the Temporal Web UI and CLI (POST /encode, /decode); keys ECH_REMOTE_ENCRYPTION_KEYS, ' +
      'token ECH_REMOTE_CODEC_TOKEN[_FILE], UI origins ECH_REMOTE_CODEC_CORS_ORIGINS',
  )
  .option('--listen <host:port>', 'address to listen on (default ECH_REMOTE_CODEC_LISTEN or 127.0.0.1:8888)')
  .action(async (opts: { listen?: string }) => {
    const { runCodecServer } = load<typeof import('../codec/server')>('../codec/server');
    await runCodecServer(opts);
  });

program
  .command('sandbox')
  .description('Start the simulated Elastic estate (Cloud API, ECH and self-managed clusters) on loopback')
  .option('--out <file>', 'where to write sandbox.json', 'sandbox.json')
  .option(
    '--scenario <name>',
    'api-key-public | api-key-private | tls-certificate | tls-certificate-no-othername | old-version | basic-license | rcs-disabled | cluster-yellow | cluster-red | expired-license',
    'api-key-public',
  )
  .action(async (opts: { out: string; scenario: string }) => {
    const { startSandboxFromCli } = load<typeof import('../sandbox/main')>('../sandbox/main');
    await startSandboxFromCli({ out: opts.out, scenario: opts.scenario });
  });

program
  .command('dev')
  .description(
    'Embedded default: Temporal dev server with its Web UI, the sandbox, a worker; prints a Start Workflow link',
  )
  .option('--scenario <name>', 'sandbox scenario', 'api-key-public')
  .option('--port <port>', 'Temporal frontend port', '7233')
  .option('--ui-port <port>', 'Temporal Web UI port', '8233')
  .addOption(
    new Option('--sandbox-ports <mode>', 'fixed: the ports examples/ use; random: free ports (parallel runs)')
      .choices(['fixed', 'random'])
      .default('fixed'),
  )
  .action(async (opts: { scenario: string; port: string; uiPort: string; sandboxPorts: 'fixed' | 'random' }) => {
    const { runDev } = load<typeof import('../dev/dev')>('../dev/dev');
    await runDev({
      scenario: opts.scenario,
      port: Number(opts.port),
      uiPort: Number(opts.uiPort),
      sandboxPorts: opts.sandboxPorts,
    });
  });

program.parseAsync(process.argv).catch(async (err: unknown) => {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return exitWith(EXIT.done); // --help, --version
    // Already printed on stderr; with --json, stdout still gets its one object, like every other path.
    if (!process.argv.slice(2).includes('--json')) return exitWith(EXIT.invalid);
    const message = err.message.replace(/^error: /, '');
    return exitWith(
      EXIT.invalid,
      printJson({ outcome: 'invalid', exitCode: EXIT.invalid, problems: [{ path: 'argv', message }] }),
    );
  }
  // The long-running commands (worker, dev, sandbox, codec-server) end here when they cannot go on: one log line.
  // The logger (pino, Temporal's log types) loads only here: `--help` and the client commands never need it.
  const { logFatal } = load<typeof import('../log')>('../log');
  logFatal(err, `ech-remote ${process.argv[2] ?? ''} stopped`);
  process.exit(1);
});
