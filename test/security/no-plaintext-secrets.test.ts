/**
 * No secret is readable where Temporal keeps or shows things: after end-to-end runs of every path (the tool creating
 * the cross-cluster key, the remote org handing it over by signal, a run that fails after changes and rolls back, path C:
 * the TLS-certificate model with the self-managed CA handed over by signal), every workflow history read raw (a
 * client without the codec), the worker's log, the `temporal` CLI's output and what the client prints (status
 * query, failure) are searched for every secret the runs used: the Cloud API key, the Elasticsearch and user
 * passwords, `encoded` and `api_key` of every cross-cluster key the self-managed cluster issued, and on path C the
 * private keys of the sandbox's CAs and of the self-managed node (the CA certificate handed over is public).
 * Control: the same runs with a worker and client without the codec expose the keys, so this test can fail.
 *
 * The scenarios are a table: a new path adds a row, with its own extra secrets.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { createActivities } from '../../src/activities';
import { connectStartOptions } from '../../src/client';
import { loadDataConverter } from '../../src/codec';
import type { ScenarioName } from '../../src/sandbox';
import type { FaultRule } from '../../src/sandbox/faults';
import { Estate } from '../helpers/estate';
import { approve, connectRequest, doRemoteTrustByHand, handOverKeyByHand, type Req } from '../helpers/runs';
import { runCli } from '../helpers/cli';
import { startWorker, testClient, workerLogLines } from '../helpers/temporal';

interface SecretScenario {
  name: string;
  sandbox: ScenarioName;
  request(estate: Estate): Req;
  faults?: FaultRule[];
  /** What the people of both organisations do while the run waits. */
  drive(estate: Estate, handle: WorkflowHandle): Promise<void>;
  outcome: 'completed' | 'failed';
  /** Whether the run obtains a cross-cluster API key (the API-key model); its forms are then secrets too. */
  issuesApiKey: boolean;
  /** Secrets of this path beyond the estate's and the issued API keys (e.g. a private key it handles). */
  extraSecrets?(estate: Estate): Promise<Record<string, string>>;
}

/** Every private key PEM, and its first base64 line alone, as secrets (a key may leak whole or in part). */
function privateKeys(named: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, pem] of Object.entries(named)) {
    if (!/PRIVATE KEY-----/.test(pem)) continue;
    out[pem.trim()] = name;
    const firstLine = pem.split('\n').find((l) => l && !l.startsWith('-----'));
    if (firstLine) out[firstLine.trim()] = `${name} (first line)`;
  }
  return out;
}

const SCENARIOS: SecretScenario[] = [
  {
    name: 'path A, remote credentials: the tool creates the cross-cluster key',
    sandbox: 'api-key-public',
    request: (estate) => connectRequest(estate, 'api-key-public'),
    drive: (_estate, handle) => approve(handle),
    outcome: 'completed',
    issuesApiKey: true,
  },
  {
    name: 'path B, the remote org hands the key over by signal',
    sandbox: 'api-key-private',
    request: (estate) => connectRequest(estate, 'api-key-private', {}, false),
    async drive(estate, handle) {
      await handOverKeyByHand(estate, handle);
      await approve(handle);
    },
    outcome: 'completed',
    issuesApiKey: true,
  },
  {
    name: 'path B, fails after changes and rolls back',
    sandbox: 'api-key-private',
    request: (estate) => connectRequest(estate, 'api-key-private'),
    faults: [{ target: 'ech', method: 'PUT', path: '^/_cluster/settings$', statusRates: { '400': 1 } }],
    drive: (_estate, handle) => approve(handle),
    outcome: 'failed',
    issuesApiKey: true,
  },
  {
    // The CA PEM handed over is public; the private keys of the sandbox's CAs and of the self-managed node (which
    // the worker never needs) and the user's password must not appear anywhere.
    name: 'path C, TLS certificates: the self-managed CA handed over by signal, trust applied by hand',
    sandbox: 'tls-certificate',
    request(estate) {
      const req = structuredClone(estate.info.requests['tls-certificate']) as Req;
      delete (req.remote as Record<string, unknown>).elasticsearch;
      req.remote = { ...req.remote, ca: { kind: 'public' } };
      return { ...req, verify: { searchIndex: 'logs-*', timeout: '20s' }, humanStepTimeout: '2m' };
    },
    async drive(estate, handle) {
      await doRemoteTrustByHand(estate, handle);
      await approve(handle);
    },
    outcome: 'completed',
    issuesApiKey: false,
    async extraSecrets(estate) {
      const pki = estate.sandbox.pki;
      const files = (await estate.control('GET', '/self-managed/config')).files as Record<string, string>;
      return privateKeys({
        'public root CA private key': pki.publicRoot.keyPem,
        'remote private CA private key': pki.remotePrivate.keyPem,
        'ECH transport CA private key': pki.echTransport.keyPem,
        'self-managed transport CA private key': pki.selfManagedTransport.keyPem,
        ...Object.fromEntries(Object.entries(files).map(([f, c]) => [`self-managed node file ${f}`, c])),
      });
    },
  },
];

const PLAINTEXT: DataConverter = loadDataConverter({ env: {}, insecurePlaintextPayloads: true });

let estate: Estate;
let rawClient: Client;
let seq = 0;

before(async () => {
  estate = await Estate.start('api-key-public');
  rawClient = await testClient({ dataConverter: PLAINTEXT });
});
after(async () => {
  await rawClient?.connection.close();
  await estate?.stop();
});

/** Every string and every byte string (as UTF-8) in a value, e.g. a history as the server returns it. */
function texts(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (value && typeof value === 'object') for (const v of Object.values(value)) texts(v, out);
  return out;
}

function errorText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) parts.push(e.message, e.stack ?? '');
  return parts.join('\n');
}

async function temporalCli(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.env.TEMPORAL_CLI_PATH!, [
    ...args,
    '--address',
    process.env.TEMPORAL_ADDRESS!,
  ]);
  return stdout;
}

/** The secrets the estate's worker was given, by name, with the forms they could leak in. */
function estateSecrets(): Map<string, string> {
  const found = new Map<string, string>();
  for (const [name, value] of Object.entries(estate.info.env)) {
    if (name === 'NODE_EXTRA_CA_CERTS') continue;
    found.set(value, name);
    const colon = value.indexOf(':');
    if (colon > 0) found.set(value.slice(colon + 1), `${name} (password)`);
    found.set(Buffer.from(value).toString('base64'), `${name} (base64)`);
  }
  return found;
}

interface Exposure {
  /** secret value → its name */
  secrets: Map<string, string>;
  /** The `encoded` of every cross-cluster key the self-managed cluster issued during the runs. */
  issuedKeys: string[];
  /** Where → what it shows. */
  places: Map<string, string>;
}

/** Runs every scenario with the given data converter (worker and client) and gathers what people could read. */
async function runScenarios(dataConverter: DataConverter): Promise<Exposure> {
  const client = await testClient({ dataConverter });
  const worker = await startWorker({ activities: createActivities(), dataConverter });
  const logStart = workerLogLines.length;
  const secrets = estateSecrets();
  const issuedKeys: string[] = [];
  const places = new Map<string, string>();
  try {
    for (const s of SCENARIOS) {
      await estate.scenario(s.sandbox);
      if (s.faults) await estate.faults(s.faults);
      const options = connectStartOptions(s.request(estate));
      const workflowId = `${options.workflowId}-secrets-${Date.now()}-${++seq}`;
      const handle = await client.workflow.start('connectRemoteCluster', {
        ...options,
        workflowId,
        taskQueue: worker.taskQueue,
      });
      await s.drive(estate, handle);
      const failure = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      if (s.faults) await estate.control('DELETE', '/faults');
      assert.equal(failure ? 'failed' : 'completed', s.outcome, errorText(failure));
      if (failure) {
        assert.match(errorText(failure), /Rolled back/);
        places.set(`${s.name}: the failure the client prints`, errorText(failure));
      }

      const history = await rawClient.workflow.getHandle(workflowId).fetchHistory();
      places.set(`${s.name}: raw history`, texts(history).join('\n'));
      places.set(`${s.name}: status query`, JSON.stringify(await handle.query('status')));
      places.set(
        `${s.name}: temporal workflow show`,
        await temporalCli('workflow', 'show', '--workflow-id', workflowId),
      );
      places.set(
        `${s.name}: temporal workflow describe`,
        await temporalCli('workflow', 'describe', '--workflow-id', workflowId),
      );
      // Our CLI as CI runs it: the human report and the --json object.
      for (const args of [
        ['status', workflowId],
        ['status', workflowId, '--json'],
      ]) {
        const out = await runCli(args);
        // With the codec it reads the run (the plaintext control's history is unreadable to it by design).
        if (dataConverter.payloadCodecs?.length) assert.equal(out.code, 0, out.stdout + out.stderr);
        places.set(`${s.name}: ech-remote ${args.slice(1).join(' ')}`, `${out.stdout}\n${out.stderr}`);
      }
      // The scenario switch rebuilds the self-managed cluster: collect its keys (and this scenario's passwords) now.
      for (const [value, name] of estateSecrets()) secrets.set(value, name);
      for (const k of estate.sandbox.selfManaged.security.issuedApiKeySecrets) {
        secrets.set(k.encoded, `cross-cluster key ${k.id} (encoded)`);
        secrets.set(k.apiKey, `cross-cluster key ${k.id} (api_key)`);
        secrets.set(Buffer.from(k.encoded, 'base64').toString('utf8'), `cross-cluster key ${k.id} (id:api_key)`);
        issuedKeys.push(k.encoded);
      }
      for (const [value, name] of Object.entries((await s.extraSecrets?.(estate)) ?? {})) secrets.set(value, name);
    }
  } finally {
    await worker.stop();
    await client.connection.close();
  }
  places.set('worker log', workerLogLines.slice(logStart).join('\n'));
  return { secrets, issuedKeys, places };
}

function leaks(exposure: Exposure): string[] {
  const found: string[] = [];
  for (const [where, text] of exposure.places) {
    for (const [value, name] of exposure.secrets) if (text.includes(value)) found.push(`${name} in ${where}`);
  }
  return found;
}

describe('no secret in plaintext in histories, logs or CLI output', () => {
  it('with the codec: none of the secrets used is readable anywhere', async () => {
    const exposure = await runScenarios(loadDataConverter());
    const apiKeyRuns = SCENARIOS.filter((s) => s.issuesApiKey).length;
    assert.equal(exposure.issuedKeys.length, apiKeyRuns, 'each API-key run obtained a cross-cluster key');
    assert.ok(exposure.secrets.size >= 4 + 3 * apiKeyRuns);
    const keys = [...exposure.secrets.values()].filter((n) => /private key|\.key/.test(n));
    assert.ok(keys.length >= 2 * 5, `the private keys of path C are searched for: ${keys.join(', ')}`);
    assert.deepEqual(leaks(exposure), []);
  });

  it('control, without the codec: the same runs expose every cross-cluster key in the raw histories', async () => {
    const exposure = await runScenarios(PLAINTEXT);
    const found = leaks(exposure);
    for (const encoded of exposure.issuedKeys) {
      assert.ok(
        found.some((f) => f.startsWith(`${exposure.secrets.get(encoded)} in `) && f.endsWith('raw history')),
        `${exposure.secrets.get(encoded)} should be readable without the codec:\n${found.join('\n')}`,
      );
    }
  });
});
