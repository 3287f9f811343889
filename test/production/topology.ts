/**
 * The compose stack of docker-compose.yml on one host, without Docker, with the same components:
 *
 * - `postgresql`: a throwaway PostgreSQL cluster (postgresql.ts), superuser and password as the compose service;
 * - `temporal`: what temporalio/auto-setup does, step by step: the databases and their schemas by the official
 *   `temporal-sql-tool` (create, setup-schema -v 0.0, update-schema from the module's schema/postgresql/v12), the
 *   server started with the env-driven config the images use (the module's config/docker.yaml) and compose's
 *   environment for the `temporal` service, then the namespace (DEFAULT_NAMESPACE, auto-setup's retention 24h);
 * - `temporal-admin-tools`: the custom search attributes registered with the same `temporal operator` commands, for
 *   every attribute of src/contract/searchAttributes.ts;
 * - `worker` ×2 and `codec-server`: our image's commands (`node bin/ech-remote.js <command>`, here the run's build
 *   of the CLI) with compose's environment for those services;
 * - the secret files made by deploy/init-secrets.sh itself, run in a copy of the project's deploy/ folder.
 *
 * Every setting comes from docker-compose.yml (compose.ts); what differs on one host is returned as `changes`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../../src/contract/searchAttributes';
import { freePorts } from '../helpers/cli';
import {
  REPO_ROOT,
  WHY,
  asList,
  interpolate,
  loadCompose,
  ourCommand,
  readDotEnv,
  serviceEnvironment,
  type Change,
  type Compose,
} from './compose';
import { startThrowawayCluster, type Postgres } from './postgresql';

export interface TopologyOptions {
  /** What scripts/install-temporal-server.sh printed: temporal-server, temporal-sql-tool, schema/, config/. */
  serverDir: string;
  temporalCli: string;
  postgresBin: string;
  /** The built ech-remote CLI (lib/cli/main.js), as the image has it. */
  cli: string;
  /** The prebuilt workflow bundle, as the image has it (lib/workflow-bundle.js). */
  bundle: string;
  /** Extra CA certificates the workers trust (the sandbox's public root stands in for the public CAs). */
  caFile: string;
  /** The secrets requests name: one file each in deploy/secrets/worker, as an operator puts them there. */
  workerSecrets: Record<string, string>;
  /** deploy/config/secret-bindings.json as the operator edits it for their endpoints (here: the sandbox's). */
  secretBindings: unknown;
  /** Where logs and the project copy go. */
  workDir: string;
}

/** A process of the topology: its output kept in a log file, killable. */
export class Proc {
  private out = '';
  readonly exited: Promise<number | null>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    logFile: string,
  ) {
    const log = fs.createWriteStream(logFile, { flags: 'a' });
    const keep = (d: Buffer) => {
      this.out += d.toString();
      if (this.out.length > 4_000_000) this.out = this.out.slice(-2_000_000);
      log.write(d);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.on('close', (code) => (log.end(), resolve(code))));
  }
  get pid(): number {
    return this.child.pid!;
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  output(): string {
    return this.out;
  }
  async waitFor(text: string | RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const found = () => (typeof text === 'string' ? this.out.includes(text) : text.test(this.out));
    while (!found()) {
      if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode}):\n${this.out.slice(-4000)}`);
      if (Date.now() > deadline)
        throw new Error(`${this.name}: no ${text} after ${timeoutMs} ms:\n${this.out.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  /** SIGKILL (nothing flushed, nothing completed), or SIGTERM with SIGKILL after `graceMs`. */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM', graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** `n` distinct loopback ports free now, from [20000, max): held open together so they are distinct. */
async function freePortsBelow(max: number, n: number): Promise<number[]> {
  const held: net.Server[] = [];
  try {
    while (held.length < n) {
      const port = 20000 + Math.floor(Math.random() * (max - 20000));
      const server = net.createServer();
      const ok = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (ok) held.push(server);
    }
    return held.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** The environment every process of the host gets besides its compose environment (the image's own). */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  return Object.fromEntries(keep.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
}

/** What the host gives a process that compose does not, with why (beyond compose's environment). */
export interface Addition {
  key: string;
  value: string;
  why: string;
}

export class Topology {
  readonly compose: Compose = loadCompose();
  readonly projectDir: string;
  vars: Record<string, string> = {};
  readonly ports: Record<string, number> = {};
  postgres?: Postgres;
  temporal?: Proc;
  temporalEnv: Record<string, string> = {};
  readonly workers: Proc[] = [];
  codec?: Proc;
  codecEnv: Record<string, string> = {};
  /** Every difference from compose, per service. */
  readonly changes: Record<string, Change[]> = {};
  readonly additions: Record<string, Addition[]> = {};
  private serverPorts: Record<string, number> = {};
  private workerCount = 0;

  constructor(readonly opts: TopologyOptions) {
    this.projectDir = path.join(opts.workDir, 'project');
  }

  get namespace(): string {
    return interpolate(String(this.compose.services.worker!.environment!.TEMPORAL_NAMESPACE), this.vars);
  }
  get taskQueue(): string {
    return interpolate(String(this.compose.services.worker!.environment!.ECH_REMOTE_TASK_QUEUE), this.vars);
  }
  /** The Temporal frontend as clients on this host reach it. */
  get address(): string {
    return `127.0.0.1:${this.ports['temporal:7233']}`;
  }
  get codecUrl(): string {
    return `http://127.0.0.1:${this.ports['codec-server:8888']}`;
  }
  file(composePath: string): string {
    return path.resolve(this.projectDir, composePath);
  }
  secretFile(name: string): string {
    const file = this.compose.secrets?.[name]?.file;
    if (!file) throw new Error(`docker-compose.yml has no secret ${name}`);
    return this.file(file);
  }

  /** The operator's steps before `docker compose up`: deploy/init-secrets.sh, worker secrets, bindings. */
  prepareProject(): void {
    fs.mkdirSync(path.join(this.projectDir, 'deploy'), { recursive: true });
    fs.cpSync(path.join(REPO_ROOT, 'deploy/config'), path.join(this.projectDir, 'deploy/config'), { recursive: true });
    fs.copyFileSync(
      path.join(REPO_ROOT, 'deploy/init-secrets.sh'),
      path.join(this.projectDir, 'deploy/init-secrets.sh'),
    );
    execFileSync('bash', [path.join(this.projectDir, 'deploy/init-secrets.sh')], { stdio: 'ignore' });
    const workerVolume = this.compose.services.worker!.volumes!.find((v) => v.includes('/run/ech-remote-secrets'))!;
    const secretsDir = this.file(workerVolume.split(':')[0]!);
    for (const [name, value] of Object.entries(this.opts.workerSecrets)) {
      fs.writeFileSync(path.join(secretsDir, name), value, { mode: 0o600 });
    }
    const bindings = this.compose.services.worker!.configs!.find((c) => typeof c !== 'string')!;
    const bindingsFile = this.file(
      this.compose.configs![typeof bindings === 'string' ? bindings : bindings.source]!.file!,
    );
    fs.writeFileSync(bindingsFile, JSON.stringify(this.opts.secretBindings, null, 2));
    // Compose reads .env beside the compose file for interpolation; init-secrets.sh wrote the codec token there.
    this.vars = readDotEnv(path.join(this.projectDir, '.env'));
  }

  private layout(listen: () => number) {
    return {
      projectDir: this.projectDir,
      vars: this.vars,
      ports: this.ports,
      listenPort: () => listen(),
    };
  }

  async start(): Promise<void> {
    fs.mkdirSync(path.join(this.opts.workDir, 'logs'), { recursive: true });
    this.prepareProject();
    // Ports below the kernel's ephemeral range (32768+): the Temporal server is restarted on the same ports mid-test,
    // and an outgoing connection could take an ephemeral port while it is down. The SQL schema also stores the
    // membership ports as SMALLINT (cluster_membership.rpc_port), so they must be below 32768 anyway.
    const internal = ['HISTORY_GRPC', 'MATCHING_GRPC', 'WORKER_GRPC', 'FRONTEND_HTTP'].concat(
      ['FRONTEND', 'HISTORY', 'MATCHING', 'WORKER'].map((s) => `${s}_MEMBERSHIP`),
    );
    const [pg, frontend, codec, ...rest] = await freePortsBelow(32768, 3 + internal.length);
    this.ports['postgresql:5432'] = pg!;
    this.ports['temporal:7233'] = frontend!;
    this.ports['codec-server:8888'] = codec!;
    internal.forEach((n, i) => (this.serverPorts[`${n}_PORT`] = rest[i]!));

    this.startPostgres();
    this.setUpSchemas();
    await this.startTemporal();
    await this.createNamespace();
    await this.registerSearchAttributes();
    await this.startCodecServer();
    await Promise.all([this.startWorker(), this.startWorker()]);
  }

  // ---- postgresql ---------------------------------------------------------------------------------------------------

  private startPostgres(): void {
    const service = this.compose.services.postgresql!;
    const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]));
    const passwordFile = env.POSTGRES_PASSWORD_FILE!.replace(/^\/run\/secrets\//, '');
    this.postgres = startThrowawayCluster({
      bin: this.opts.postgresBin,
      port: this.ports['postgresql:5432']!,
      user: env.POSTGRES_USER!,
      password: fs.readFileSync(this.secretFile(passwordFile), 'utf8'),
    });
    this.changes.postgresql = [
      {
        key: '(port)',
        compose: '5432',
        host: String(this.ports['postgresql:5432']),
        why: WHY.port,
      },
    ];
  }

  // ---- temporal (auto-setup) ----------------------------------------------------------------------------------------

  /** compose's `temporal` environment on this host, with POSTGRES_PWD read as its command reads it. */
  private temporalEnvironment(): Record<string, string> {
    const { env, changes } = serviceEnvironment(
      this.compose,
      'temporal',
      this.layout(() => 0),
    );
    // DB_PORT is a plain port number: the postgresql service's container port.
    const pgPort = String(this.ports['postgresql:5432']);
    changes.push({
      key: 'DB_PORT',
      compose: env.DB_PORT!,
      host: pgPort,
      why: WHY.port,
    });
    env.DB_PORT = pgPort;
    // The entrypoint reads the password from the secret file: `POSTGRES_PWD="$(cat /run/secrets/<name>)"`.
    const command = interpolate(asList(this.compose.services.temporal!.command).join(' '), this.vars);
    const secret = /POSTGRES_PWD="\$\(cat \/run\/secrets\/([\w-]+)\)"/.exec(command)?.[1];
    if (!secret)
      throw new Error(`the temporal service's command no longer reads POSTGRES_PWD from a secret: ${command}`);
    env.POSTGRES_PWD = fs.readFileSync(this.secretFile(secret), 'utf8');
    const additions: Addition[] = [
      {
        key: 'VISIBILITY_DB_PORT',
        value: pgPort,
        why: 'the server config reads the visibility port from VISIBILITY_DB_PORT/POSTGRES_PORT (default 5432, which compose relies on)',
      },
      ...Object.entries(this.serverPorts).map(([key, port]) => ({
        key,
        value: String(port),
        why: "the server's other ports: in a container the image defaults (7234, 6933, …), here free loopback ports",
      })),
    ];
    this.changes.temporal = changes;
    this.additions.temporal = additions;
    return {
      ...env,
      ...Object.fromEntries(additions.map((a) => [a.key, a.value])),
      FRONTEND_GRPC_PORT: String(this.ports['temporal:7233']),
    };
  }

  /** auto-setup's schema step: the official tool, the module's schema files. */
  private setUpSchemas(): void {
    const env = this.temporalEnvironment();
    this.temporalEnv = env;
    const tool = path.join(this.opts.serverDir, 'temporal-sql-tool');
    const schema = path.join(this.opts.serverDir, 'schema/postgresql/v12');
    const databases: [string, string][] = [
      [env.DBNAME ?? 'temporal', path.join(schema, 'temporal/versioned')],
      [env.VISIBILITY_DBNAME ?? 'temporal_visibility', path.join(schema, 'visibility/versioned')],
    ];
    // The password through the tool's SQL_PASSWORD variable, never on a command line.
    const toolEnv = { ...baseEnv(), SQL_PASSWORD: env.POSTGRES_PWD! };
    const common = ['--plugin', env.DB!, '--ep', env.POSTGRES_SEEDS!, '-u', env.POSTGRES_USER!, '-p', env.DB_PORT!];
    const log = path.join(this.opts.workDir, 'logs', 'temporal-sql-tool.log');
    for (const [db, dir] of databases) {
      for (const args of [['create'], ['setup-schema', '-v', '0.0'], ['update-schema', '-d', dir]]) {
        try {
          const out = execFileSync(tool, [...common, '--db', db, ...args], {
            env: toolEnv,
            encoding: 'utf8',
            stdio: 'pipe',
          });
          fs.appendFileSync(log, out);
        } catch (err) {
          const e = err as { stdout?: string; stderr?: string };
          throw new Error(`temporal-sql-tool ${args[0]} ${db} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
        }
      }
    }
  }

  /** `temporal-server --env docker start`, as the image's entrypoint runs it; resolves once the frontend answers. */
  async startTemporal(): Promise<void> {
    const server = path.join(this.opts.serverDir, 'temporal-server');
    const child = spawn(server, ['--root', this.opts.serverDir, '--config', 'config', '--env', 'docker', 'start'], {
      env: { ...baseEnv(), ...this.temporalEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.temporal = new Proc('temporal-server', child, path.join(this.opts.workDir, 'logs', 'temporal-server.log'));
    this.recordPids();
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (!this.temporal.running) throw new Error(`temporal-server exited:\n${this.temporal.output().slice(-4000)}`);
      try {
        this.temporalCli(['operator', 'cluster', 'health']);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`temporal-server not healthy in 120 s: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** SIGKILL the server (nothing flushed) and start it again on the same ports and databases. */
  async restartTemporal(): Promise<void> {
    await this.temporal?.stop('SIGKILL');
    await this.startTemporal();
  }

  /** One CLI command against the server; bounded (`timeoutMs`), as it blocks this process while it runs. */
  temporalCli(args: string[], timeoutMs = 60_000): string {
    return execFileSync(this.opts.temporalCli, [...args, '--address', this.address], {
      encoding: 'utf8',
      stdio: 'pipe',
      env: { ...baseEnv(), TEMPORAL_NAMESPACE: this.namespace },
      timeout: timeoutMs,
    });
  }

  /**
   * auto-setup's namespace step (DEFAULT_NAMESPACE, DEFAULT_NAMESPACE_RETENTION's default 24h), retried as
   * auto-setup's script retries it: a server just started may drop the call (its first connections are recycled).
   */
  private async createNamespace(): Promise<void> {
    const namespace = this.temporalEnv.DEFAULT_NAMESPACE!;
    const describe = () => this.temporalCli(['operator', 'namespace', 'describe', '--namespace', namespace], 20_000);
    await this.until(() => {
      try {
        describe();
      } catch {
        this.temporalCli(['operator', 'namespace', 'create', '--namespace', namespace, '--retention', '24h'], 30_000);
      }
    }, 180_000);
    await this.until(describe, 30_000);
  }

  /**
   * The temporal-admin-tools service's commands (`temporal operator search-attribute create --name … --type Keyword`)
   * for every attribute the workflows set, read from src/contract/searchAttributes.ts.
   */
  private async registerSearchAttributes(): Promise<void> {
    const types: Record<string, string> = {
      KEYWORD: 'Keyword',
      TEXT: 'Text',
      INT: 'Int',
      DOUBLE: 'Double',
      BOOL: 'Bool',
      DATETIME: 'Datetime',
      KEYWORD_LIST: 'KeywordList',
    };
    for (const sa of SEARCH_ATTRIBUTES) {
      const type = types[sa.type.toUpperCase()];
      if (!type) throw new Error(`no temporal CLI type for search attribute ${sa.name} (${sa.type})`);
      // Retried: a namespace just created may not be in the frontend's namespace cache yet ("not found" for ~10 s).
      await this.until(() => {
        try {
          this.temporalCli([
            'operator',
            'search-attribute',
            'create',
            '--name',
            sa.name,
            '--type',
            type,
            '--namespace',
            this.namespace,
          ]);
        } catch (err) {
          if (!/already exists/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
        }
      }, 60_000);
    }
    await this.until(() => {
      const list = this.temporalCli(['operator', 'search-attribute', 'list', '--namespace', this.namespace]);
      const missing = SEARCH_ATTRIBUTES.filter((sa) => !new RegExp(`\\b${sa.name}\\b`).test(list));
      if (missing.length) throw new Error(`not registered yet: ${missing.map((m) => m.name).join(', ')}`);
    }, 30_000);
  }

  private async until(check: () => unknown, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        check();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  // ---- our image: worker, codec-server ------------------------------------------------------------------------------

  /** What the image gives our processes beyond compose's environment. */
  private imageEnv(): Addition[] {
    return [
      { key: 'NODE_ENV', value: 'production', why: 'the Dockerfile sets it (ENV NODE_ENV=production)' },
      {
        key: 'ECH_REMOTE_WORKFLOW_BUNDLE',
        value: this.opts.bundle,
        why: 'the image has the prebuilt bundle at lib/workflow-bundle.js; here the run builds it once elsewhere',
      },
      {
        key: 'NODE_EXTRA_CA_CERTS',
        value: this.opts.caFile,
        why: "the sandbox's public root stands in for the public CAs the image trusts",
      },
    ];
  }

  private spawnOurs(service: string, name: string, env: Record<string, string>): Proc {
    const child = spawn(process.execPath, [this.opts.cli, ...ourCommand(this.compose, service)], {
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Proc(name, child, path.join(this.opts.workDir, 'logs', `${name}.log`));
  }

  /** One more `worker` replica; resolves once it polls. */
  async startWorker(): Promise<Proc> {
    const [metrics] = await freePorts(1);
    const { env, changes } = serviceEnvironment(
      this.compose,
      'worker',
      this.layout(() => metrics!),
    );
    const additions = this.imageEnv();
    this.changes.worker = changes;
    this.additions.worker = additions;
    const proc = this.spawnOurs('worker', `worker-${++this.workerCount}`, {
      ...env,
      ...Object.fromEntries(additions.map((a) => [a.key, a.value])),
    });
    this.workers.push(proc);
    this.recordPids();
    await proc.waitFor('ech-remote worker started', 60_000);
    return proc;
  }

  async startCodecServer(): Promise<void> {
    const { env, changes } = serviceEnvironment(
      this.compose,
      'codec-server',
      this.layout(() => this.ports['codec-server:8888']!),
    );
    this.changes['codec-server'] = changes;
    this.codecEnv = env;
    this.codec = this.spawnOurs('codec-server', 'codec-server', env);
    this.recordPids();
    await this.codec.waitFor('ech-remote codec server on', 30_000);
  }

  /** The UI's codec endpoint (temporal-ui's TEMPORAL_CODEC_ENDPOINT) and its origin, as compose resolves them. */
  uiCodecEndpoint(): { endpoint: string; origin: string; change: Change } {
    const ui = this.compose.services['temporal-ui']!.environment!;
    const endpoint = interpolate(String(ui.TEMPORAL_CODEC_ENDPOINT), this.vars);
    const origin = interpolate(String(ui.TEMPORAL_CORS_ORIGINS), this.vars);
    const u = new URL(endpoint);
    const host = `${this.codecUrl}${u.pathname}`;
    return {
      endpoint: host,
      origin,
      change: {
        key: 'TEMPORAL_CODEC_ENDPOINT',
        compose: endpoint,
        host,
        why: 'the published codec port (8888) is the container port; here the codec server listens on its own port',
      },
    };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers, this.codec].map((p) => p?.stop('SIGTERM', 10_000)));
    await this.temporal?.stop('SIGTERM', 15_000);
    this.postgres?.stop();
  }

  /**
   * The pids a runner kills if the test process dies without stop() (scripts/run-production-test.ts reads them):
   * ours, and the postmaster pg_ctl started in the background.
   */
  recordPids(): void {
    const pids = [...this.workers, this.codec, this.temporal].flatMap((p) => (p?.running ? [p.pid] : []));
    const postmaster = this.postgres && path.join(this.postgres.dataDir, 'postmaster.pid');
    if (postmaster && fs.existsSync(postmaster)) pids.push(Number(fs.readFileSync(postmaster, 'utf8').split('\n')[0]));
    fs.writeFileSync(path.join(this.opts.workDir, 'pids'), pids.join('\n'));
  }
}
