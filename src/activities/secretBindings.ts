/**
 * Secrets bound to destinations, by the worker's configuration, never by the request.
 *
 * A request names secrets (`…Secret` fields) and, through other fields, where requests go. Without bindings a request
 * could pair the ECH superuser's credentials with a URL of its choosing and have the worker send them there. So the
 * operator binds every secret the worker may use to one use and its destinations, in ECH_REMOTE_SECRET_BINDINGS (JSON)
 * or the file named by ECH_REMOTE_SECRET_BINDINGS_FILE:
 *
 *   {
 *     "EC_API_KEY":            { "use": "cloud-api-key", "endpoint": "https://api.elastic-cloud.com" },
 *     "ECH_ES_CREDENTIALS":    { "use": "ech-elasticsearch", "deployments": ["<32-hex id>"] },
 *     "ONPREM_ES_CREDENTIALS": { "use": "elasticsearch", "urls": ["https://es01.corp.example:9200"] },
 *     "CROSS_SEARCH_USER_PASSWORD": { "use": "user-password" }
 *   }
 *
 * - `cloud-api-key`: sent only to that Cloud API endpoint (the request's `local.cloud.endpoint` may be left out).
 * - `ech-elasticsearch`: sent only to the Elasticsearch endpoint the Cloud API reports for the deployment (through a
 *   bound Cloud API key), optionally only for the deployments listed.
 * - `elasticsearch`: sent only to the listed URLs (self-managed clusters).
 * - `user-password`: only ever the password of a user this tool creates on ECH; never sent anywhere as credentials.
 *
 * A secret that is not bound resolves for nothing. Checked by the preflight (naming the request field, before any
 * connection is opened) and again wherever a secret is resolved (defence in depth).
 */
import fs from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { SecretUse } from '../contract/facts';
import { SECRET_NAME_RE } from '../contract/secretNames';

export type { SecretUse } from '../contract/facts';

export const SECRET_BINDINGS_ENV = 'ECH_REMOTE_SECRET_BINDINGS';
export const SECRET_BINDINGS_FILE_ENV = 'ECH_REMOTE_SECRET_BINDINGS_FILE';
/** What the configuration may weigh: it is read on every resolution (cached by content). */
const MAX_BINDINGS_BYTES = 256 * 1024;

const destinationUrl = z
  .string()
  .max(2048)
  .refine((u) => parseDestination(u) !== undefined, 'must be an https:// URL without credentials, query or fragment');

const bindingSchema = z.discriminatedUnion('use', [
  z.object({ use: z.literal('cloud-api-key'), endpoint: destinationUrl }).strict(),
  z
    .object({
      use: z.literal('ech-elasticsearch'),
      deployments: z
        .array(z.string().regex(/^[a-z0-9]{32}$/, 'a 32-character deployment id'))
        .min(1)
        .optional(),
    })
    .strict(),
  z.object({ use: z.literal('elasticsearch'), urls: z.array(destinationUrl).min(1).max(100) }).strict(),
  z.object({ use: z.literal('user-password') }).strict(),
]);
const bindingsSchema = z.record(z.string().regex(SECRET_NAME_RE, 'a secret name'), bindingSchema);

export type SecretBinding = z.output<typeof bindingSchema>;
export type SecretBindings = Record<string, SecretBinding>;
export type SecretUseKind = SecretBinding['use'];

/** `https://host[:port][/path]` reduced to what identifies a destination; undefined when not acceptable. */
export function parseDestination(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' || u.username || u.password || u.search || u.hash) return undefined;
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function sameDestination(a: string, b: string): boolean {
  const x = parseDestination(a);
  return x !== undefined && x === parseDestination(b);
}

/** The Cloud API endpoint without the `/api/v1` the client appends. */
function cloudRoot(endpoint: string): string {
  return endpoint.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
}

let cache: { raw: string; bindings: SecretBindings } | undefined;

/** Refusals by binding carry `{ binding: true }` so the preflight can name the field that chose the destination. */
function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'SecretNotAllowed',
    nonRetryable: true,
    message,
    details: [{ binding: true }],
  });
}

export function isBindingRefusal(err: unknown): boolean {
  return err instanceof ApplicationFailure && (err.details?.[0] as { binding?: unknown } | undefined)?.binding === true;
}

/** The worker's bindings; a malformed configuration is the operator's to fix, and fails every use. */
export function loadSecretBindings(env: NodeJS.ProcessEnv = process.env): SecretBindings | undefined {
  let raw = env[SECRET_BINDINGS_ENV];
  const file = env[SECRET_BINDINGS_FILE_ENV];
  if (!raw && file) {
    const size = fs.existsSync(file) ? fs.statSync(file).size : -1;
    if (size < 0) throw refused(`${SECRET_BINDINGS_FILE_ENV} names ${file}, which does not exist on the worker.`);
    if (size > MAX_BINDINGS_BYTES)
      throw refused(`${SECRET_BINDINGS_FILE_ENV} is larger than ${MAX_BINDINGS_BYTES} bytes.`);
    raw = fs.readFileSync(file, 'utf8');
  }
  if (!raw?.trim()) return undefined;
  if (cache?.raw === raw) return cache.bindings;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw refused(`The worker's ${SECRET_BINDINGS_ENV} is not valid JSON: fix the worker's configuration.`);
  }
  const parsed = bindingsSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw refused(`The worker's ${SECRET_BINDINGS_ENV} is invalid (${problems}): fix the worker's configuration.`);
  }
  cache = { raw, bindings: parsed.data };
  return parsed.data;
}

/** The Cloud API endpoint a secret is bound to (used when the request leaves `local.cloud.endpoint` out). */
export function boundCloudEndpoint(name: string): string | undefined {
  const b = loadSecretBindings()?.[name];
  return b?.use === 'cloud-api-key' ? cloudRoot(b.endpoint) : undefined;
}

/**
 * Why `name` may not be used as `use`, or undefined when it may. Destinations not yet known (the deployment's
 * reported URL before the Cloud API was asked) are not judged here; the resolution does that.
 */
export function bindingProblem(name: string, use: SecretUse, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const bindings = loadSecretBindings(env);
  if (!bindings) {
    return (
      `the worker binds no secrets to destinations (${SECRET_BINDINGS_ENV} is not set), so it sends none: ` +
      'bind it there (see docs/configuration.md)'
    );
  }
  const b = bindings[name];
  if (!b) return `it is not bound to a destination in the worker's ${SECRET_BINDINGS_ENV}`;
  if (b.use !== use.use) {
    return `it is bound for use "${b.use}" in the worker's ${SECRET_BINDINGS_ENV}, not "${use.use}"`;
  }
  switch (use.use) {
    case 'cloud-api-key': {
      const bound = cloudRoot((b as Extract<SecretBinding, { use: 'cloud-api-key' }>).endpoint);
      if (use.endpoint !== undefined && !sameDestination(cloudRoot(use.endpoint), bound)) {
        return `it is bound to the Cloud API at ${bound}, not ${use.endpoint}`;
      }
      return undefined;
    }
    case 'ech-elasticsearch': {
      const deployments = (b as Extract<SecretBinding, { use: 'ech-elasticsearch' }>).deployments;
      if (deployments && !deployments.includes(use.deploymentId)) {
        return `it is bound to deployments ${deployments.join(', ')}, not ${use.deploymentId}`;
      }
      if (use.url !== undefined && use.reportedUrl !== undefined && !sameDestination(use.url, use.reportedUrl)) {
        return (
          'it may only be sent to the Elasticsearch endpoint the Cloud API reports for deployment ' +
          `${use.deploymentId} (${use.reportedUrl}), not ${use.url}`
        );
      }
      if (use.url !== undefined && use.reportedUrl === undefined) {
        return `the Cloud API reports no Elasticsearch endpoint for deployment ${use.deploymentId}, so it is sent nowhere`;
      }
      return undefined;
    }
    case 'elasticsearch': {
      const urls = (b as Extract<SecretBinding, { use: 'elasticsearch' }>).urls;
      if (!urls.some((u) => sameDestination(u, use.url))) {
        return `it is bound to ${urls.join(', ')}, not ${use.url}`;
      }
      return undefined;
    }
    case 'user-password':
      return undefined;
  }
}

/** Throws SecretNotAllowed unless `name` is bound for this use and destination. */
export function assertBound(name: string, use: SecretUse): void {
  const problem = bindingProblem(name, use);
  if (problem) throw refused(`Secret "${name}" may not be used here: ${problem}.`);
}
