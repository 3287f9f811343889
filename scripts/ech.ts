/**
 * `npm run ech -- <args>`: `ech-remote <args>` against the running `npm run dev`, with nothing to export or source.
 * It reads dev.env (written by `npm run dev` in the same directory; ECH_REMOTE_DEV_ENV names another file) and takes
 * from it every variable the environment leaves unset: the Temporal address, the dev payload key file, the codec
 * endpoint. A variable already set wins and is named on stderr. `ech-remote` itself never reads dev.env.
 * With --json, use `npm run -s ech -- …` so that npm's own header does not precede the JSON on stdout.
 */
import fs from 'node:fs';
import path from 'node:path';
import { applyDevEnv, DEV_ENV_FILE, parseDevEnv } from '../src/dev/devEnv';

const file = path.resolve(process.env.ECH_REMOTE_DEV_ENV || DEV_ENV_FILE);
if (fs.existsSync(file)) {
  const kept = applyDevEnv(parseDevEnv(fs.readFileSync(file, 'utf8'), file), process.env);
  for (const k of kept) process.stderr.write(`npm run ech: ${k} is set in the environment; not using ${file}'s\n`);
} else {
  process.stderr.write(`npm run ech: no ${file} (npm run dev writes it); using the environment as it is\n`);
}
// Loaded only now, after the environment is complete: the CLI starts parsing as soon as it is loaded.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('../src/cli/main');
