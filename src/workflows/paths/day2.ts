/**
 * What rotate, update access and disconnect share before they change anything: the secrets the request names
 * (bound by the worker), the deployment and its own Elasticsearch endpoint, the self-managed cluster's API when the
 * request gives one, and the alias as it is now (settings, our ownership record, `_remote/info`, CCR use, the roles
 * and users we made for it). Read-only.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { CloudTarget, ConnectionFacts, DeploymentFacts, EsTarget } from '../../contract/facts';
import type { Day2Request } from '../../contract/lifecycle';
import { LOCAL_REQUIRED_PRIVILEGES, REMOTE_REQUIRED_PRIVILEGES } from '../../domain/preflight';
import { activity } from '../activity';
import type { RunContext } from '../run';
import { resolveTargets } from '../targets';

export interface Day2Found {
  cloud: CloudTarget;
  deployment: DeploymentFacts;
  local: EsTarget;
  remote?: EsTarget;
  connection: ConnectionFacts;
  keystoreEntries: string[];
}

export async function day2Preflight<R extends Day2Request>(ctx: RunContext<R>): Promise<Day2Found> {
  const { r, preflightFailed } = ctx;
  const { cloud, deployment, local, remote } = await resolveTargets(r, preflightFailed);
  const [localFacts, remoteFacts, connection, keystoreEntries] = await Promise.all([
    activity('Inspect the ECH cluster').inspectCluster({
      target: local,
      required: { cluster: LOCAL_REQUIRED_PRIVILEGES },
    }),
    remote
      ? activity('Inspect the self-managed cluster').inspectCluster({
          target: remote,
          required: { cluster: REMOTE_REQUIRED_PRIVILEGES },
        })
      : Promise.resolve(undefined),
    activity('Read the connection').readConnection({ target: local, alias: r.alias }),
    activity('Read the ECH keystore').listKeystoreKeys({ target: cloud }),
  ]).catch(preflightFailed);
  const missing = [
    ...localFacts.missingPrivileges.map((p) => `${p} (local.elasticsearch.credentialsSecret)`),
    ...(remoteFacts?.missingPrivileges ?? []).map((p) => `${p} (remote.elasticsearch.credentialsSecret)`),
  ];
  if (missing.length) {
    preflightFailed(
      ApplicationFailure.create({
        type: 'MissingPrivileges',
        message: `The credentials lack privileges: ${missing.join(', ')} → grant them (docs/configuration.md, minimal privileges).`,
        nonRetryable: true,
      }),
    );
  }
  local.version = localFacts.version;
  if (remote && remoteFacts) remote.version = remoteFacts.version;
  return { cloud, deployment, local, ...(remote ? { remote } : {}), connection, keystoreEntries };
}

/** The alias must exist and be ours (our ownership record next to its settings). */
export function requireOurAlias<R extends Day2Request>(ctx: RunContext<R>, found: Day2Found, what: string): void {
  const { r } = ctx;
  const c = found.connection;
  const exists = Object.keys(c.settings).some((k) => /\.(mode|proxy_address|seeds)$/.test(k));
  if (!exists) {
    ctx.preflightFailed(
      ApplicationFailure.create({
        type: 'AliasNotFound',
        message: `Deployment ${r.local.deploymentId} has no remote cluster "${r.alias}" → check the alias, or connect it first (connectRemoteCluster).`,
        nonRetryable: true,
      }),
    );
  }
  if (!c.record) {
    ctx.preflightFailed(
      ApplicationFailure.create({
        type: 'NotManagedByUs',
        message: `Remote cluster "${r.alias}" was not connected by this tool (no ownership record), so it will not ${what} it → do it yourself, or disconnect it with adopt: true and connect it again with connectRemoteCluster.`,
        nonRetryable: true,
      }),
    );
  }
}

/** The key id inside an encoded cross-cluster API key (base64 of `id:secret`); undefined when it is not one. */
export function keyIdOf(encoded: string): string | undefined {
  try {
    const text = decodeBase64(encoded.trim());
    const i = text.indexOf(':');
    return i > 0 ? text.slice(0, i) : undefined;
  } catch {
    return undefined;
  }
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * base64/base64url decoding by hand: the workflow sandbox has neither Buffer nor atob (a call to either throws, and
 * every handed-over key's id came out "unknown"). Throws on a character that is not base64.
 */
export function decodeBase64(s: string): string {
  const clean = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = BASE64.indexOf(ch);
    if (v < 0) throw new Error('not base64');
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >> bits) & 0xff);
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
