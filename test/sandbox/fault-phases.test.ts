/**
 * Fault phases and held requests: `when: 'after'` applies the request and then does the fault to its answer (a lost
 * response), `hold` keeps a request waiting, before or after it is applied, until the control API releases it. These
 * are the kill points of the crash-recovery proof (test/proof), so they are checked here against the estate as a user
 * reads it back.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Estate } from '../helpers/estate';
import { httpsJson } from './cloud-helpers';

let estate: Estate;

before(async () => {
  estate = await Estate.start('api-key-public');
});
after(async () => {
  await estate?.stop();
});
beforeEach(async () => {
  await estate.scenario('api-key-public');
});

const control = (method: string, p: string, body?: unknown) =>
  httpsJson(`${estate.info.control}${p}`, {
    method,
    body,
    ca: estate.info.ca.publicRoot,
    headers: { authorization: `ApiKey ${estate.info.cloud.apiKey}` },
  });

const keystorePath = () =>
  `${estate.info.cloud.endpoint}/api/v1/deployments/${estate.info.cloud.deploymentId}/elasticsearch/${estate.info.cloud.refId}/keystore`;

/** An HTTPS request that can be abandoned (as a killed worker abandons its connection). */
function send(url: string, method: string, body: unknown, headers: Record<string, string>, ca: string) {
  const payload = JSON.stringify(body);
  let request!: ReturnType<typeof https.request>;
  const done = new Promise<{ status: number; text: string }>((resolve, reject) => {
    request = https.request(
      url,
      {
        method,
        ca,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': `${payload.length}` },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
  done.catch(() => undefined); // callers that abandon it do not await it
  return { done, abandon: () => request.destroy() };
}

const patchKeystore = (name: string) =>
  send(
    keystorePath(),
    'PATCH',
    { secrets: { [name]: { value: 'c2VjcmV0', as_file: false } } },
    { authorization: `ApiKey ${estate.info.cloud.apiKey}` },
    estate.info.ca.publicRoot,
  );

const putSetting = (key: string, value: string) =>
  send(
    `${estate.info.ech.url}/_cluster/settings`,
    'PUT',
    { persistent: { [key]: value } },
    {
      authorization: `Basic ${Buffer.from(`${estate.info.ech.username}:${estate.info.ech.password}`).toString('base64')}`,
    },
    estate.info.ca.publicRoot,
  );

async function setting(key: string): Promise<unknown> {
  const res = await estate.es('ech', 'GET', '/_cluster/settings?flat_settings=true');
  return res.body.persistent[key];
}

async function heldNow(count: number): Promise<any[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await control('GET', '/faults/held');
    assert.equal(res.status, 200, res.text);
    if (res.body.held.length >= count) return res.body.held;
    assert.ok(Date.now() < deadline, `never ${count} held request(s): ${res.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("when: 'after' (lost responses)", () => {
  it('reset after: the setting is applied, the client gets no answer; reset before: nothing is applied', async () => {
    await estate.faults([
      { target: 'ech', method: 'PUT', path: '^/_cluster/settings$', resetRate: 1, when: 'after', times: 1 },
    ]);
    await assert.rejects(putSetting('cluster.metadata.proof', 'after').done, /socket hang up|ECONNRESET/);
    assert.equal(
      await setting('cluster.metadata.proof'),
      'after',
      'the change was made although the client never heard',
    );

    await estate.faults([{ target: 'ech', method: 'PUT', path: '^/_cluster/settings$', resetRate: 1, times: 1 }]);
    await assert.rejects(putSetting('cluster.metadata.proof', 'before').done, /socket hang up|ECONNRESET/);
    assert.equal(await setting('cluster.metadata.proof'), 'after', 'a reset before the request changes nothing');

    const history = (await control('GET', '/faults')).body.history;
    assert.deepEqual(
      history.map((e: any) => [e.decision, e.when]),
      [['reset', undefined]],
      'the history says which phase the fault was in',
    );
  });

  it('an error status after: the keystore has the entry although the client was told 503', async () => {
    await estate.faults([
      { target: 'cloud', method: 'PATCH', path: '/keystore$', statusRates: { '503': 1 }, when: 'after', times: 1 },
    ]);
    const res = await patchKeystore('proof.after.status').done;
    assert.equal(res.status, 503);
    assert.deepEqual((await estate.view()).keystore, ['proof.after.status']);
    assert.deepEqual((await control('GET', '/faults')).body.history[0].when, 'after');
  });
});

describe('hold', () => {
  it('before: the request waits unapplied, is listed, and goes on when released', async () => {
    await estate.faults([{ target: 'cloud', method: 'PATCH', path: '/keystore$', hold: true, times: 1 }]);
    const call = patchKeystore('proof.held.before');
    const [held] = await heldNow(1);
    assert.equal(held.target, 'cloud');
    assert.equal(held.method, 'PATCH');
    assert.match(held.path, /\/keystore$/);
    assert.equal(held.when, 'before');
    assert.equal(held.clientConnected, true);
    assert.deepEqual((await estate.view()).keystore, [], 'not applied while held before');
    const released = await control('POST', '/faults/release', { id: held.id });
    assert.deepEqual(
      released.body.released.map((r: any) => r.id),
      [held.id],
    );
    assert.equal((await call.done).status, 200);
    assert.deepEqual((await estate.view()).keystore, ['proof.held.before']);
    assert.deepEqual((await control('GET', '/faults/held')).body.held, []);
    assert.equal((await control('GET', '/faults')).body.history[0].heldId, held.id);
  });

  it('before, dropped: the client loses its connection and nothing is applied', async () => {
    await estate.faults([{ target: 'cloud', method: 'PATCH', path: '/keystore$', hold: true, times: 1 }]);
    const call = patchKeystore('proof.dropped');
    await heldNow(1);
    await control('POST', '/faults/release', { action: 'drop' });
    await assert.rejects(call.done, /socket hang up|ECONNRESET/);
    assert.deepEqual((await estate.view()).keystore, []);
  });

  it('after: applied while held; a client that goes away is seen; releasing answers nobody', async () => {
    await estate.faults([
      { target: 'ech', method: 'PUT', path: '^/_cluster/settings$', hold: true, when: 'after', times: 1 },
    ]);
    const call = putSetting('cluster.metadata.proof', 'held-after');
    const [held] = await heldNow(1);
    assert.equal(held.when, 'after');
    assert.equal(await setting('cluster.metadata.proof'), 'held-after', 'applied before being held');
    call.abandon(); // as a killed worker would
    await assert.rejects(call.done);
    const deadline = Date.now() + 5000;
    while ((await control('GET', '/faults/held')).body.held[0]?.clientConnected !== false) {
      assert.ok(Date.now() < deadline, 'the held request never showed its client gone');
      await new Promise((r) => setTimeout(r, 50));
    }
    const released = await control('POST', '/faults/release', {});
    assert.equal(released.body.released.length, 1);
    // The next request is not held (times: 1) and the cluster still answers normally.
    assert.equal((await putSetting('cluster.metadata.proof', 'next').done).status, 200);
  });

  it('removing the rules lets go of held requests (dropped), so nothing waits forever', async () => {
    await estate.faults([{ target: 'cloud', method: 'PATCH', path: '/keystore$', hold: true }]);
    const call = patchKeystore('proof.cleared');
    await heldNow(1);
    assert.equal((await control('DELETE', '/faults')).status, 200);
    await assert.rejects(call.done, /socket hang up|ECONNRESET/);
    assert.deepEqual((await control('GET', '/faults/held')).body.held, []);
  });

  it('rejects bad rules and releases with the envelope', async () => {
    const when = await control('POST', '/faults', { rules: [{ target: 'ech', when: 'later' }] });
    assert.equal(when.status, 400);
    assert.deepEqual(when.body.errors[0].fields, ['rules[0].when']);
    const hold = await control('POST', '/faults', { rules: [{ target: 'ech', hold: 'yes' }] });
    assert.equal(hold.status, 400);
    assert.deepEqual(hold.body.errors[0].fields, ['rules[0].hold']);
    const action = await control('POST', '/faults/release', { action: 'maybe' });
    assert.equal(action.status, 400);
    const unknown = await control('POST', '/faults/release', { id: 999_999 });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errors[0].code, 'sandbox.not_found');
  });
});
