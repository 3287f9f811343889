/**
 * Signals, updates and the query of connectRemoteCluster. Defined here (not in the workflow file) so the CLI and the
 * client import them without pulling in workflow code; `description`s are what the Temporal UI shows.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import type { ConnectStatus } from './status';
import { ALL_CONFIRMABLE_STEPS, HUMAN_STEPS, type HumanStepId } from './steps';

export interface ApproveInput {
  step: HumanStepId;
  approver: string;
  comment?: string;
}
export interface RejectInput {
  step: HumanStepId;
  approver: string;
  reason: string;
}
export interface ProvideKeyInput {
  /** The `encoded` value of the cross-cluster API key created on the self-managed cluster. */
  encoded: string;
}
/** An encoded API key is base64 (or base64url) of "id:secret"; the workflow ignores anything else, the CLI refuses it. */
/** The largest CA PEM a run accepts by signal (a chain of a few certificates fits; history stays small). */
export const MAX_CA_PEM_CHARS = 64_000;

export const ENCODED_API_KEY_RE = /^[A-Za-z0-9+/_-]{16,}={0,2}$/;

export interface ProvideCaInput {
  pem: string;
}
export interface ConfirmStepInput {
  step: HumanStepId;
  by?: string;
  approver?: string;
  comment?: string;
}

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
/** The longest encoded cross-cluster API key accepted (real ones are under 100 characters). */
export const MAX_ENCODED_API_KEY_CHARS = 512;

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

export type SignalName =
  'approve' | 'reject' | 'provideCrossClusterApiKey' | 'provideRemoteCaCertificate' | 'confirmRemoteStep';

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

export const approveSignal = defineSignal<[ApproveInput]>('approve');
export const rejectSignal = defineSignal<[RejectInput]>('reject');
export const provideCrossClusterApiKeySignal = defineSignal<[ProvideKeyInput]>('provideCrossClusterApiKey');
export const provideRemoteCaCertificateSignal = defineSignal<[ProvideCaInput]>('provideRemoteCaCertificate');
export const confirmRemoteStepSignal = defineSignal<[ConfirmStepInput]>('confirmRemoteStep');
export const statusQuery = defineQuery<ConnectStatus>('status');

export const HANDLER_DESCRIPTIONS = {
  approve:
    'ECH org approves the changes to the ECH deployment. Payload: {"step":"approve-local-changes","approver":"you@example.com","comment":"optional"}',
  reject:
    'ECH org rejects; the run ends with nothing changed on ECH. Payload: {"step":"approve-local-changes","approver":"you@example.com","reason":"why"}',
  provideCrossClusterApiKey:
    'Self-managed org hands over the cross-cluster API key it created. Payload: {"encoded":"<encoded value from POST /_security/cross_cluster/api_key>"}',
  provideRemoteCaCertificate:
    'Self-managed org provides its transport CA certificate (TLS model). Payload: {"pem":"-----BEGIN CERTIFICATE-----..."}',
  confirmRemoteStep: `Self-managed org confirms it completed a step (${ALL_CONFIRMABLE_STEPS.join(', ')}; the one the run waits for). Payload: {"step":"remote-cluster-server","by":"admin@corp.example"}`,
  status:
    'Phase, every step with its state, what the run waits for (step, who, instructions, artifacts), plan and result.',
} as const;
