/**
 * `npm run sandbox-admin -- <workflow-id>`: the self-managed admin of the `npm run dev` sandbox. For a run waiting
 * on a step of the self-managed org that publishes `artifacts` (`remote-trust` of path C, `remote-cluster-server`),
 * it does what the admin does on every node, with exactly what the run published: runs the `requests` on the
 * self-managed cluster, then applies each phase (`elasticsearch-certutil` first when the phase has an instances.yml),
 * files and elasticsearch.yml settings with a restart, through the sandbox control API, on the cluster the run
 * connects to (by its alias: onprem-logs, onprem-metrics, onprem-legacy). Answering the step stays with you:
 * `ech-remote confirm <workflow-id> --step <step> --as <name>`. Reads dev.env like `npm run ech`.
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { Artifacts, ConnectStatus } from '../src/contract/status';
import { applyDevEnv, DEV_ENV_FILE, parseDevEnv } from '../src/dev/devEnv';
import { TLS_FILES } from '../src/domain/tlsCertificate';
import type { SandboxInfo } from '../src/sandbox';
import { connectClient } from '../src/temporal/connection';

type Json = Record<string, unknown>;

function call(url: string, ca: string, auth: string, method: string, body?: unknown): Promise<Json> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      url,
      {
        method,
        ca,
        headers: { authorization: auth, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          const parsed = (text ? JSON.parse(text) : {}) as Json;
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${url}: HTTP ${res.statusCode} ${text}`));
          else resolve(parsed);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function main(): Promise<void> {
  const workflowId = process.argv[2];
  if (!workflowId || workflowId.startsWith('-')) {
    throw new Error('usage: npm run sandbox-admin -- <workflow-id>   (a run waiting for the self-managed org)');
  }
  const envFile = path.resolve(process.env.ECH_REMOTE_DEV_ENV || DEV_ENV_FILE);
  if (!fs.existsSync(envFile)) throw new Error(`no ${envFile}: start \`npm run dev\` in this directory first`);
  applyDevEnv(parseDevEnv(fs.readFileSync(envFile, 'utf8'), envFile), process.env);
  const controlUrl = process.env.ECH_REMOTE_SANDBOX_CONTROL!;
  const ca = fs.readFileSync(process.env.ECH_REMOTE_SANDBOX_CA!, 'utf8');
  const controlAuth = `ApiKey ${process.env.ECH_REMOTE_SANDBOX_API_KEY}`;
  const control = (method: string, p: string, body?: unknown) =>
    call(`${controlUrl}${p}`, ca, controlAuth, method, body);

  const info = (await control('GET', '/info')) as unknown as SandboxInfo;
  const alias = Object.keys(info.remotes).find((a) => workflowId.endsWith(`-${a}`));
  if (!alias) throw new Error(`${workflowId} connects none of this sandbox's clusters (${Object.keys(info.remotes)})`);
  const remote = info.remotes[alias]!;

  const client = await connectClient();
  let status: ConnectStatus;
  try {
    status = await client.workflow.getHandle(workflowId).query<ConnectStatus>('status');
  } finally {
    await client.connection.close();
  }
  const waiting = status.waitingFor;
  if (!waiting || waiting.who !== 'self-managed-org' || !waiting.artifacts) {
    throw new Error(
      `${workflowId} does not wait for the self-managed org on a step with artifacts (phase ${status.phase}` +
        `${waiting ? `, waiting for ${waiting.who} at ${waiting.step}` : ''})`,
    );
  }
  const artifacts: Artifacts = waiting.artifacts;
  const q = `?cluster=${encodeURIComponent(alias)}`;
  const esAuth = `Basic ${Buffer.from(info.env.ONPREM_ES_CREDENTIALS).toString('base64')}`;
  for (const req of artifacts.requests ?? []) {
    await call(`${remote.url}${req.path}`, info.selfManaged.httpCa, esAuth, req.method, req.body);
    console.log(`${alias}: ${req.method} ${req.path}`);
  }
  const { phases, requests: _requests, ...flat } = artifacts;
  for (const phase of phases ?? [flat]) {
    const instances = phase.files?.[TLS_FILES.instances];
    if (instances) {
      const issued = await control('POST', `/self-managed/certutil${q}`, {
        instances,
        certificate: TLS_FILES.nodeCertificate,
        key: TLS_FILES.nodeKey,
      });
      console.log(
        `${alias}: elasticsearch-certutil issued ${String(issued.name)} with otherName ${String(issued.otherNames)}`,
      );
    }
    const applied = await control('POST', `/self-managed/apply${q}`, phase);
    console.log(
      `${alias}: applied ${Object.keys(phase.files ?? {}).length} file(s) and ` +
        `${Object.keys(phase.settings ?? {}).length} setting(s)${applied.restarted ? ', restarted' : ''}` +
        `${'title' in phase ? ` (${String(phase.title)})` : ''}`,
    );
  }
  console.log(`Done. Answer the step: ech-remote confirm ${workflowId} --step ${waiting.step} --as admin@corp.example`);
}

main().catch((e: unknown) => {
  process.stderr.write(`npm run sandbox-admin: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
