/**
 * `ech-remote dev` as a user runs it: the built CLI as a subprocess in a fresh working directory (where it writes
 * sandbox.json, dev.env and examples/dev/), on free ports, with the sandbox on random ports so test files can run side
 * by side; and a new shell as a user opens one, to run what dev printed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectRequestInput } from '../../src/contract/request';
import { ADDRESS_IN_USE, startOnFreePorts } from './cli';

const root = path.resolve(__dirname, '../..');

export interface DevEnvironment {
  /** Temporal frontend port. */
  port: number;
  uiPort: number;
  /** The working directory dev ran in: sandbox.json and examples/dev/ are here. */
  cwd: string;
  /** Everything dev printed so far (stdout and stderr). */
  output(): string;
  /** The prefilled Start Workflow link dev printed for a sample's alias (default the first, `onprem-logs`). */
  startWorkflowLink(alias?: string): string;
  /** A ready request dev wrote for its sandbox, e.g. `api-key-public`. */
  sampleRequest(name: string): ConnectRequestInput;
  /** The lines of dev's banner that match, trimmed (e.g. the commands it prints). */
  printed(pattern: RegExp): string[];
  /**
   * Runs a command in a new bash as a user would: in a bare environment (HOME, a system PATH with node on it; no
   * TEMPORAL_*, no ECH_REMOTE_*, no temporal on PATH), with `prelude` (default: the banner's `cd … && source dev.env`).
   */
  shell(
    command: string,
    opts?: { prelude?: string; cwd?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<Shell>;
  stop(): Promise<void>;
}

export interface Shell {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a new shell on a fresh machine: only node (and the system) on PATH. */
export function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    HOME: os.homedir(),
    PATH: [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    ...extra,
  };
}

export function runShell(
  script: string,
  opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Shell> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], {
      cwd: opts.cwd,
      env: bareEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function startDev(readyTimeoutMs = 90_000): Promise<DevEnvironment> {
  // Distinct ports, and other ones if something took one before dev bound it.
  return startOnFreePorts(2, ([port, uiPort]) => startDevOn(port as number, uiPort as number, readyTimeoutMs));
}

async function startDevOn(
  port: number,
  uiPort: number,
  readyTimeoutMs: number,
): Promise<DevEnvironment | 'address-in-use'> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-dev-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ECH_REMOTE_CACHE_DIR: cwd };
  delete env.NODE_EXTRA_CA_CERTS; // dev sets up its own trust, as on a fresh machine
  delete env.TEMPORAL_ADDRESS;
  delete env.ECH_REMOTE_ENCRYPTION_KEYS; // dev makes its own key, as on a fresh machine
  const args = ['dev', '--port', String(port), '--ui-port', String(uiPort), '--sandbox-ports', 'random'];
  // detached: dev and the Temporal server it starts form one process group, stopped together.
  const dev: ChildProcess = spawn(process.execPath, [path.join(root, 'bin/ech-remote.js'), ...args], {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  dev.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  dev.stderr!.on('data', (d: Buffer) => (output += d.toString()));

  const stop = async () => {
    if (!dev.pid) return;
    const exited = dev.exitCode === null ? new Promise((r) => dev.once('exit', r)) : Promise.resolve();
    if (dev.exitCode === null) process.kill(-dev.pid, 'SIGINT');
    const timer = new Promise((r) => setTimeout(r, 5000));
    await Promise.race([exited, timer]);
    try {
      process.kill(-dev.pid, 'SIGKILL'); // whatever of the group outlived Ctrl-C
    } catch {
      // the whole group is gone
    }
    fs.rmSync(cwd, { recursive: true, force: true });
  };

  const deadline = Date.now() + readyTimeoutMs;
  while (!output.includes('Stop with Ctrl-C')) {
    if (dev.exitCode !== null || Date.now() > deadline) {
      await stop();
      if (dev.exitCode !== null && ADDRESS_IN_USE.test(output)) return 'address-in-use';
      assert.fail(`ech-remote dev did not come up:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    port,
    uiPort,
    cwd,
    output: () => output,
    startWorkflowLink(alias = 'onprem-logs') {
      const links = [
        ...output.matchAll(/(http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/start-workflow\?\S+)/g),
      ];
      const link = links
        .map((m) => m[1]!)
        .find((l) => new URL(l).searchParams.get('workflowId')?.endsWith(`-${alias}`));
      assert.ok(link, `no Start Workflow link for ${alias} in:\n${output}`);
      return link;
    },
    printed(pattern: RegExp) {
      return output
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => pattern.test(l));
    },
    shell(command, opts = {}) {
      const prelude = opts.prelude ?? /^\s*(cd .* && source dev\.env)$/m.exec(output)?.[1];
      assert.ok(prelude !== undefined, `dev printed no "cd … && source dev.env" line:\n${output}`);
      return runShell(prelude ? `${prelude} && ${command}` : command, { cwd, ...opts });
    },
    sampleRequest(name: string) {
      return JSON.parse(fs.readFileSync(path.join(cwd, 'examples', 'dev', `connect-${name}.json`), 'utf8'));
    },
    stop,
  };
}
