/**
 * docker-compose.yml, checked without a Docker engine: it is a valid Compose file (the Compose Specification's JSON
 * schema), every command it runs exists, every variable it gives our services is one our code reads and every one our
 * code needs is given, the secrets it mounts are the files deploy/init-secrets.sh makes, the UI reaches the codec
 * server, and the self-managed Elasticsearch is configured as the domain reference says (remote cluster server on 9443
 * with TLS from certificates its setup service makes).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json';
import yaml from 'js-yaml';
import { SEARCH_ATTRIBUTES } from '../../src/contract/searchAttributes';
import { filesUnder } from '../helpers/files';

const root = path.resolve(__dirname, '../..');
const composeText = fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
const compose = yaml.load(composeText) as Compose;

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | null>;
  secrets?: (string | { source: string; target?: string })[];
  configs?: (string | { source: string; target?: string })[];
  volumes?: string[];
  ports?: string[];
  profiles?: string[];
}
interface Compose {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
  configs?: Record<string, { file?: string }>;
}

/** The module each of our image's commands runs (src/cli/main.ts hands the command to it). */
const COMMAND_MODULES: Record<string, string> = {
  worker: 'src/worker.ts',
  'codec-server': 'src/codec/server.ts',
};

/** `${NAME:-default}` as Compose resolves it with nothing set in the environment. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z0-9_]+(?::?-([^}]*))?\}/g, (_, fallback: string | undefined) => fallback ?? '');
}

/** Services that run our image (built from this repository). */
const ours = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
const env = (s: Service) => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
const secretNames = (s: Service) => (s.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source));
const asList = (v: string[] | string | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The source files a module loads: its relative imports, followed to the end. */
function moduleGraph(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import|require\(|require\.resolve\()\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const base = path.resolve(path.dirname(file), m[1]!);
      const found = [`${base}.ts`, path.join(base, 'index.ts'), base].find(
        (f) => fs.existsSync(f) && fs.statSync(f).isFile(),
      );
      if (found?.endsWith('.ts')) visit(found);
    }
  };
  visit(path.join(root, entry));
  return [...seen];
}

/** Environment variables a command reads: the modules it loads, and @temporalio/envconfig if they hand it the env. */
function variablesReadBy(command: string): Set<string> {
  const entry = COMMAND_MODULES[command];
  assert.ok(entry, `no module known for the command ${command}`);
  const names = new Set<string>();
  let usesEnvconfig = false;
  for (const file of moduleGraph(entry)) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\])/g)) {
      names.add((m[1] ?? m[2])!);
    }
    // Names kept in constants, e.g. const KEYS_ENV = 'ECH_REMOTE_ENCRYPTION_KEYS', or read from an env object.
    for (const m of text.matchAll(/['"`](ECH_REMOTE_[A-Z0-9_]+)['"`]/g)) names.add(m[1]!);
    for (const m of text.matchAll(/\benv\.(ECH_REMOTE_[A-Z0-9_]+)/g)) names.add(m[1]!);
    if (text.includes("from '@temporalio/envconfig'")) usesEnvconfig = true;
  }
  if (usesEnvconfig) {
    const lib = path.dirname(require.resolve('@temporalio/envconfig'));
    for (const file of filesUnder(lib).filter((f) => f.endsWith('.js'))) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/['"`](TEMPORAL_[A-Z0-9_]*[A-Z0-9])['"`]/g)) {
        names.add(m[1]!);
      }
    }
  }
  return names;
}

function cliCommands(): string[] {
  const help = execFileSync(process.execPath, [path.join(root, 'bin/ech-remote.js'), '--help'], { encoding: 'utf8' });
  const commands = help.slice(help.indexOf('Commands:'));
  return [...commands.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!);
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(root, 'spec/compose/compose-spec.json'), 'utf8'));
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    // The schema names its meta-schema by an https URL; it is draft-07's.
    ajv.addMetaSchema({ ...draft07, $id: schema.$schema });
    const validate = ajv.compile(schema);
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
    // And the check bites: a misspelt key is refused.
    const misspelt = structuredClone(compose);
    (misspelt.services.worker as Record<string, unknown>).enviroment = {};
    assert.equal(validate(misspelt), false);
  });

  it('runs our image with ech-remote commands that exist, and the worker and codec server', () => {
    const known = new Set(cliCommands());
    const run = ours.map(([name, s]) => [name, asList(s.command)[0]] as const);
    for (const [name, command] of run) {
      assert.ok(command && known.has(command), `${name}: "${command}" is not an ech-remote command (${[...known]})`);
    }
    assert.deepEqual(run.map(([, c]) => c).sort(), ['codec-server', 'worker']);
    const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ENTRYPOINT \["node", "bin\/ech-remote\.js"\]$/m);
  });

  it('runs other images with their own entrypoints or scripts of this repository', () => {
    // Images whose entrypoint a command here calls explicitly, or whose shell runs an inline script.
    const entrypoints: Record<string, RegExp> = {
      'temporalio/auto-setup': /exec \/etc\/temporal\/entrypoint\.sh autosetup$/,
      'temporalio/admin-tools': /temporal operator search-attribute create/,
      'docker.elastic.co/elasticsearch/elasticsearch': /^\/usr\/share\/elasticsearch\/deploy\/(\S+\.sh)$/,
    };
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build !== undefined || s.command === undefined) continue;
      const image = s.image!.replace(/:.*$/, '');
      const pattern = entrypoints[image];
      assert.ok(pattern, `${name}: no known entrypoint for ${image}`);
      const last = asList(s.command).at(-1)!;
      const m = pattern.exec(last);
      assert.ok(m, `${name}: ${last}`);
      if (m[1]) {
        // A script of ours, mounted read-only from deploy/.
        const mount = s.volumes!.find((v) => v.endsWith(':/usr/share/elasticsearch/deploy:ro'))!;
        assert.ok(fs.existsSync(path.join(root, mount.split(':')[0]!, m[1])), `${name}: ${m[1]} is missing`);
      }
    }
  });

  it('registers every custom search attribute the workflows set before the worker starts', () => {
    const tools = compose.services['temporal-admin-tools']!;
    const script = asList(tools.command).join(' ');
    for (const sa of SEARCH_ATTRIBUTES) assert.match(script, new RegExp(`\\b${sa.name}\\b.*--type Keyword`));
    assert.deepEqual(compose.services.worker!['depends_on' as keyof Service], {
      'temporal-admin-tools': { condition: 'service_completed_successfully' },
    });
  });

  it('gives each of our services only variables its command reads', () => {
    const main = fs.readFileSync(path.join(root, 'src/cli/main.ts'), 'utf8');
    for (const entry of Object.values(COMMAND_MODULES)) {
      const spec = path.relative(path.join(root, 'src/cli'), path.join(root, entry)).replace(/\.ts$/, '');
      // Imported, or loaded lazily by the command that runs it (src/cli/main.ts `load`).
      assert.ok(
        main.includes(`from '${spec}'`) || main.includes(`load<typeof import('${spec}')>('${spec}')`),
        `src/cli/main.ts runs ${entry}`,
      );
    }
    const worker = variablesReadBy('worker');
    assert.ok(worker.has('TEMPORAL_ADDRESS') && worker.has('ECH_REMOTE_LOG_LEVEL'), 'the worker reads its variables');
    assert.ok(!variablesReadBy('codec-server').has('ECH_REMOTE_LOG_LEVEL'), 'the codec server has no log level');
    for (const [name, s] of ours) {
      const [command] = asList(s.command);
      const read = variablesReadBy(command!);
      for (const key of Object.keys(env(s)))
        assert.ok(read.has(key), `${name}: ech-remote ${command} never reads ${key}`);
    }
  });

  it('lets auto-setup create the namespace the worker uses', () => {
    const temporal = env(compose.services.temporal!);
    assert.equal(temporal.DEFAULT_NAMESPACE, env(compose.services.worker!).TEMPORAL_NAMESPACE);
    assert.equal(withDefaults(temporal.DEFAULT_NAMESPACE!), 'default');
  });

  it('gives our services every variable they need, with values that work in a container', () => {
    const worker = env(compose.services.worker!);
    assert.equal(worker.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.ok(worker.ECH_REMOTE_ENCRYPTION_KEYS_FILE, 'the worker encrypts payloads');
    assert.equal(worker.ECH_REMOTE_INSECURE_PLAINTEXT_PAYLOADS, undefined);
    assert.equal(withDefaults(worker.ECH_REMOTE_TASK_QUEUE!), 'ech-remote-clusters');
    const codec = env(compose.services['codec-server']!);
    assert.ok(codec.ECH_REMOTE_ENCRYPTION_KEYS_FILE && codec.ECH_REMOTE_CODEC_TOKEN_FILE);
    // In a container, 127.0.0.1 (the codec server's default) is unreachable from the published port.
    assert.match(codec.ECH_REMOTE_CODEC_LISTEN!, /^0\.0\.0\.0:\d+$/);
    assert.match(worker.ECH_REMOTE_METRICS_ADDRESS!, /^0\.0\.0\.0:\d+$/);
    // Both decrypt with the same keys.
    assert.equal(worker.ECH_REMOTE_ENCRYPTION_KEYS_FILE, codec.ECH_REMOTE_ENCRYPTION_KEYS_FILE);
  });

  it('mounts every *_FILE secret from a file deploy/init-secrets.sh creates, and puts no secret value in the file', () => {
    const init = fs.readFileSync(path.join(root, 'deploy/init-secrets.sh'), 'utf8');
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(env(s))) {
        // A secret's value never sits here: only its *_FILE, or a true/false switch such as *_PASS_ACCESS_TOKEN.
        if (/PASSWORD$|TOKEN$|API_KEY$|^ECH_REMOTE_ENCRYPTION_KEYS$/.test(key)) {
          assert.match(withDefaults(value), /^(true|false)$/, `${name}: ${key} holds a secret in plain`);
        }
        if (!key.endsWith('_FILE')) continue;
        // Configuration that is not secret (the secret bindings) comes from a compose config, checked to exist.
        const config = (s.configs ?? []).find((c) => typeof c === 'object' && c.target === value);
        if (config && typeof config === 'object') {
          const file = compose.configs?.[config.source]?.file ?? '';
          assert.ok(fs.existsSync(path.join(root, file)), `${name}: config ${config.source} file ${file} is missing`);
          continue;
        }
        const secret = /^\/run\/secrets\/([\w-]+)$/.exec(value)?.[1];
        assert.ok(secret && secretNames(s).includes(secret), `${name}: ${key}=${value} is not a mounted secret`);
        const file = compose.secrets?.[secret]?.file ?? '';
        assert.ok(file.startsWith('./deploy/secrets/'), `${secret}: ${file}`);
        assert.match(
          init,
          new RegExp(`^create ${path.basename(file)} `, 'm'),
          `init-secrets.sh does not create ${file}`,
        );
      }
    }
    const secretsDir = env(compose.services.worker!).ECH_REMOTE_SECRETS_DIR;
    assert.ok(compose.services.worker!.volumes!.includes(`./deploy/secrets/worker:${secretsDir}:ro`));
    assert.match(fs.readFileSync(path.join(root, '.gitignore'), 'utf8'), /^deploy\/secrets\/$/m);
    assert.match(fs.readFileSync(path.join(root, '.dockerignore'), 'utf8'), /^deploy\/secrets$/m);
  });

  it('points the UI at the codec server as the browser reaches it, and lets the UI origin call it', () => {
    const ui = compose.services['temporal-ui']!;
    const codec = compose.services['codec-server']!;
    const endpoint = new URL(withDefaults(env(ui).TEMPORAL_CODEC_ENDPOINT!));
    const codecPublished = withDefaults(codec.ports![0]!).split(':');
    assert.equal(endpoint.port, codecPublished[1], 'the codec endpoint is the published codec port');
    assert.equal(codecPublished[2], env(codec).ECH_REMOTE_CODEC_LISTEN!.split(':')[1]);
    assert.equal(codecPublished[0], '127.0.0.1', 'decoding is offered on loopback unless the operator says otherwise');
    const uiOrigin = new URL(withDefaults(env(ui).TEMPORAL_CORS_ORIGINS!));
    assert.equal(uiOrigin.port, withDefaults(ui.ports![0]!).split(':')[1], 'the UI origin is the published UI port');
    const allowed = withDefaults(env(codec).ECH_REMOTE_CODEC_CORS_ORIGINS!).split(',');
    assert.ok(allowed.includes(uiOrigin.origin), `${uiOrigin.origin} not in ${allowed}`);
  });

  it('sets up the self-managed Elasticsearch remote cluster server as the domain reference says', () => {
    const es = compose.services.es01!;
    assert.deepEqual(es.profiles, ['self-managed']);
    assert.match(es.image!, /^docker\.elastic\.co\/elasticsearch\/elasticsearch:\$\{ELASTIC_VERSION:-9\.\d+\.\d+\}$/);
    const settings = env(es);
    assert.equal(settings['remote_cluster_server.enabled'], 'true');
    assert.notEqual(settings['remote_cluster.host'] ?? 'localhost', 'localhost', 'bound beyond localhost');
    assert.equal(settings['remote_cluster.port'], '9443');
    assert.equal(settings['xpack.security.enabled'], 'true');
    assert.equal(settings['xpack.security.remote_cluster_server.ssl.enabled'], 'true');
    // The API-key model is an Enterprise feature.
    assert.match(settings['xpack.license.self_generated.type']!, /^trial$/);
    // The image refuses ELASTIC_PASSWORD_FILE unless the file is mode 400/600 of its own uid: our start script reads
    // the mounted secret instead.
    assert.equal(settings.ELASTIC_PASSWORD_FILE, undefined);
    const start = fs.readFileSync(path.join(root, 'deploy/self-managed/start-elasticsearch.sh'), 'utf8');
    assert.match(start, /ELASTIC_PASSWORD="\$\(cat \/run\/secrets\/elastic_password\)"/);
    assert.match(start, /^exec \/bin\/tini -- \/usr\/local\/bin\/docker-entrypoint\.sh eswrapper$/m);
    assert.ok(secretNames(es).includes('elastic_password'));
    // The node refuses to start with a _remote_cluster transport profile next to remote_cluster.* settings.
    assert.ok(!Object.keys(settings).some((k) => k.startsWith('transport.profiles._remote_cluster')));
    assert.ok(
      es.ports!.some((p) => withDefaults(p).endsWith(':9443')),
      'the remote cluster server is published',
    );

    // Every certificate and key the node loads is one the setup service makes (certutil --pem: <name>/<name>.crt|key).
    const setup = fs.readFileSync(path.join(root, 'deploy/self-managed/setup-certificates.sh'), 'utf8');
    const instances = [...setup.matchAll(/^ {2}- name: ([\w-]+)$/gm)].map((m) => m[1]!);
    const made = new Set([
      'certs/ca/ca.crt',
      ...instances.flatMap((n) => [`certs/${n}/${n}.crt`, `certs/${n}/${n}.key`]),
    ]);
    const loaded = Object.entries(settings).filter(([k]) =>
      /\.ssl\.(key|certificate|certificate_authorities)$/.test(k),
    );
    assert.ok(loaded.length >= 8, JSON.stringify(loaded));
    for (const [k, file] of loaded) assert.ok(made.has(file), `${k}: ${file} is not made by setup-certificates.sh`);
    assert.deepEqual(
      compose.services['es-setup']!.volumes!.filter((v) => v.startsWith('es-certs:')),
      ['es-certs:/usr/share/elasticsearch/config/certs'],
    );
    assert.ok(es.volumes!.includes('es-certs:/usr/share/elasticsearch/config/certs:ro'));
  });
});
