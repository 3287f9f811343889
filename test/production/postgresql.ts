/**
 * PostgreSQL for the production topology: Debian's server binaries (`apt-get install postgresql` when missing, as root
 * or through passwordless sudo), and a throwaway cluster in a temporary folder on a free loopback port, made like the
 * compose file's `postgres` image makes its own: superuser POSTGRES_USER with the password from the secret file,
 * password (SCRAM) authentication over TCP. initdb and the server refuse to run as root, so as root they run as the
 * `postgres` user Debian's package creates (else `nobody`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A folder holding initdb and pg_ctl: PATH, else Debian's /usr/lib/postgresql/<version>/bin (newest). */
export function findPostgresBin(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'pg_ctl'))) {
      // Debian links only some of them into PATH: prefer the real folder, which has pg_isready and psql too.
      return path.dirname(fs.realpathSync(path.join(dir, 'initdb')));
    }
  }
  const debian = '/usr/lib/postgresql';
  if (!fs.existsSync(debian)) return undefined;
  const versions = fs
    .readdirSync(debian)
    .filter((v) => fs.existsSync(path.join(debian, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(debian, versions[0], 'bin') : undefined;
}

/** The PostgreSQL server binaries, installed from Debian's packages when missing. Throws with what to do otherwise. */
export function ensurePostgres(): string {
  const found = findPostgresBin();
  if (found) return found;
  const root = process.getuid?.() === 0;
  const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  const aptGet = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!aptGet || (!root && !sudo)) {
    throw new Error(
      'PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin) and cannot be installed ' +
        'here (needs apt-get as root or passwordless sudo). Install the PostgreSQL server (Debian: apt-get install ' +
        'postgresql) and run again.',
    );
  }
  const run = (args: string[]) =>
    execFileSync(root ? args[0]! : 'sudo', root ? args.slice(1) : ['-n', ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  console.log('# installing PostgreSQL: apt-get install -y postgresql');
  run(['apt-get', 'update']);
  run(['apt-get', 'install', '-y', '--no-install-recommends', 'postgresql']);
  const installed = findPostgresBin();
  if (!installed) throw new Error('apt-get installed postgresql, but no initdb was found in /usr/lib/postgresql/*/bin');
  return installed;
}

export interface Postgres {
  port: number;
  dataDir: string;
  logFile: string;
  stop(): void;
}

/** The user initdb and the server run as: ourselves, or (as root) `postgres`, else `nobody`. */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const id = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (id.status !== 0) continue;
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    return { name, uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new Error('running as root, but neither a postgres nor a nobody user exists to run PostgreSQL as');
}

/**
 * initdb + pg_ctl start of a new cluster on 127.0.0.1:`port` (no Unix socket), superuser `user` with `password`.
 * `pids` receives the postmaster's pid so a runner can clean up after a crash.
 */
export function startThrowawayCluster(opts: { bin: string; port: number; user: string; password: string }): Postgres {
  const owner = serverUser();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-pg-'));
  const dataDir = path.join(base, 'data');
  const logFile = path.join(base, 'postgresql.log');
  const pwFile = path.join(base, 'pwfile');
  fs.writeFileSync(pwFile, opts.password, { mode: 0o600 });
  if (owner) {
    fs.chownSync(base, owner.uid, owner.gid);
    fs.chownSync(pwFile, owner.uid, owner.gid);
  }
  const as = (cmd: string, args: string[]) => {
    const [file, argv] = owner ? ['runuser', ['-u', owner.name, '--', cmd, ...args]] : [cmd, args];
    const r = spawnSync(file, argv, { encoding: 'utf8', cwd: base });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  as(path.join(opts.bin, 'initdb'), [
    '-D',
    dataDir,
    '-U',
    opts.user,
    `--pwfile=${pwFile}`,
    '--auth-host=scram-sha-256',
    '--auth-local=scram-sha-256',
    '-E',
    'UTF8',
    '--no-locale',
  ]);
  fs.rmSync(pwFile);
  const serverOptions = `-c listen_addresses=127.0.0.1 -p ${opts.port} -c unix_socket_directories='' -c max_connections=200`;
  as(path.join(opts.bin, 'pg_ctl'), ['-D', dataDir, '-l', logFile, '-o', serverOptions, '-w', '-t', '60', 'start']);
  let stopped = false;
  return {
    port: opts.port,
    dataDir,
    logFile,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        as(path.join(opts.bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      } finally {
        fs.rmSync(base, { recursive: true, force: true });
      }
    },
  };
}
