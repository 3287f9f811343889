/**
 * Finds a Chromium (or Chrome) for the browser tests, installing one when there is none, the way
 * scripts/install-temporal-cli.sh provisions the Temporal CLI. In order:
 *   1. CHROMIUM_PATH, when set (it must then be an executable file);
 *   2. a browser on PATH: chromium, chromium-browser, google-chrome, google-chrome-stable;
 *   3. Playwright's own Chromium, if already downloaded into its cache;
 *   4. Debian/Ubuntu (apt-get present) as root or with passwordless sudo: `apt-get install chromium`;
 *   5. playwright-core's browser install (a download from Playwright's CDN).
 * If all fail, one error says what was tried and what to install. scripts/run-tests.ts calls this once per run when
 * the selected tests include browser tests, and hands the path to them as CHROMIUM_PATH.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Names a Chromium or Chrome goes by on PATH. */
export const BROWSER_COMMANDS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
/** An installer that takes longer than this is stopped: `npm test` must fail, not hang. */
const INSTALL_TIMEOUT_MS = 10 * 60_000;

/** What ensureChromium asks of the machine; tests inject their own. */
export interface ChromiumProbes {
  /** The CHROMIUM_PATH environment variable. */
  configured: string | undefined;
  isExecutable(file: string): boolean;
  /** The first of `names` found on PATH, as an absolute path. */
  onPath(names: string[]): string | undefined;
  /** Where playwright-core keeps its own Chromium (whether downloaded or not). */
  playwrightChromium(): string | undefined;
  isRoot(): boolean;
  /** `sudo` runs without a password prompt. */
  canSudo(): boolean;
  /** Runs an installer with a time limit (its output goes to stderr); `detail` says why it failed. */
  run(command: string, args: string[], env?: NodeJS.ProcessEnv): { ok: boolean; detail: string };
  log(message: string): void;
}

export class ChromiumNotFound extends Error {
  override name = 'ChromiumNotFound';
}

export function ensureChromium(p: ChromiumProbes = machineProbes()): string {
  if (p.configured) {
    if (p.isExecutable(p.configured)) return p.configured;
    throw new ChromiumNotFound(
      `CHROMIUM_PATH is ${p.configured}, which is not an executable file. ` +
        'Point it at a Chromium or Chrome binary, or unset it to let npm test find or install one.',
    );
  }
  const found = (): string | undefined => {
    const installed = p.onPath(BROWSER_COMMANDS);
    if (installed) return installed;
    const playwright = p.playwrightChromium();
    return playwright && p.isExecutable(playwright) ? playwright : undefined;
  };
  const existing = found();
  if (existing) return existing;

  const tried = [
    `CHROMIUM_PATH (unset)`,
    `${BROWSER_COMMANDS.join(', ')} on PATH (none)`,
    `Playwright's cache (no browser downloaded)`,
  ];

  const apt = p.onPath(['apt-get']);
  const asRoot = p.isRoot();
  if (apt && (asRoot || p.canSudo())) {
    p.log(`# No Chromium found: installing Debian's chromium package with apt-get${asRoot ? '' : ' (sudo)'}`);
    // sudo drops the caller's environment, so it gets DEBIAN_FRONTEND through env(1).
    const aptGet = (args: string[]) =>
      asRoot
        ? p.run(apt, args, { ...process.env, DEBIAN_FRONTEND: 'noninteractive' })
        : p.run('sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', apt, ...args]);
    const update = aptGet(['update', '-qq']);
    const install = update.ok && aptGet(['install', '-y', '-qq', '--no-install-recommends', 'chromium']);
    const afterApt = install && install.ok ? found() : undefined;
    if (afterApt) return afterApt;
    const why = !install
      ? `apt-get update ${update.detail}`
      : install.ok
        ? 'installed, but no chromium on PATH'
        : `apt-get install ${install.detail}`;
    tried.push(`apt-get install chromium (${why})`);
  } else {
    tried.push(`apt-get (${apt ? 'not root and no passwordless sudo' : 'none on PATH: not Debian/Ubuntu'})`);
  }

  p.log("# Installing Playwright's Chromium (playwright-core install chromium)");
  const cli = path.join(path.dirname(require.resolve('playwright-core/package.json')), 'cli.js');
  // A connection that stalls fails after 30 s instead of waiting for the overall time limit.
  const env = { ...process.env, PLAYWRIGHT_DOWNLOAD_CONNECTION_TIMEOUT: '30000' };
  const download = p.run(process.execPath, [cli, 'install', 'chromium'], env);
  const afterDownload = download.ok ? found() : undefined;
  if (afterDownload) return afterDownload;
  tried.push(`playwright-core install chromium (${download.ok ? 'finished, but no browser found' : download.detail})`);

  throw new ChromiumNotFound(
    'The browser tests need Chromium or Chrome and none could be found or installed.\n' +
      `Tried: ${tried.join('; ')}.\n` +
      'Install one of: `sudo apt-get install chromium` (Debian/Ubuntu), `npx playwright-core install chromium` ' +
      '(downloads from Playwright), or Google Chrome; or set CHROMIUM_PATH to a Chromium or Chrome binary.',
  );
}

/** The real machine. */
export function machineProbes(
  env: NodeJS.ProcessEnv = process.env,
  installTimeoutMs = INSTALL_TIMEOUT_MS,
): ChromiumProbes {
  const isExecutable = (file: string): boolean => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  return {
    configured: env.CHROMIUM_PATH || undefined,
    isExecutable,
    onPath(names) {
      for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
        for (const name of names) {
          const file = path.join(dir, name);
          if (isExecutable(file)) return file;
        }
      }
      return undefined;
    },
    playwrightChromium() {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return (require('playwright-core') as typeof import('playwright-core')).chromium.executablePath();
      } catch {
        return undefined;
      }
    },
    isRoot: () => process.getuid?.() === 0,
    canSudo: () => spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0,
    run(command, args, runEnv) {
      const r = spawnSync(command, args, { stdio: ['ignore', 2, 2], timeout: installTimeoutMs, env: runEnv });
      const error = r.error as NodeJS.ErrnoException | undefined;
      if (error?.code === 'ETIMEDOUT') return { ok: false, detail: `stopped after ${installTimeoutMs / 1000} s` };
      if (error) return { ok: false, detail: error.message };
      if (r.status !== 0) return { ok: false, detail: `exited with ${r.status ?? r.signal}` };
      return { ok: true, detail: 'ok' };
    },
    log: (message) => console.log(message),
  };
}
