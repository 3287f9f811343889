/** The built `ech-remote` (scripts/run-tests.ts compiles it once per run) as a subprocess, the way CI runs it. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export function cliPath(): string {
  const cli = process.env.ECH_REMOTE_TEST_CLI;
  if (!cli) throw new Error('ECH_REMOTE_TEST_CLI is not set: run the tests with `npm test` (it builds the CLI)');
  return cli;
}

export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process exits. */
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  output(): { stdout: string; stderr: string };
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [cliPath(), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, output: () => ({ stdout, stderr }) };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnCli(args, env).done;
}

/** A loopback port free right now, for servers a subprocess binds. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
