/**
 * How `npm test` provisions its browser (scripts/ensure-chromium.ts), against an imagined machine: which browser wins,
 * when apt-get is used (and how), when playwright-core downloads one, and what the user reads when nothing works.
 * Nothing is installed here: every probe is injected and every installer call is recorded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChromiumNotFound, ensureChromium, machineProbes, type ChromiumProbes } from '../../scripts/ensure-chromium';

interface Machine {
  configured?: string;
  /** Files that exist and are executable. */
  files?: string[];
  /** Command names on PATH, with their path. */
  path?: Record<string, string>;
  playwright?: string;
  root?: boolean;
  sudo?: boolean;
  /** What each installer does: apt-get `update` and `install`, and the `playwright` download. */
  installers?: Record<string, (m: Machine) => { ok: boolean; detail: string }>;
}

function probes(m: Machine): ChromiumProbes & { runs: string[]; logs: string[] } {
  const runs: string[] = [];
  const logs: string[] = [];
  const ok = { ok: true, detail: 'ok' };
  return {
    runs,
    logs,
    configured: m.configured,
    isExecutable: (f) => (m.files ?? []).includes(f),
    onPath: (names) => names.map((n) => m.path?.[n]).find(Boolean),
    playwrightChromium: () => m.playwright,
    isRoot: () => m.root ?? false,
    canSudo: () => m.sudo ?? false,
    run(command, args, env) {
      const line = [command, ...args].join(' ');
      runs.push(env?.DEBIAN_FRONTEND ? `DEBIAN_FRONTEND=${env.DEBIAN_FRONTEND} ${line}` : line);
      const name = command === process.execPath ? 'playwright' : args.includes('update') ? 'update' : 'install';
      return (m.installers?.[name] ?? (() => ok))(m);
    },
    log: (message) => logs.push(message),
  };
}

/** An apt-get run that puts chromium on PATH, like Debian's package does. */
const aptInstalls = (m: Machine) => {
  m.path = { ...m.path, chromium: '/u/bin/chromium' };
  m.files = [...(m.files ?? []), '/u/bin/chromium'];
  return { ok: true, detail: 'ok' };
};
const fails = (detail: string) => (): { ok: boolean; detail: string } => ({ ok: false, detail });

describe('npm test provisions Chromium', () => {
  it('CHROMIUM_PATH wins over a browser on PATH, and nothing is installed', () => {
    const p = probes({
      configured: '/x/my-chrome',
      files: ['/x/my-chrome', '/u/bin/chromium'],
      path: { chromium: '/u/bin/chromium', 'apt-get': '/u/bin/apt-get' },
      root: true,
    });
    assert.equal(ensureChromium(p), '/x/my-chrome');
    assert.deepEqual(p.runs, []);
  });

  it('a CHROMIUM_PATH that is not an executable is an error naming it, not a silent fallback', () => {
    const p = probes({ configured: '/x/typo', path: { chromium: '/u/bin/chromium' }, files: ['/u/bin/chromium'] });
    assert.throws(
      () => ensureChromium(p),
      (e: Error) => e instanceof ChromiumNotFound && /\/x\/typo/.test(e.message),
    );
  });

  it('uses an installed browser: chromium before google-chrome, then Playwright’s cache', () => {
    const both = probes({ path: { 'google-chrome': '/o/chrome', chromium: '/u/bin/chromium' }, root: true });
    assert.equal(ensureChromium(both), '/u/bin/chromium');
    const chrome = probes({ path: { 'google-chrome': '/o/chrome' } });
    assert.equal(ensureChromium(chrome), '/o/chrome');
    const cached = probes({ playwright: '/c/ms-playwright/chrome', files: ['/c/ms-playwright/chrome'], root: true });
    assert.equal(ensureChromium(cached), '/c/ms-playwright/chrome');
    assert.deepEqual([...both.runs, ...chrome.runs, ...cached.runs], []);
  });

  it('installs Debian’s chromium with apt-get as root, non-interactively, and uses it', () => {
    const p = probes({ path: { 'apt-get': '/u/bin/apt-get' }, root: true, installers: { install: aptInstalls } });
    assert.equal(ensureChromium(p), '/u/bin/chromium');
    assert.deepEqual(p.runs, [
      'DEBIAN_FRONTEND=noninteractive /u/bin/apt-get update -qq',
      'DEBIAN_FRONTEND=noninteractive /u/bin/apt-get install -y -qq --no-install-recommends chromium',
    ]);
  });

  it('uses passwordless sudo for apt-get when not root, keeping it non-interactive', () => {
    const p = probes({ path: { 'apt-get': '/u/bin/apt-get' }, sudo: true, installers: { install: aptInstalls } });
    assert.equal(ensureChromium(p), '/u/bin/chromium');
    assert.deepEqual(p.runs, [
      'sudo -n env DEBIAN_FRONTEND=noninteractive /u/bin/apt-get update -qq',
      'sudo -n env DEBIAN_FRONTEND=noninteractive /u/bin/apt-get install -y -qq --no-install-recommends chromium',
    ]);
  });

  it('never runs apt-get without root or passwordless sudo, nor where there is no apt-get: Playwright’s download instead', () => {
    const download = (m: Machine) => {
      m.files = ['/c/ms-playwright/chrome'];
      return { ok: true, detail: 'ok' };
    };
    for (const m of [
      { path: { 'apt-get': '/u/bin/apt-get' }, root: false, sudo: false },
      { root: true }, // not Debian/Ubuntu
    ]) {
      const p = probes({ ...m, playwright: '/c/ms-playwright/chrome', installers: { playwright: download } });
      assert.equal(ensureChromium(p), '/c/ms-playwright/chrome');
      assert.equal(p.runs.length, 1);
      assert.match(p.runs[0]!, /playwright-core[/\\]cli\.js install chromium$/);
    }
  });

  it('falls back to Playwright’s download when apt-get fails', () => {
    const p = probes({
      path: { 'apt-get': '/u/bin/apt-get' },
      root: true,
      playwright: '/c/ms-playwright/chrome',
      installers: {
        update: fails('exited with 100'),
        playwright: (m) => ((m.files = ['/c/ms-playwright/chrome']), { ok: true, detail: 'ok' }),
      },
    });
    assert.equal(ensureChromium(p), '/c/ms-playwright/chrome');
    assert.equal(p.runs.length, 2, 'apt-get update, then the download (no install after a failed update)');
  });

  it('when everything fails, one error says what was tried and what to install', () => {
    const p = probes({
      path: { 'apt-get': '/u/bin/apt-get' },
      root: true,
      playwright: '/c/ms-playwright/chrome',
      installers: { install: fails('exited with 100'), playwright: fails('exited with 1') },
    });
    assert.throws(
      () => ensureChromium(p),
      (e: Error) => {
        assert.ok(e instanceof ChromiumNotFound);
        assert.match(e.message, /apt-get install chromium \(apt-get install exited with 100\)/);
        assert.match(e.message, /playwright-core install chromium \(exited with 1\)/);
        assert.match(e.message, /Install one of: `sudo apt-get install chromium`/);
        assert.match(e.message, /npx playwright-core install chromium/);
        assert.match(e.message, /set CHROMIUM_PATH/);
        return true;
      },
    );
  });

  it('the real probes: a stalled installer is stopped, a failing one reports how it ended', () => {
    const real = machineProbes({ PATH: process.env.PATH }, 500);
    const t0 = Date.now();
    assert.deepEqual(real.run(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']), {
      ok: false,
      detail: 'stopped after 0.5 s',
    });
    assert.ok(Date.now() - t0 < 10_000, 'the stalled installer was stopped at its time limit');
    assert.deepEqual(real.run(process.execPath, ['-e', 'process.exit(3)']), { ok: false, detail: 'exited with 3' });
    assert.deepEqual(real.run(process.execPath, ['-e', '']), { ok: true, detail: 'ok' });
    assert.equal(real.configured, undefined);
    assert.equal(machineProbes({ CHROMIUM_PATH: '/x/y' }).configured, '/x/y');
    assert.equal(real.onPath(['node-does-not-exist']), undefined);
    assert.equal(real.isExecutable(process.execPath), true);
  });
});
