/**
 * `npm test`: one Temporal dev server for the whole run (the real CLI binary, never a download), one prebuilt
 * workflow bundle, one build of the `ech-remote` CLI (ECH_REMOTE_TEST_CLI), one sandbox public root that every test
 * process trusts through NODE_EXTRA_CA_CERTS (as a real worker trusts a public CA), one throwaway payload encryption
 * key (ECH_REMOTE_ENCRYPTION_KEYS, shared by every worker and client of the run), a Chromium for the browser tests
 * when any are selected (CHROMIUM_PATH, scripts/ensure-chromium.ts), then node's test runner over test/ with those in
 * the environment.
 *
 *   npm test                      all tests
 *   npm test -- test/workflows    only files under a path
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { generateEncryptionKey } from '../src/codec';
import { SEARCH_ATTRIBUTES } from '../src/contract/searchAttributes';
import { ensureTemporalCli } from '../src/dev/temporalCli';
import { loadOrCreatePublicRoot } from '../src/sandbox/pki';
import { bundleWorkflows } from './bundle-workflows';
import { ChromiumNotFound, ensureChromium } from './ensure-chromium';

function findTests(dir: string): string[] {
  if (fs.statSync(dir).isFile()) return [dir];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? findTests(path.join(dir, e.name)) : e.name.endsWith('.test.ts') ? [path.join(dir, e.name)] : [],
    )
    .sort();
}

/** Browser tests are the ones that drive Chromium through test/helpers/browser.ts. */
function usesBrowser(file: string): boolean {
  return /from '(?:\.\.\/)+helpers\/browser'/.test(fs.readFileSync(file, 'utf8'));
}

/**
 * Compiles src/ the way `npm run build` does, into `<work>/lib` (never the repo's lib/, which could be stale), so the
 * CLI tests run the built binary. A node_modules link beside it lets the output resolve its dependencies.
 */
export async function buildCli(root: string, work: string): Promise<string> {
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'), 'dir');
  const tsc = require.resolve('typescript/bin/tsc');
  // --noCheck: the same emit without a second type check (`npm run typecheck` does that), several times faster.
  const args = [tsc, '-p', 'tsconfig.build.json', '--noCheck', '--outDir', path.join(work, 'lib')];
  await promisify(execFile)(process.execPath, args, { cwd: root });
  return path.join(work, 'lib', 'cli', 'main.js');
}

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  const targets = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const files = (targets.length ? targets : ['test']).flatMap((t) => findTests(path.resolve(root, t)));
  if (files.length === 0) {
    console.error('no test files found');
    return 1;
  }
  const t0 = Date.now();
  const temporal = ensureTemporalCli();
  // Before anything is started, so that a missing browser fails the run at once with its own message.
  const chromium = files.some(usesBrowser) ? ensureChromium() : undefined;
  if (chromium) console.log(`# Chromium for the browser tests: ${chromium}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-test-'));
  // Every test process trusts this root (NODE_EXTRA_CA_CERTS); sandboxes they start reuse it from the same folder.
  const { certFile: rootCertFile } = await loadOrCreatePublicRoot(work);
  const bundle = path.join(work, 'workflow-bundle.js');
  const [env, , cli] = await Promise.all([
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporal },
        ip: '127.0.0.1',
        searchAttributes: SEARCH_ATTRIBUTES,
        log: { format: 'pretty', level: 'error' },
      },
    }),
    bundleWorkflows(bundle),
    buildCli(root, work),
  ]);
  const address = env.connection.options.address as string;
  console.log(
    `# Temporal dev server ${address} (${temporal}), bundle + built CLI + PKI ready in ${Date.now() - t0} ms`,
  );

  const code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
      {
        cwd: root,
        stdio: 'inherit',
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: address,
          TEMPORAL_NAMESPACE: 'default',
          ECH_REMOTE_WORKFLOW_BUNDLE: bundle,
          ECH_REMOTE_ENCRYPTION_KEYS: generateEncryptionKey('test-run'),
          ECH_REMOTE_TEST_CLI: cli,
          ECH_REMOTE_TEST_PUBLIC_ROOT_DIR: work,
          NODE_EXTRA_CA_CERTS: rootCertFile,
          ECH_REMOTE_TEST_ARTIFACTS: path.join(root, 'test-artifacts'),
          TEMPORAL_CLI_PATH: temporal,
          ...(chromium ? { CHROMIUM_PATH: chromium } : {}),
        },
      },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  await env.teardown();
  fs.rmSync(work, { recursive: true, force: true });
  return code;
}

// Run as `npm test`; scripts/run-production-test.ts imports buildCli only.
if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      // A missing browser is an expected condition with an actionable message; no stack trace.
      console.error(err instanceof ChromiumNotFound ? err.message : err);
      process.exit(1);
    },
  );
}
