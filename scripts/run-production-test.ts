/**
 * `npm run test:production`: the compose stack's topology on this host, without Docker (test/production/topology.ts):
 * PostgreSQL (installed from Debian's packages when missing), the Temporal server built from its Go module
 * (scripts/install-temporal-server.sh, cached), two workers and the codec server, then node's test runner over
 * test/production/*.e2e.ts. No Temporal dev server: this test is its own topology.
 *
 * Prepared here, once: the toolchain (Temporal server + SQL tool, Temporal CLI, PostgreSQL), the built CLI and
 * workflow bundle (as the image has them), the sandbox's public root (the workers trust it as a public CA).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureTemporalCli } from '../src/dev/temporalCli';
import { loadOrCreatePublicRoot } from '../src/sandbox/pki';
import { ensurePostgres } from '../test/production/postgresql';
import { bundleWorkflows } from './bundle-workflows';
import { buildCli } from './run-tests';

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  const t0 = Date.now();
  const serverOut = execFileSync('bash', [path.join(root, 'scripts/install-temporal-server.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const serverDir = serverOut.trim().split('\n').at(-1)!;
  const temporalCli = ensureTemporalCli();
  const postgresBin = ensurePostgres();
  console.log(`# Temporal server ${serverDir}, Temporal CLI ${temporalCli}, PostgreSQL ${postgresBin}`);
  const tools = Date.now() - t0;

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-production-'));
  const { certFile } = await loadOrCreatePublicRoot(work);
  const bundle = path.join(work, 'workflow-bundle.js');
  const [, cli] = await Promise.all([bundleWorkflows(bundle), buildCli(root, work)]);
  console.log(`# toolchain ready in ${tools} ms, CLI + bundle + PKI in ${Date.now() - t0 - tools} ms`);

  const files = fs
    .readdirSync(path.join(root, 'test/production'))
    .filter((f) => f.endsWith('.e2e.ts'))
    .map((f) => path.join(root, 'test/production', f));
  const tests = Date.now();
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        ECH_REMOTE_PRODUCTION_SERVER_DIR: serverDir,
        TEMPORAL_CLI_PATH: temporalCli,
        ECH_REMOTE_PRODUCTION_POSTGRES_BIN: postgresBin,
        ECH_REMOTE_TEST_CLI: cli,
        ECH_REMOTE_WORKFLOW_BUNDLE: bundle,
        ECH_REMOTE_TEST_PUBLIC_ROOT_DIR: work,
        ECH_REMOTE_PRODUCTION_WORK_DIR: work,
        NODE_EXTRA_CA_CERTS: certFile,
      },
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  console.log(
    `# production topology tests: ${Math.round((Date.now() - tests) / 1000)} s; total ${Math.round((Date.now() - t0) / 1000)} s`,
  );
  cleanUp(work);
  return code;
}

/** Whatever a crashed test process left running: the processes it recorded, then the work folder. */
function cleanUp(work: string): void {
  const pidsFile = path.join(work, 'pids');
  if (fs.existsSync(pidsFile)) {
    for (const pid of fs.readFileSync(pidsFile, 'utf8').split('\n').filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (process.env.ECH_REMOTE_KEEP_PRODUCTION_LOGS) console.log(`# logs kept in ${work}/logs`);
  else fs.rmSync(work, { recursive: true, force: true });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
