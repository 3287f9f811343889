/**
 * Socket-level faults on the self-managed TLS listeners (targets `remote-cluster-server` and `transport`): decided at
 * accept, before any TLS, seeded like the HTTP faults, and only on the listener they name.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { parseFaultRules } from '../../src/sandbox/control';
import { parseHostPort } from '../../src/activities/tls';
import { startEstate, type Estate } from './es-helpers';

let estate: Estate;

before(async () => {
  estate = await startEstate();
});
after(async () => {
  await estate?.stop();
});

/** One TLS connection to the remote cluster server (verified against the public root): how it ended. */
function connectOnce(address: string, ca: string, timeoutMs = 1500): Promise<'handshake' | 'reset' | 'timeout'> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, ca });
    const done = (outcome: 'handshake' | 'reset' | 'timeout') => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => done('timeout'));
    socket.once('secureConnect', () => done('handshake'));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      assert.ok(!/certificate|altname/i.test(e.message), `a verification failure is not a fault: ${e.message}`);
      done('reset');
    });
  });
}

async function outcomes(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await connectOnce(estate.sm.remoteClusterServerAddress, estate.pki.publicRoot.certPem));
  }
  return out;
}

describe('socket-level faults on the self-managed listeners', () => {
  it('resets connections to the remote cluster server at accept, reproducibly for a seed', async () => {
    estate.faults.configure([{ target: 'remote-cluster-server', resetRate: 0.4 }], 99);
    const first = await outcomes(16);
    const history = estate.faults.history.map((h) => `${h.target} ${h.method} ${h.path} ${h.decision}`);
    estate.faults.configure([{ target: 'remote-cluster-server', resetRate: 0.4 }], 99);
    const second = await outcomes(16);
    assert.deepEqual(second, first, 'same seed, same sequence, same outcomes');
    assert.ok(first.includes('reset') && first.includes('handshake'), first.join(','));
    assert.equal(history.length, 16);
    assert.ok(history.every((h) => /^remote-cluster-server ACCEPT \/_remote_cluster (pass|reset)$/.test(h)));
    assert.equal(
      first.filter((o) => o === 'reset').length,
      history.filter((h) => h.endsWith('reset')).length,
      'every reset decision is a reset the client saw',
    );
  });

  it('a hang never answers the ClientHello', async () => {
    estate.faults.configure([{ target: 'remote-cluster-server', hangRate: 1, times: 1 }], 1);
    assert.deepEqual(await outcomes(2), ['timeout', 'handshake']);
  });

  it('a rule on the transport port leaves the remote cluster server alone', async () => {
    estate.faults.configure([{ target: 'transport', resetRate: 1 }], 1);
    assert.deepEqual(await outcomes(3), ['handshake', 'handshake', 'handshake']);
    assert.equal(estate.faults.history.length, 0);
    estate.faults.clear();
  });

  it('the control API accepts the socket targets and refuses status rates for them', () => {
    assert.equal(parseFaultRules([{ target: 'remote-cluster-server', resetRate: 0.2 }]).length, 1);
    assert.equal(parseFaultRules([{ target: 'transport', hangRate: 0.1, latencyMs: 5 }]).length, 1);
    assert.throws(() => parseFaultRules([{ target: 'transport', statusRates: { '503': 0.1 } }]), /do not apply/);
  });
});
