/**
 * The FleetRequest: each connection, merged over the defaults, is a ConnectRequest, and a problem is named where its
 * value came from (the connection, or the defaults it took it from), so the person editing the file finds it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeDefaults, validateFleetRequest } from '../../src/contract/fleet';
import { bases } from './requests';

/** The committed api-key-private sample as defaults (no alias), and connections giving only aliases. */
function fleet(connections: Record<string, unknown>[], defaults: Record<string, unknown> = {}) {
  const { alias: _alias, ...base } = bases.apiKeyPrivate() as Record<string, unknown>;
  return { defaults: mergeDefaults(base, defaults), connections };
}

const paths = (input: unknown): string[] => {
  const v = validateFleetRequest(input);
  assert.equal(v.ok, false, 'expected the request to be refused');
  return v.ok ? [] : v.problems.map((p) => p.path);
};

describe('validateFleetRequest', () => {
  it('accepts connections that are complete with the defaults; a connection’s own value wins, lists replace', () => {
    const v = validateFleetRequest(
      fleet([{ alias: 'one' }, { alias: 'two', keyExpiration: '30d', access: { search: [{ names: ['metrics-*'] }] } }]),
    );
    assert.ok(v.ok, JSON.stringify(!v.ok && v.problems));
    assert.deepEqual(
      v.request.connections.map((c) => [c.alias, c.keyExpiration, c.access?.search?.map((s) => s.names)]),
      [
        ['one', bases.apiKeyPrivate().keyExpiration, [['logs-*']]],
        ['two', '30d', [['metrics-*']]],
      ],
    );
    assert.equal(v.request.concurrency, 5);
    assert.equal(v.request.approval, 'batch');
  });

  it('names the connection for its own bad value, the defaults for a shared one (once)', () => {
    assert.deepEqual(paths(fleet([{ alias: 'ok' }, { alias: 'Not An Alias' }])), ['$.connections[1].alias']);
    assert.deepEqual(paths(fleet([{ alias: 'a' }, { alias: 'b' }], { remote: { proxyAddress: 'no port here' } })), [
      '$.defaults.remote.proxyAddress',
    ]);
    // A field neither gives: the connection is incomplete.
    assert.deepEqual(paths(fleet([{}])), ['$.connections[0].alias']);
  });

  it('refuses the same deployment and alias twice, a connection’s own dryRun, unknown fleet fields', () => {
    assert.deepEqual(paths(fleet([{ alias: 'same' }, { alias: 'same' }])), ['$.connections[1].alias']);
    assert.deepEqual(paths(fleet([{ alias: 'a', dryRun: true }])), ['$.connections[0].dryRun']);
    assert.deepEqual(paths({ ...fleet([{ alias: 'a' }]), parallel: 3 }), ['$.parallel']);
    assert.deepEqual(paths(fleet([])), ['$.connections']);
    assert.deepEqual(paths({ ...fleet([{ alias: 'a' }]), concurrency: 0 }), ['$.concurrency']);
  });
});
