/** Every file under a folder, recursively (the deploy checks scan sources and build output with it). */
import fs from 'node:fs';
import path from 'node:path';

export function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
