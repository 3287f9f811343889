/**
 * docker-compose.yml as the one source of the production topology's settings: the host topology (topology.ts) reads
 * each service's command and environment from the compose file, resolves them as Compose does (`${VAR:-default}` with
 * the `.env` beside the file), and changes only what a single host cannot share with a compose network. Every change
 * is returned with its reason (`changes`), and test/production/settings.test.ts asserts that nothing else differs.
 *
 * What a host cannot share with the compose network, and only that:
 * - service names (`temporal:7233`, `postgresql`) resolve on the compose network only: here every service is on
 *   127.0.0.1, each on a port of its own;
 * - every container has its own network namespace, so two workers both bind `0.0.0.0:9464` there; on one host each
 *   binds its own loopback port;
 * - container paths of mounts (`/run/secrets/<name>`, a config's target, a volume's target) are the host files they
 *   mount, resolved against the project directory exactly as Compose resolves them.
 */
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');

type Mount = string | { source: string; target?: string };
export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  secrets?: Mount[];
  configs?: Mount[];
  volumes?: string[];
  ports?: string[];
}
export interface Compose {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { file?: string }>;
  configs?: Record<string, { file?: string }>;
}

export function loadCompose(file = COMPOSE_FILE): Compose {
  return yaml.load(fs.readFileSync(file, 'utf8')) as Compose;
}

export const asList = (v: string[] | string | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/**
 * Compose interpolation (compose-spec "Interpolation"): `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}`
 * (unset), `${VAR:?error}` / `${VAR?error}` (required), and `$$` for a literal `$`.
 */
export function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (match, name: string | undefined, colon: string, op: string, arg: string) => {
      if (match === '$$') return '$';
      const v = vars[name!];
      const missing = v === undefined || (colon === ':' && v === '');
      if (!op) return v ?? '';
      if (!missing) return v!;
      if (op === '-') return interpolate(arg, vars);
      throw new Error(`docker-compose.yml: ${name} is required: ${arg}`);
    },
  );
}

/** The `.env` file Compose reads for interpolation (KEY=value lines; # comments). */
export function readDotEnv(file: string): Record<string, string> {
  if (!fs.existsSync(file)) return {};
  const vars: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) vars[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return vars;
}

/** One difference between what compose gives a service and what the host topology gives it. */
export interface Change {
  key: string;
  compose: string;
  host: string;
  why: string;
}

export const WHY = {
  serviceName: 'a service name resolves on the compose network only; on one host every service is on 127.0.0.1',
  listen:
    'every container has its own network namespace (both workers bind the same port there); on one host each ' +
    'process binds its own loopback port',
  mount: 'a container path of a mount: the host file it mounts, resolved against the project directory as Compose does',
  port: "the container's port of a service: here the port that service's process listens on",
} as const;

/**
 * Variables whose value is a bare host name (auto-setup's POSTGRES_SEEDS): only these name a service by itself; a bare
 * word elsewhere is data (POSTGRES_USER is `temporal`, which is also a service's name).
 */
const HOST_KEY = /(_SEEDS|_HOST)$/;

/** How compose's network and mounts look on this host. */
export interface HostLayout {
  /** Where compose's relative paths (./deploy/secrets/…, ./deploy/config/…) resolve. */
  projectDir: string;
  /** Compose's interpolation variables (the `.env` beside the compose file). */
  vars: Record<string, string>;
  /** `service:containerPort` → the host port that service listens on. */
  ports: Record<string, number>;
  /** A host port for a listen address `0.0.0.0:<port>` of this service (this process). */
  listenPort(containerPort: number): number;
}

/** The host path a container path of this service's mounts stands for, if it is one. */
export function hostPathOf(compose: Compose, service: ComposeService, value: string, projectDir: string) {
  const resolve = (p: string) => path.resolve(projectDir, p);
  for (const s of service.secrets ?? []) {
    const name = typeof s === 'string' ? s : s.source;
    const target = typeof s === 'string' || !s.target ? `/run/secrets/${name}` : s.target;
    const file = compose.secrets?.[name]?.file;
    if (value === target && file) return resolve(file);
  }
  for (const c of service.configs ?? []) {
    if (typeof c === 'string' || !c.target) continue;
    const file = compose.configs?.[c.source]?.file;
    if (value === c.target && file) return resolve(file);
  }
  for (const v of service.volumes ?? []) {
    const [source, target] = v.split(':');
    if (!source || !target || !/^\.{0,2}\//.test(source)) continue; // named volumes are not host files
    if (value === target || value.startsWith(`${target}/`)) return resolve(source) + value.slice(target.length);
  }
  return undefined;
}

/**
 * A service's environment as the host topology gives it: compose's values, interpolated, with only the container
 * network and mount differences translated (each reported in `changes`).
 */
export function serviceEnvironment(
  compose: Compose,
  name: string,
  layout: HostLayout,
): { env: Record<string, string>; changes: Change[] } {
  const service = compose.services[name];
  if (!service) throw new Error(`docker-compose.yml has no service ${name}`);
  const env: Record<string, string> = {};
  const changes: Change[] = [];
  const serviceNames = new Set(Object.keys(compose.services));
  for (const [key, raw] of Object.entries(service.environment ?? {})) {
    const value = interpolate(String(raw ?? ''), layout.vars);
    let host = value;
    let why: string | undefined;
    const mounted = hostPathOf(compose, service, value, layout.projectDir);
    const address = /^([\w.-]+):(\d+)$/.exec(value);
    if (mounted !== undefined) {
      host = mounted;
      why = WHY.mount;
    } else if (address && address[1] === '0.0.0.0') {
      host = `127.0.0.1:${layout.listenPort(Number(address[2]))}`;
      why = WHY.listen;
    } else if (address && serviceNames.has(address[1]!)) {
      const port = layout.ports[`${address[1]}:${address[2]}`];
      if (port === undefined) throw new Error(`${name}: ${key}=${value}: no host port for ${address[1]}:${address[2]}`);
      host = `127.0.0.1:${port}`;
      why = WHY.serviceName;
    } else if (HOST_KEY.test(key) && serviceNames.has(value)) {
      host = '127.0.0.1';
      why = WHY.serviceName;
    }
    env[key] = host;
    if (why) changes.push({ key, compose: value, host, why });
  }
  return { env, changes };
}

/** The image's command line for a service of our image: Dockerfile `ENTRYPOINT ["node", "bin/ech-remote.js"]`. */
export function ourCommand(compose: Compose, name: string): string[] {
  const service = compose.services[name];
  if (!service?.build) throw new Error(`${name} does not run our image`);
  return asList(service.command);
}
