/**
 * A production-built worker in a process of its own, for tests that must kill a worker abruptly (SIGKILL: no
 * graceful shutdown, no last heartbeat). Usage: `node --import tsx test/helpers/worker-process.ts <taskQueue>`; it
 * inherits the test's environment (Temporal address, bundle, keys, the sandbox's secrets) and prints `ready`.
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { createWorker } from '../../src/worker';

async function main(): Promise<void> {
  const taskQueue = process.argv[2];
  if (!taskQueue || !process.env.TEMPORAL_ADDRESS)
    throw new Error('usage: worker-process.ts <taskQueue> (under npm test)');
  Runtime.install({ logger: new DefaultLogger('WARN') }); // the test reads outcomes, not this worker's info logs
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const worker = await createWorker({ connection, namespace: 'default', taskQueue, activities: createActivities() });
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
