/**
 * The worker: Temporal connection from @temporalio/envconfig, the contract's task queue, the prebuilt workflow bundle
 * when `npm run build` made one, encrypted payloads (src/codec), activity errors redacted, graceful shutdown on
 * SIGINT/SIGTERM (the SDK's default shutdown signals); runWorker adds the operations telemetry (logs through
 * src/log.ts, Prometheus metrics; src/telemetry.ts).
 */
// First: before the SDK loads its bundler's dependencies (see the module).
import './temporal/deferBundler';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import { keepAliveHeartbeats } from './activities/heartbeat';
import { SECRET_BINDINGS_ENV, loadSecretBindings } from './activities/secretBindings';
import { redactActivityErrors } from './activities/secrets';
import { INSECURE_PLAINTEXT_ENV, insecurePlaintextRequested, loadDataConverter } from './codec';
import { logFatal } from './log';
import { installTelemetry } from './telemetry';
import { taskQueue, temporalConnectConfig, temporalConnectionError } from './temporal/connection';
import { bundleWorkflowSources, workflowSource } from './workflowBundle';

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

/** The worker's connection to the Temporal frontend of TEMPORAL_ADDRESS / the profile; a failure names the address. */
export async function connectWorker(): Promise<NativeConnection> {
  const { connectionOptions } = temporalConnectConfig();
  return NativeConnection.connect(connectionOptions).catch((err: unknown) => {
    throw temporalConnectionError(connectionOptions.address, err);
  });
}

/** Env: how many workflow runs a worker keeps in memory (sticky cache). */
export const MAX_CACHED_WORKFLOWS_ENV = 'ECH_REMOTE_MAX_CACHED_WORKFLOWS';
/**
 * Default cache: runs mostly wait for people (hours) and cost memory while cached; a run evicted from the cache is
 * rebuilt from its history when its next event comes (a replay of a few hundred events, milliseconds). 50 keeps the
 * active runs warm and a worker holding 500 waiting runs under 300 MB once they settled (267 MB, against 325 MB with
 * 100: docs/benchmarks.md).
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 50;

export function maxCachedWorkflows(): number {
  const raw = process.env[MAX_CACHED_WORKFLOWS_ENV];
  if (raw === undefined || raw === '') return DEFAULT_MAX_CACHED_WORKFLOWS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${MAX_CACHED_WORKFLOWS_ENV} must be a whole number ≥ 0 (got "${raw}")`);
  }
  return n;
}

export async function createWorker(options: Partial<WorkerOptions> = {}): Promise<Worker> {
  const dataConverter = options.dataConverter ?? workerDataConverter();
  const { namespace } = temporalConnectConfig();
  const connection = options.connection ?? (await connectWorker());
  // Without a prebuilt bundle the sources are bundled here, quietly: the SDK's own bundling logs webpack's statistics.
  const source = workflowSource();
  return Worker.create({
    connection,
    namespace,
    taskQueue: taskQueue(),
    ...(source.workflowsPath && !options.workflowBundle && !options.workflowsPath
      ? { workflowBundle: await bundleWorkflowSources(source.workflowsPath) }
      : source),
    activities: createActivities(),
    // Keep-alive heartbeats: a worker that dies mid-activity is noticed after the heartbeat timeout, not start-to-close.
    interceptors: { activity: [redactActivityErrors, keepAliveHeartbeats()] },
    shutdownGraceTime: '30s',
    maxCachedWorkflows: maxCachedWorkflows(),
    ...options,
    dataConverter,
  });
}

export interface RunWorkerOptions {
  /** `--insecure-plaintext-payloads`: without an encryption key, store payloads in plaintext instead of refusing. */
  insecurePlaintextPayloads?: boolean;
}

export async function runWorker(opts: RunWorkerOptions = {}): Promise<void> {
  // Before any connection: the Runtime (logger, metrics) is fixed by the first one made.
  const logger = installTelemetry();
  const insecurePlaintextPayloads = opts.insecurePlaintextPayloads || insecurePlaintextRequested();
  const dataConverter = workerDataConverter({ insecurePlaintextPayloads });
  if (!dataConverter.payloadCodecs?.length) {
    logger.warn(
      `INSECURE: payloads are NOT encrypted (--insecure-plaintext-payloads / ${INSECURE_PLAINTEXT_ENV}=true). ` +
        'Cross-cluster API keys handed between steps will be stored in the Temporal history in plaintext, readable ' +
        'by anyone with access to the Temporal UI or database. Set ECH_REMOTE_ENCRYPTION_KEYS instead.',
    );
  }
  // A malformed binding configuration stops the worker here, not in the middle of someone's run.
  const bindings = loadSecretBindings();
  if (!bindings) {
    logger.warn(
      `${SECRET_BINDINGS_ENV} is not set: this worker sends no secret anywhere, so every run fails its preflight. ` +
        'Bind each secret your requests name to its use and destination (docs/configuration.md).',
    );
  }
  const connection = await connectWorker();
  const worker = await createWorker({ connection, dataConverter });
  logger.info(
    `ech-remote worker started: task queue "${worker.options.taskQueue}", namespace "${worker.options.namespace}"`,
    {
      taskQueue: worker.options.taskQueue,
      namespace: worker.options.namespace,
      maxCachedWorkflows: worker.options.maxCachedWorkflows,
      metrics: process.env.ECH_REMOTE_METRICS_ADDRESS
        ? `http://${process.env.ECH_REMOTE_METRICS_ADDRESS}/metrics`
        : 'off',
    },
  );
  try {
    await worker.run();
  } finally {
    // The open connection would keep the process alive after a graceful shutdown (SIGTERM).
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((err: unknown) => {
    logFatal(err, 'ech-remote worker stopped');
    process.exit(1);
  });
}
