/**
 * The repository stands alone: nothing that code, tests, scripts or CI read lives outside it. Every git-tracked file
 * under src/, test/, scripts/, .ci/, bin/ and package.json is scanned for paths that leave the checkout (a `..` that
 * climbs above the repository root, the `shared` folder that used to sit beside it) and for absolute host paths (a
 * home, work or temporary folder, a system binary). Anything found fails the test with file:line. Specifications the
 * tests and the type generator read are vendored in spec/.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const SCANNED = ['src', 'test', 'scripts', '.ci', 'bin', 'package.json'];

/** Absolute paths on a host; `#!/usr/bin/env` is the portable shebang and stays allowed. */
const HOST_PATH =
  /(?<![\w.$}-])\/(?:(?:work|home|Users|root|tmp|check|opt|mnt|srv|var|etc)\/|usr\/(?:local\/)?bin\/(?!env\b)\w)/;
/** The folder beside the repository that the project used to read its specifications from. */
const SHARED = /(?:\.\.\/|\b)shared\/(?:specs|docs)\b|\.\.\/shared\b/;
/** A relative path starting with `..` (not a spread `...`, not prose `etc..`). */
const DOTDOT = /(?<![\w.])\.\.(?![.\w])(?:\/\.\.)*(?:\/[\w.@-]+)*/g;
/** path.resolve/join calls whose arguments after the first are all string literals. */
const PATH_CALL = /path\.(?:resolve|join)\(\s*([\w.]+(?:\(\))?)((?:\s*,\s*'[^']*')+)\s*\)/g;

/** Lines that match a pattern above but read nothing, each with its reason. A stale entry fails the test too. */
const ALLOWED: { file: string; text: string; why: string }[] = [
  {
    file: 'test/contract/bad-input.test.ts',
    text: `redirect: '>/t${'mp'}/x'`,
    why: 'a hostile request value that validation must refuse; never opened',
  },
];

export interface Finding {
  file: string;
  line: number;
  text: string;
  why: string;
}

function escapes(resolved: string): boolean {
  const rel = path.relative(root, resolved);
  return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
}

/** Paths in `text` (the content of `file`, relative to the repository root) that leave the repository. */
export function findOutsidePaths(file: string, text: string): Finding[] {
  const dir = path.join(root, path.dirname(file));
  const out: Finding[] = [];
  text.split('\n').forEach((content, i) => {
    const at = { file, line: i + 1, text: content.trim() };
    if (ALLOWED.some((a) => a.file === file && content.includes(a.text))) return;
    if (SHARED.test(content)) out.push({ ...at, why: 'reads the shared folder beside the repository' });
    else if (HOST_PATH.test(content)) out.push({ ...at, why: 'absolute host path' });
    else {
      // A `..` path is taken relative to the file (imports, __dirname); package.json scripts run from the root.
      const base = file === 'package.json' ? root : dir;
      const climbing = [...content.matchAll(DOTDOT)].find((m) => escapes(path.resolve(base, m[0])));
      // A path.resolve/join call starts from the file's folder when its base is __dirname, else from the root (cwd).
      const call = [...content.matchAll(PATH_CALL)].find((m) => {
        const parts = [...m[2]!.matchAll(/'([^']*)'/g)].map((a) => a[1]!);
        return escapes(path.resolve(m[1] === '__dirname' ? dir : root, ...parts));
      });
      if (climbing || call) out.push({ ...at, why: `path outside the repository: ${(climbing ?? call)![0]}` });
    }
  });
  return out;
}

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', ...SCANNED], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter(Boolean);
}

describe('the repository stands alone', () => {
  it('the scan finds paths that leave the repository', () => {
    // Built from pieces so that this file does not itself contain what it looks for.
    const up = '..';
    const samples: Record<string, string> = {
      shared: `readFileSync('${up}/sha${'red'}/specs/compose/compose-spec.json')`,
      sharedComment: ` * Source: shared/${'specs'}/cloud-api/apidocs.json`,
      climb: `path.resolve(__dirname, '${up}/${up}/${up}/elsewhere/file.json')`,
      climbArgs: `path.resolve(repoRoot, '${up}', 'elsewhere', 'x.json')`,
      absolute: `const CHROMIUM = '/usr/bin/${'chromium'}';`,
      work: `'/wo${'rk'}/specs/x.json'`,
      home: `cat /ho${'me'}/me/spec.json`,
      tmp: `readFileSync('/t${'mp'}/input.json')`,
    };
    for (const [name, line] of Object.entries(samples)) {
      assert.equal(findOutsidePaths('test/sandbox/x.test.ts', line).length, 1, `${name}: ${line}`);
    }
    const finding = findOutsidePaths('scripts/gen.ts', `ok\n${samples.climbArgs}`)[0]!;
    assert.deepEqual([finding.file, finding.line], ['scripts/gen.ts', 2]);
  });

  it('the scan leaves paths inside the repository alone', () => {
    const up = '..';
    const inside = [
      `import { start } from '${up}/${up}/src/sandbox';`,
      `const SPECS = path.resolve(__dirname, '${up}/${up}/spec/elasticsearch');`,
      `const root = path.resolve(__dirname, '..');`,
      `const built = path.join(__dirname, '..', 'lib', 'cli', 'main.js');`,
      `cd "$(dirname "$0")/.."`,
      `#!/usr/bin/env bash`,
      `return [...a, ...b];`,
      `mount: 'es-certs:/usr/share/elasticsearch/config/certs'`,
      `fetch('https://example.com/home/x')`,
    ];
    for (const line of inside) assert.deepEqual(findOutsidePaths('test/sandbox/x.test.ts', line), [], line);
  });

  it('no tracked file under src/, test/, scripts/, .ci/, bin/ or package.json reads outside the repository', () => {
    const files = trackedFiles();
    assert.ok(files.includes('src/cli/main.ts') && files.includes('package.json'), 'git ls-files listed the tree');
    const findings = files.flatMap((f) => findOutsidePaths(f, fs.readFileSync(path.join(root, f), 'utf8')));
    assert.deepEqual(
      findings.map((f) => `${f.file}:${f.line}: ${f.why}: ${f.text}`),
      [],
    );
    for (const a of ALLOWED) {
      const text = fs.readFileSync(path.join(root, a.file), 'utf8');
      assert.ok(text.includes(a.text), `stale ALLOWED entry: ${a.file} no longer contains ${a.text}`);
    }
  });

  it('spec/README.md names the source of every vendored specification', () => {
    const readme = fs.readFileSync(path.join(root, 'spec/README.md'), 'utf8');
    const folders = fs
      .readdirSync(path.join(root, 'spec'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    assert.deepEqual(folders.sort(), ['cloud-api', 'compose', 'elasticsearch']);
    for (const f of folders) assert.ok(readme.includes(`\`${f}/`), `spec/README.md does not describe spec/${f}/`);
  });
});
