/**
 * The worker: Temporal connection from @temporalio/envconfig, the contract's task queue, the prebuilt workflow bundle
 * when `npm run build` made one, graceful shutdown on SIGINT/SIGTERM (the SDK's default shutdown signals).
 */
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { taskQueue, temporalConnectConfig } from './temporal/connection';

/** Where `npm run build` writes the bundle; `ECH_REMOTE_WORKFLOW_BUNDLE` points elsewhere (tests prebuild once). */
export function workflowBundlePath(): string | undefined {
  const candidates = [
    process.env.ECH_REMOTE_WORKFLOW_BUNDLE,
    path.resolve(__dirname, '../lib/workflow-bundle.js'),
    path.resolve(__dirname, 'workflow-bundle.js'),
  ];
  return candidates.find((p): p is string => !!p && fs.existsSync(p));
}

export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = workflowBundlePath();
  return bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: require.resolve('./workflows') };
}

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
