/**
 * The production topology (`npm run test:production`, test/production/topology.ts) and docker-compose.yml read their
 * settings from one place, the compose file: checked here without starting anything. Every variable compose gives
 * the temporal, worker and codec-server services reaches the host processes unchanged, except what a single host
 * cannot share with a compose network (service names, per-container listen ports, mount paths), each with its reason.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SEARCH_ATTRIBUTES } from '../../src/contract/searchAttributes';
import { REPO_ROOT, WHY, asList, hostPathOf, interpolate, loadCompose, serviceEnvironment } from './compose';

const compose = loadCompose();
const projectDir = path.join(os.tmpdir(), 'project');
const vars = { ECH_REMOTE_CODEC_TOKEN: 'a'.repeat(64) };
let nextPort = 40000;
const layout = {
  projectDir,
  vars,
  ports: { 'temporal:7233': 17233, 'postgresql:5432': 15432, 'codec-server:8888': 18888 },
  listenPort: () => nextPort++,
};

describe('test:production reads its settings from docker-compose.yml', () => {
  it('interpolates as Compose does', () => {
    assert.equal(interpolate('${A:-x}/${B-y}/${C}/$$HOME', { A: '', B: '' }), 'x///$HOME');
    assert.equal(interpolate('${A:-x}', { A: 'set' }), 'set');
    assert.throws(() => interpolate('${T:?run init}', {}), /T is required: run init/);
  });

  for (const service of ['temporal', 'worker', 'codec-server']) {
    it(`${service}: every compose variable, unchanged unless the container network or a mount says otherwise`, () => {
      const { env, changes } = serviceEnvironment(compose, service, layout);
      const declared = compose.services[service]!.environment!;
      assert.deepEqual(Object.keys(env).sort(), Object.keys(declared).sort(), 'no variable dropped, none added');
      for (const [key, raw] of Object.entries(declared)) {
        const value = interpolate(String(raw), vars);
        const change = changes.find((c) => c.key === key);
        if (!change) {
          assert.equal(env[key], value, `${service}: ${key}`);
          continue;
        }
        assert.ok(Object.values(WHY).includes(change.why as never), `${service}: ${key}: ${change.why}`);
        if (change.why === WHY.mount) {
          // The host file is the one Compose would mount, inside the project folder.
          assert.ok(env[key]!.startsWith(projectDir + path.sep), `${key}=${env[key]}`);
          assert.equal(env[key], hostPathOf(compose, compose.services[service]!, value, projectDir));
        } else {
          assert.match(env[key]!, /^127\.0\.0\.1(:\d+)?$/, `${service}: ${key} is on this host's loopback`);
          assert.match(value, /^(0\.0\.0\.0|[a-z][\w-]*)(:\d+)?$/, `${service}: ${key}=${value} is a network name`);
        }
      }
    });
  }

  it('translates exactly the network names and mounts compose uses', () => {
    const worker = serviceEnvironment(compose, 'worker', layout).env;
    assert.equal(worker.TEMPORAL_ADDRESS, '127.0.0.1:17233');
    assert.equal(worker.ECH_REMOTE_ENCRYPTION_KEYS_FILE, path.join(projectDir, 'deploy/secrets/encryption-keys'));
    assert.equal(worker.ECH_REMOTE_SECRETS_DIR, path.join(projectDir, 'deploy/secrets/worker'));
    assert.equal(worker.ECH_REMOTE_SECRET_BINDINGS_FILE, path.join(projectDir, 'deploy/config/secret-bindings.json'));
    assert.match(worker.ECH_REMOTE_METRICS_ADDRESS!, /^127\.0\.0\.1:4\d{4}$/);
    const temporal = serviceEnvironment(compose, 'temporal', layout).env;
    assert.equal(temporal.POSTGRES_SEEDS, '127.0.0.1');
    assert.equal(temporal.DB, 'postgres12');
    assert.equal(temporal.POSTGRES_USER, 'temporal', 'a user name that is also a service name stays a user name');
    const codec = serviceEnvironment(compose, 'codec-server', layout).env;
    assert.equal(codec.ECH_REMOTE_CODEC_TOKEN_FILE, path.join(projectDir, 'deploy/secrets/codec-token'));
    assert.equal(codec.ECH_REMOTE_CODEC_CORS_ORIGINS, 'http://localhost:8080', 'the UI origin, unchanged');
  });

  it('runs the Temporal server with the dynamic config file compose mounts', () => {
    const temporal = compose.services.temporal!;
    const target = String(temporal.environment!.DYNAMIC_CONFIG_FILE_PATH);
    const host = hostPathOf(compose, temporal, target, REPO_ROOT);
    assert.equal(host, path.join(REPO_ROOT, 'deploy/config/temporal-dynamic-config.yaml'));
    assert.ok(fs.existsSync(host!));
  });

  it('registers the search attributes of src/contract/searchAttributes.ts, as the admin-tools service does', () => {
    // The topology registers SEARCH_ATTRIBUTES itself (production.e2e.ts checks they are there); compose's
    // admin-tools script must name each of them, with the same command.
    const script = asList(compose.services['temporal-admin-tools']!.command).join(' ');
    for (const sa of SEARCH_ATTRIBUTES) assert.match(script, new RegExp(`\\b${sa.name}\\b`));
    assert.match(script, /temporal operator search-attribute create --name "\$\$sa" --type Keyword/);
  });
});
