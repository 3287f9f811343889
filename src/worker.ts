/**
 * The worker: Temporal connection from @temporalio/envconfig, the contract's task queue, the prebuilt workflow bundle
 * when `npm run build` made one, graceful shutdown on SIGINT/SIGTERM (the SDK's default shutdown signals).
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { taskQueue, temporalConnectConfig } from './temporal/connection';
import { workflowSource } from './workflowBundle';

export async function createWorker(options: Partial<WorkerOptions> = {}): Promise<Worker> {
  const { connectionOptions, namespace } = temporalConnectConfig();
  const connection = options.connection ?? (await NativeConnection.connect(connectionOptions));
  return Worker.create({
    connection,
    namespace,
    taskQueue: taskQueue(),
    ...workflowSource(),
    activities: createActivities(),
    shutdownGraceTime: '30s',
    ...options,
  });
}

export async function runWorker(): Promise<void> {
  const worker = await createWorker();
  console.error(`ech-remote worker: task queue "${worker.options.taskQueue}", namespace "${worker.options.namespace}"`);
  await worker.run();
}

if (require.main === module) {
  runWorker().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
