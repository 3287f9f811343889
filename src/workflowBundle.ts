/** Where the workflow code comes from: the bundle `npm run build` prebuilt (or ECH_REMOTE_WORKFLOW_BUNDLE), else the sources. */
import fs from 'node:fs';
import path from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';

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
