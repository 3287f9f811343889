/**
 * Answering a run's human steps from a shell or a pipeline: approve, reject, confirm, provide-key. Each checks its
 * input before connecting (exit 2), then asks the run where it stands and sends the contract's signal
 * (src/contract/messages.ts) only when the run waits for that answer: a run ignores an answer it does not wait for, so
 * the CLI refuses it (exit 1) instead of saying "Sent". provide-key reads the key from an environment variable, so it
 * is never on a command line (shell history, process list) and never printed; provide-ca reads the transport CA
 * certificate from a file (the run checks it is a CA, not expired, with no key).
 */
import fs from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';

import type { z } from 'zod';
import {
  ENCODED_API_KEY_RE,
  MAX_CA_PEM_CHARS,
  approveInputSchema,
  approveSignal,
  confirmRemoteStepSignal,
  confirmStepInputSchema,
  parseSignal,
  provideCaInputSchema,
  provideCrossClusterApiKeySignal,
  provideKeyInputSchema,
  provideRemoteCaCertificateSignal,
  rejectInputSchema,
  rejectSignal,
} from '../contract/messages';
import { HUMAN_STEPS, type HumanStepId } from '../contract/steps';
import { cliClient } from './client';
import { CliError, EXIT } from './exitCodes';
import { exitWith, printJson } from './output';
import { queryStatus } from './status';

/** How long the run has to answer the status query before anything is sent. */
const STATUS_WITHIN_MS = 10_000;

interface Answer {
  /** The signal's name, for the report. */
  signal: string;
  step: HumanStepId;
  /** What was sent, for the human line (never a secret). */
  what: string;
  /** approve/reject: one decision per run. */
  decision?: boolean;
  send: (h: WorkflowHandle) => Promise<void>;
}

/** The --json shape of approve, reject, confirm and provide-key once sent. */
export interface SentReport {
  outcome: 'sent';
  exitCode: typeof EXIT.done;
  workflowId: string;
  runId: string;
  signal: string;
  step: HumanStepId;
}

const refused = (message: string, type: string) => new CliError(`${message}; nothing was sent`, EXIT.error, type);

async function answer(workflowId: string, json: boolean, a: Answer): Promise<never> {
  const client = await cliClient();
  let runId: string;
  let running: boolean;
  let closedAs: string;
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    [runId, running, closedAs] = [d.runId, d.status.name === 'RUNNING', d.status.name];
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw refused(`no workflow "${workflowId}" in this namespace`, 'WorkflowNotFound');
    throw err;
  }
  if (!running) {
    throw refused(
      `${workflowId} has ended (${closedAs.toLowerCase()}); see ech-remote status ${workflowId}`,
      'RunEnded',
    );
  }
  const handle = client.workflow.getHandle(workflowId, runId);
  const status = await queryStatus(client, handle, STATUS_WITHIN_MS);
  if (!status) {
    throw refused(
      `${workflowId} did not answer the status query within ${STATUS_WITHIN_MS / 1000} s (is a worker running?)`,
      'StatusUnavailable',
    );
  }
  const decided = a.decision ? status.approvals.find((x) => x.step === a.step) : undefined;
  if (decided) {
    throw refused(
      `the decision for ${a.step} is already recorded (${decided.decision} by ${decided.approver}); a run takes one`,
      'AlreadyDecided',
    );
  }
  const w = status.waitingFor;
  if (w?.step !== a.step) {
    const now = w ? `it waits for ${w.who} at ${w.step}` : `it is in phase ${status.phase}, waiting for nobody`;
    throw refused(`${workflowId} is not waiting for ${a.step} (${now})`, 'NotWaiting');
  }
  try {
    await a.send(handle);
  } catch (err) {
    // It ended between the look and the signal.
    if (err instanceof WorkflowNotFoundError) throw refused(`${workflowId} has ended`, 'RunEnded');
    throw err;
  }
  if (json) {
    const report: SentReport = {
      outcome: 'sent',
      exitCode: EXIT.done,
      workflowId,
      runId,
      signal: a.signal,
      step: a.step,
    };
    return exitWith(EXIT.done, printJson(report));
  }
  return exitWith(EXIT.done, `Sent ${a.what} to ${workflowId} (run ${runId}), which was waiting for it.\n`);
}

/**
 * The payload as the run will parse it (the same schema): what the run would refuse is refused here, before
 * connecting (exit 2), with the same reason.
 */
function validPayload<T>(schema: z.ZodType<T>, payload: unknown, signal: string): T {
  const parsed = parseSignal(schema, payload);
  if (!parsed.ok) throw new CliError(`${signal}: ${parsed.reason}`, EXIT.invalid, 'InvalidInput');
  return parsed.value;
}

/** A flag's value, trimmed; empty is an invalid input (exit 2), found before connecting. */
function required(value: string | undefined, flag: string): string {
  const v = value?.trim();
  if (!v) throw new CliError(`${flag} must not be empty`, EXIT.invalid, 'InvalidInput');
  return v;
}

/** `ech-remote approve`. */
export function approve(
  id: string,
  o: { step: HumanStepId; as: string; comment?: string; json?: boolean },
): Promise<never> {
  const approver = required(o.as, '--as');
  const comment = o.comment?.trim();
  const payload = validPayload(
    approveInputSchema,
    { step: o.step, approver, ...(comment ? { comment } : {}) },
    'approve',
  );
  return answer(id, !!o.json, {
    signal: approveSignal.name,
    step: o.step,
    decision: true,
    what: `approve (${o.step}, by ${approver})`,
    send: (h) => h.signal(approveSignal, payload),
  });
}

/** `ech-remote reject`. */
export function reject(
  id: string,
  o: { step: HumanStepId; as: string; reason: string; json?: boolean },
): Promise<never> {
  const approver = required(o.as, '--as');
  const reason = required(o.reason, '--reason');
  const payload = validPayload(rejectInputSchema, { step: o.step, approver, reason }, 'reject');
  return answer(id, !!o.json, {
    signal: rejectSignal.name,
    step: o.step,
    decision: true,
    what: `reject (${o.step}, by ${approver})`,
    send: (h) => h.signal(rejectSignal, payload),
  });
}

/** `ech-remote confirm`. */
export function confirm(id: string, o: { step: HumanStepId; as: string; json?: boolean }): Promise<never> {
  const by = required(o.as, '--as');
  const payload = validPayload(confirmStepInputSchema, { step: o.step, by }, 'confirmRemoteStep');
  return answer(id, !!o.json, {
    signal: confirmRemoteStepSignal.name,
    step: o.step,
    what: `confirmRemoteStep (${o.step}, by ${by})`,
    send: (h) => h.signal(confirmRemoteStepSignal, payload),
  });
}

/** `ech-remote provide-key`. */
export function provideKey(id: string, o: { fromEnv: string; json?: boolean }): Promise<never> {
  const encoded = process.env[o.fromEnv]?.trim();
  if (!encoded)
    throw new CliError(`environment variable ${o.fromEnv} is not set or empty`, EXIT.invalid, 'InvalidInput');
  if (!ENCODED_API_KEY_RE.test(encoded)) {
    throw new CliError(
      `${o.fromEnv} does not hold an encoded API key (the "encoded" value of the create API key response)`,
      EXIT.invalid,
      'InvalidInput',
    );
  }
  validPayload(provideKeyInputSchema, { encoded }, 'provideCrossClusterApiKey');
  return answer(id, !!o.json, {
    signal: provideCrossClusterApiKeySignal.name,
    step: HUMAN_STEPS.crossClusterApiKey,
    what: `the cross-cluster API key from $${o.fromEnv} (not printed)`,
    send: (h) => h.signal(provideCrossClusterApiKeySignal, { encoded }),
  });
}

/** `ech-remote provide-ca`. */
export function provideCa(id: string, o: { file: string; json?: boolean }): Promise<never> {
  let pem: string;
  try {
    pem = fs.readFileSync(o.file, 'utf8').trim();
  } catch (err) {
    throw new CliError(`cannot read --file ${o.file}: ${(err as Error).message}`, EXIT.invalid, 'InvalidInput');
  }
  if (pem.length > MAX_CA_PEM_CHARS) {
    throw new CliError(
      `${o.file} is larger than a run accepts (${MAX_CA_PEM_CHARS} characters): hand over the CA certificate only`,
      EXIT.invalid,
      'InvalidInput',
    );
  }
  if (/PRIVATE KEY-----/.test(pem)) {
    throw new CliError(
      `${o.file} holds a private key: hand over the CA certificate only`,
      EXIT.invalid,
      'InvalidInput',
    );
  }
  if (!/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----$/.test(pem)) {
    throw new CliError(`${o.file} is not a PEM certificate`, EXIT.invalid, 'InvalidInput');
  }
  validPayload(provideCaInputSchema, { pem }, 'provideRemoteCaCertificate');
  return answer(id, !!o.json, {
    signal: provideRemoteCaCertificateSignal.name,
    step: HUMAN_STEPS.remoteCaCertificate,
    what: `the transport CA certificate from ${o.file}`,
    send: (h) => h.signal(provideRemoteCaCertificateSignal, { pem }),
  });
}
