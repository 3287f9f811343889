/**
 * The pure parts of migrateRemoteClusterToApiKey: the switch's settings and their rollback, what the same-named remote
 * roles granted that the key's access leaves out, and which `<cluster>:<index>` expressions read through an alias.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namesRemoteCluster } from '../../src/activities/elasticsearch';
import { accessGaps, apiKeySwitchSettings, pauseRequests, restoreSettings } from '../../src/domain/migrate';

describe('migrate: settings', () => {
  const old = {
    'cluster.remote.a.mode': 'proxy',
    'cluster.remote.a.proxy_address': 'es.corp.example:9300',
    'cluster.remote.a.skip_unavailable': true,
  };

  it('the switch points the alias at the remote cluster server, clears what proxy mode does not use, keeps skip_unavailable', () => {
    const s = apiKeySwitchSettings('a', { proxyAddress: 'es.corp.example:9443' });
    assert.deepEqual(s, {
      'cluster.remote.a.mode': 'proxy',
      'cluster.remote.a.proxy_address': 'es.corp.example:9443',
      'cluster.remote.a.server_name': null,
      'cluster.remote.a.seeds': null,
      'cluster.remote.a.node_connections': null,
    });
  });

  it('the rollback writes every key the switch wrote back to its recorded value, null where there was none', () => {
    const switched = apiKeySwitchSettings('a', { proxyAddress: 'es.corp.example:9443', serverName: 'es.corp.example' });
    assert.deepEqual(restoreSettings(old, switched), {
      'cluster.remote.a.mode': 'proxy',
      'cluster.remote.a.proxy_address': 'es.corp.example:9300',
      'cluster.remote.a.server_name': null,
      'cluster.remote.a.seeds': null,
      'cluster.remote.a.node_connections': null,
      'cluster.remote.a.skip_unavailable': true,
    });
  });
});

describe('migrate: access and what uses the alias', () => {
  it('names the patterns the same-named remote roles could read that the access does not', () => {
    const roles = [
      {
        name: 'remote-search',
        indices: [
          { names: ['logs-*', 'metrics-*'], privileges: ['read', 'read_cross_cluster'] },
          { names: ['audit-*'], privileges: ['monitor'] },
        ],
      },
    ];
    assert.deepEqual(accessGaps({ search: [{ names: ['logs-*'] }] }, roles), [
      'metrics-* (self-managed role remote-search)',
    ]);
    assert.deepEqual(accessGaps({ search: [{ names: ['logs-*', 'metrics-*'] }] }, roles), []);
  });

  it('an expression reads through the alias by its name or a cluster pattern matching it', () => {
    assert.equal(namesRemoteCluster('onprem-logs:logs-*', 'onprem-logs'), true);
    assert.equal(namesRemoteCluster('*:logs-*', 'onprem-logs'), true);
    assert.equal(namesRemoteCluster('onprem*:logs-*', 'onprem-logs'), true);
    assert.equal(namesRemoteCluster('other:logs-*', 'onprem-logs'), false);
    assert.equal(namesRemoteCluster('logs-*', 'onprem-logs'), false);
    assert.equal(namesRemoteCluster('onprem.logs:x', 'onprem-logs'), false, 'a dot is not a wildcard');
  });

  it('the pause requests, one per active operation', () => {
    assert.deepEqual(
      pauseRequests({ followerIndices: ['f'], autoFollowPatterns: ['p'], transforms: ['t'], datafeeds: ['d'] }),
      [
        { method: 'POST', path: '/f/_ccr/pause_follow' },
        { method: 'POST', path: '/_ccr/auto_follow/p/pause' },
        { method: 'POST', path: '/_transform/t/_stop' },
        { method: 'POST', path: '/_ml/datafeeds/d/_stop' },
      ],
    );
  });
});
