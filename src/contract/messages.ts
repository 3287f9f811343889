/**
 * Signals, updates and the query of connectRemoteCluster. Defined here (not in the workflow file) so the CLI and the
 * client import them without pulling in workflow code; `description`s are what the Temporal UI shows. The names, types
 * and limits are in ./handlers (no zod: what `status` loads); this file adds the payload schemas.
 */
import { z } from 'zod';
import { ENCODED_API_KEY_RE, MAX_CA_PEM_CHARS, MAX_ENCODED_API_KEY_CHARS } from './handlers';
import { HUMAN_STEPS, type HumanStepId } from './steps';

export * from './handlers';

// ---- Payload schemas: every signal is parsed with these before it touches the run's state (a bad payload is refused
// and recorded in the status, never thrown: a throwing handler would fail the workflow task for ever).

/** A person's name or address: something an auditor can read back, not blank, no control characters. */
const person = z
  .string()
  .trim()
  .min(1, 'must not be blank')
  .max(256, 'at most 256 characters')
  .refine((v) => !/\p{Cc}/u.test(v), 'must not contain control characters');
const freeText = (what: string) =>
  z
    .string()
    .trim()
    .min(1, `${what} must not be blank`)
    .max(1000, `${what}: at most 1000 characters`)
    // Control characters other than tab and newline (a log line or a status must not be forged with them).
    .refine(
      (v) => ![...v].some((c) => /\p{Cc}/u.test(c) && c !== '\t' && c !== '\n'),
      `${what} must not contain control characters`,
    );
const humanStep = z.enum(Object.values(HUMAN_STEPS) as [HumanStepId, ...HumanStepId[]], {
  error: `must be one of ${Object.values(HUMAN_STEPS).join(', ')}`,
});
export const approveInputSchema = z
  .object({ step: humanStep, approver: person, comment: freeText('comment').optional() })
  .strict();
export const rejectInputSchema = z.object({ step: humanStep, approver: person, reason: freeText('reason') }).strict();
export const provideKeyInputSchema = z
  .object({
    encoded: z
      .string()
      .trim()
      .max(MAX_ENCODED_API_KEY_CHARS, `at most ${MAX_ENCODED_API_KEY_CHARS} characters`)
      .regex(ENCODED_API_KEY_RE, 'must be the "encoded" value Elasticsearch returned (base64 of id:api_key)'),
  })
  .strict();
export const provideCaInputSchema = z
  .object({
    pem: z
      .string()
      .max(MAX_CA_PEM_CHARS, `at most ${MAX_CA_PEM_CHARS} characters`)
      .refine((p) => /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(p), 'must be a PEM certificate')
      .refine((p) => !/PRIVATE KEY-----/.test(p), 'must not contain a private key'),
  })
  .strict();
export const confirmStepInputSchema = z
  .object({
    step: humanStep,
    by: person.optional(),
    approver: person.optional(),
    comment: freeText('comment').optional(),
  })
  .strict();

/**
 * Parse a signal's payload. The reason names each field and what is wrong, never the value sent (it may be a key).
 */
export function parseSignal<T>(
  schema: z.ZodType<T>,
  payload: unknown,
): { ok: true; value: T } | { ok: false; reason: string } {
  if (payload === null || payload === undefined || typeof payload !== 'object' || Array.isArray(payload)) {
    return { ok: false, reason: 'the payload must be a JSON object' };
  }
  const parsed = schema.safeParse(payload);
  if (parsed.success) return { ok: true, value: parsed.data };
  const reason = parsed.error.issues
    .slice(0, 5)
    .map(
      (i) =>
        `${i.path.length ? i.path.join('.') : '(payload)'}: ${i.code === 'unrecognized_keys' ? 'unknown field(s)' : i.message}`,
    )
    .join('; ');
  return { ok: false, reason };
}
