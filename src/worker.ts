/**
 * The worker: Temporal connection from @temporalio/envconfig, the contract's task queue, the prebuilt workflow bundle
 * when `npm run build` made one, graceful shutdown on SIGINT/SIGTERM (the SDK's default shutdown signals); runWorker
 * adds the operations telemetry (JSON logs, Prometheus metrics; src/telemetry.ts).
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { installTelemetry } from './telemetry';
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
  // Before any connection: the Runtime (logger, metrics) is fixed by the first one made.
  const logger = installTelemetry();
  const { connectionOptions } = temporalConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  const worker = await createWorker({ connection });
  logger.info('ech-remote worker started', {
    taskQueue: worker.options.taskQueue,
    namespace: worker.options.namespace,
    metrics: process.env.ECH_REMOTE_METRICS_ADDRESS
      ? `http://${process.env.ECH_REMOTE_METRICS_ADDRESS}/metrics`
      : 'off',
  });
  try {
    await worker.run();
  } finally {
    // The open connection would keep the process alive after a graceful shutdown (SIGTERM).
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
