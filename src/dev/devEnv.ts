/**
 * dev.env: what a shell (`source dev.env`) or `npm run ech` needs to use the `ech-remote dev` environment, written
 * by `ech-remote dev` beside sandbox.json. One strict format, so that both a shell and this module read it the same
 * way: `export NAME='value'` lines (single-quoted, literal), and one `export PATH='dirs'"${PATH:+:$PATH}"` line that
 * puts directories in front of PATH. Nothing here is read by production code paths: only `npm run ech` loads it, and
 * only for variables the environment leaves unset.
 */
import fs from 'node:fs';
import path from 'node:path';

export const DEV_ENV_FILE = 'dev.env';

export interface DevEnv {
  /** Directories to put in front of PATH. */
  path: string[];
  /** Every other variable. */
  vars: Record<string, string>;
}

const shellQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
const unquote = (v: string) => v.replace(/'\\''/g, "'");
const SINGLE_QUOTED = String.raw`'((?:[^']|'\\'')*)'`;
const VAR_LINE = new RegExp(String.raw`^export ([A-Z_][A-Z0-9_]*)=${SINGLE_QUOTED}$`);
const PATH_LINE = new RegExp(String.raw`^export PATH=${SINGLE_QUOTED}"\$\{PATH:\+:\$PATH\}"$`);

export function formatDevEnv(env: DevEnv, header: string[]): string {
  if (env.path.some((d) => d.includes(':'))) throw new Error(`a PATH directory cannot contain ':' (${env.path})`);
  return [
    ...header.map((l) => `# ${l}`),
    `export PATH=${shellQuote(env.path.join(':'))}"\${PATH:+:$PATH}"`,
    ...Object.entries(env.vars).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    '',
  ].join('\n');
}

export function parseDevEnv(text: string, file = DEV_ENV_FILE): DevEnv {
  const env: DevEnv = { path: [], vars: {} };
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const p = PATH_LINE.exec(line);
    if (p) {
      env.path.push(...unquote(p[1]!).split(':').filter(Boolean));
      continue;
    }
    const v = VAR_LINE.exec(line);
    if (!v) throw new Error(`${file}:${i + 1}: not an "export NAME='value'" line`);
    env.vars[v[1]!] = unquote(v[2]!);
  }
  return env;
}

/** Written mode 0600: it holds the dev codec server's token. */
export function writeDevEnv(dir: string, env: DevEnv, header: string[]): string {
  const file = path.join(dir, DEV_ENV_FILE);
  fs.writeFileSync(file, formatDevEnv(env, header), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

/**
 * Fill `target` from dev.env: every variable it leaves unset (a set one wins, and is reported, so that a shell
 * pointed elsewhere is never silently redirected), and dev.env's directories in front of PATH. Returns the names kept
 * from the environment although dev.env has another value.
 */
export function applyDevEnv(env: DevEnv, target: NodeJS.ProcessEnv): string[] {
  const kept: string[] = [];
  for (const [k, v] of Object.entries(env.vars)) {
    const current = target[k];
    if (current === undefined || current === '') target[k] = v;
    else if (current !== v) kept.push(k);
  }
  const existing = (target.PATH ?? '').split(path.delimiter).filter(Boolean);
  target.PATH = [...env.path, ...existing.filter((d) => !env.path.includes(d))].join(path.delimiter);
  return kept;
}
