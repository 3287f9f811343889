/**
 * Whoever can start a workflow cannot choose where a secret goes. Each request below pairs one of the worker's secrets
 * with a destination of the attacker's (a TLS listener that counts every connection) or with a use it is not bound
 * for, through `temporal workflow start`'s path (the client) and a real worker with the real activities. Every one
 * must end in the preflight as SecretNotAllowed naming the field, with no connection to the attacker and nothing
 * changed on the estate.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import { bindingProblem } from '../../src/activities/secretBindings';
import { createCertificateAuthority, issueCertificate } from '../../src/sandbox/pki';
import { Estate } from '../helpers/estate';
import { connectRequest, failureOf, type Req } from '../helpers/runs';
import { startWorker, testClient, type RunningWorker } from '../helpers/temporal';

let estate: Estate;
let client: Client;
let worker: RunningWorker;
let attacker: https.Server;
let attackerUrl: string;
let attackerCaPem: string;
let connections = 0;
let seq = 0;

before(async () => {
  // The attacker's host has a certificate its own CA signed, and the request hands that CA over (remote caPem).
  const ca = await createCertificateAuthority('attacker', 'CN=Attacker CA');
  const leaf = await issueCertificate(ca, {
    commonName: 'attacker',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  attackerCaPem = ca.certPem;
  attacker = https.createServer({ key: leaf.keyPem, cert: leaf.certPem }, (_req, res) => res.end('{}'));
  attacker.on('connection', () => connections++);
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerUrl = `https://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  estate = await Estate.start('api-key-public');
  client = await testClient();
  worker = await startWorker({ activities: createActivities() });
});
after(async () => {
  await worker?.stop();
  await client?.connection.close();
  await estate?.stop();
  await new Promise<void>((resolve) => attacker.close(() => resolve()));
});

/** A request for the sandbox with the tool creating the key, then the attack applied. */
function attack(mutate: (r: Req) => void): Req {
  const r = connectRequest(estate, 'api-key-public');
  mutate(r);
  return r;
}

const remoteAt = (url: string, credentialsSecret: string) => (r: Req) => {
  r.remote = { ...r.remote, elasticsearch: { url, credentialsSecret, caPem: attackerCaPem } };
};

const ATTACKS: { name: string; field: RegExp; mutate: (r: Req) => void }[] = [
  {
    name: 'the ECH superuser credentials as remote credentials, sent to the attacker',
    field: /remote\.elasticsearch\.credentialsSecret \(remote\.elasticsearch\.url\)/,
    mutate: (r) => remoteAt(attackerUrl, 'ECH_ES_CREDENTIALS')(r),
  },
  {
    name: 'the Cloud API key as remote credentials, sent to the attacker',
    field: /remote\.elasticsearch\.credentialsSecret \(remote\.elasticsearch\.url\)/,
    mutate: (r) => remoteAt(attackerUrl, 'EC_API_KEY')(r),
  },
  {
    name: 'the self-managed credentials, sent to another host than the one they are bound to',
    field: /remote\.elasticsearch\.credentialsSecret \(remote\.elasticsearch\.url\)/,
    mutate: (r) => remoteAt(attackerUrl, 'ONPREM_ES_CREDENTIALS')(r),
  },
  {
    name: 'the Cloud API key, sent to an attacker Cloud endpoint',
    field: /local\.cloud\.apiKeySecret \(local\.cloud\.endpoint\)/,
    mutate: (r) => {
      r.local = { ...r.local, cloud: { ...r.local.cloud, endpoint: attackerUrl } };
    },
  },
  {
    name: 'the ECH credentials as the Cloud API key, sent to an attacker Cloud endpoint',
    field: /local\.cloud\.apiKeySecret \(local\.cloud\.endpoint\)/,
    mutate: (r) => {
      r.local = { ...r.local, cloud: { endpoint: attackerUrl, apiKeySecret: 'ECH_ES_CREDENTIALS' } };
    },
  },
  {
    name: 'the ECH credentials, sent to an attacker URL given as the ECH Elasticsearch URL',
    field: /local\.elasticsearch\.url/,
    mutate: (r) => {
      r.local = { ...r.local, elasticsearch: { ...r.local.elasticsearch, url: attackerUrl } };
    },
  },
  {
    name: 'the self-managed credentials as the ECH credentials',
    field: /local\.elasticsearch\.credentialsSecret/,
    mutate: (r) => {
      r.local = { ...r.local, elasticsearch: { credentialsSecret: 'ONPREM_ES_CREDENTIALS' } };
    },
  },
  {
    name: 'the ECH superuser credentials as a new user’s password',
    field: /users\[0\]\.passwordSecret/,
    mutate: (r) => {
      r.users = [{ ...r.users![0]!, passwordSecret: 'ECH_ES_CREDENTIALS' }];
    },
  },
  {
    name: 'the Cloud API key as the self-managed credentials of the bound self-managed URL',
    field: /remote\.elasticsearch\.credentialsSecret/,
    mutate: (r) => {
      r.remote = { ...r.remote, elasticsearch: { ...r.remote.elasticsearch!, credentialsSecret: 'EC_API_KEY' } };
    },
  },
];

describe('secrets go only where the worker binds them', () => {
  for (const a of ATTACKS) {
    it(`refused in the preflight, naming the field, nothing sent, nothing changed: ${a.name}`, async () => {
      const before = await estate.view();
      const seen = connections;
      const handle = await client.workflow.start('connectRemoteCluster', {
        taskQueue: worker.taskQueue,
        workflowId: `secret-binding-${Date.now()}-${++seq}`,
        args: [attack(a.mutate)],
      });
      const failure = await failureOf(handle);
      assert.equal(failure.type, 'SecretNotAllowed', failure.message);
      assert.match(failure.message, a.field);
      assert.match(failure.message, /[Nn]othing was changed/);
      assert.equal(connections, seen, 'the attacker saw a connection');
      assert.deepEqual(await estate.view(), before);
    });
  }

  it('without bindings the worker sends no secret at all', () => {
    const env = { ...process.env, ECH_REMOTE_SECRET_BINDINGS: '' };
    const problem = bindingProblem('EC_API_KEY', { use: 'cloud-api-key' }, env);
    assert.match(problem ?? '', /binds no secrets to destinations/);
  });

  it('the bound destinations still work (the same worker connects the sandbox)', async () => {
    // The control: the sandbox request, untouched, gets past the preflight (dry run: nothing is changed).
    const handle = await client.workflow.start('connectRemoteCluster', {
      taskQueue: worker.taskQueue,
      workflowId: `secret-binding-ok-${Date.now()}-${++seq}`,
      args: [{ ...connectRequest(estate, 'api-key-public'), dryRun: true }],
    });
    const result = (await handle.result()) as { plan: unknown[] };
    assert.ok(result.plan.length > 0);
  });
});
