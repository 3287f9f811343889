/**
 * The worker's log lines (src/log.ts): JSON lines when stderr is not a terminal, human lines on a terminal, either
 * forced by ECH_REMOTE_LOG_FORMAT; a secret the worker resolved never in them, wherever it hides; no task token; an
 * attempt is a number; an expected failure is one line with its codes, an unexpected error keeps its stack.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { LogTimestamp } from '@temporalio/worker';
import { registerSecret } from '../src/activities/secrets';
import type { Finding } from '../src/activities/types';
import { formatFindings } from '../src/domain/preflight';
import { TemporalLogger, createLogger, summarizeError } from '../src/log';
import { operationsSettings } from '../src/telemetry';

/** A stream that keeps what is written, a terminal or not. */
function capture(isTTY: boolean) {
  const lines: string[] = [];
  return { isTTY, lines, write: (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)) };
}

function temporalLogger(env: NodeJS.ProcessEnv, isTTY = false) {
  const stream = capture(isTTY);
  return { stream, logger: new TemporalLogger(createLogger({ env, stream })) };
}

const TASK_TOKEN = 'CiQwMWEyMzUwZS05NDQ5LTc2MzQtYTc4ZS1kMjY1YjNhZTIyYjASK2Nvbm5lY3Q=';

/** The meta the SDK gives an activity's log line (src: @temporalio/worker activityLogAttributes). */
const activityMeta = {
  sdkComponent: 'activity',
  taskQueue: 'ech-remote-clusters',
  isLocal: false,
  attempt: 2,
  namespace: 'default',
  taskToken: TASK_TOKEN,
  activityId: '4',
  activityType: 'inspectCluster',
  workflowId: 'connect-x',
  workflowRunId: '01a2350f-3088-7948-9d58-cbefd1ba760c',
  workflowType: 'connectRemoteCluster',
};

const findings: Finding[] = [
  {
    code: 'license-remote',
    level: 'error',
    message: 'The self-managed cluster has a "basic" license (active).',
    fix: 'Upgrade the license.',
  } as Finding,
  { code: 'version-local', level: 'error', message: 'ECH 7.10 is too old.' } as Finding,
];
const preflightFailure = () =>
  ApplicationFailure.create({
    type: 'PreflightFailed',
    message: `Preflight found 2 problem(s); nothing was changed.\n${formatFindings(findings)}`,
    nonRetryable: true,
    details: [findings],
  });

describe('JSON lines (stderr not a terminal)', () => {
  it('one JSON object per line: time, level, message, the SDK context; every string redacted, no task token', () => {
    registerSecret('elastic:hunter2-very-secret');
    const { stream, logger } = temporalLogger({});
    logger.warn('login failed for elastic:hunter2-very-secret', {
      ...activityMeta,
      [LogTimestamp]: 1_700_000_000_123_000_000n,
      attempt: 2n,
      nested: { header: `Basic ${Buffer.from('elastic:hunter2-very-secret').toString('base64')}` },
      body: new Uint8Array(300),
    });
    assert.equal(stream.lines.length, 1);
    const [line] = stream.lines as [string];
    assert.ok(!line.includes('hunter2'), line);
    assert.ok(!line.includes(Buffer.from('elastic:hunter2-very-secret').toString('base64')), line);
    assert.ok(!line.includes(TASK_TOKEN) && !line.includes('taskToken'), line);
    const entry = JSON.parse(line);
    assert.equal(entry.time, '2023-11-14T22:13:20.123Z', 'the time the SDK says the line was emitted');
    assert.equal(entry.level, 'WARN');
    assert.equal(entry.message, 'login failed for [REDACTED]');
    assert.equal(entry.workflowId, 'connect-x');
    assert.equal(entry.activityType, 'inspectCluster');
    assert.equal(entry.attempt, 2, 'the attempt is a number');
    assert.equal(entry.body, '[300 bytes]', 'bytes are counted, not dumped');
  });

  it('an expected failure (preflight findings) is one line with its type and finding codes, no stack', () => {
    const { stream, logger } = temporalLogger({});
    logger.warn('Workflow failed', { sdkComponent: 'worker', workflowId: 'connect-x', error: preflightFailure() });
    assert.equal(stream.lines.length, 1);
    const entry = JSON.parse(stream.lines[0]!);
    assert.equal(
      entry.message,
      'Workflow failed: PreflightFailed: Preflight found 2 problem(s); nothing was changed. [license-remote, version-local]',
    );
    assert.deepEqual(entry.failure, { type: 'PreflightFailed', codes: ['license-remote', 'version-local'] });
    assert.equal(entry.error, undefined);
    assert.doesNotMatch(stream.lines[0]!, /\bat .*\.ts:\d+/, 'no stack');
  });

  it('a workflow failure that crossed the worker thread (type lost in the clone) still gives its codes', () => {
    // Workflows run in worker threads: their log meta arrives by structured clone, an Error with message and stack.
    const cloned = structuredClone(preflightFailure());
    assert.equal(cloned.name, 'Error');
    const s = summarizeError(cloned);
    assert.equal(s.expected, true);
    assert.deepEqual(s.codes, ['license-remote', 'version-local']);
    assert.equal(s.stack, undefined);
    assert.match(s.line, /^ApplicationFailure: Preflight found 2 problem\(s\); nothing was changed\. \[license-remote/);
  });

  it('an invalid request is one line naming its fields; an activity failure is told by its cause', () => {
    const invalid = ApplicationFailure.create({
      type: 'InvalidRequest',
      message: 'Invalid ConnectRequest (2 problems):\n- alias: required\n- remote.proxyAddress: host:port',
      nonRetryable: true,
      details: [
        [
          { path: 'alias', message: 'required' },
          { path: 'remote.proxyAddress', message: 'host:port' },
        ],
      ],
    });
    assert.equal(
      summarizeError(invalid).line,
      'InvalidRequest: Invalid ConnectRequest (2 problems): [alias, remote.proxyAddress]',
    );
    const busy = ApplicationFailure.create({ type: 'ConnectionBusy', message: 'held by run r1', nonRetryable: true });
    assert.deepEqual(summarizeError(busy), {
      expected: true,
      line: 'ConnectionBusy: held by run r1',
      type: 'ConnectionBusy',
    });
  });

  it('an unexpected error keeps its stack (redacted)', () => {
    registerSecret('s3cr3t-in-a-stack');
    const { stream, logger } = temporalLogger({});
    const bug = new TypeError('cannot read properties of undefined (s3cr3t-in-a-stack)');
    logger.error('Workflow activation failed', { error: bug });
    const entry = JSON.parse(stream.lines[0]!);
    assert.equal(entry.message, 'Workflow activation failed');
    assert.match(entry.error.summary, /^TypeError: cannot read properties of undefined \(\[REDACTED\]\)/);
    assert.match(entry.error.stack, /\n\s+at /);
    assert.ok(!stream.lines[0]!.includes('s3cr3t'));
  });

  it('ECH_REMOTE_LOG_LEVEL sets the level', () => {
    const { stream, logger } = temporalLogger({ ECH_REMOTE_LOG_LEVEL: 'warn' });
    logger.info('quiet');
    logger.debug('quieter');
    logger.warn('heard');
    assert.deepEqual(
      stream.lines.map((l) => JSON.parse(l).message),
      ['heard'],
    );
  });
});

describe('human lines (a terminal)', () => {
  it('on a terminal: time, level, message, where (activity#attempt workflow), then the rest as key=value', () => {
    const { stream, logger } = temporalLogger({ NO_COLOR: '1' }, true);
    logger.info('Described ECH deployment', { ...activityMeta, refId: 'main-elasticsearch', status: 'started' });
    logger.warn('Workflow failed', { sdkComponent: 'worker', workflowId: 'connect-x', error: preflightFailure() });
    assert.equal(stream.lines.length, 2, stream.lines.join('\n'));
    const [info, failed] = stream.lines as [string, string];
    assert.match(
      info,
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Described ECH deployment {2}\[inspectCluster#2 connect-x\] {2}refId=main-elasticsearch status=started$/,
    );
    assert.ok(!info.includes(TASK_TOKEN) && !info.startsWith('{'));
    assert.match(
      failed,
      /WARN: Workflow failed: PreflightFailed: .* \[license-remote, version-local\] {2}\[connect-x\]/,
    );
  });

  it('ECH_REMOTE_LOG_FORMAT forces JSON on a terminal, pretty on a pipe; a bad value names the variable', () => {
    const forcedJson = temporalLogger({ ECH_REMOTE_LOG_FORMAT: 'json' }, true);
    forcedJson.logger.info('x');
    assert.equal(JSON.parse(forcedJson.stream.lines[0]!).message, 'x');
    const forcedPretty = temporalLogger({ ECH_REMOTE_LOG_FORMAT: 'pretty' }, false);
    forcedPretty.logger.info('x');
    assert.match(forcedPretty.stream.lines[0]!, /INFO: x$/);
    assert.throws(
      () => createLogger({ env: { ECH_REMOTE_LOG_FORMAT: 'xml' } }),
      /ECH_REMOTE_LOG_FORMAT: must be json or pretty/,
    );
    assert.throws(
      () => createLogger({ env: { ECH_REMOTE_LOG_LEVEL: 'loud' } }),
      /ECH_REMOTE_LOG_LEVEL: must be one of debug, info, warn, error/,
    );
  });
});

it('worker settings from the environment are checked before the worker starts', () => {
  assert.equal(operationsSettings({}).ECH_REMOTE_LOG_LEVEL, 'INFO');
  assert.equal(operationsSettings({}).ECH_REMOTE_LOG_FORMAT, undefined);
  assert.equal(operationsSettings({}).ECH_REMOTE_METRICS_ADDRESS, undefined);
  assert.deepEqual(
    operationsSettings({
      ECH_REMOTE_LOG_LEVEL: 'debug',
      ECH_REMOTE_LOG_FORMAT: 'JSON',
      ECH_REMOTE_METRICS_ADDRESS: '0.0.0.0:9464',
    }),
    { ECH_REMOTE_LOG_LEVEL: 'DEBUG', ECH_REMOTE_LOG_FORMAT: 'json', ECH_REMOTE_METRICS_ADDRESS: '0.0.0.0:9464' },
  );
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
