/**
 * docs/privileges.md: users with exactly those roles on each side connect end to end, and a user
 * lacking one is stopped by the preflight, which names the missing privilege and the secret, before any change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActivityFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../src/activities';
import type { ConnectResult } from '../../src/contract/status';
import { LOCAL_REQUIRED_PRIVILEGES, REMOTE_REQUIRED_PRIVILEGES } from '../../src/domain/preflight';
import { Estate, bindSecret } from '../helpers/estate';
import { approve, connectRequest, type Req } from '../helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;
let seq = 0;

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

/** A user on one side with a role of exactly these privileges; its credentials in a secret of that name. */
async function userWith(
  side: 'ech' | 'self-managed',
  secret: string,
  cluster: string[],
  more: Record<string, unknown> = {},
): Promise<void> {
  const name = secret.toLowerCase().replaceAll('_', '-');
  assert.equal((await estate.es(side, 'PUT', `/_security/role/${name}`, { cluster, ...more })).status, 200);
  const password = `${name}-password-1`;
  assert.equal((await estate.es(side, 'PUT', `/_security/user/${name}`, { password, roles: [name] })).status, 200);
  process.env[secret] = `${name}:${password}`;
  bindSecret(
    secret,
    side === 'ech' ? { use: 'ech-elasticsearch' } : { use: 'elasticsearch', urls: [estate.info.selfManaged.url] },
  );
}

function withCredentials(req: Req, local: string, remote: string): Req {
  return {
    ...req,
    local: { ...req.local, elasticsearch: { credentialsSecret: local } },
    remote: { ...req.remote, elasticsearch: { ...req.remote.elasticsearch!, credentialsSecret: remote } },
  };
}

/** The ECH role of docs/privileges.md: the cluster privileges the preflight checks, and reading the verify index pattern remotely. */
const minimalEch = () =>
  userWith('ech', 'MINIMAL_ECH_CREDENTIALS', LOCAL_REQUIRED_PRIVILEGES, {
    remote_indices: [
      {
        clusters: ['onprem-logs'],
        names: ['logs-*'],
        privileges: ['read', 'read_cross_cluster', 'view_index_metadata'],
      },
    ],
  });

async function run(req: Req) {
  const handle = await client.workflow.start('connectRemoteCluster', {
    taskQueue: worker.taskQueue,
    workflowId: `privileges-${Date.now()}-${++seq}`,
    args: [req],
  });
  return handle;
}

describe('minimal privileges', () => {
  it('users with exactly the documented privileges on each side connect end to end', async () => {
    await estate.scenario('api-key-public');
    await minimalEch();
    await userWith('self-managed', 'MINIMAL_ONPREM_CREDENTIALS', REMOTE_REQUIRED_PRIVILEGES);
    const req = withCredentials(
      connectRequest(estate, 'api-key-public'),
      'MINIMAL_ECH_CREDENTIALS',
      'MINIMAL_ONPREM_CREDENTIALS',
    );
    const handle = await run(req);
    await approve(handle);
    const result = (await handle.result()) as ConnectResult;
    assert.equal(result.connected, true);
  });

  for (const side of ['ech', 'self-managed'] as const) {
    it(`a ${side} user without manage_security is stopped by the preflight, which names it; nothing changes`, async () => {
      await estate.scenario('api-key-public');
      await minimalEch();
      await userWith('self-managed', 'MINIMAL_ONPREM_CREDENTIALS', REMOTE_REQUIRED_PRIVILEGES);
      const weak = side === 'ech' ? 'WEAK_ECH_CREDENTIALS' : 'WEAK_ONPREM_CREDENTIALS';
      await userWith(side, weak, side === 'ech' ? ['manage'] : ['monitor']);
      const req = withCredentials(
        connectRequest(estate, 'api-key-public'),
        side === 'ech' ? weak : 'MINIMAL_ECH_CREDENTIALS',
        side === 'ech' ? 'MINIMAL_ONPREM_CREDENTIALS' : weak,
      );
      const before = await estate.view();
      const err = await (await run(req)).result().catch((e: unknown) => e);
      assert.ok(err instanceof WorkflowFailedError, String(err));
      const failure = err.cause instanceof ActivityFailure ? err.cause.cause : err.cause;
      assert.ok(failure instanceof ApplicationFailure, String(failure));
      assert.equal(failure.type, 'MissingPrivileges', failure.message);
      assert.match(failure.message, /cluster:manage_security/);
      assert.match(failure.message, new RegExp(`secret ${weak}`));
      assert.match(failure.message, /nothing was changed/);
      assert.deepEqual(await estate.view(), before);
    });
  }
});
