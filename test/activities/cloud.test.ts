/**
 * Cloud activities against the sandbox's Cloud API simulator (real HTTPS, the sandbox's own trust/keystore/plan
 * state machine, its fault injection), run inside MockActivityEnvironment (heartbeats, cancellation).
 * The transport trusts the sandbox's "public" root through an undici Agent (see test/helpers/trusting-fetch.ts).
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure, CancelledFailure, type LogLevel, type LogMetadata, type Logger } from '@temporalio/common';
import type { Info } from '@temporalio/activity';
import { createCloudActivities, type CloudActivityDeps } from '../../src/activities/cloud';
import type { CloudTarget } from '../../src/activities/types';
import { privateCaTrustEntry, trustEntryName } from '../../src/domain/requests';
import { bindSecret } from '../helpers/estate';
import { trustingFetch, type TrustingFetch } from '../helpers/trusting-fetch';
import { startCloudEstate, withoutAttempt, type CloudEstate } from './cloud-estate';
import { httpsJson } from '../sandbox/cloud-helpers';

let estate: CloudEstate;
let transport: TrustingFetch;
const logs: { level: LogLevel; message: string; meta?: LogMetadata }[] = [];

/** Collects every log line so the tests can assert that no secret is ever logged. */
const logger: Logger = {
  log: (level, message, meta) => void logs.push({ level, message, meta }),
  trace: (m, meta) => logger.log('TRACE', m, meta),
  debug: (m, meta) => logger.log('DEBUG', m, meta),
  info: (m, meta) => logger.log('INFO', m, meta),
  warn: (m, meta) => logger.log('WARN', m, meta),
  error: (m, meta) => logger.log('ERROR', m, meta),
};

function env(info: Partial<Info> = {}): MockActivityEnvironment {
  return new MockActivityEnvironment(info, { logger });
}

function activities(extra: Partial<CloudActivityDeps> = {}) {
  return createCloudActivities({ fetch: transport.fetch, planPollIntervalMs: 25, requestTimeoutMs: 5_000, ...extra });
}

function target(over: Partial<CloudTarget> = {}): CloudTarget {
  return {
    endpoint: estate.info.cloud.endpoint,
    apiKeySecret: 'EC_API_KEY',
    deploymentId: estate.info.cloud.deploymentId,
    ...over,
  };
}

/** Run one activity in a fresh mock environment. */
function run<A, R>(fn: (a: A) => Promise<R>, arg: A, e: MockActivityEnvironment = env()): Promise<R> {
  return e.run(fn, arg);
}

async function rejectsWith(p: Promise<unknown>, type: string, nonRetryable: boolean, message?: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, nonRetryable, err.message);
    if (message) assert.match(err.message, message);
    assert.ok(!err.message.includes(estate.info.cloud.apiKey), 'failure message leaks the API key');
    return true;
  });
}

const ALIAS = 'onprem-logs';
const OURS = trustEntryName(ALIAS);

before(async () => {
  estate = await startCloudEstate();
  transport = trustingFetch(estate.info.ca.publicRoot);
  process.env.EC_API_KEY = estate.info.cloud.apiKey;
  process.env.EC_API_KEY_WRONG = 'not-the-sandbox-key-0000';
  for (const name of ['EC_API_KEY', 'EC_API_KEY_WRONG', 'NO_SUCH_SECRET_X']) {
    bindSecret(name, { use: 'cloud-api-key', endpoint: estate.info.cloud.endpoint });
  }
});

after(async () => {
  await transport.close();
  await estate.stop();
  const leaked = logs.filter((l) => JSON.stringify(l).includes(estate.info.cloud.apiKey));
  assert.deepEqual(leaked, [], 'a log line contains the Cloud API key');
});

beforeEach(async () => {
  await estate.reset();
});

describe('describeDeployment', () => {
  it('discovers ref_id and reports the deployment facts', async () => {
    const facts = await run(activities().describeDeployment, { target: target() });
    assert.equal(facts.deploymentId, estate.info.cloud.deploymentId);
    assert.equal(facts.refId, estate.info.cloud.refId);
    assert.equal(facts.status, 'started');
    assert.equal(facts.healthy, true);
    assert.equal(facts.pendingPlan, false);
    assert.match(facts.version, /^\d+\.\d+\.\d+/);
    assert.match(facts.esUrl ?? '', /^https:\/\//);
    assert.ok(facts.region && facts.clusterId);
  });

  it('fails non-retryably with NotFound and the fix for an unknown deployment', async () => {
    await rejectsWith(
      run(activities().describeDeployment, { target: target({ deploymentId: 'f'.repeat(32) }) }),
      'NotFound',
      true,
      /local\.deploymentId.*organisation/,
    );
  });

  it('fails with NotFound naming the ref_ids when local.refId is wrong', async () => {
    await rejectsWith(
      run(activities().describeDeployment, { target: target({ refId: 'nope' }) }),
      'NotFound',
      true,
      /local\.refId/,
    );
  });

  it('fails non-retryably with AuthenticationFailed on 401, naming the secret but not its value', async () => {
    await rejectsWith(
      run(activities().describeDeployment, { target: target({ apiKeySecret: 'EC_API_KEY_WRONG' }) }),
      'AuthenticationFailed',
      true,
      /EC_API_KEY_WRONG/,
    );
  });

  it('fails with SecretNotFound when the secret is not set', async () => {
    await rejectsWith(
      run(activities().describeDeployment, { target: target({ apiKeySecret: 'NO_SUCH_SECRET_X' }) }),
      'SecretNotFound',
      true,
    );
  });
});

describe('production transport', () => {
  it('the default transport (global fetch) trusts the sandbox root through NODE_EXTRA_CA_CERTS, no injection', async (t) => {
    const file = process.env.NODE_EXTRA_CA_CERTS;
    const marker = estate.info.ca.publicRoot.split('\n')[1] ?? '-';
    if (!file || !fs.existsSync(file) || !fs.readFileSync(file, 'utf8').includes(marker)) {
      t.skip('run under `npm test`, which trusts the shared sandbox root through NODE_EXTRA_CA_CERTS');
      return;
    }
    const facts = await run(createCloudActivities({ planPollIntervalMs: 25 }).describeDeployment, { target: target() });
    assert.equal(facts.refId, estate.info.cloud.refId);
  });
});

describe('transient failures are retryable', () => {
  for (const status of ['429', '503']) {
    it(`${status} from the Cloud API → retryable TransientError, then the retry succeeds`, async () => {
      await estate.injectFaults({
        seed: 1,
        rules: [{ target: 'cloud', path: '^/api/v1/deployments/[^/]+$', statusRates: { [status]: 1 }, times: 1 }],
      });
      await rejectsWith(
        run(activities().describeDeployment, { target: target() }),
        'TransientError',
        false,
        new RegExp(status),
      );
      const facts = await run(activities().describeDeployment, { target: target() });
      assert.equal(facts.status, 'started');
    });
  }

  it('a request that hangs times out as a retryable TransientError', async () => {
    await estate.injectFaults({ seed: 1, rules: [{ target: 'cloud', path: '/keystore$', hangRate: 1, times: 1 }] });
    await rejectsWith(
      run(activities({ requestTimeoutMs: 300 }).listKeystoreKeys, {
        target: target({ refId: estate.info.cloud.refId }),
      }),
      'TransientError',
      false,
    );
  });
});

describe('keystore', () => {
  const encoded = 'ZW5jb2RlZC1jcm9zcy1jbHVzdGVyLWtleS12YWx1ZQ==';

  it('put twice converges to one entry, keeps other entries, and never logs the value', async () => {
    const a = activities();
    await run(a.putRemoteClusterCredentials, {
      target: target(),
      alias: 'someone-else',
      encoded: 'b3RoZXIta2V5LXZhbHVl',
    });
    const first = await run(a.putRemoteClusterCredentials, { target: target(), alias: ALIAS, encoded });
    const afterFirst = await run(a.listKeystoreKeys, { target: target() });
    const second = await run(a.putRemoteClusterCredentials, { target: target(), alias: ALIAS, encoded });
    const afterSecond = await run(a.listKeystoreKeys, { target: target() });
    assert.deepEqual(first, { keystoreEntry: `cluster.remote.${ALIAS}.credentials`, existed: false });
    assert.deepEqual(second, { keystoreEntry: `cluster.remote.${ALIAS}.credentials`, existed: true });
    assert.deepEqual(afterSecond, afterFirst);
    assert.deepEqual(afterSecond, [
      'cluster.remote.onprem-logs.credentials',
      'cluster.remote.someone-else.credentials',
    ]);
    assert.ok(!logs.some((l) => JSON.stringify(l).includes(encoded)), 'the encoded key was logged');
  });

  it('remove twice: removed once, then nothing to do; other entries kept', async () => {
    const a = activities();
    await run(a.putRemoteClusterCredentials, {
      target: target(),
      alias: 'someone-else',
      encoded: 'b3RoZXIta2V5LXZhbHVl',
    });
    await run(a.putRemoteClusterCredentials, { target: target(), alias: ALIAS, encoded });
    assert.deepEqual(await run(a.removeRemoteClusterCredentials, { target: target(), alias: ALIAS }), {
      removed: true,
    });
    assert.deepEqual(await run(a.removeRemoteClusterCredentials, { target: target(), alias: ALIAS }), {
      removed: false,
    });
    assert.deepEqual(await run(a.listKeystoreKeys, { target: target() }), ['cluster.remote.someone-else.credentials']);
  });
});

describe('direct trust (read-modify-write of settings.trust)', () => {
  it('adds ours, keeps entries we did not create (same uid), and a second run changes nothing', async () => {
    const a = activities();
    const theirs = await estate.seedForeignTrust();
    const entry = privateCaTrustEntry(ALIAS, estate.info.ca.remotePrivate);

    assert.deepEqual(withoutAttempt(await run(a.ensureDirectTrust, { target: target(), entry })), {
      name: OURS,
      changed: true,
    });
    await run(a.waitForPlan, { target: target() });
    const trust1 = await estate.trust();
    const ours1 = trust1.direct?.find((d) => d.name === OURS);
    assert.ok(ours1?.uid, 'our entry got a uid');
    assert.equal(ours1.type, 'proxy');
    assert.deepEqual(trust1.accounts, theirs.accounts, 'accounts entries kept');
    const foreign = trust1.direct?.find((d) => d.name === theirs.directName);
    assert.equal(foreign?.uid, theirs.directUid, 'foreign direct entry kept with its uid');

    const version = await estate.resourceVersion();
    assert.deepEqual(withoutAttempt(await run(a.ensureDirectTrust, { target: target(), entry })), {
      name: OURS,
      changed: false,
    });
    assert.equal(await estate.resourceVersion(), version, 'an unchanged entry sends no update');
    assert.deepEqual(await estate.trust(), trust1);
  });

  it('updates ours by name in place and keeps its uid', async () => {
    const a = activities();
    await estate.seedForeignTrust();
    await run(a.ensureDirectTrust, {
      target: target(),
      entry: privateCaTrustEntry(ALIAS, estate.info.ca.remotePrivate),
    });
    await run(a.waitForPlan, { target: target() });
    const uid = (await estate.trust()).direct?.find((d) => d.name === OURS)?.uid;

    const rotated = privateCaTrustEntry(ALIAS, estate.info.ca.selfManagedTransport);
    assert.deepEqual(withoutAttempt(await run(a.ensureDirectTrust, { target: target(), entry: rotated })), {
      name: OURS,
      changed: true,
    });
    await run(a.waitForPlan, { target: target() });
    const trust = await estate.trust();
    const ours = trust.direct?.filter((d) => d.name === OURS) ?? [];
    assert.equal(ours.length, 1);
    assert.equal(ours[0]?.uid, uid);
    assert.equal(ours[0]?.certificates[0]?.pem.trim(), estate.info.ca.selfManagedTransport.trim());
    assert.equal(trust.direct?.length, 2);
  });

  it('removes only ours (twice is a no-op) and refuses names it does not own', async () => {
    const a = activities();
    const theirs = await estate.seedForeignTrust();
    await run(a.ensureDirectTrust, {
      target: target(),
      entry: privateCaTrustEntry(ALIAS, estate.info.ca.remotePrivate),
    });
    await run(a.waitForPlan, { target: target() });

    assert.deepEqual(withoutAttempt(await run(a.removeDirectTrust, { target: target(), name: OURS })), {
      removed: true,
    });
    await run(a.waitForPlan, { target: target() });
    assert.deepEqual(withoutAttempt(await run(a.removeDirectTrust, { target: target(), name: OURS })), {
      removed: false,
    });
    const trust = await estate.trust();
    assert.deepEqual(
      trust.direct?.map((d) => d.name),
      [theirs.directName],
    );
    assert.deepEqual(trust.accounts, theirs.accounts);

    await rejectsWith(run(a.removeDirectTrust, { target: target(), name: theirs.directName }), 'InvalidRequest', true);
    await rejectsWith(
      run(a.ensureDirectTrust, {
        target: target(),
        entry: { ...privateCaTrustEntry(ALIAS, estate.info.ca.remotePrivate), name: 'not-ours' },
      }),
      'InvalidRequest',
      true,
    );
  });

  it('re-reads and retries on a version conflict, keeping the concurrent writer’s entry', async () => {
    let interfered = false;
    const putStatuses: number[] = [];
    // Another writer changes the deployment between our GET and our PUT (the first PUT only).
    const racing: typeof fetch = async (input, init) => {
      const req = new Request(input, init);
      if (req.method === 'PUT' && !interfered) {
        interfered = true;
        await estate.seedForeignTrust();
      }
      const res = await transport.fetch(req);
      if (req.method === 'PUT') putStatuses.push(res.status);
      return res;
    };
    const a = activities({ fetch: racing });
    const entry = privateCaTrustEntry(ALIAS, estate.info.ca.remotePrivate);
    assert.deepEqual(withoutAttempt(await run(a.ensureDirectTrust, { target: target(), entry })), {
      name: OURS,
      changed: true,
    });
    await run(a.waitForPlan, { target: target() });
    assert.ok(interfered);
    assert.deepEqual(putStatuses, [409, 200], 'one version conflict, then the re-read update went through');
    const names = (await estate.trust()).direct?.map((d) => d.name).sort();
    assert.deepEqual(names, [estate.foreignDirectName, OURS].sort());
  });
});

describe('waitForPlan', () => {
  it('heartbeats while a plan is pending and returns once the current plan is healthy', async () => {
    await estate.setPlans({ pendingMs: 300 });
    const a = activities();
    await run(a.ensureDirectTrust, {
      target: target(),
      entry: privateCaTrustEntry(ALIAS, estate.info.ca.remotePrivate),
    });
    const e = env();
    const beats: unknown[] = [];
    e.on('heartbeat', (d: unknown) => beats.push(d));
    const result = await run(a.waitForPlan, { target: target() }, e);
    assert.equal(result.healthy, true);
    assert.ok(result.attemptId);
    assert.ok(beats.length >= 2, `expected several heartbeats, got ${beats.length}`);
    assert.equal((await run(a.describeDeployment, { target: target() })).pendingPlan, false);
  });

  it('a failed plan → non-retryable PlanFailed with the plan error', async () => {
    await estate.setPlans({ failNext: 1, failureMessage: 'Injected: node did not come back' });
    const a = activities();
    await run(a.ensureDirectTrust, {
      target: target(),
      entry: privateCaTrustEntry(ALIAS, estate.info.ca.remotePrivate),
    });
    await rejectsWith(run(a.waitForPlan, { target: target() }), 'PlanFailed', true, /node did not come back/);
  });

  it('an old failed plan still shown as current does not fail the wait for a later change', async () => {
    await estate.setPlans({ failNext: 1, failureMessage: 'Injected: an old failure' });
    const a = activities();
    await run(a.ensureDirectTrust, {
      target: target(),
      entry: privateCaTrustEntry(ALIAS, estate.info.ca.remotePrivate),
    });
    await rejectsWith(run(a.waitForPlan, { target: target() }), 'PlanFailed', true, /an old failure/);
    // A change made (per the workflow's clock) well after that plan started: that failure is not its plan's.
    const later = new Date(Date.now() + 10 * 60_000).toISOString();
    assert.equal((await run(a.waitForPlan, { target: target(), notBefore: later })).healthy, true);
    // Within the clock-skew margin it is still taken as this change's plan.
    const now = new Date().toISOString();
    await rejectsWith(run(a.waitForPlan, { target: target(), notBefore: now }), 'PlanFailed', true, /an old failure/);
  });

  it('honours cancellation while polling', async () => {
    await estate.setPlans({ pendingMs: 5_000 });
    const a = activities();
    await run(a.ensureDirectTrust, {
      target: target(),
      entry: privateCaTrustEntry(ALIAS, estate.info.ca.remotePrivate),
    });
    const e = env();
    e.once('heartbeat', () => e.cancel());
    await assert.rejects(
      run(a.waitForPlan, { target: target() }, e),
      (err: unknown) => err instanceof CancelledFailure,
    );
  });
});

describe('restart and certificate authority', () => {
  it('restartElasticsearch starts one restart plan; a retried attempt that already requested it does not restart again', async () => {
    const restarts: string[] = [];
    const counting: typeof fetch = async (input, init) => {
      const req = new Request(input, init);
      if (req.method === 'POST' && new URL(req.url).pathname.endsWith('/_restart')) restarts.push(req.url);
      return transport.fetch(req);
    };
    const a = activities({ fetch: counting });
    assert.deepEqual(await run(a.restartElasticsearch, { target: target() }), { started: true });
    const plan = await run(a.waitForPlan, { target: target() });
    assert.equal(restarts.length, 1);
    const retried = env({ attempt: 2, heartbeatDetails: { restartRequested: true } });
    assert.deepEqual(await run(a.restartElasticsearch, { target: target() }, retried), { started: true });
    assert.equal(restarts.length, 1, 'the retried attempt sent no second restart');
    assert.equal((await run(a.waitForPlan, { target: target() })).attemptId, plan.attemptId, 'no new plan');
  });

  it('getCertificateAuthority returns every CA PEM, the active one and the trust restriction', async () => {
    const ca = await run(activities().getCertificateAuthority, { target: target() });
    assert.ok(ca.pems.length >= 1);
    assert.match(ca.activePem ?? '', /BEGIN CERTIFICATE/);
    assert.ok(ca.pems.includes(ca.activePem as string));
    assert.match(ca.recommendedTrustRestriction ?? '', /\.account$/);
  });

  it('getCertificateAuthority during a CA rotation: keeps the inactive CA beside the active one, drops an expired one', async () => {
    const before = await run(activities().getCertificateAuthority, { target: target() });
    await estate.addInactiveEchCa('valid');
    await estate.addInactiveEchCa('expired');
    const raw = await httpsJson(
      `${estate.info.cloud.endpoint}/api/v1/deployments/${estate.info.cloud.deploymentId}/certificate-authority`,
      { ca: estate.info.ca.publicRoot, headers: { authorization: `ApiKey ${estate.info.cloud.apiKey}` } },
    );
    const listed = raw.body.public_certificates as { active: boolean; pem: string; metadata: { valid_to: string } }[];
    assert.deepEqual(
      listed.map((c) => c.active),
      [true, false, false],
    );
    const expired = listed.find((c) => Date.parse(c.metadata.valid_to) < Date.now())!;
    const rotating = listed.find((c) => !c.active && c !== expired)!;
    const ca = await run(activities().getCertificateAuthority, { target: target() });
    assert.equal(ca.activePem, before.activePem, 'the active CA is still the one that signs the nodes');
    assert.deepEqual(ca.pems, [before.activePem, rotating.pem], 'both CAs ECH nodes may present; not the expired one');
    assert.ok(!ca.pems.includes(expired.pem));
  });
});
