/**
 * Where the workflow code comes from: the bundle `npm run build` prebuilt (or ECH_REMOTE_WORKFLOW_BUNDLE), else the
 * sources. A prebuilt bundle must carry BUNDLE_MARKER (scripts/bundle-workflows.ts writes it): one built before the
 * bundle carried the codec's failure converter would make the worker write workflow failures in plaintext, so a
 * bundle without the marker is refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type Logger, type WorkerOptions } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from './codec';
import { TemporalLogger } from './log';

/**
 * What the current bundle build guarantees (format 1: the failure converter with encoded attributes). Raise the
 * number when a bundle must carry something new, so that older bundles are refused.
 */
export const BUNDLE_FORMAT = 1;
export const BUNDLE_MARKER = `/*ech-remote-workflow-bundle:${BUNDLE_FORMAT}*/`;

export class StaleWorkflowBundleError extends Error {
  override name = 'StaleWorkflowBundleError';
}

export function workflowBundlePath(): string | undefined {
  const candidates = [
    process.env.ECH_REMOTE_WORKFLOW_BUNDLE,
    path.resolve(__dirname, '../lib/workflow-bundle.js'),
    path.resolve(__dirname, 'workflow-bundle.js'),
  ];
  return candidates.find((p): p is string => !!p && fs.existsSync(p));
}

/** Throws, saying how to rebuild, unless the bundle at `file` starts with the current BUNDLE_MARKER. */
export function assertCurrentBundle(file: string): void {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(BUNDLE_MARKER.length);
  try {
    fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.toString('utf8') !== BUNDLE_MARKER) {
    throw new StaleWorkflowBundleError(
      `The workflow bundle ${file} was not built by this version (it lacks ${BUNDLE_MARKER}): it may lack the ` +
        'failure converter that encrypts workflow failures, which would then be stored in plaintext. Rebuild it with ' +
        '`npm run build`' +
        (process.env.ECH_REMOTE_WORKFLOW_BUNDLE === file
          ? ', or unset ECH_REMOTE_WORKFLOW_BUNDLE to load the workflow sources.'
          : ', or delete it to load the workflow sources.'),
    );
  }
}

export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = workflowBundlePath();
  if (!bundle) return { workflowsPath: require.resolve('./workflows') };
  assertCurrentBundle(bundle);
  return { workflowBundle: { codePath: bundle } };
}

/**
 * The bundler's log, minus webpack's statistics (a page of module sizes at info level on every start): its warnings
 * and errors still reach the process's log.
 */
function quietBundlerLogger(): Logger {
  const logger = new TemporalLogger();
  const noop = () => undefined;
  return {
    log: noop,
    trace: noop,
    debug: noop,
    info: noop,
    warn: logger.warn.bind(logger),
    error: logger.error.bind(logger),
  };
}

/**
 * Modules evaluated once per worker thread and shared by every cached run, instead of once per run. The SDK gives each
 * workflow run its own copy of every module it imports (its module cache): 1.26 MB of heap per run started or replayed,
 * zod ~0.75 MB of it; shared, a run costs ~0.5 MB (docs/benchmarks.md). Only modules without per-run state belong
 * here: the SDK deep-freezes them, so a write to one throws instead of leaking between runs. The contract's schemas
 * cannot be shared: a zod schema writes to itself at its first use. See src/workflowPreload.ts.
 */
export function sharedWorkflowModules(): string[] {
  return [require.resolve('./workflowPreload')];
}

/**
 * Bundles the workflow sources as `npm run build` does (the codec's failure converter included), without webpack's
 * statistics in the log; what a worker without a prebuilt bundle loads, and what scripts/bundle-workflows.ts writes.
 */
export async function bundleWorkflowSources(
  workflowsPath: string = require.resolve('./workflows'),
): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    // Workflow failures are encrypted like activity failures: the bundle carries the codec's failure converter.
    failureConverterPath: FAILURE_CONVERTER_PATH,
    preloadModules: sharedWorkflowModules(),
    logger: quietBundlerLogger(),
    // The SDK needs an inline source map (stack traces and the UI's stack trace query map through it), not the sources
    // inside it: without them the map is a fraction of the size, which every worker parses at start and every
    // workflow thread holds (docs/benchmarks.md). Stack traces still name the source file, line and column.
    webpackConfigHook: (config) => ({ ...config, devtool: 'inline-nosources-source-map' }),
  });
  return { code };
}
