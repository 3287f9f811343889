/**
 * Test access to the one Temporal dev server of the run (started by scripts/run-tests.ts) and workers on their own
 * task queues, using the prebuilt workflow bundle.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { connectClient } from '../../src/temporal/connection';
import { workflowSource } from '../../src/workflowBundle';

let installedRuntime = false;

function address(): string {
  const a = process.env.TEMPORAL_ADDRESS;
  if (!a)
    throw new Error('TEMPORAL_ADDRESS is not set: run the tests with `npm test` (it starts the Temporal dev server)');
  return a;
}

/** A client the way the product makes one (connectClient: TEMPORAL_* from the run, the same payload settings). */
export async function testClient(): Promise<Client> {
  address(); // fail clearly outside `npm test`
  return connectClient();
}

export interface RunningWorker {
  worker: Worker;
  taskQueue: string;
  stop(): Promise<void>;
}

/** A worker on a fresh task queue, running until stop(). */
export async function startWorker(
  options: Partial<WorkerOptions> & Pick<WorkerOptions, 'activities'>,
): Promise<RunningWorker> {
  if (!installedRuntime) {
    // Quiet the SDK's default console logger: failures are asserted by the tests, not read from logs.
    Runtime.install({
      logger: {
        log: () => undefined,
        trace: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: (m: string) => console.error(m),
      },
    });
    installedRuntime = true;
  }
  const connection = await NativeConnection.connect({ address: address() });
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const worker = await Worker.create({ connection, namespace: 'default', ...workflowSource(), ...options, taskQueue });
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
