/**
 * auditRemoteClusters on the real dev server and the sandbox, through the built CLI as a schedule or a pipeline runs
 * it: two connections made by connectRemoteCluster are listed healthy (exit 0); a key inside the warning window, a key
 * invalidated behind the tool's back and a keystore entry removed by hand each make `audit` exit 3 naming the
 * connection and the problem, an alias removed by hand leaves its key an orphan; `schedule audit` creates (then updates, same id) a Schedule with overlap policy skip.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { AuditResult, AuditRow } from '../../src/contract/audit';
import { disconnectRequest } from '../../src/domain/requests';
import { Phase, WorkflowKind } from '../../src/contract/searchAttributes';
import type { ConnectResult, RotateResult } from '../../src/contract/status';
import { Estate } from '../helpers/estate';
import { runCli } from '../helpers/cli';
import { approve, connectRequest, type Req } from '../helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;
let env: NodeJS.ProcessEnv;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-audit-'));
const ALIASES = ['audit-one', 'audit-two'];
const keyIds: Record<string, string> = {};
let scheduleId: string | undefined;

before(async () => {
  estate = await Estate.start('api-key-public');
  client = await testClient();
  worker = await startWorker({ activities: createActivities() });
  env = { ECH_REMOTE_TASK_QUEUE: worker.taskQueue };
  for (const alias of ALIASES) keyIds[alias] = await connect(alias);
});
after(async () => {
  if (scheduleId) await client?.schedule.getHandle(scheduleId).delete();
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The audit request as sandbox.json ships it (every connection, remote credentials), with `over` on top. */
function auditFile(over: Record<string, unknown> = {}, aliases = ALIASES): string {
  const base = structuredClone(estate.info.requests.audit);
  const d = base.deployments[0]!;
  d.remotes = [{ ...d.remotes![0]!, aliases }];
  const file = path.join(dir, `audit-${[...Object.keys(over), ...aliases].join('-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...base, ...over }));
  return file;
}

type AuditJson = AuditResult & { workflowId: string };

async function audit(
  file: string,
  opts: { tableToo?: boolean } = {},
): Promise<{ code: number | null; result: AuditJson; table: string }> {
  const asJson = await runCli(['audit', '--request', file, '--json'], env);
  assert.ok(asJson.stdout.startsWith('{'), asJson.stderr);
  if (opts.tableToo === false) return { code: asJson.code, result: JSON.parse(asJson.stdout) as AuditJson, table: '' };
  const table = await runCli(['audit', '--request', file], env);
  assert.equal(table.code, asJson.code, table.stderr);
  return { code: asJson.code, result: JSON.parse(asJson.stdout) as AuditJson, table: table.stdout };
}

/** Connects `alias` (path A, remote credentials, approved); returns its key id. */
async function connect(alias: string, over: Partial<Req> = {}): Promise<string> {
  const req: Req = connectRequest(estate, 'api-key-public', { alias, keyExpiration: '60d', ...over });
  const handle = await client.workflow.start('connectRemoteCluster', {
    taskQueue: worker.taskQueue,
    workflowId: `connect-${req.local.deploymentId}-${alias}`,
    args: [req],
  });
  await approve(handle);
  const result = (await handle.result()) as ConnectResult;
  return result.created.apiKeyId as string;
}

const connectRole = () => estate.info.requests['api-key-public'].roles![0]!.name;
const connectUser = () => estate.info.requests['api-key-public'].users![0]!.username;

/** What the Temporal UI lists for an audit run: the Phase search attribute and the counts in the memo. */
async function listed(workflowId: string): Promise<{ phase?: string; kind?: string; counts: unknown }> {
  const d = await client.workflow.getHandle(workflowId).describe();
  return {
    phase: d.typedSearchAttributes.get(Phase),
    kind: d.typedSearchAttributes.get(WorkflowKind),
    counts: d.memo?.auditCounts,
  };
}

const rowOf = (result: AuditResult, alias: string): AuditRow => {
  const row = result.rows.find((r) => r.alias === alias);
  assert.ok(row, `${alias} in ${JSON.stringify(result.rows)}`);
  return row;
};

describe('ech-remote audit', () => {
  it('lists both connections healthy and exits 0', async () => {
    const { code, result, table } = await audit(auditFile());
    assert.equal(code, 0, table);
    assert.deepEqual(result.rows.map((r) => [r.alias, r.status, r.securityModel, r.ours]).sort(), [
      ['audit-one', 'healthy', 'api-key', true],
      ['audit-two', 'healthy', 'api-key', true],
    ]);
    assert.equal(rowOf(result, 'audit-one').evidence.keyId, keyIds['audit-one']);
    assert.equal(rowOf(result, 'audit-one').evidence.searchHits, estate.info.seededIndex.documents);
    assert.equal(result.counts.healthy, 2);
    assert.match(table, /audit-one\s+healthy\s+api-key/);
    assert.match(table, /2 connection\(s\): 2 healthy/);
    assert.deepEqual(await listed(result.workflowId), {
      phase: 'healthy',
      kind: 'audit',
      counts: { healthy: 2, degraded: 0, broken: 0, drifted: 0, expiring: 0, orphan: 0 },
    });
  });

  it('a key inside the warning window: exit 3, the connection expiring, with the expiry', async () => {
    const { code, result, table } = await audit(auditFile({ expiryWarning: '90d' }));
    assert.equal(code, 3, table);
    for (const alias of ALIASES) {
      const row = rowOf(result, alias);
      assert.equal(row.status, 'expiring');
      assert.match(row.problems.join(' '), new RegExp(`key ${keyIds[alias]} expires at \\d{4}-`));
    }
    assert.match(table, /audit-one\s+expiring/);
  });

  it('a key invalidated behind the tool’s back: exit 3, that connection broken, the other healthy', async () => {
    const res = await estate.es('self-managed', 'DELETE', '/_security/api_key', { ids: [keyIds['audit-one']] });
    assert.equal(res.status, 200);
    const { code, result, table } = await audit(auditFile());
    assert.equal(code, 3, table);
    const row = rowOf(result, 'audit-one');
    assert.equal(row.status, 'broken');
    assert.match(row.problems.join('\n'), new RegExp(`key ${keyIds['audit-one']} was invalidated`));
    assert.equal(rowOf(result, 'audit-two').status, 'healthy');
    assert.match(table, /audit-one\s+broken[\s\S]*was invalidated/);
    const ui = await listed(result.workflowId);
    assert.equal(ui.phase, 'unhealthy');
    assert.deepEqual(ui.counts, { healthy: 1, degraded: 0, broken: 1, drifted: 0, expiring: 0, orphan: 0 });
  });

  it('a key whose access was changed outside the tool: exit 3, that connection drifted', async () => {
    const res = await estate.es('self-managed', 'PUT', `/_security/cross_cluster/api_key/${keyIds['audit-two']}`, {
      access: { search: [{ names: ['*'] }] },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { code, result, table } = await audit(auditFile());
    assert.equal(code, 3, table);
    const row = rowOf(result, 'audit-two');
    assert.equal(row.status, 'drifted');
    assert.match(
      row.problems.join('\n'),
      new RegExp(`the access of key ${keyIds['audit-two']} is not what this tool granted`),
    );
    assert.match(table, /audit-two\s+drifted/);
  });

  it('a keystore entry removed by hand: exit 3 naming the connection and the missing entry', async () => {
    const { deploymentId, refId } = estate.info.cloud;
    await estate.cloud('PATCH', `/deployments/${deploymentId}/elasticsearch/${refId}/keystore`, {
      secrets: { 'cluster.remote.audit-two.credentials': null },
    });
    const { code, result, table } = await audit(auditFile());
    assert.equal(code, 3, table);
    const row = rowOf(result, 'audit-two');
    assert.equal(row.status, 'broken');
    assert.equal(row.evidence.keystoreEntry, false);
    assert.match(row.problems.join('\n'), /keystore entry cluster\.remote\.audit-two\.credentials is missing/);
    assert.match(table, /audit-two\s+broken[\s\S]*keystore entry cluster\.remote\.audit-two\.credentials is missing/);
  });
});

describe('ech-remote audit: orphans', () => {
  it('an alias removed by hand while its key stays active: exit 3, the key an orphan', async () => {
    const { body } = disconnectRequest('audit-two');
    assert.equal((await estate.es('ech', 'PUT', '/_cluster/settings', body)).status, 200);
    const { code, result, table } = await audit(auditFile());
    assert.equal(code, 3, table);
    const row = rowOf(result, 'audit-two');
    assert.equal(row.status, 'orphan');
    assert.equal(row.evidence.orphan, `key ${keyIds['audit-two']}`);
    assert.match(table, new RegExp(`audit-two\\s+orphan[\\s\\S]*active key ${keyIds['audit-two']} of this tool`));
    // The role and the user its connect made on the deployment (tagged with the alias) are orphans too.
    const { role, user } = { role: connectRole(), user: connectUser() };
    const orphans = result.rows.filter((r) => r.alias === 'audit-two').map((r) => r.evidence.orphan);
    assert.ok(orphans.includes(`role ${role}`), JSON.stringify(orphans));
    assert.ok(orphans.includes(`user ${user}`), JSON.stringify(orphans));
    assert.match(table, new RegExp(`role ${role} of this tool for "audit-two"[^\\n]*DELETE /_security/role/${role}`));
  });
});

describe('ech-remote audit: degraded', () => {
  it('a connection with only some of its proxy sockets open is listed degraded (exit 0), with the count', async () => {
    const alias = 'audit-degraded';
    // Half of the remote cluster server's accepts are reset while ECH opens the connection; ES does not reopen
    // the failed sockets while others are open, so the connection stays usable with fewer of them.
    await estate.faults([{ target: 'remote-cluster-server', method: 'ACCEPT', resetRate: 0.5 }], 11);
    try {
      await connect(alias, { roles: [], users: [] });
    } finally {
      await estate.control('DELETE', '/faults');
    }
    const info = (await estate.es('ech', 'GET', '/_remote/info')).body[alias];
    assert.ok(
      info.connected && info.num_proxy_sockets_connected < info.max_proxy_socket_connections,
      JSON.stringify(info),
    );
    const { result, table } = await audit(auditFile({}, [alias]));
    const row = rowOf(result, alias);
    const later = (await estate.es('ech', 'GET', '/_remote/info')).body[alias];
    assert.equal(row.status, 'degraded', JSON.stringify(row) + JSON.stringify(info) + JSON.stringify(later));
    assert.equal(row.evidence.proxySockets, `${info.num_proxy_sockets_connected}/${info.max_proxy_socket_connections}`);
    assert.match(row.problems.join('\n'), /of 18 proxy sockets connected → some nodes behind the proxy address/);
    assert.match(table, /audit-degraded\s+degraded/);
  });
});

describe('ech-remote audit: autoRotate', () => {
  it('starts one rotation per expiring key (the id ech-remote rotate uses), not twice; after it, the key is healthy', async () => {
    const alias = 'audit-rotate';
    const oldKey = await connect(alias, { roles: [], users: [], keyExpiration: '60d' });
    const file = auditFile({ expiryWarning: '90d', autoRotate: true }, [alias]);
    const first = await audit(file, { tableToo: false });
    assert.equal(first.code, 3);
    const row = rowOf(first.result, alias);
    assert.equal(row.status, 'expiring');
    const rotateId = `rotate-${estate.info.cloud.deploymentId}-${alias}`;
    assert.deepEqual(row.evidence.rotation, { workflowId: rotateId, started: true });
    assert.match(row.problems.join('\n'), new RegExp(`rotation started: ${rotateId}`));
    const rotation = client.workflow.getHandle(rotateId);
    const d = await rotation.describe();
    assert.equal(d.type, 'rotateRemoteClusterKey');
    assert.equal(d.status.name, 'RUNNING');

    // The next audit (a schedule's next run) finds it running and starts nothing.
    const second = await audit(file, { tableToo: false });
    assert.deepEqual(rowOf(second.result, alias).evidence.rotation, {
      workflowId: rotateId,
      started: false,
      note: 'a rotation of this connection is already running',
    });
    assert.equal((await rotation.describe()).runId, d.runId);

    await approve(rotation);
    const rotated = (await rotation.result()) as RotateResult;
    assert.equal(rotated.oldKeyId, oldKey);
    const after = await audit(auditFile({ expiryWarning: '90d' }, [alias]), { tableToo: false });
    const now = rowOf(after.result, alias);
    assert.equal(now.status, 'healthy', JSON.stringify(now));
    assert.notEqual(now.evidence.keyId, oldKey);
    assert.equal(now.evidence.keyId, rotated.newKeyId);
  });
});

describe('ech-remote schedule audit', () => {
  it('creates the Schedule (interval, overlap skip, the audit as its action) and updates the same one', async () => {
    const file = auditFile();
    const first = await runCli(['schedule', 'audit', '--request', file, '--every', '24h', '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    const created = JSON.parse(first.stdout) as { scheduleId: string; created: boolean };
    assert.equal(created.created, true);
    scheduleId = created.scheduleId;
    let d = await client.schedule.getHandle(scheduleId).describe();
    assert.equal(d.policies.overlap, ScheduleOverlapPolicy.SKIP);
    assert.deepEqual(
      d.spec.intervals?.map((i) => i.every),
      [24 * 3600_000],
    );
    assert.equal(d.action.type, 'startWorkflow');
    assert.equal(d.action.type === 'startWorkflow' && d.action.workflowType, 'auditRemoteClusters');
    assert.equal(d.action.type === 'startWorkflow' && d.action.taskQueue, worker.taskQueue);

    const again = await runCli(['schedule', 'audit', '--request', file, '--every', '6h', '--json'], env);
    assert.equal(again.code, 0, again.stderr);
    const updated = JSON.parse(again.stdout) as { scheduleId: string; created: boolean };
    assert.deepEqual(updated, { ...updated, scheduleId, created: false });
    d = await client.schedule.getHandle(scheduleId).describe();
    assert.deepEqual(
      d.spec.intervals?.map((i) => i.every),
      [6 * 3600_000],
    );
    assert.equal(d.policies.overlap, ScheduleOverlapPolicy.SKIP);
  });

  it('refuses --every below a minute, nothing created', async () => {
    const res = await runCli(['schedule', 'audit', '--request', auditFile(), '--every', '5s'], env);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--every: must be a duration of at least 1m/);
  });
});
