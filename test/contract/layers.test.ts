/**
 * The layers import downwards only: src/contract (the request, the status, the facts) imports neither src/domain nor
 * src/activities; src/domain imports nothing from src/activities; the activities' signatures (src/activities/types.ts)
 * import nothing from src/domain. A new import that closes a circle fails here with file:line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const src = path.resolve(__dirname, '..', '..', 'src');

function importsOf(file: string): { line: number; from: string }[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((text, i) => {
      const m = /^(?:import|export)\b.*?from '([^']+)'/.exec(text) ?? /^\} from '([^']+)'/.exec(text);
      return m ? [{ line: i + 1, from: m[1]! }] : [];
    });
}

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}

/** Every import of `files` that resolves into one of the `forbidden` folders of src/. */
function offending(files: string[], forbidden: string[]): string[] {
  return files.flatMap((file) =>
    importsOf(file)
      .filter(({ from }) => from.startsWith('.'))
      .filter(({ from }) => {
        const target = path.relative(src, path.resolve(path.dirname(file), from));
        return forbidden.some((f) => target === f || target.startsWith(`${f}/`));
      })
      .map(({ line, from }) => `${path.relative(src, file)}:${line} imports ${from}`),
  );
}

describe('import layers', () => {
  it('src/contract imports neither src/domain nor src/activities', () => {
    assert.deepEqual(offending(filesUnder(path.join(src, 'contract')), ['domain', 'activities', 'workflows']), []);
  });

  it('src/domain imports nothing from src/activities or src/workflows', () => {
    assert.deepEqual(offending(filesUnder(path.join(src, 'domain')), ['activities', 'workflows']), []);
  });

  it("the activities' signatures import nothing from src/domain", () => {
    assert.deepEqual(offending([path.join(src, 'activities', 'types.ts')], ['domain', 'workflows']), []);
  });

  it('the check sees a forbidden import (control)', () => {
    // src/activities/cloud.ts builds its bodies with src/domain/requests.ts: allowed there, and found by the check.
    assert.ok(offending([path.join(src, 'activities', 'cloud.ts')], ['domain']).length > 0);
  });
});
