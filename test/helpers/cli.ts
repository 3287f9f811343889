/** The built `ech-remote` (scripts/run-tests.ts compiles it once per run) as a subprocess, the way CI runs it. */
import assert from 'node:assert/strict';
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

/** A loopback port free right now, for servers a subprocess binds (see freePorts and startOnFreePorts for races). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}

/** `n` distinct loopback ports free right now: all are held open together, so two calls in a row cannot collide. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** What a process prints when a port it binds was taken between freePorts() and its bind. */
export const ADDRESS_IN_USE = /EADDRINUSE|address already in use|os error 98/i;

/**
 * Starts something on free ports, again on other ports when another process took one in between (the process reports
 * it with ADDRESS_IN_USE): `start` resolves to the result, or to `'address-in-use'` to be retried.
 */
export async function startOnFreePorts<T>(
  n: number,
  start: (ports: number[]) => Promise<T | 'address-in-use'>,
  attempts = 3,
): Promise<T> {
  for (let i = 1; ; i++) {
    const result = await start(await freePorts(n));
    if (result !== 'address-in-use') return result;
    if (i >= attempts) throw new Error(`ports were taken ${attempts} times in a row`);
  }
}

/** `ech-remote status ID --json` until the run waits at `step`. */
export async function statusWhenWaiting(workflowId: string, step: string, env: NodeJS.ProcessEnv): Promise<any> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const { code, stdout, stderr } = await runCli(['status', workflowId, '--json'], env);
    if (code === 0) {
      const report = JSON.parse(stdout);
      if (report.waitingFor?.step === step) return report;
      assert.ok(!['completed', 'failed', 'rejected', 'invalid'].includes(report.outcome), stdout);
    }
    assert.ok(Date.now() < deadline, `never waited at ${step}: ${stdout}${stderr}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
