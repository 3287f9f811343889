/** The worker's log lines: one JSON object each, and a secret the worker resolved never in them, wherever it hides. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { registerSecret } from '../src/activities/secrets';
import { jsonLogLine, operationsSettings } from '../src/telemetry';

it('a log line is JSON with time, level, message and meta, every string redacted', () => {
  registerSecret('elastic:hunter2-very-secret');
  const line = jsonLogLine({
    level: 'WARN',
    message: 'login failed for elastic:hunter2-very-secret',
    timestampNanos: 1_700_000_000_123_000_000n,
    meta: {
      workflowId: 'connect-x',
      activityType: 'inspectCluster',
      attempt: 2n,
      error: new Error('401 with hunter2-very-secret'),
      nested: { header: `Basic ${Buffer.from('elastic:hunter2-very-secret').toString('base64')}` },
    },
  });
  assert.ok(!line.includes('hunter2'), line);
  assert.ok(!line.includes(Buffer.from('elastic:hunter2-very-secret').toString('base64')), line);
  const entry = JSON.parse(line);
  assert.equal(entry.time, '2023-11-14T22:13:20.123Z');
  assert.equal(entry.level, 'WARN');
  assert.equal(entry.message, 'login failed for [REDACTED]');
  assert.equal(entry.workflowId, 'connect-x');
  assert.equal(entry.attempt, '2');
  assert.equal(entry.error.message, '401 with [REDACTED]');
});

it('worker settings from the environment are checked before the worker starts', () => {
  assert.equal(operationsSettings({}).ECH_REMOTE_LOG_LEVEL, 'INFO');
  assert.equal(operationsSettings({}).ECH_REMOTE_METRICS_ADDRESS, undefined);
  assert.deepEqual(operationsSettings({ ECH_REMOTE_LOG_LEVEL: 'debug', ECH_REMOTE_METRICS_ADDRESS: '0.0.0.0:9464' }), {
    ECH_REMOTE_LOG_LEVEL: 'DEBUG',
    ECH_REMOTE_METRICS_ADDRESS: '0.0.0.0:9464',
  });
  assert.throws(
    () => operationsSettings({ ECH_REMOTE_LOG_LEVEL: 'LOUD', ECH_REMOTE_METRICS_ADDRESS: '9464' }),
    /ECH_REMOTE_LOG_LEVEL[\s\S]*ECH_REMOTE_METRICS_ADDRESS: must be IPv4:port or \[IPv6\]:port, e\.g\. 0\.0\.0\.0:9464/,
  );
  // The Temporal runtime binds an IP literal; it does not resolve names.
  for (const ok of ['127.0.0.1:9464', '[::]:9464', '[::1]:1']) {
    assert.equal(operationsSettings({ ECH_REMOTE_METRICS_ADDRESS: ok }).ECH_REMOTE_METRICS_ADDRESS, ok);
  }
  for (const bad of [
    'localhost:9464',
    'metrics.internal:9464',
    '::1:9464',
    '[::1]',
    '0.0.0.0:0',
    '0.0.0.0:70000',
    '1.2.3:9464',
  ]) {
    assert.throws(
      () => operationsSettings({ ECH_REMOTE_METRICS_ADDRESS: bad }),
      /ECH_REMOTE_METRICS_ADDRESS: must be IPv4:port or \[IPv6\]:port, e\.g\. 0\.0\.0\.0:9464 \(not a host name\)/,
      bad,
    );
  }
});
