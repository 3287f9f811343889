/**
 * Scale: one auditRemoteClusters run over 200 connections of the sandbox deployment (API-key model, made by hand, so
 * the audit's connection checks are what is measured): every alias is a row, all healthy, in one run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { AuditResult } from '../../src/contract/audit';
import { Estate } from '../helpers/estate';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

const N = 200;
// Aliases per settings request: each opens its connections while it is applied (the helper waits 10 s at most).
const BATCH = 5;
let estate: Estate;
let client: Client;
let worker: RunningWorker;

before(async () => {
  estate = await Estate.start('api-key-public');
  client = await testClient();
  worker = await startWorker({ activities: createActivities() });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
});

describe('auditRemoteClusters at scale', () => {
  it(`${N} connections audited in one run, one healthy row each`, async () => {
    const key = await estate.es('self-managed', 'POST', '/_security/cross_cluster/api_key', {
      name: 'scale-by-hand',
      access: { search: [{ names: ['logs-*'] }] },
    });
    assert.equal(key.status, 200);
    const aliases = Array.from({ length: N }, (_, i) => `scale-${String(i).padStart(3, '0')}`);
    const { deploymentId, refId } = estate.info.cloud;
    await estate.cloud('PATCH', `/deployments/${deploymentId}/elasticsearch/${refId}/keystore`, {
      secrets: Object.fromEntries(
        aliases.map((a) => [`cluster.remote.${a}.credentials`, { value: key.body.encoded, as_file: false }]),
      ),
    });
    const sample = estate.info.requests['api-key-public'].remote;
    // In batches: the sandbox, like ES, opens each new alias' connection while it applies the settings.
    for (let i = 0; i < N; i += BATCH) {
      const settings = await estate.es('ech', 'PUT', '/_cluster/settings', {
        persistent: Object.fromEntries(
          aliases
            .slice(i, i + 20)
            .flatMap((a) => [
              [`cluster.remote.${a}.mode`, 'proxy'],
              [`cluster.remote.${a}.proxy_address`, sample.proxyAddress],
              ...(sample.serverName ? [[`cluster.remote.${a}.server_name`, sample.serverName]] : []),
            ]),
        ),
      });
      assert.equal(settings.status, 200, JSON.stringify(settings.body));
    }

    const started = Date.now();
    const result = (await client.workflow.execute('auditRemoteClusters', {
      taskQueue: worker.taskQueue,
      workflowId: `audit-scale-${Date.now()}`,
      args: [{ deployments: [{ local: estate.info.requests.audit.deployments[0]!.local }] }],
    })) as AuditResult;
    const seconds = (Date.now() - started) / 1000;
    assert.deepEqual(result.rows.map((r) => r.alias).sort(), aliases);
    assert.deepEqual(
      result.rows.filter((r) => r.status !== 'healthy').map((r) => `${r.alias}: ${r.problems.join('; ')}`),
      [],
    );
    assert.equal(result.counts.healthy, N);
    assert.ok(result.rows.every((r) => r.securityModel === 'api-key' && r.evidence.keystoreEntry === true));
    console.log(`# audited ${N} connections in ${seconds.toFixed(1)} s`);
  });
});
