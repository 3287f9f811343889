/**
 * One Elasticsearch client per target, reused across activities of a worker (keep-alive connections, no `GET /` per
 * activity; issue 13), and never shared between different credentials, URLs or trust.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createElasticsearchClientFactory } from '../../src/clients/elasticsearch';
import type { EsTarget } from '../../src/activities/types';

// The secret's name stands for its value here: a "rotated" secret is another name with another value.
const factory = (over: { poolSize?: number; poolIdleMs?: number } = {}) =>
  createElasticsearchClientFactory({
    credentialsFor: async (t) =>
      t.credentialsSecret.startsWith('KEY')
        ? { apiKey: `${t.credentialsSecret}-value` }
        : { username: 'elastic', password: `${t.credentialsSecret}-value` },
    ...over,
  });
const target = (over: Partial<EsTarget> = {}): EsTarget => ({
  side: 'self-managed',
  url: 'https://es.corp.example:9200',
  credentialsSecret: 'A',
  version: '9.1.0', // known: connect() builds the client without calling the cluster
  ...over,
});

describe('Elasticsearch client pool', () => {
  it('the same target and credentials get the same client; close() gives it back, it stays open', async () => {
    const f = factory();
    const a = await f.connect(target());
    await a.close();
    const b = await f.connect(target());
    assert.equal(a.client, b.client);
  });

  it('other credentials, another URL or another CA never share a client', async () => {
    const f = factory();
    const base = (await f.connect(target())).client;
    for (const other of [
      target({ credentialsSecret: 'B' }), // another password for the same user
      target({ credentialsSecret: 'KEY1' }), // an API key
      target({ url: 'https://es2.corp.example:9200' }),
      target({ caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' }),
    ]) {
      const c = (await f.connect(other)).client;
      assert.notEqual(c, base, JSON.stringify({ ...other, caPem: other.caPem ? 'set' : undefined }));
    }
    assert.notEqual(
      (await f.connect(target({ credentialsSecret: 'KEY1' }))).client,
      (await f.connect(target({ credentialsSecret: 'KEY2' }))).client,
    );
  });

  it('is bounded (least recently used closed first), and poolSize 0 builds a client per call', async () => {
    const f = factory({ poolSize: 2 });
    const first = (await f.connect(target({ credentialsSecret: 'A' }))).client;
    await f.connect(target({ credentialsSecret: 'B' }));
    await f.connect(target({ credentialsSecret: 'C' })); // evicts A
    assert.notEqual((await f.connect(target({ credentialsSecret: 'A' }))).client, first);
    const none = factory({ poolSize: 0 });
    assert.notEqual((await none.connect(target())).client, (await none.connect(target())).client);
  });

  it('an idle client is closed and replaced', async () => {
    const f = factory({ poolIdleMs: 20 });
    const first = (await f.connect(target())).client;
    await new Promise((r) => setTimeout(r, 50));
    assert.notEqual((await f.connect(target())).client, first);
  });
});
