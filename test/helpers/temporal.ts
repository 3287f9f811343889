/**
 * Test access to the one Temporal dev server of the run (started by scripts/run-tests.ts) and workers on their own
 * task queues, built as the production worker is (createWorker: prebuilt bundle, encrypted payloads with the run's
 * key ECH_REMOTE_ENCRYPTION_KEYS, redacted activity errors).
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Runtime, type Worker, type WorkerOptions } from '@temporalio/worker';
import { connectClient } from '../../src/temporal/connection';
import { createWorker } from '../../src/worker';

let installedRuntime = false;

function address(): string {
  const a = process.env.TEMPORAL_ADDRESS;
  if (!a)
    throw new Error('TEMPORAL_ADDRESS is not set: run the tests with `npm test` (it starts the Temporal dev server)');
  return a;
}

/**
 * A client the way the product makes one (connectClient: TEMPORAL_* of the run, the workers' data converter), or with
 * another data converter (e.g. the plaintext control of the security test).
 */
export async function testClient(opts: { dataConverter?: DataConverter } = {}): Promise<Client> {
  address(); // fail clearly outside `npm test`
  return connectClient(opts);
}

/** Everything the SDK's runtime logger received in this process (workers' logs), one line per entry. */
export const workerLogLines: string[] = [];

export interface RunningWorker {
  worker: Worker;
  taskQueue: string;
  stop(): Promise<void>;
}

/** A worker on a fresh task queue, running until stop(); on the run's server unless `address` names another. */
export async function startWorker({
  address: serverAddress,
  ...options
}: Partial<WorkerOptions> & Pick<WorkerOptions, 'activities'> & { address?: string }): Promise<RunningWorker> {
  if (!installedRuntime) {
    // Quiet the SDK's default console logger (failures are asserted by the tests, not read from logs), but keep
    // every line so tests can check what a worker's log would show.
    const keep =
      (level: string) =>
      (m: string, meta?: Record<string, unknown>): void => {
        workerLogLines.push(`${level} ${m} ${logMeta(meta)}`);
        if (level === 'ERROR') console.error(m);
      };
    Runtime.install({
      logger: {
        log: (level, m, meta) => keep(level)(m, meta),
        trace: keep('TRACE'),
        debug: keep('DEBUG'),
        info: keep('INFO'),
        warn: keep('WARN'),
        error: keep('ERROR'),
      },
    });
    installedRuntime = true;
  }
  const connection = await NativeConnection.connect({ address: serverAddress ?? address() });
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const worker = await createWorker({ connection, namespace: 'default', ...options, taskQueue });
  const running = worker.run();
  return {
    worker,
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** Log metadata as a worker's structured log would print it, errors with message and stack. */
function logMeta(meta: Record<string, unknown> | undefined): string {
  return JSON.stringify(meta ?? {}, (_k, v: unknown) =>
    v instanceof Error ? { name: v.name, message: v.message, stack: v.stack, cause: v.cause } : v,
  );
}
