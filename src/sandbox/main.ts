/**
 * Entry for `ech-remote sandbox [--out FILE] [--scenario NAME]` (and `npm run sandbox`): start the sandbox, write
 * sandbox.json, print the endpoints, and stop cleanly on SIGINT/SIGTERM.
 */
import path from 'node:path';
import { SettingsError, logFatal } from '../log';
import { start, type Sandbox, type StartOptions } from './index';
import { SCENARIOS, isScenarioName, validVersion } from './scenarios';

export interface SandboxCliOptions {
  out?: string;
  scenario?: string;
  echVersion?: string;
  selfManagedVersion?: string;
  planPendingMs?: number;
  seed?: number;
  /** Where to print (default process.stdout). */
  print?: (line: string) => void;
  /** Install SIGINT/SIGTERM handlers that stop the sandbox and exit (default true). */
  handleSignals?: boolean;
}

export async function startSandboxFromCli(options: SandboxCliOptions = {}): Promise<Sandbox> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const scenario = options.scenario ?? 'api-key-public';
  if (!isScenarioName(scenario)) {
    throw new SettingsError(`unknown scenario "${scenario}"; one of: ${SCENARIOS.join(', ')}`);
  }
  for (const v of [options.echVersion, options.selfManagedVersion]) {
    if (v !== undefined && !validVersion(v))
      throw new SettingsError(`invalid version "${v}" (major.minor.patch, 7.17 to 9.x)`);
  }
  const out = path.resolve(options.out ?? 'sandbox.json');
  const startOptions: StartOptions = {
    scenario,
    outFile: out,
    versions: {
      ...(options.echVersion ? { ech: options.echVersion } : {}),
      ...(options.selfManagedVersion ? { selfManaged: options.selfManagedVersion } : {}),
    },
    ...(options.planPendingMs !== undefined ? { planPendingMs: options.planPendingMs } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  };
  const started = Date.now();
  const sandbox = await start(startOptions);
  const { info } = sandbox;
  print(
    `Sandbox "${info.scenario}" ready in ${Date.now() - started} ms (ECH ${info.versions.ech}, self-managed ${info.versions.selfManaged})`,
  );
  print(
    `  Cloud API        ${info.cloud.endpoint}/api/v1   deployment ${info.cloud.deploymentId} (${info.cloud.refId})`,
  );
  print(`  Control API      ${info.control}`);
  print(`  ECH              ${info.ech.url}`);
  print(
    `  Self-managed     ${info.selfManaged.url}   RCS ${info.selfManaged.remoteClusterServer}   transport ${info.selfManaged.transport}`,
  );
  print(`  sandbox.json     ${out}`);
  print(`  secrets (env)    ${info.files.secretsEnv}`);
  print(`  public root CA   ${info.files.publicRootPem}   (start workers with NODE_EXTRA_CA_CERTS set to it)`);
  print(`  try: curl --cacert ${info.files.publicRootPem} -u elastic:… ${info.ech.url}`);
  print('Press Ctrl+C to stop.');

  if (options.handleSignals !== false) {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      print(`\n${signal}: stopping the sandbox…`);
      sandbox.stop().then(
        () => process.exit(0),
        (e: unknown) => {
          logFatal(e, 'error while stopping the sandbox');
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  }
  return sandbox;
}

// `npx tsx src/sandbox/main.ts [--out FILE] [--scenario NAME]` works without the CLI too.
if (require.main === module) {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  startSandboxFromCli({ out: arg('--out'), scenario: arg('--scenario') }).catch((e: unknown) => {
    logFatal(e, 'the sandbox did not start');
    process.exit(1);
  });
}
