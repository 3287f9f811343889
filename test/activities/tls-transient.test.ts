/**
 * probeRemoteClusterServer when the network misbehaves: a reset, a refusal or a reset right after the handshake is
 * observed again before anything is concluded about the port; only a consistent answer is a finding, and a network
 * failure that persists is a retryable TransientError, never WrongPort.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createTlsActivities } from '../../src/activities/tls';
import type { TlsProbeReport } from '../../src/activities/types';
import { preflightFailureType } from '../../src/domain/preflight';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority } from '../../src/sandbox/pki';
import { start, type Sandbox } from '../../src/sandbox';

const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
const run = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> => env.run(fn, ...args);
const codes = (r: TlsProbeReport) => r.findings.map((f) => f.code);

/**
 * A remote cluster server behind a front that, per accepted connection, resets it (`reset`), resets it right after
 * the TLS handshake (`reset-after-handshake`), or serves it (`serve`); `plan` is consumed in order, then `rest`.
 */
async function flakyServer(
  root: CertificateAuthority,
  plan: ('reset' | 'reset-after-handshake' | 'serve')[],
  rest: 'reset' | 'serve' = 'serve',
) {
  const leaf = await issueCertificate(root, { commonName: 'rcs', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const sockets = new Set<net.Socket>();
  const resetAfter = new WeakSet<net.Socket>();
  const inner = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem + root.certPem }, (s) => {
    s.on('error', () => undefined);
    const raw = (s as unknown as { _parent?: net.Socket })._parent;
    if (raw && resetAfter.has(raw)) {
      raw.resetAndDestroy(); // RST on the TCP socket under the TLS one
      return;
    }
    s.resume();
  });
  inner.on('tlsClientError', () => undefined);
  const outer = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const what = plan.shift() ?? rest;
    if (what === 'reset') return void socket.resetAndDestroy();
    if (what === 'reset-after-handshake') resetAfter.add(socket);
    inner.emit('connection', socket);
  });
  await new Promise<void>((r) => outer.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(outer.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        outer.close(() => r());
      }),
  };
}

describe('probeRemoteClusterServer under transient network failures', () => {
  let root: CertificateAuthority;
  let probe: ReturnType<typeof createTlsActivities>['probeRemoteClusterServer'];
  before(async () => {
    root = await createCertificateAuthority('public', 'CN=Flaky Test Root');
    probe = createTlsActivities({
      extraCaPems: [root.certPem],
      timeoutMs: 2000,
      clientCertWindowMs: 300,
      retryDelayMs: 50,
    }).probeRemoteClusterServer;
  });
  const input = (address: string) =>
    ({ proxyAddress: address, ca: { kind: 'public' }, expect: 'remote-cluster-server' }) as const;

  it('resets on the first connections, then served: passes', async () => {
    const s = await flakyServer(root, ['reset', 'reset', 'reset']);
    try {
      const r = await run(probe, input(s.address));
      assert.deepEqual(codes(r), ['TLS_OK']);
    } finally {
      await s.close();
    }
  });

  it('a reset right after the handshake is not a transport port', async () => {
    const s = await flakyServer(root, ['reset-after-handshake', 'reset-after-handshake']);
    try {
      const r = await run(probe, input(s.address));
      assert.equal(r.looksLikeTransportPort, false, JSON.stringify(r.findings));
      assert.deepEqual(codes(r), ['TLS_OK']);
    } finally {
      await s.close();
    }
  });

  it('refused, then listening: passes', async () => {
    const s = await flakyServer(root, []);
    const { port } = new URL(`tls://${s.address}`);
    await s.close();
    // The port refuses for the first observation, then a server comes up on it.
    const later = new Promise<() => Promise<void>>((resolve) =>
      setTimeout(async () => {
        const leaf = await issueCertificate(root, { commonName: 'rcs', ipAddresses: ['127.0.0.1'] });
        const srv = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem + root.certPem }, (c) => c.resume());
        srv.on('tlsClientError', () => undefined);
        srv.listen(Number(port), '127.0.0.1', () => resolve(() => new Promise((r) => srv.close(() => r()))));
      }, 20),
    );
    const slow = createTlsActivities({
      extraCaPems: [root.certPem],
      timeoutMs: 2000,
      clientCertWindowMs: 300,
      retryDelayMs: 300,
    }).probeRemoteClusterServer;
    const r = await run(slow, input(s.address));
    await (
      await later
    )();
    assert.equal(r.reachable, true);
    assert.deepEqual(codes(r), ['TLS_OK']);
  });

  it('reset every time: a retryable TransientError, never WrongPort', async () => {
    const s = await flakyServer(root, [], 'reset');
    try {
      const err = await run(probe, input(s.address)).then(
        (r) => assert.fail(`must not conclude: ${JSON.stringify(r.findings)}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'TransientError');
      assert.equal(err.nonRetryable, false);
      assert.match(err.message, /no consistent answer in 5 attempts .*interrupted/);
    } finally {
      await s.close();
    }
  });
});

describe('probeRemoteClusterServer against the sandbox with socket faults', () => {
  let sb: Sandbox;
  let probe: ReturnType<typeof createTlsActivities>['probeRemoteClusterServer'];
  before(async () => {
    sb = await start({ scenario: 'api-key-public' });
    probe = createTlsActivities({
      extraCaPems: [sb.info.ca.publicRoot],
      clientCertWindowMs: 300,
      retryDelayMs: 50,
    }).probeRemoteClusterServer;
  });
  after(async () => {
    await sb?.stop();
  });

  it('30% resets at accept on the remote cluster server: still proven, for many seeds', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      sb.faults.configure([{ target: 'remote-cluster-server', resetRate: 0.3 }], seed);
      const r = await run(probe, {
        proxyAddress: sb.info.selfManaged.remoteClusterServer,
        serverName: sb.info.selfManaged.serverName,
        ca: { kind: 'public' },
        expect: 'remote-cluster-server',
      });
      assert.deepEqual(codes(r), ['TLS_OK'], `seed ${seed}`);
    }
    sb.faults.clear();
  });

  it('resets after the handshake (frames) on the remote cluster server: never WrongPort', async () => {
    sb.faults.configure([{ target: 'self-managed', path: '^/_remote_cluster$', resetRate: 0.3 }], 3);
    const r = await run(probe, {
      proxyAddress: sb.info.selfManaged.remoteClusterServer,
      serverName: sb.info.selfManaged.serverName,
      ca: { kind: 'public' },
      expect: 'remote-cluster-server',
    });
    sb.faults.clear();
    assert.deepEqual(codes(r), ['TLS_OK']);
  });

  it('the transport port with resets is still recognised as the transport port (WrongPort)', async () => {
    sb.faults.configure([{ target: 'transport', resetRate: 0.3 }], 5);
    const r = await run(probe, {
      proxyAddress: sb.info.selfManaged.transport,
      serverName: sb.info.selfManaged.serverName,
      ca: { kind: 'public' },
      expect: 'remote-cluster-server',
    });
    sb.faults.clear();
    assert.equal(r.looksLikeTransportPort, true);
    assert.equal(r.findings[0]?.code, 'TLS_TRANSPORT_PORT');
    assert.ok(preflightFailureType(r.findings.filter((f) => f.code === 'TLS_TRANSPORT_PORT')) === 'WrongPort');
  });
});
