/**
 * A request cannot make the worker send its own configuration somewhere: a `…Secret` field naming the key ring
 * (`ECH_REMOTE_ENCRYPTION_KEYS`), Temporal's or Node's variables, PATH, HOME… is refused by the request schema
 * (InvalidRequest naming the field, no activity runs), and again by resolveSecret (defense in depth), which also honours
 * the worker's optional allowlist ECH_REMOTE_SECRET_NAMES. "Nothing is sent" is checked with a listener standing in
 * for the attacker's endpoint: it must see no connection at all.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { createCloudActivities } from '../../src/activities/cloud';
import { SECRET_BINDINGS_ENV } from '../../src/activities/secretBindings';
import { resolveSecret, SECRET_NAMES_ENV } from '../../src/activities/secrets';
import { validateConnectRequest } from '../../src/contract/request';
import { secretReferences } from '../../src/domain/preflight';
import example from '../../examples/connect-api-key-public.json';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

const RESERVED = [
  'ECH_REMOTE_ENCRYPTION_KEYS',
  'ECH_REMOTE_CODEC_TOKEN',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'NODE_OPTIONS',
  'PATH',
  'HOME',
  'https_proxy',
  'LD_PRELOAD',
];

/** A TCP listener standing in for the attacker's host: counts every connection (a TLS handshake would be one). */
let attacker: net.Server;
let connections = 0;
let attackerUrl: string;

before(async () => {
  attacker = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerUrl = `https://127.0.0.1:${(attacker.address() as net.AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => attacker.close(() => resolve())));

function requestNaming(secret: string, field: 'apiKeySecret' | 'credentialsSecret' | 'passwordSecret') {
  const r = structuredClone(example) as any;
  r.local.cloud.endpoint = attackerUrl;
  if (field === 'apiKeySecret') r.local.cloud.apiKeySecret = secret;
  if (field === 'credentialsSecret') r.local.elasticsearch.credentialsSecret = secret;
  if (field === 'passwordSecret') r.users[0].passwordSecret = secret;
  return r;
}

describe('the request schema refuses the worker’s own configuration as a secret name', () => {
  it('names the field and the reason, for every reserved name and every …Secret field', () => {
    for (const name of RESERVED) {
      for (const [field, path] of [
        ['apiKeySecret', '$.local.cloud.apiKeySecret'],
        ['credentialsSecret', '$.local.elasticsearch.credentialsSecret'],
        ['passwordSecret', '$.users[0].passwordSecret'],
      ] as const) {
        const v = validateConnectRequest(requestNaming(name, field));
        assert.ok(!v.ok, `${name} as ${field} must be refused`);
        assert.deepEqual(
          v.problems.map((p) => p.path),
          [path],
        );
        assert.match(v.problems[0]!.message, new RegExp(`may not be "${name}": .*worker's own`));
      }
    }
  });

  it('still accepts ordinary secret names', () => {
    for (const name of ['EC_API_KEY', 'ECH_ES_CREDENTIALS', 'ONPREM_ES_CREDENTIALS', 'temporal-ish', 'PATHWAY_KEY']) {
      assert.ok(validateConnectRequest(requestNaming(name, 'apiKeySecret')).ok, name);
    }
  });
});

describe('resolveSecret (defense in depth)', () => {
  const saved = { ...process.env };
  after(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('refuses reserved names even when they are set (and bound), without echoing their value', () => {
    assert.ok(process.env.ECH_REMOTE_ENCRYPTION_KEYS, 'npm test sets the run key');
    process.env[SECRET_BINDINGS_ENV] = JSON.stringify(
      Object.fromEntries(RESERVED.map((n) => [n, { use: 'user-password' }])),
    );
    for (const name of RESERVED) {
      process.env[name] ??= 'some-value-1234';
      assert.throws(
        () => resolveSecret(name, { use: 'user-password' }),
        (err: unknown) =>
          err instanceof ApplicationFailure &&
          err.type === 'SecretNotAllowed' &&
          err.nonRetryable &&
          err.message.includes(`"${name}"`) &&
          !err.message.includes(process.env[name]!),
      );
    }
  });

  it('with ECH_REMOTE_SECRET_NAMES set, resolves only the names it lists', () => {
    process.env.SECRET_NAMES_TEST_A = 'value-a-123';
    process.env.SECRET_NAMES_TEST_B = 'value-b-123';
    process.env[SECRET_NAMES_ENV] = 'SECRET_NAMES_TEST_A, EC_API_KEY';
    process.env[SECRET_BINDINGS_ENV] = JSON.stringify({
      SECRET_NAMES_TEST_A: { use: 'user-password' },
      SECRET_NAMES_TEST_B: { use: 'user-password' },
    });
    const pw = { use: 'user-password' } as const;
    assert.equal(resolveSecret('SECRET_NAMES_TEST_A', pw), 'value-a-123');
    assert.throws(
      () => resolveSecret('SECRET_NAMES_TEST_B', pw),
      /Secret "SECRET_NAMES_TEST_B" may not be used: it is not in the worker's ECH_REMOTE_SECRET_NAMES/,
    );
    delete process.env[SECRET_NAMES_ENV];
    assert.equal(resolveSecret('SECRET_NAMES_TEST_B', pw), 'value-b-123');
  });

  it('checkSecrets (the first preflight step) names every request field whose secret cannot be used', async () => {
    process.env.SECRET_NAMES_TEST_A = 'value-a-123';
    process.env.SECRET_NAMES_TEST_C = 'value-c-123';
    process.env[SECRET_NAMES_ENV] = 'SECRET_NAMES_TEST_A, SECRET_NAMES_TEST_C, SECRET_NAMES_TEST_MISSING';
    process.env[SECRET_BINDINGS_ENV] = JSON.stringify({
      SECRET_NAMES_TEST_A: { use: 'cloud-api-key', endpoint: example.local.cloud.endpoint },
      SECRET_NAMES_TEST_C: { use: 'user-password' },
      SECRET_NAMES_TEST_MISSING: { use: 'user-password' },
      ECH_ES_CREDENTIALS: { use: 'ech-elasticsearch' },
    });
    const v = validateConnectRequest({
      ...example,
      local: { ...example.local, cloud: { ...example.local.cloud, apiKeySecret: 'SECRET_NAMES_TEST_A' } },
      users: [
        { username: 'u1', roles: [], passwordSecret: 'SECRET_NAMES_TEST_C' },
        { username: 'u2', roles: [], passwordSecret: 'SECRET_NAMES_TEST_MISSING' },
      ],
    });
    assert.ok(v.ok);
    await assert.rejects(
      new MockActivityEnvironment().run(createActivities().checkSecrets, { secrets: secretReferences(v.request) }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure && err.nonRetryable, String(err));
        // The ECH credentials are outside the allowlist, u2's secret is allowed but not set; u1 and Cloud are fine.
        assert.match(
          err.message,
          /- local\.elasticsearch\.credentialsSecret: Secret "ECH_ES_CREDENTIALS" may not be used/,
        );
        assert.match(err.message, /- users\[1\]\.passwordSecret: Secret "SECRET_NAMES_TEST_MISSING" is not set/);
        assert.doesNotMatch(err.message, /users\[0\]|local\.cloud|value-a-123|value-c-123/);
        return true;
      },
    );
    delete process.env[SECRET_NAMES_ENV];
  });

  it('a Cloud activity handed a reserved name fails before it connects anywhere', async () => {
    const before = connections;
    const cloud = createCloudActivities();
    await assert.rejects(
      new MockActivityEnvironment().run(cloud.describeDeployment, {
        target: {
          endpoint: attackerUrl,
          apiKeySecret: 'ECH_REMOTE_ENCRYPTION_KEYS',
          deploymentId: example.local.deploymentId,
        },
      }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'SecretNotAllowed',
    );
    assert.equal(connections, before, 'nothing may reach the endpoint');
  });
});

describe('end to end: a workflow asked to send the key ring elsewhere (real worker and activities)', () => {
  let client: Client;
  let worker: RunningWorker;
  before(async () => {
    client = await testClient();
    worker = await startWorker({ activities: createActivities() });
  });
  after(async () => {
    await worker?.stop();
    await client?.connection.close();
  });

  it('fails InvalidRequest naming the field, and nothing is sent', async () => {
    const before = connections;
    const handle = await client.workflow.start('connectRemoteCluster', {
      taskQueue: worker.taskQueue,
      workflowId: `secret-names-${Date.now()}`,
      args: [requestNaming('ECH_REMOTE_ENCRYPTION_KEYS', 'apiKeySecret')],
    });
    const err = await handle.result().then(
      () => assert.fail('must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'InvalidRequest');
    assert.match(err.cause.message, /\$\.local\.cloud\.apiKeySecret: may not be "ECH_REMOTE_ENCRYPTION_KEYS"/);
    assert.ok(!err.cause.message.includes(process.env.ECH_REMOTE_ENCRYPTION_KEYS!));
    assert.equal(connections, before, 'nothing may reach the endpoint');
  });
});
