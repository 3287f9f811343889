/**
 * The documentation says what the code does, and a newcomer can follow it: the README stays a front page (at most
 * 12 KB); every relative link in README.md and docs/*.md reaches a file (and a heading, for an anchor); every
 * `ech-remote` command and option the pages show exists in the commander program; the request fields of
 * docs/contract.md are exactly the zod schema's, and so are its step ids, signals, search attributes and the exit
 * codes of docs/cli.md; every failure type docs/failures.md lists is raised in src/ and every type src/ raises is
 * listed; every ECH_REMOTE_* variable the code reads is documented, and none is documented that nothing reads.
 * Each checker is a pure function with a control case that must find a problem, so the checks can fail.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { EXIT } from '../src/cli/exitCodes';
import {
  approveSignal,
  confirmRemoteStepSignal,
  provideCrossClusterApiKeySignal,
  provideRemoteCaCertificateSignal,
  rejectSignal,
} from '../src/contract/messages';
import { connectRequestSchema } from '../src/contract/request';
import { SEARCH_ATTRIBUTES } from '../src/contract/searchAttributes';
import { STEP_IDS } from '../src/contract/steps';

const root = path.resolve(__dirname, '..');
const read = (rel: string) => fs.readFileSync(path.join(root, rel), 'utf8');
const docPages = fs
  .readdirSync(path.join(root, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/${f}`)
  .sort();
const pages = ['README.md', ...docPages];

// ---- markdown ---------------------------------------------------------------------------------------------------------

/** The text outside fenced code blocks, line numbers kept (fenced lines become empty). */
export function withoutFences(md: string): string {
  let fence: string | undefined;
  return md
    .split('\n')
    .map((line) => {
      const m = /^\s*(`{3,}|~{3,})/.exec(line);
      if (m) {
        if (fence === undefined) fence = m[1]![0]!.repeat(m[1]!.length);
        else if (m[1]!.startsWith(fence)) fence = undefined;
        return '';
      }
      return fence === undefined ? line : '';
    })
    .join('\n');
}

/** Inline code spans (which may wrap lines) blanked, line breaks kept: a link written inside backticks is not a link. */
const withoutCodeSpans = (text: string) => text.replace(/(`+)[^`]*?\1/g, (span) => span.replace(/[^\n]/g, ' '));

/** GitHub's heading anchors: lowercase, punctuation dropped (hyphens, underscores kept), spaces to hyphens, -1 on repeats. */
export function headingAnchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutFences(md).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

export interface LinkProblem {
  page: string;
  line: number;
  target: string;
  why: string;
}

/** Relative links of `page` (its text `md`) that reach no file or directory, or no heading of the page they name. */
export function brokenLinks(
  page: string,
  md: string,
  exists: (rel: string) => boolean,
  readPage: (rel: string) => string,
) {
  const problems: LinkProblem[] = [];
  withoutCodeSpans(withoutFences(md))
    .split('\n')
    .forEach((line, i) => {
      for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)/g)) {
        const target = (m[1] ?? m[2])!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [file, anchor] = target.split('#', 2) as [string, string | undefined];
        const rel = file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
        const at = { page, line: i + 1, target };
        if (rel.startsWith('..')) problems.push({ ...at, why: 'leaves the repository' });
        else if (!exists(rel)) problems.push({ ...at, why: `no such file: ${rel}` });
        else if (anchor !== undefined) {
          if (!rel.endsWith('.md'))
            problems.push({ ...at, why: `an anchor into ${rel}, which is not a markdown page` });
          else if (!headingAnchors(readPage(rel)).has(decodeURIComponent(anchor))) {
            problems.push({ ...at, why: `${rel} has no heading #${anchor}` });
          }
        }
      }
    });
  return problems;
}

// ---- tables -------------------------------------------------------------------------------------------------------------

/** The text of a `## title` section (up to the next heading of the same or a higher level). */
export function section(md: string, title: string): string {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^##\\s+${title}\\s*$`).test(l));
  if (start < 0) return '';
  const end = lines.findIndex((l, i) => i > start && /^#{1,2}\s/.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The first cell of each body row of the markdown tables in `text` (not the header, not the rule), backticks stripped. */
export function firstCells(text: string): string[] {
  const lines = text.split('\n');
  const isRow = (l: string | undefined) => l !== undefined && /^\s*\|/.test(l);
  const isRule = (l: string | undefined) => l !== undefined && /^\s*\|(?:\s*:?-{3,}:?\s*\|)+\s*$/.test(l);
  return lines
    .filter((l, i) => isRow(l) && !isRule(l) && !isRule(lines[i + 1]))
    .map((l) =>
      l
        .split(/(?<!\\)\|/)[1]!
        .trim()
        .replace(/`/g, ''),
    );
}

/** Symmetric difference, for messages: what only `a` has and what only `b` has. */
function differences(a: Iterable<string>, b: Iterable<string>) {
  const sa = new Set(a);
  const sb = new Set(b);
  return {
    onlyInFirst: [...sa].filter((x) => !sb.has(x)).sort(),
    onlyInSecond: [...sb].filter((x) => !sa.has(x)).sort(),
  };
}

// ---- the request schema -------------------------------------------------------------------------------------------------

/** Every field path of a zod schema: `local.cloud.apiKeySecret`, `roles[].remoteIndices[].names`. */
export function schemaPaths(schema: z.ZodType): string[] {
  const out = new Set<string>();
  const walk = (s: z.ZodType, prefix: string): void => {
    const def = (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
    switch (def.type) {
      case 'optional':
      case 'default':
      case 'prefault':
      case 'nullable':
      case 'readonly':
      case 'nonoptional':
        return walk(def.innerType as z.ZodType, prefix);
      case 'pipe':
        return walk(def.in as z.ZodType, prefix);
      case 'array':
        return walk(def.element as z.ZodType, `${prefix}[]`);
      case 'object':
        for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>)) {
          const p = prefix ? `${prefix}.${key}` : key;
          out.add(p);
          walk(child, p);
        }
        return;
      case 'union':
        for (const option of def.options as z.ZodType[]) walk(option, prefix);
        return;
      default:
        return;
    }
  };
  walk(schema, '');
  return [...out];
}

// ---- failure types ----------------------------------------------------------------------------------------------------

const TYPE = "'([A-Z][a-z][A-Za-z]*)'";

/**
 * The failure types a source file raises. Workflow and activity code: `type: 'X'` / `type = 'X'`, fallbacks
 * (`?? 'X'`) and ternaries on a line about a type, `type: CONSTANT` resolved through `const CONSTANT = 'X'` in
 * `allSources`, and the tables of types (`FAILURE_TYPES`, `CODE_TYPES`, preflightFailureType). CLI code: the types of
 * its errors (`new CliError(…, 'X')`, `refused(…, 'X')`, the class's default) and of the run endings it reports.
 */
export function raisedTypes(file: string, text: string, allSources: string[]): { run: string[]; cli: string[] } {
  const found = new Set<string>();
  const add = (re: RegExp, source = text) => {
    for (const m of source.matchAll(re)) for (const g of m.slice(1)) if (g) found.add(g);
  };
  if (file.startsWith('src/cli/')) {
    add(new RegExp(`\\btype\\s*(?::|=|\\?\\?)\\s*${TYPE}`, 'g'));
    add(new RegExp(`\\btype\\b[^\\n]*\\?\\?\\s*${TYPE}`, 'g'));
    // the last argument of a call (CliError / refused), not a parameter's default value
    add(new RegExp(`(?<!=\\s*)${TYPE},?\\s*\\)`, 'g'));
    return { run: [], cli: [...found] };
  }
  add(new RegExp(`\\btype\\s*(?::|=)\\s*${TYPE}`, 'g'));
  add(new RegExp(`\\btype\\b[^\\n]*?\\?\\?\\s*${TYPE}`, 'g'));
  add(new RegExp(`\\btype\\b[^\\n]*\\?\\s*${TYPE}\\s*:\\s*${TYPE}`, 'g'));
  for (const m of text.matchAll(/\btype:\s*([A-Z][A-Z0-9_]{2,})\b/g)) {
    for (const other of allSources) add(new RegExp(`\\bconst ${m[1]} = ${TYPE}`, 'g'), other);
  }
  // A helper that takes the type as a parameter (`function preflightFail(ctx, type: string, …)`): its callers' literals.
  // Only a plain `function` whose parameters before `type` have no comma in their types, called with identifiers
  // before the type: enough for src/ today; a helper of another shape needs this widened.
  for (const m of text.matchAll(/function (\w+)\(([^)]*)\)/g)) {
    const at = m[2]!.split(',').findIndex((p) => /^\s*type\s*:\s*string\s*$/.test(p));
    if (at >= 0) add(new RegExp(`\\b${m[1]}\\(\\s*(?:[\\w.]+,\\s*){${at}}${TYPE}`, 'g'));
  }
  for (const start of [
    /export const FAILURE_TYPES = \{/,
    /const CODE_TYPES: Record/,
    /function preflightFailureType/,
  ]) {
    const i = text.search(start);
    if (i >= 0) add(new RegExp(TYPE, 'g'), text.slice(i, text.indexOf('\n}', i)));
  }
  return { run: [...found], cli: [] };
}

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? sourceFiles(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
    );
}

/** Product code: the sandbox simulates Elastic and the generated Cloud API types raise nothing. */
const productSources = sourceFiles('src').filter((f) => !/^src\/(sandbox|clients\/generated)\//.test(f));

/** The backticked type names in the first column of the tables of a section of docs/failures.md. */
const documentedTypes = (title: string) =>
  firstCells(section(read('docs/failures.md'), title)).filter((c) => /^[A-Z][A-Za-z]+$/.test(c));

// ---- the CLI ------------------------------------------------------------------------------------------------------------

interface CliCommand {
  name: string;
  options: string[];
  /** `ech-remote schedule audit`: the commands under this one, each with its own options. */
  subcommands?: CliCommand[];
}

/**
 * The commander program as src/cli/main.ts builds it: loaded in a child process whose parse is replaced by a dump of
 * the commands and their long options (nothing runs).
 */
function cliProgram(): CliCommand[] {
  const script = `
    require('tsx/cjs');
    const { Command } = require('commander');
    Command.prototype.parseAsync = function () {
      const dump = (c) => ({
        name: c.name(),
        options: c.options.map((o) => o.long).filter(Boolean),
        ...(c.commands.length ? { subcommands: c.commands.map(dump) } : {}),
      });
      const commands = this.commands.map(dump);
      process.stdout.write(JSON.stringify(commands), () => process.exit(0));
      return new Promise(() => {});
    };
    require(${JSON.stringify(path.join(root, 'src', 'cli', 'main.ts'))});
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' })) as CliCommand[];
}

/** `ech-remote <command> [args and --options]` as the pages write it: in code spans and code blocks. */
export function cliMentions(md: string): { command: string; options: string[]; text: string }[] {
  const snippets = [
    ...[...md.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!),
    ...md.split('\n').filter((l) => /^\s*(?:[A-Z_]+=\S+\s+)?(?:ech-remote|npm run ech --)\s/.test(l)),
  ];
  const out: { command: string; options: string[]; text: string }[] = [];
  for (const s of snippets) {
    for (const m of s.matchAll(
      /(?:^|[\s(|;&])(?:ech-remote|npm run ech --)\s+([a-z][a-z-]*)((?:\s+(?!ech-remote\b)[^\s|;&]+)*)/g,
    )) {
      const options = [...m[2]!.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((o) => o[0]);
      out.push({ command: m[1]!, options, text: m[0].trim() });
    }
  }
  return out;
}

/** Commands and options the pages mention that the program does not have. */
export function unknownCli(program: CliCommand[], mentions: ReturnType<typeof cliMentions>): string[] {
  const byName = new Map(program.map((c) => [c.name, c]));
  return mentions.flatMap((m) => {
    let command = byName.get(m.command);
    if (!command) return [`no command "${m.command}" (in \`${m.text}\`)`];
    let name = m.command;
    if (command.subcommands) {
      // The word after the command names the subcommand, whose options are the ones that count.
      const word = m.text.split(/\s+/)[m.text.startsWith('npm') ? 5 : 2] ?? '';
      const sub = command.subcommands.find((c) => c.name === word);
      if (!sub) return [`${m.command} has no subcommand "${word}" (in \`${m.text}\`)`];
      command = sub;
      name = `${m.command} ${word}`;
    }
    const options = new Set([...command.options, '--help']);
    return m.options.filter((o) => !options.has(o)).map((o) => `${name} has no option ${o} (in \`${m.text}\`)`);
  });
}

// ---- environment variables --------------------------------------------------------------------------------------------

const ENV_RE = /\bECH_REMOTE_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g;
const namesIn = (text: string) => new Set(text.match(ENV_RE) ?? []);

// ---- the tests --------------------------------------------------------------------------------------------------------

describe('README.md and docs/ match the code', () => {
  it('the README is a front page: at most 12 KB', () => {
    const bytes = fs.statSync(path.join(root, 'README.md')).size;
    assert.ok(bytes <= 12 * 1024, `README.md is ${bytes} bytes; move reference material into docs/`);
  });

  it('every relative link in README.md and docs/*.md reaches a file, and its anchor a heading', () => {
    const exists = (rel: string) => fs.existsSync(path.join(root, rel));
    const problems = pages.flatMap((p) => brokenLinks(p, read(p), exists, read));
    assert.deepEqual(
      problems.map((p) => `${p.page}:${p.line} (${p.target}): ${p.why}`),
      [],
      'broken links in the documentation',
    );
    // The README links every page of docs/.
    const readmeLinks = new Set([...read('README.md').matchAll(/\]\((docs\/[^)#]+)/g)].map((m) => m[1]));
    assert.deepEqual(
      docPages.filter((p) => !readmeLinks.has(p)),
      [],
      'docs pages the README does not link',
    );
  });

  it('control: the link checker finds a missing file, a missing heading and a link out of the repository', () => {
    // Built, so that test/standalone.test.ts does not take it for a path this file reads.
    const outside = ['..', '..', 'outside.md'].join('/');
    const md = [
      '# Title',
      '## Seen `here` (really)',
      `[ok](#seen-here-really) [gone](missing.md) [anchor](#nowhere) [out](${outside}) [web](https://x.y/z)`,
      '`[in code](missing-too.md)`',
      '```',
      '[fenced](missing-three.md)',
      '```',
    ].join('\n');
    const problems = brokenLinks(
      'docs/page.md',
      md,
      (rel) => rel === 'docs/page.md',
      () => md,
    );
    assert.deepEqual(
      problems.map((p) => p.target),
      ['missing.md', '#nowhere', outside],
    );
    assert.ok(
      headingAnchors('## A self-managed Elasticsearch (`--profile x`)\n').has(
        'a-self-managed-elasticsearch---profile-x',
      ),
    );
  });

  it('every ech-remote command and option the pages show exists, and docs/cli.md documents every command', () => {
    const program = cliProgram();
    assert.ok(program.length >= 10, `the program dump found ${program.length} commands`);
    const problems = pages.flatMap((p) => unknownCli(program, cliMentions(read(p))).map((x) => `${p}: ${x}`));
    assert.deepEqual(problems, [], 'commands or options that do not exist');
    const documented = new Set(cliMentions(read('docs/cli.md')).map((m) => m.command));
    assert.deepEqual(
      program.map((c) => c.name).filter((n) => !documented.has(n)),
      [],
      'commands docs/cli.md does not show',
    );
    // Control: a made-up command and a made-up option are found.
    assert.deepEqual(unknownCli(program, cliMentions('`ech-remote frobnicate ID` and `ech-remote approve ID --yes`')), [
      'no command "frobnicate" (in `ech-remote frobnicate ID`)',
      'approve has no option --yes (in `ech-remote approve ID --yes`)',
    ]);
    // Control: a subcommand's options are its own; a made-up subcommand is found.
    assert.deepEqual(
      unknownCli(program, cliMentions('`ech-remote schedule audit --every 1h --wait` and `ech-remote schedule fleet`')),
      [
        'schedule audit has no option --wait (in `ech-remote schedule audit --every 1h --wait`)',
        'schedule has no subcommand "fleet" (in `ech-remote schedule fleet`)',
      ],
    );
  });

  it('docs/contract.md lists exactly the request fields of the zod schema', () => {
    const documented = firstCells(section(read('docs/contract.md'), 'Request'));
    assert.ok(documented.length > 20, `found ${documented.length} documented fields`);
    const { onlyInFirst, onlyInSecond } = differences(documented, schemaPaths(connectRequestSchema));
    assert.deepEqual(onlyInFirst, [], 'documented fields the schema does not have');
    assert.deepEqual(onlyInSecond, [], 'schema fields docs/contract.md does not document');
  });

  it('docs/contract.md lists exactly the step ids, signals and search attributes; docs/cli.md the exit codes', () => {
    const contract = read('docs/contract.md');
    assert.deepEqual(differences(firstCells(section(contract, 'Step ids')), STEP_IDS), {
      onlyInFirst: [],
      onlyInSecond: [],
    });
    const signals = [
      approveSignal,
      rejectSignal,
      provideCrossClusterApiKeySignal,
      provideRemoteCaCertificateSignal,
      confirmRemoteStepSignal,
    ].map((s) => s.name);
    assert.deepEqual(differences(firstCells(section(contract, 'Signals')), signals), {
      onlyInFirst: [],
      onlyInSecond: [],
    });
    const attributes = section(contract, 'Search attributes');
    for (const sa of SEARCH_ATTRIBUTES) assert.ok(attributes.includes(`\`${sa.name}\``), `${sa.name} not documented`);
    assert.deepEqual(
      differences(firstCells(section(read('docs/cli.md'), 'Exit codes')), Object.values(EXIT).map(String)),
      { onlyInFirst: [], onlyInSecond: [] },
    );
  });

  it('docs/failures.md lists exactly the failure types src/ raises', () => {
    const sources = productSources.map(read);
    const run = new Set<string>();
    const cli = new Set<string>();
    productSources.forEach((f, i) => {
      const t = raisedTypes(f, sources[i]!, sources);
      t.run.forEach((x) => run.add(x));
      t.cli.forEach((x) => cli.add(x));
    });
    // The extraction itself still works: types raised in each of its ways are found.
    for (const known of ['InvalidRequest', 'ConnectionBusy', 'Rejected', 'HumanStepTimedOut', 'NodeIdentityMismatch']) {
      assert.ok(run.has(known), `the extraction no longer finds ${known}`);
    }
    for (const known of ['WrongPort', 'PlanFailed', 'UnencryptedPayload']) assert.ok(run.has(known), known);
    for (const known of ['WorkflowNotFound', 'AlreadyDecided', 'EncryptionKeyMissing', 'Terminated']) {
      assert.ok(cli.has(known), `the extraction no longer finds ${known}`);
    }
    const runDiff = differences(documentedTypes('Run failures'), run);
    assert.deepEqual(runDiff.onlyInFirst, [], 'docs/failures.md lists run failure types nothing raises');
    assert.deepEqual(runDiff.onlyInSecond, [], 'failure types src/ raises that docs/failures.md does not list');
    const cliDiff = differences(documentedTypes('CLI errors'), cli);
    assert.deepEqual(cliDiff.onlyInFirst, [], 'docs/failures.md lists CLI error types the CLI never reports');
    assert.deepEqual(cliDiff.onlyInSecond, [], 'CLI error types docs/failures.md does not list');
  });

  it('control: the failure type extraction finds each way a type is raised', () => {
    const src = [
      "throw ApplicationFailure.create({ type: 'OneWay', nonRetryable: true });",
      "status.error = { type: done ? 'TwoWay' : 'ThreeWay', message };",
      "return failure.type ? failure.type : x ?? 'FourWay';",
      'throw ApplicationFailure.create({ type: FIVE_WAY });',
      "const NOT_A_TYPE = 'Plain';",
      'function fail(ctx: Ctx, type: string, message: string): never {}',
      "fail(ctx, 'SixWay', 'a message');",
      "fail(ctx, NOT_A_TYPE, 'Plain');",
    ].join('\n');
    const other = "export const FIVE_WAY = 'FiveWay';";
    assert.deepEqual(raisedTypes('src/x.ts', src, [src, other]).run.sort(), [
      'FiveWay',
      'FourWay',
      'OneWay',
      'SixWay',
      'ThreeWay',
      'TwoWay',
    ]);
    assert.deepEqual(raisedTypes('src/cli/x.ts', "throw new CliError('gone', EXIT.error, 'Gone');", []).cli, ['Gone']);
  });

  it('every ECH_REMOTE_* variable the code reads is documented, and every documented one is read', () => {
    const codeFiles = [
      ...sourceFiles('src'),
      ...sourceFiles('scripts'),
      ...fs
        .readdirSync(path.join(root, 'scripts'))
        .filter((f) => f.endsWith('.sh'))
        .map((f) => `scripts/${f}`),
      'bin/ech-remote.js',
      'package.json',
      'docker-compose.yml',
      'Dockerfile',
      'deploy/init-secrets.sh',
    ].filter((f) => fs.existsSync(path.join(root, f)));
    const inCode = namesIn(codeFiles.map(read).join('\n'));
    const inDocs = namesIn(pages.map(read).join('\n'));
    assert.ok(inCode.has('ECH_REMOTE_ENCRYPTION_KEYS'), 'the scan finds the variables the code reads');
    const { onlyInFirst, onlyInSecond } = differences(inCode, inDocs);
    assert.deepEqual(onlyInFirst, [], 'variables the code reads that no page documents');
    assert.deepEqual(onlyInSecond, [], 'documented variables nothing reads');
  });
});
