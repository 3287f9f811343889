/**
 * The worker: Temporal connection from @temporalio/envconfig, the contract's task queue, the prebuilt workflow bundle
 * when `npm run build` made one, encrypted payloads (src/codec), activity errors redacted, graceful shutdown on
 * SIGINT/SIGTERM (the SDK's default shutdown signals).
 */
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { redactActivityErrors } from './activities/secrets';
import { INSECURE_PLAINTEXT_ENV, insecurePlaintextRequested, loadDataConverter } from './codec';
import { taskQueue, temporalConnectConfig } from './temporal/connection';
import { workflowSource } from './workflowBundle';

/**
 * The worker's data converter: unencrypted workflow payloads (a human step answered without the codec) are let
 * through with a warning in the worker's log; see src/codec/aesGcmCodec.ts.
 */
export function workerDataConverter(opts: { insecurePlaintextPayloads?: boolean } = {}) {
  return loadDataConverter({
    ...opts,
    plaintext: 'warn',
    warn: (message, meta) => Runtime.instance().logger.warn(message, meta),
  });
}

export async function createWorker(options: Partial<WorkerOptions> = {}): Promise<Worker> {
  const dataConverter = options.dataConverter ?? workerDataConverter();
  const { connectionOptions, namespace } = temporalConnectConfig();
  const connection = options.connection ?? (await NativeConnection.connect(connectionOptions));
  return Worker.create({
    connection,
    namespace,
    taskQueue: taskQueue(),
    ...workflowSource(),
    activities: createActivities(),
    interceptors: { activity: [redactActivityErrors] },
    shutdownGraceTime: '30s',
    ...options,
    dataConverter,
  });
}

export interface RunWorkerOptions {
  /** `--insecure-plaintext-payloads`: without an encryption key, store payloads in plaintext instead of refusing. */
  insecurePlaintextPayloads?: boolean;
}

export async function runWorker(opts: RunWorkerOptions = {}): Promise<void> {
  const insecurePlaintextPayloads = opts.insecurePlaintextPayloads || insecurePlaintextRequested();
  const dataConverter = workerDataConverter({ insecurePlaintextPayloads });
  if (!dataConverter.payloadCodecs?.length) {
    console.error(
      [
        '!'.repeat(100),
        `!!! INSECURE: payloads are NOT encrypted (--insecure-plaintext-payloads / ${INSECURE_PLAINTEXT_ENV}=true).`,
        '!!! Cross-cluster API keys handed between steps will be stored in the Temporal history in plaintext,',
        '!!! readable by anyone with access to the Temporal UI or database. Set ECH_REMOTE_ENCRYPTION_KEYS instead.',
        '!'.repeat(100),
      ].join('\n'),
    );
  }
  const worker = await createWorker({ dataConverter });
  console.error(`ech-remote worker: task queue "${worker.options.taskQueue}", namespace "${worker.options.namespace}"`);
  await worker.run();
}

if (require.main === module) {
  runWorker().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
