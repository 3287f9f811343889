/**
 * The README's first command: `ech-remote dev` brings up a Temporal dev server with its Web UI, the sandbox (one
 * self-managed cluster per path) and a worker; writes dev.env; prints a Start Workflow link per sample and CLI
 * commands. In a new shell, with only `source dev.env`, every sample it wrote to examples/dev/ completes against this
 * one environment, without switching scenario, through the commands it printed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { DAY2_COMMAND_NAMES } from '../src/cli/commands';
import { connectWorkflowId } from '../src/client';
import { loadDataConverter } from '../src/codec';
import { day2WorkflowId } from '../src/contract/lifecycle';
import type { ConnectStatus } from '../src/contract/status';
import type { SandboxInfo } from '../src/sandbox';
import { startDev, type DevEnvironment } from './helpers/dev';

const root = path.resolve(__dirname, '..');
let dev: DevEnvironment;

before(async () => {
  dev = await startDev();
});

after(async () => {
  await dev?.stop();
});

const SAMPLES = {
  'api-key-public': 'onprem-logs',
  'api-key-private': 'onprem-metrics',
  'tls-certificate': 'onprem-legacy',
} as const;

/** A client of the dev environment uses the key dev made in its home (ECH_REMOTE_CACHE_DIR/dev). */
function devDataConverter() {
  return loadDataConverter({ env: { ECH_REMOTE_ENCRYPTION_KEYS_FILE: path.join(dev.cwd, 'dev', 'encryption-keys') } });
}

async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: `127.0.0.1:${dev.port}` });
  try {
    return await fn(new Client({ connection, dataConverter: devDataConverter() }));
  } finally {
    await connection.close();
  }
}

const ok = (r: { code: number | null; stdout: string; stderr: string }, what: string) =>
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);

it('prints a prefilled Start Workflow link per sample that the UI serves, and writes sandbox.json and dev.env', async () => {
  const info = JSON.parse(fs.readFileSync(path.join(dev.cwd, 'sandbox.json'), 'utf8')) as SandboxInfo;
  assert.equal(info.estate, 'every-path');
  for (const [name, alias] of Object.entries(SAMPLES)) {
    const url = new URL(dev.startWorkflowLink(alias));
    assert.equal(url.port, String(dev.uiPort));
    assert.equal(url.searchParams.get('workflowType'), 'connectRemoteCluster');
    assert.equal(url.searchParams.get('taskQueue'), 'ech-remote-clusters');
    // Started from the UI or by `ech-remote connect`, a connection is the same run.
    assert.equal(url.searchParams.get('workflowId'), connectWorkflowId(dev.sampleRequest(name)));
    assert.ok(url.searchParams.get('runId'), 'a run id no run has: the form never takes an earlier run as template');
    assert.equal(dev.sampleRequest(name).alias, alias);
    assert.ok(info.remotes[alias], `sandbox.json names the cluster of ${alias}`);
  }
  // Day 2 of the samples: a link per workflow, with the id its CLI command derives from the sample file.
  const links = [
    ...dev.output().matchAll(/(http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/start-workflow\?\S+)/g),
  ].map((m) => new URL(m[1]!));
  for (const cmd of DAY2_COMMAND_NAMES) {
    const r = JSON.parse(fs.readFileSync(path.join(dev.cwd, 'examples', 'dev', `${cmd.name}.json`), 'utf8'));
    const link = links.find((l) => l.searchParams.get('workflowType') === cmd.workflowType);
    assert.ok(link, `a Start Workflow link for ${cmd.workflowType}`);
    assert.equal(link.searchParams.get('workflowId'), day2WorkflowId(cmd.kind, r));
    assert.equal(link.searchParams.get('taskQueue'), 'ech-remote-clusters');
  }
  const page = await fetch(dev.startWorkflowLink());
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  assert.match(dev.output(), /Sample requests for this sandbox: examples\/dev\/connect-/);
  // dev.env holds the codec token: the user's only.
  assert.equal(fs.statSync(path.join(dev.cwd, 'dev.env')).mode & 0o777, 0o600);
  // Three clusters, three distinct listeners: each sample its own set-up.
  const listeners = Object.entries(SAMPLES).map(([name, alias]) =>
    name === 'tls-certificate' ? info.remotes[alias]!.transport : info.remotes[alias]!.remoteClusterServer,
  );
  assert.equal(new Set(listeners).size, 3);
});

it('every temporal command dev prints names the server, and works as printed after source dev.env', async () => {
  const temporalLines = dev.printed(/^temporal /);
  assert.ok(temporalLines.length >= 2, dev.output());
  for (const line of temporalLines) assert.match(line, new RegExp(`--address 127\\.0\\.0\\.1:${dev.port}`), line);
  const list = dev.printed(/^temporal workflow list /)[0];
  assert.ok(list, dev.output());
  // A new shell: nothing on PATH but the system and node, until dev.env.
  const bare = await dev.shell('command -v temporal ech-remote', { prelude: '' });
  assert.notEqual(bare.code, 0, 'temporal and ech-remote are not on a fresh PATH');
  const listed = await dev.shell(list);
  ok(listed, list);
});

describe('every sample in examples/dev/ completes against this one environment, by the printed commands', () => {
  const idOf = (name: keyof typeof SAMPLES) => connectWorkflowId(dev.sampleRequest(name));

  it('the samples are exactly one connect per path, and the day-2 requests (audit, fleet and migrate included)', () => {
    const files = fs.readdirSync(path.join(dev.cwd, 'examples', 'dev')).filter((f) => f.endsWith('.json'));
    assert.deepEqual(
      files.sort(),
      [
        ...Object.keys(SAMPLES).map((n) => `connect-${n}.json`),
        'rotate.json',
        'update-access.json',
        'disconnect.json',
        'audit.json',
        'fleet.json',
        'migrate.json',
      ].sort(),
    );
  });

  it('api-key-public, with the connect command dev printed, literally', async () => {
    const connect = dev.printed(/^ech-remote connect /)[0];
    assert.ok(connect && connect.includes('examples/dev/connect-api-key-public.json'), dev.output());
    const run = await dev.shell(connect);
    ok(run, connect);
    assert.match(run.stdout, /Connected: connect-\S+-onprem-logs completed/);
    // The printed status command, in another new shell.
    const statusLine = dev.printed(/^ech-remote status /)[0]!;
    assert.ok(statusLine.endsWith(idOf('api-key-public')), statusLine);
    const status = await dev.shell(statusLine);
    ok(status, statusLine);
    assert.match(status.stdout, /: completed/);
  });

  it('api-key-private (remote cluster server with a private CA), the same way', async () => {
    const run = await dev.shell(
      'ech-remote connect --request examples/dev/connect-api-key-private.json --approve --as you@example.com --wait',
    );
    ok(run, 'connect api-key-private');
    assert.match(run.stdout, /Connected: connect-\S+-onprem-metrics completed/);
  });

  it('day 2 on that connection, with the commands README and docs/workflows.md show, literally', async () => {
    const commands = [
      'ech-remote rotate --request examples/dev/rotate.json --approve --as you@example.com --wait',
      'ech-remote update-access --request examples/dev/update-access.json --approve --as you@example.com --wait',
      'ech-remote disconnect --request examples/dev/disconnect.json --approve --as you@example.com --wait',
      'ech-remote disconnect --request examples/dev/disconnect.json --wait',
    ];
    for (const page of ['README.md', 'docs/workflows.md']) {
      const text = fs.readFileSync(path.join(root, page), 'utf8');
      for (const c of commands) assert.ok(text.includes(c), `${page} shows ${c}`);
    }
    const expected = [
      /^Rotated \(new key \S+, old key invalidated\): rotate-\S+-onprem-metrics completed/,
      /^Access updated \(updated: true\): update-access-\S+-onprem-metrics completed/,
      /^Disconnected: disconnect-\S+-onprem-metrics completed/,
      /^Nothing to do: disconnect-\S+-onprem-metrics completed/,
    ];
    for (const [i, command] of commands.entries()) {
      const run = await dev.shell(command);
      ok(run, command);
      assert.match(run.stdout, expected[i]!, command);
    }
  });

  it('the fleet sample, with the command README and docs/workflows.md show, literally', async () => {
    const command = 'ech-remote fleet --request examples/dev/fleet.json --approve --as you@example.com --wait';
    for (const page of ['README.md', 'docs/workflows.md']) {
      assert.ok(fs.readFileSync(path.join(root, page), 'utf8').includes(command), `${page} shows ${command}`);
    }
    const run = await dev.shell(command);
    ok(run, command);
    const fleet = JSON.parse(fs.readFileSync(path.join(dev.cwd, 'examples', 'dev', 'fleet.json'), 'utf8')) as {
      connections: { alias: string }[];
    };
    assert.ok(fleet.connections.length >= 3);
    for (const { alias } of fleet.connections) assert.match(run.stdout, new RegExp(`\\s${alias}\\s+connected\\s`));
    assert.match(
      run.stdout,
      new RegExp(`${fleet.connections.length} connection\\(s\\): ${fleet.connections.length} connected`),
    );
    // The audit sample covers the fleet's connections too: all of them healthy, exit 0.
    const audit = await dev.shell('ech-remote audit --request examples/dev/audit.json --json');
    ok(audit, 'ech-remote audit');
    const rows = (
      JSON.parse(audit.stdout) as { rows: { alias: string; status: string; evidence: { keyId?: string } }[] }
    ).rows;
    for (const { alias } of fleet.connections) {
      const row = rows.find((r) => r.alias === alias);
      assert.equal(row?.status, 'healthy', JSON.stringify(rows));
      assert.ok(row?.evidence.keyId, `the key of ${alias} was checked`);
    }
  });

  it('tls-certificate (transport port), with the sandbox admin applying what the run published', async () => {
    const id = idOf('tls-certificate');
    const started = await dev.shell(
      'ech-remote connect --request examples/dev/connect-tls-certificate.json --approve --as you@example.com',
    );
    ok(started, 'connect tls-certificate');
    await withClient(async (client) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const s = await client.workflow.getHandle(id).query<ConnectStatus>('status');
        if (s.waitingFor?.step === 'remote-trust') break;
        assert.ok(!['failed', 'completed'].includes(s.phase), JSON.stringify(s.error));
        assert.ok(Date.now() < deadline, `never waited for remote-trust (phase ${s.phase})`);
        await new Promise((r) => setTimeout(r, 300));
      }
    });
    // `npm run sandbox-admin` as documented (from the checkout; ECH_REMOTE_DEV_ENV: dev runs elsewhere here).
    const admin = await dev.shell(`npm run -s sandbox-admin -- ${id}`, {
      prelude: '',
      cwd: root,
      env: { ECH_REMOTE_DEV_ENV: path.join(dev.cwd, 'dev.env') },
    });
    ok(admin, 'sandbox-admin');
    assert.match(admin.stdout, /onprem-legacy: applied .* restarted/);
    const confirm = await dev.shell(`ech-remote confirm ${id} --step remote-trust --as admin@corp.example`);
    ok(confirm, 'confirm');
    const done = await dev.shell(
      'ech-remote connect --request examples/dev/connect-tls-certificate.json --wait --timeout 90s',
    );
    ok(done, 'connect --wait tls-certificate');
    assert.match(done.stdout, /Connected: connect-\S+-onprem-legacy completed/);
  });

  it('npm run ech, without sourcing anything, reads dev.env and sees them all completed', async () => {
    for (const name of Object.keys(SAMPLES) as (keyof typeof SAMPLES)[]) {
      const status = await dev.shell(`npm run -s ech -- status ${idOf(name)} --json`, {
        prelude: '',
        cwd: root,
        env: { ECH_REMOTE_DEV_ENV: path.join(dev.cwd, 'dev.env') },
      });
      ok(status, `npm run ech -- status ${name}`);
      assert.equal(JSON.parse(status.stdout).outcome, 'completed', status.stdout);
    }
  });
});

it('payloads are encrypted with a private key dev made outside the repo; the printed CLI command decrypts them', async () => {
  const keyFile = path.join(dev.cwd, 'dev', 'encryption-keys');
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  assert.match(dev.output(), /Codec server\s+http:\/\/127\.0\.0\.1:\d+/);
  const printed = dev.printed(/^temporal workflow show .*--codec-auth /)[0];
  assert.ok(printed, dev.output());
  await withClient(async (client) => {
    const workflowId = `dev-codec-${Date.now()}`;
    await client.workflow.start('connectRemoteCluster', {
      taskQueue: 'nobody',
      workflowId,
      args: [{ alias: workflowId }],
    });
    const command = printed.replace(/--workflow-id \S+/, `--workflow-id ${workflowId} --output json`);
    const show = async (cmd: string) => {
      const r = await dev.shell(cmd);
      ok(r, cmd);
      return JSON.parse(r.stdout);
    };
    const input = (history: any) => history.events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
    const decoded = input(await show(command));
    assert.deepEqual(JSON.parse(Buffer.from(decoded.data, 'base64').toString()), { alias: workflowId });
    // Without the codec (dev.env's TEMPORAL_CODEC_* unset too) the history holds only ciphertext.
    const raw = input(
      await show(
        `unset TEMPORAL_CODEC_ENDPOINT TEMPORAL_CODEC_AUTH && ${command.replace(/ --codec-endpoint .*$/, '')}`,
      ),
    );
    assert.equal(Buffer.from(raw.metadata.encoding, 'base64').toString(), 'binary/encrypted');
    await client.workflow.getHandle(workflowId).terminate();
  });
});
