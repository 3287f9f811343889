/**
 * The audit's verdicts from what the activities read (src/domain/audit.ts): the rows a person acts on for the cases the
 * end-to-end test (test/workflows/audit.test.ts) does not stage: drift of the security model, a missing trust entry, a
 * key of the wrong type or expired, a key the tool cannot identify, an alias that is not ours, an orphaned trust entry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateAuditRequest } from '../../src/contract/audit';
import type { ConnectionFacts } from '../../src/contract/facts';
import { accessHash } from '../../src/domain/requests';
import { auditRows, type AliasFacts, type AuditKey, type DeploymentFactsForAudit } from '../../src/domain/audit';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const DAY = 86_400_000;

function connection(over: Partial<ConnectionFacts> = {}): ConnectionFacts {
  return {
    settings: { 'cluster.remote.a.mode': 'proxy', 'cluster.remote.a.proxy_address': 'rcs:9443' },
    record: { managed_by: 'ech-remote-clusters', workflow_id: 'connect-x-a', security_model: 'api-key' },
    ccr: { followerIndices: [], autoFollowPatterns: [] },
    roles: [],
    users: [],
    ...over,
  };
}

const key = (over: Partial<AuditKey> = {}): AuditKey => ({
  id: 'k1',
  invalidated: false,
  managed: true,
  alias: 'a',
  workflowId: 'connect-x-a',
  type: 'cross_cluster',
  ...over,
});

function facts(alias: Partial<AliasFacts> = {}, over: Partial<DeploymentFactsForAudit> = {}): DeploymentFactsForAudit {
  return {
    deploymentId: 'x',
    keystoreEntries: ['cluster.remote.a.credentials'],
    trustEntryNames: [],
    aliases: [
      {
        alias: 'a',
        connection: connection(),
        check: { ok: true, remoteInfo: { connected: true, mode: 'proxy', credentials: true } },
        keys: [key()],
        ...alias,
      },
    ],
    remotes: [{ aliases: ['a'], keys: [key()] }],
    now: NOW,
    expiryWarningMs: 30 * DAY,
    ...over,
  };
}

describe('audit verdicts', () => {
  it('a working API-key connection of ours with its key is healthy', () => {
    const [row] = auditRows(facts());
    assert.deepEqual([row?.status, row?.problems, row?.evidence.keyId], ['healthy', [], 'k1']);
  });

  it('the record says api-key but ECH uses the certificate model: drifted (and broken: no keystore entry)', () => {
    const rows = auditRows(
      facts({ check: { ok: true, remoteInfo: { connected: true, credentials: false } } }, { keystoreEntries: [] }),
    );
    assert.equal(rows[0]?.status, 'broken');
    assert.match(rows[0]!.problems.join('\n'), /says api-key but ECH uses the tls-certificate model/);
    assert.match(rows[0]!.problems.join('\n'), /keystore entry cluster\.remote\.a\.credentials is missing/);
  });

  it('a certificate-model connection of ours without its trust entry is broken; with it, healthy', () => {
    const tls = {
      connection: connection({
        record: { managed_by: 'ech-remote-clusters', workflow_id: 'w', security_model: 'tls-certificate' },
      }),
      check: { ok: true, remoteInfo: { connected: true, credentials: false } },
    };
    const without = auditRows(facts(tls, { keystoreEntries: [] }))[0]!;
    assert.equal(without.status, 'broken');
    assert.match(without.problems[0]!, /trust entry ech-remote-clusters\/a is missing/);
    const withIt = auditRows(facts(tls, { keystoreEntries: [], trustEntryNames: ['ech-remote-clusters/a'] }))[0]!;
    assert.equal(withIt.status, 'healthy');
  });

  it('a key of the wrong type, an expired key, a key expiring inside the window, and no identifiable key', () => {
    const verdict = (keys: AuditKey[]) => auditRows(facts({ keys }))[0]!;
    assert.match(verdict([key({ type: 'rest' })]).problems[0]!, /k1 is of type rest, not cross_cluster/);
    assert.equal(verdict([key({ expiration: NOW - DAY })]).status, 'broken');
    const expiring = verdict([key({ expiration: NOW + 10 * DAY })]);
    assert.equal(expiring.status, 'expiring');
    assert.equal(expiring.evidence.keyExpiration, '2026-01-11T00:00:00.000Z');
    assert.equal(verdict([key({ expiration: NOW + 40 * DAY })]).status, 'healthy');
    const unknown = verdict([key({ workflowId: 'other' }), key({ id: 'k2', workflowId: 'other2' })]);
    assert.equal(unknown.status, 'broken');
    assert.match(unknown.problems[0]!, /no single active cross-cluster API key/);
  });

  it('access: the key as stored against the hash of what the tool granted (compared as stored)', () => {
    const granted = { search: [{ names: ['logs-*'] }] };
    const stored = { search: [{ names: ['logs-*'], allow_restricted_indices: false }] };
    const verdict = (access: unknown) =>
      auditRows(facts({ keys: [key({ access, accessHash: accessHash(granted) })] }))[0]!;
    assert.equal(verdict(stored).status, 'healthy');
    const changed = verdict({ search: [{ names: ['*'], allow_restricted_indices: false }] });
    assert.equal(changed.status, 'drifted');
    assert.match(changed.problems[0]!, /the access of key k1 is not what this tool granted/);
  });

  it('the record names a rotated key: that one is judged, not the connect run’s', () => {
    const rows = auditRows(
      facts({
        connection: connection({
          record: { managed_by: 'ech-remote-clusters', workflow_id: 'connect-x-a', api_key_id: 'k2' },
        }),
        keys: [key({ invalidated: true }), key({ id: 'k2', workflowId: 'rotate-x-a', expiration: NOW + DAY })],
      }),
    );
    assert.equal(rows[0]?.evidence.keyId, 'k2');
    assert.equal(rows[0]?.status, 'expiring');
  });

  it('an alias not made by this tool gets the connection checks only; broken when they fail', () => {
    const foreign = {
      connection: connection({ record: undefined }),
      check: { ok: true, remoteInfo: { connected: true, credentials: false } },
      keys: undefined,
    };
    const ok = auditRows(facts(foreign, { keystoreEntries: [] }))[0]!;
    assert.deepEqual([ok.status, ok.ours, ok.securityModel], ['healthy', false, 'tls-certificate']);
    const down = auditRows(facts({ ...foreign, check: { ok: false, problem: 'unreachable' } }))[0]!;
    assert.equal(down.status, 'broken');
  });

  it('orphans: an active key of ours for an alias the deployment no longer has, a trust entry of ours whose alias is gone', () => {
    const rows = auditRows(
      facts(
        {},
        {
          remotes: [
            {
              aliases: ['a', 'gone'],
              keys: [
                key(),
                key({ id: 'k9', alias: 'gone' }),
                key({ id: 'k8', alias: 'gone', invalidated: true }),
                key({ id: 'k7', alias: 'elsewhere' }),
              ],
            },
          ],
          trustEntryNames: ['ech-remote-clusters/old', 'someone-elses'],
        },
      ),
    );
    assert.deepEqual(
      rows.map((r) => [r.alias, r.status, r.evidence.orphan]),
      [
        ['a', 'healthy', undefined],
        ['gone', 'orphan', 'key k9'],
        ['old', 'orphan', 'trust entry ech-remote-clusters/old'],
      ],
    );
  });

  it('degraded: fewer proxy sockets open than configured, or a partial search; still exit 0; broken wins', () => {
    const socketsOpen = (connected: number) => ({
      ok: true,
      remoteInfo: { connected: true, mode: 'proxy', credentials: true, sockets: { connected, max: 18 } },
    });
    assert.equal(auditRows(facts({ check: socketsOpen(18) }))[0]!.status, 'healthy');
    const [few] = auditRows(facts({ check: socketsOpen(6) }));
    assert.equal(few!.status, 'degraded');
    assert.equal(few!.evidence.proxySockets, '6/18');
    assert.match(few!.problems[0]!, /^6 of 18 proxy sockets connected/);
    const [partial] = auditRows(
      facts({ check: { ...socketsOpen(18), searchPartial: 'search_phase_execution_exception: shard 2 failed' } }),
    );
    assert.equal(partial!.status, 'degraded');
    assert.match(partial!.problems[0]!, /the search through the alias was partial: search_phase_execution_exception/);
    const [broken] = auditRows(facts({ check: socketsOpen(6) }, { keystoreEntries: [] }));
    assert.equal(broken!.status, 'broken');
  });

  it('orphan roles and users: of ours, tagged with an alias the deployment no longer has; on the remote only for its aliases', () => {
    const rows = auditRows(
      facts(
        {},
        {
          owned: [
            { kind: 'role', name: 'reader-a', alias: 'a' },
            { kind: 'role', name: 'reader-gone', alias: 'gone' },
            { kind: 'user', name: 'search-gone', alias: 'gone' },
          ],
          remotes: [
            {
              aliases: ['a', 'old'],
              keys: [key()],
              owned: [
                { kind: 'role', name: 'remote-old', alias: 'old', workflowId: 'connect-x-old' },
                // An alias the request does not say points here, and the same alias made by another deployment's
                // connection on the same self-managed cluster: neither is this audit's to judge.
                { kind: 'role', name: 'remote-other', alias: 'other-deployments', workflowId: 'connect-x-other' },
                { kind: 'role', name: 'remote-old-of-y', alias: 'old', workflowId: 'connect-y-old' },
              ],
            },
          ],
        },
      ),
    );
    assert.deepEqual(
      rows.filter((r) => r.status === 'orphan').map((r) => [r.alias, r.evidence.orphan]),
      [
        ['gone', 'role reader-gone'],
        ['gone', 'user search-gone'],
        ['old', 'role remote-old on the self-managed cluster'],
      ],
    );
    assert.match(
      rows.find((r) => r.evidence.orphan === 'user search-gone')!.problems[0]!,
      /DELETE \/_security\/user\/search-gone/,
    );
  });

  it("a migration's trust entry for a private remote cluster server CA (<alias>-api-key) belongs to its alias while it exists", () => {
    const names = ['ech-remote-clusters/a-api-key', 'ech-remote-clusters/gone-api-key'];
    const rows = auditRows(facts({}, { trustEntryNames: names }));
    assert.deepEqual(
      rows.map((r) => [r.alias, r.status, r.evidence.orphan]),
      [
        ['a', 'healthy', undefined],
        ['gone-api-key', 'orphan', 'trust entry ech-remote-clusters/gone-api-key'],
      ],
    );
  });

  it('the request: every problem by its path', () => {
    const v = validateAuditRequest({
      deployments: [],
      expiryWarning: '5m',
      autoRotate: 'yes',
      rotation: { grace: '1h' },
    });
    assert.equal(v.ok, false);
    assert.deepEqual(!v.ok && v.problems.map((p) => p.path).sort(), [
      '$.autoRotate',
      '$.deployments',
      '$.expiryWarning',
      '$.rotation.grace',
    ]);
  });
});
