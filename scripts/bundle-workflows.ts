/** Prebuilds the workflow bundle the production worker loads (`npm run build`). */
import fs from 'node:fs';
import path from 'node:path';
import { BUNDLE_MARKER, bundleWorkflowSources } from '../src/workflowBundle';

export async function bundleWorkflows(outFile: string): Promise<void> {
  const { code } = await bundleWorkflowSources(require.resolve('../src/workflows'));
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  // The marker on the first line, without a newline, so the inline source map's line numbers stay right.
  fs.writeFileSync(outFile, BUNDLE_MARKER + code);
}

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
