/** Prebuilds the workflow bundle the production worker loads (`npm run build`). */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../src/codec';
import { BUNDLE_MARKER } from '../src/workflowBundle';

export async function bundleWorkflows(outFile: string): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    // Workflow failures are encrypted like activity failures: the bundle carries the codec's failure converter.
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: quietLogger,
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  // The marker on the first line, without a newline, so the inline source map's line numbers stay right.
  fs.writeFileSync(outFile, BUNDLE_MARKER + code);
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };

if (require.main === module) {
  const out = path.resolve(__dirname, '../lib/workflow-bundle.js');
  bundleWorkflows(out).then(
    () => console.log(`workflow bundle written to ${path.relative(process.cwd(), out)}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
