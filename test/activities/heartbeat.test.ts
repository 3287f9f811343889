/** The keep-alive heartbeat interceptor: repeats the activity's latest details, never clobbers them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { heartbeat, keepAliveHeartbeats } from '../../src/activities/heartbeat';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('keepAliveHeartbeats', () => {
  it("repeats the previous attempt's details until the activity heartbeats, then its latest", async () => {
    const env = new MockActivityEnvironment(
      { heartbeatDetails: { restartRequested: true } },
      { logger: new DefaultLogger('ERROR') },
    );
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    await env.run(async () => {
      const inbound = keepAliveHeartbeats(20)(Context.current()).inbound!;
      await inbound.execute!({ args: [], headers: {} }, async () => {
        await sleep(90);
        heartbeat({ polls: 1 });
        await sleep(90);
        return undefined;
      });
    });
    const firstOwn = beats.findIndex((b) => (b as { polls?: number }).polls === 1);
    assert.ok(firstOwn >= 2, JSON.stringify(beats));
    assert.ok(beats.slice(0, firstOwn).every((b) => (b as { restartRequested?: boolean }).restartRequested === true));
    assert.ok(beats.length - firstOwn >= 3, JSON.stringify(beats));
    assert.ok(beats.slice(firstOwn).every((b) => (b as { polls?: number }).polls === 1));
    const count = beats.length;
    await sleep(60);
    assert.equal(beats.length, count, 'no heartbeat after the activity ended');
  });
});
