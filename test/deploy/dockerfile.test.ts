/**
 * The Dockerfile builds what `npm run build` builds, checked without Docker: its stages are replayed in temporary
 * folders laid out by their COPY lines (the repository's node_modules stands in for `npm ci`), then the runtime
 * layout runs the CLI and a worker with the prebuilt workflow bundle against the test run's Temporal server.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { filesUnder } from '../helpers/files';

const root = path.resolve(__dirname, '../..');

interface Stage {
  name: string;
  instructions: { op: string; args: string }[];
}

function stages(dockerfile: string): Stage[] {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const result: Stage[] = [];
  for (const line of lines) {
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line)!;
    if (op === 'FROM') result.push({ name: / AS (\S+)$/i.exec(args!)?.[1] ?? '', instructions: [] });
    else result.at(-1)!.instructions.push({ op: op!, args: args! });
  }
  return result;
}

/** Replays a stage in `dir`: COPY from the repository (or an earlier stage's folder), RUN in a shell. */
function replay(stage: Stage, dir: string, earlier: Record<string, string>): string[] {
  const commands: string[] = [];
  for (const { op, args } of stage.instructions) {
    if (op === 'COPY') {
      const from = /^--from=(\S+)\s+/.exec(args);
      const parts = args.replace(/^--from=\S+\s+/, '').split(/\s+/);
      const dest = path.join(dir, parts.pop()!);
      for (const src of parts) {
        const source = from ? path.join(earlier[from[1]!]!, path.relative('/app', src)) : path.join(root, src);
        const target = parts.length > 1 || dest.endsWith('/') ? path.join(dest, path.basename(src)) : dest;
        fs.cpSync(source, target, { recursive: true });
      }
    } else if (op === 'RUN') {
      commands.push(args);
      // Installing packages is the one step not replayed: the repository's node_modules stands in (no network).
      if (/^npm ci\b/.test(args)) {
        fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
        continue;
      }
      execFileSync('sh', ['-c', args], { cwd: dir, stdio: 'pipe', env: { ...process.env, CI: 'true' } });
    } else if (op === 'WORKDIR') {
      assert.equal(args, '/app', 'the replay maps /app to its folder');
    }
  }
  return commands;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-docker-'));
const dirs = { build: path.join(work, 'build'), runtime: path.join(work, 'runtime') };
const [build, runtime] = stages(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
let buildCommands: string[] = [];

describe('Dockerfile', () => {
  before(() => {
    assert.equal(build?.name, 'build');
    assert.equal(runtime?.name, 'runtime');
    fs.mkdirSync(dirs.build);
    fs.mkdirSync(dirs.runtime);
    buildCommands = replay(build!, dirs.build, {});
    replay(runtime!, dirs.runtime, { build: dirs.build });
  });

  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('builds with the same command as a developer, compiling every source file and the workflow bundle', () => {
    assert.ok(buildCommands.includes('npm run build'), JSON.stringify(buildCommands));
    const lib = path.join(dirs.build, 'lib');
    for (const f of ['cli/main.js', 'worker.js', 'workflow-bundle.js']) assert.ok(fs.existsSync(path.join(lib, f)), f);
    const sources = filesUnder(path.join(root, 'src'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => path.relative(path.join(root, 'src'), f).replace(/\.ts$/, '.js'));
    const compiled = new Set(filesUnder(lib).map((f) => path.relative(lib, f)));
    assert.deepEqual(
      sources.filter((s) => !compiled.has(s)),
      [],
    );
    assert.match(fs.readFileSync(path.join(lib, 'workflow-bundle.js'), 'utf8'), /connectRemoteCluster/);
  });

  it('runs as a non-root user, on production dependencies that cover everything the built code requires', () => {
    const user = runtime!.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
    assert.ok(user && !['root', '0'].includes(user), `runs as ${user}`);
    assert.ok(runtime!.instructions.some((i) => i.op === 'RUN' && /^npm ci --omit=dev\b/.test(i.args)));
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const production = new Set(Object.keys(pkg.dependencies));
    const lib = path.join(dirs.runtime, 'lib');
    const missing = new Set<string>();
    for (const file of filesUnder(lib).filter((f) => f.endsWith('.js') && !f.endsWith('workflow-bundle.js'))) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/require\("([^".][^"]*)"\)/g)) {
        const spec = m[1]!;
        if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!production.has(name)) missing.add(`${name} (${path.relative(lib, file)})`);
      }
    }
    assert.deepEqual([...missing], []);
  });

  it('the runtime layout runs the built CLI (no sources in it)', () => {
    assert.ok(!fs.existsSync(path.join(dirs.runtime, 'src')));
    const help = execFileSync(process.execPath, ['bin/ech-remote.js', '--help'], {
      cwd: dirs.runtime,
      encoding: 'utf8',
    });
    assert.match(help, /^ {2}worker\b/m);
  });

  it('the runtime layout runs a worker on the prebuilt workflow bundle', async () => {
    assert.ok(process.env.TEMPORAL_ADDRESS, 'run with `npm test`');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      ECH_REMOTE_TASK_QUEUE: `docker-${randomUUID()}`,
      ECH_REMOTE_ENCRYPTION_KEYS: `k1=${Buffer.alloc(32, 7).toString('base64')}`,
    };
    delete env.ECH_REMOTE_WORKFLOW_BUNDLE; // the image has only its own
    const worker = spawn(process.execPath, ['bin/ech-remote.js', 'worker'], { cwd: dirs.runtime, env });
    let output = '';
    worker.stdout.on('data', (d: Buffer) => (output += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!output.includes(env.ECH_REMOTE_TASK_QUEUE!)) {
        assert.ok(worker.exitCode === null && Date.now() < deadline, `the worker did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // Bundling at start is what the prebuilt bundle spares.
      assert.doesNotMatch(output, /Workflow bundle created/);
    } finally {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
  });
});
