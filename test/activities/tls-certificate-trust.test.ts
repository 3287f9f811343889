/**
 * Path C's side-effecting activity on ECH: the `generic` trust entry for the self-managed transport CA, written with
 * ensureDirectTrust (read-modify-write), is idempotent, keeps others' entries, and is removed by name only.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCloudActivities } from '../../src/activities/cloud';
import type { CloudTarget } from '../../src/activities/types';
import { tlsCertificateTrustEntry } from '../../src/domain/requests';
import { selfManagedIdentity } from '../../src/domain/tlsCertificate';
import { trustingFetch, type TrustingFetch } from '../helpers/trusting-fetch';
import { bindSecret } from '../helpers/estate';
import { startCloudEstate, withoutAttempt, type CloudEstate } from './cloud-estate';

let estate: CloudEstate;
let transport: TrustingFetch;

before(async () => {
  estate = await startCloudEstate();
  transport = trustingFetch(estate.info.ca.publicRoot);
  process.env.EC_API_KEY = estate.info.cloud.apiKey;
  bindSecret('EC_API_KEY', { use: 'cloud-api-key', endpoint: estate.info.cloud.endpoint });
});
after(async () => {
  await transport?.close();
  await estate?.stop();
});
beforeEach(() => estate.reset());

const run = <A, R>(fn: (a: A) => Promise<R>, arg: A): Promise<R> => new MockActivityEnvironment().run(fn, arg);

describe('ECH trust entry of path C', () => {
  it('added once, unchanged when repeated, others kept; removed by name', async () => {
    const a = createCloudActivities({ fetch: transport.fetch, planPollIntervalMs: 25, requestTimeoutMs: 5_000 });
    const target: CloudTarget = {
      endpoint: estate.info.cloud.endpoint,
      apiKeySecret: 'EC_API_KEY',
      deploymentId: estate.info.cloud.deploymentId,
    };
    const foreign = await estate.seedForeignTrust();
    const identity = selfManagedIdentity({
      leaf: {
        subject: 'CN=node-1',
        issuer: 'CN=ca',
        validFrom: '',
        validTo: '',
        dnsNames: [],
        ipAddresses: [],
        otherNames: ['node-1.node.onprem-cluster.cluster.selfmanaged.account'],
        fingerprint256: '',
        isCa: false,
      },
      alias: 'onprem-logs',
    });
    const entry = tlsCertificateTrustEntry('onprem-logs', estate.info.ca.selfManagedTransport, identity);
    assert.deepEqual(withoutAttempt(await run(a.ensureDirectTrust, { target, entry })), {
      name: entry.name,
      changed: true,
    });
    await run(a.waitForPlan, { target });
    assert.deepEqual(withoutAttempt(await run(a.ensureDirectTrust, { target, entry })), {
      name: entry.name,
      changed: false,
    });
    const trust = await estate.trust();
    const ours = trust.direct?.filter((d) => d.name === entry.name) ?? [];
    assert.equal(ours.length, 1);
    assert.equal(ours[0]!.type, 'generic');
    assert.equal(ours[0]!.scope_id, 'selfmanaged');
    assert.deepEqual(ours[0]!.trust_allowlist, ['onprem-cluster']);
    assert.ok(trust.direct?.some((d) => d.name === foreign.directName && d.uid === foreign.directUid));
    assert.deepEqual(withoutAttempt(await run(a.removeDirectTrust, { target, name: entry.name })), { removed: true });
    await run(a.waitForPlan, { target });
    assert.deepEqual(withoutAttempt(await run(a.removeDirectTrust, { target, name: entry.name })), { removed: false });
    assert.deepEqual(
      (await estate.trust()).direct?.map((d) => d.name),
      [foreign.directName],
    );
  });
});
