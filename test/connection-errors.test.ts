/**
 * A connection that fails names the address it tried: the Temporal frontend (the worker's and the CLI's; the SDK's
 * own "Failed to connect before the deadline" does not say which), the Cloud API and Elasticsearch URLs the activities
 * call. An operator fixes it where that address comes from.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createCloudClient } from '../src/clients/cloud';
import { createElasticsearchClientFactory } from '../src/clients/elasticsearch';
import { temporalConnectionError } from '../src/temporal/connection';
import { freePort, runCli } from './helpers/cli';

/** A loopback port nothing listens on (free a moment ago). */
const closedPort = freePort;

it('`ech-remote worker` against a frontend that is not there: exits 1, one line naming the address', async () => {
  const address = `127.0.0.1:${await closedPort()}`;
  const { code, stderr } = await runCli(['worker'], { TEMPORAL_ADDRESS: address });
  assert.equal(code, 1, stderr);
  const fatal = stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.level === 'FATAL');
  assert.equal(fatal.length, 1, stderr);
  assert.match(
    fatal[0].message,
    new RegExp(`Cannot connect to the Temporal frontend at ${address}: connection refused\\. .*TEMPORAL_ADDRESS`),
  );
  assert.doesNotMatch(stderr, /\n\s+at /, 'an unreachable server is no bug: no stack');
});

it("the client's deadline error names the address and where it comes from", () => {
  const err = temporalConnectionError('temporal.corp.example:7233', new Error('Failed to connect before the deadline'));
  assert.equal(
    err.message,
    'Cannot connect to the Temporal frontend at temporal.corp.example:7233: no answer before the connection ' +
      'deadline. Is the Temporal server running there? The address comes from TEMPORAL_ADDRESS or the Temporal ' +
      'config profile (default localhost:7233).',
  );
  assert.equal(err.name, 'TemporalConnectionError');
});

it('the Cloud API and Elasticsearch connection failures name the URL (origin only: no path, no credentials)', async () => {
  const port = await closedPort();
  const cloud = createCloudClient({ endpoint: `https://127.0.0.1:${port}`, apiKey: 'unused-key-0123456789' });
  const cloudErr = await cloud.api
    .GET('/deployments/{deployment_id}', { params: { path: { deployment_id: 'abc' } } })
    .catch((e: unknown) => e);
  assert.ok(cloudErr instanceof ApplicationFailure, String(cloudErr));
  assert.match(
    cloudErr.message,
    new RegExp(
      `^Elastic Cloud API GET /deployments/\\{deployment_id\\} at https://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`,
    ),
  );

  const es = createElasticsearchClientFactory({ credentialsFor: async () => ({ username: 'u', password: 'p' }) });
  const esErr = await es
    .connect({ side: 'self-managed', url: `https://127.0.0.1:${port}/some/path`, credentialsSecret: 'X' })
    .catch((e: unknown) => e);
  assert.ok(esErr instanceof ApplicationFailure, String(esErr));
  assert.match(esErr.message, new RegExp(`^self-managed Elasticsearch GET / at https://127\\.0\\.0\\.1:${port}: `));
  assert.doesNotMatch(esErr.message, /some\/path/);
});
