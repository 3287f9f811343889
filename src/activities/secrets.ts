/**
 * Secret references (contract): a field ending in `Secret` names an environment variable, else a file of that name
 * in ECH_REMOTE_SECRETS_DIR. Resolved only inside activities, and never the worker's own configuration (reserved
 * names, see src/contract/secretNames.ts), nor, when ECH_REMOTE_SECRET_NAMES is set, any name outside that list.
 * Every resolved value is fed to the redaction layer, so logs and error messages can never echo it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { SECRET_NAME_RE, reservedSecretName } from '../contract/secretNames';
import { assertBound, isBindingRefusal, type SecretUse } from './secretBindings';
import type { CloudTarget, EsTarget, SecretReference } from './types';

/** Optional allowlist of the worker: comma-separated secret names; when set, only these resolve. */
export const SECRET_NAMES_ENV = 'ECH_REMOTE_SECRET_NAMES';

/** How many secret forms redaction remembers; the least recently registered are forgotten first. */
export const MAX_REDACTED_SECRETS = 10_000;

/**
 * The secrets to hide, longest first (so a secret that contains another is hidden whole), kept sorted on insert.
 * `lastUse` orders them for eviction (a Map iterates in insertion order: re-inserting moves a value to the end).
 */
const byLength: string[] = [];
const lastUse = new Map<string, true>();

function remember(value: string): void {
  if (value.length < 4) return;
  if (lastUse.delete(value)) {
    lastUse.set(value, true);
    return;
  }
  lastUse.set(value, true);
  // First index whose entry is shorter than `value` (binary search over lengths, descending).
  let lo = 0;
  let hi = byLength.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byLength[mid]!.length >= value.length) lo = mid + 1;
    else hi = mid;
  }
  byLength.splice(lo, 0, value);
  while (lastUse.size > MAX_REDACTED_SECRETS) {
    const oldest = lastUse.keys().next().value as string;
    lastUse.delete(oldest);
    byLength.splice(byLength.indexOf(oldest), 1);
  }
}

/** How many secret forms redaction currently remembers (for tests and diagnostics). */
export function redactedSecretCount(): number {
  return byLength.length;
}

/** Remember a secret value so that `redact` hides it (and its base64 forms) wherever it appears. */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 4) return;
  remember(value);
  remember(Buffer.from(value).toString('base64'));
  const colon = value.indexOf(':');
  if (colon > 0) remember(value.slice(colon + 1)); // the password of user:password
}

/**
 * An encoded API key is base64 of `id:api_key`: the encoded form, the decoded pair and the `api_key` alone are all
 * secrets (Elasticsearch echoes the id, never the key, so the id stays readable).
 */
export function registerEncodedApiKey(encoded: string | undefined): void {
  if (!encoded) return;
  registerSecret(encoded);
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  if (/^[^:\s]+:\S+$/.test(decoded)) registerSecret(decoded);
}

export function redact(text: string): string {
  let out = text;
  // Longest first, so a secret that contains another is hidden whole.
  for (const s of byLength) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
  return out;
}

/** Refuses names the worker may not resolve for a request: reserved ones always, others outside the allowlist. */
function assertResolvable(name: string, env: NodeJS.ProcessEnv): void {
  if (!SECRET_NAME_RE.test(name)) {
    throw ApplicationFailure.create({
      message: `Secret name "${name.slice(0, 64)}" is not an environment variable name or a plain file name.`,
      type: 'SecretNotAllowed',
      nonRetryable: true,
    });
  }
  const reserved = reservedSecretName(name);
  const listed = (env[SECRET_NAMES_ENV] ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const allowlist = listed.length > 0 ? listed : undefined; // empty = not set
  const reason =
    reserved ??
    (allowlist && !allowlist.includes(name)
      ? `it is not in the worker's ${SECRET_NAMES_ENV} (${allowlist.join(', ')}): add it there or name another secret`
      : undefined);
  if (reason) {
    throw ApplicationFailure.create({
      message: `Secret "${name}" may not be used: ${reason}.`,
      type: 'SecretNotAllowed',
      nonRetryable: true,
    });
  }
}

/**
 * The value of secret `name` for `use` (a destination): refused unless the worker binds the name to exactly that use
 * and destination (src/activities/secretBindings.ts), whatever the request says.
 */
export function resolveSecret(name: string, use: SecretUse): string {
  assertResolvable(name, process.env);
  assertBound(name, use);
  let value = process.env[name];
  if (value === undefined) {
    const dir = process.env.ECH_REMOTE_SECRETS_DIR;
    const file = dir ? path.join(dir, name) : undefined;
    if (file && fs.existsSync(file)) value = fs.readFileSync(file, 'utf8').trim();
  }
  if (value === undefined || value === '') {
    throw ApplicationFailure.create({
      message:
        `Secret "${name}" is not set on the worker: set the environment variable ${name}` +
        ` or put a file named ${name} in ECH_REMOTE_SECRETS_DIR, then retry.`,
      type: 'SecretNotFound',
      nonRetryable: true,
    });
  }
  registerSecret(value);
  return value;
}

/** The checkSecrets activity: resolves each secret the request names, reports by request field. */
export async function checkSecrets({ secrets }: { secrets: SecretReference[] }): Promise<{ checked: number }> {
  const problems: { field: string; type: string; message: string }[] = [];
  for (const { field, name, use, destinationField } of secrets) {
    try {
      resolveSecret(name, use);
    } catch (err) {
      if (!(err instanceof ApplicationFailure)) throw err;
      const fields = isBindingRefusal(err) && destinationField ? `${field} (${destinationField})` : field;
      problems.push({ field: fields, type: err.type ?? 'SecretNotFound', message: err.message });
    }
  }
  if (problems.length > 0) {
    throw ApplicationFailure.create({
      type: problems[0]!.type,
      nonRetryable: true,
      message:
        `The worker cannot use ${problems.length} secret(s) this request names; nothing was changed:\n` +
        problems.map((p) => `- ${p.field}: ${p.message}`).join('\n'),
      details: [problems.map(({ field, type }) => ({ field, type }))],
    });
  }
  return { checked: secrets.length };
}

export type Credentials = { username: string; password: string } | { apiKey: string };

/** `username:password` is basic auth; a value without a colon is an encoded API key. */
export function resolveCredentials(name: string, use: SecretUse): Credentials {
  const value = resolveSecret(name, use);
  const colon = value.indexOf(':');
  if (colon > 0) return { username: value.slice(0, colon), password: value.slice(colon + 1) };
  return { apiKey: value };
}

/** Looks up the Elasticsearch endpoint the Cloud API reports for a deployment (src/activities/cloud.ts). */
export type EchEndpointLookup = (deployment: CloudTarget) => Promise<string | undefined>;

/**
 * The credentials for an Elasticsearch target, only if the worker binds them to its URL: a self-managed cluster's to
 * the URLs listed, the ECH cluster's to the endpoint the Cloud API reports for the deployment.
 */
export async function resolveTargetCredentials(
  target: EsTarget,
  echEndpoint?: EchEndpointLookup,
): Promise<Credentials> {
  if (target.side === 'self-managed') {
    return resolveCredentials(target.credentialsSecret, { use: 'elasticsearch', url: target.url });
  }
  if (!target.deployment || !echEndpoint) {
    throw ApplicationFailure.create({
      type: 'SecretNotAllowed',
      nonRetryable: true,
      message: `Secret "${target.credentialsSecret}" is sent only to an ECH deployment's own Elasticsearch endpoint, and this call names no deployment.`,
    });
  }
  const reportedUrl = await echEndpoint(target.deployment);
  return resolveCredentials(target.credentialsSecret, {
    use: 'ech-elasticsearch',
    deploymentId: target.deployment.deploymentId,
    url: target.url,
    ...(reportedUrl ? { reportedUrl } : {}),
  });
}

/** Redacts an error's message and stack, and its causes', in place (the SDK logs and serializes exactly these). */
export function redactError<E>(err: E): E {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    e.message = redact(e.message);
    if (e.stack) e.stack = redact(e.stack);
  }
  return err;
}

/**
 * The worker's safety net: whatever an activity throws is redacted before the SDK logs it or writes it to the
 * history, even where a message was built from a value the activity did not mean to echo.
 */
export const redactActivityErrors: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        throw redactError(err);
      }
    },
  },
});
