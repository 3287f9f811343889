/**
 * Secret references (contract): a field ending in `Secret` names an environment variable, else a file of that name
 * in ECH_REMOTE_SECRETS_DIR. Resolved only inside activities. Every resolved value is fed to the redaction layer, so
 * logs and error messages can never echo it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

const known = new Set<string>();

/** Remember a secret value so that `redact` hides it (and its base64 forms) wherever it appears. */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 4) return;
  known.add(value);
  known.add(Buffer.from(value).toString('base64'));
  const colon = value.indexOf(':');
  if (colon > 0) known.add(value.slice(colon + 1)); // the password of user:password
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
  for (const s of [...known].sort((a, b) => b.length - a.length)) {
    if (s.length >= 4 && out.includes(s)) out = out.split(s).join('[REDACTED]');
  }
  return out;
}

export function resolveSecret(name: string): string {
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

export type Credentials = { username: string; password: string } | { apiKey: string };

/** `username:password` is basic auth; a value without a colon is an encoded API key. */
export function resolveCredentials(name: string): Credentials {
  const value = resolveSecret(name);
  const colon = value.indexOf(':');
  if (colon > 0) return { username: value.slice(0, colon), password: value.slice(colon + 1) };
  return { apiKey: value };
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
