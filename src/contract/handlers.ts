/**
 * The names, payload types and limits of connectRemoteCluster's signals and query, without zod and without
 * @temporalio/workflow: what `ech-remote status` and `connect` need to ask a run (their start stays small), and what
 * the workflow bundle shares between cached runs. The payload schemas that parse them are in ./messages.
 */
import type { QueryDefinition, SignalDefinition } from '@temporalio/common';
import type { ConnectStatus } from './status';
import { ALL_CONFIRMABLE_STEPS, type HumanStepId } from './steps';

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

/** The longest encoded cross-cluster API key accepted (real ones are under 100 characters). */
export const MAX_ENCODED_API_KEY_CHARS = 512;

export interface ProvideCaInput {
  pem: string;
}
export interface ConfirmStepInput {
  step: HumanStepId;
  by?: string;
  approver?: string;
  comment?: string;
}

export type SignalName =
  'approve' | 'reject' | 'provideCrossClusterApiKey' | 'provideRemoteCaCertificate' | 'confirmRemoteStep';

// What @temporalio/workflow's defineSignal / defineQuery return (a plain { type, name }), written here so that a
// client does not load the workflow library to name them.
const signal = <Args extends unknown[]>(name: SignalName): SignalDefinition<Args> =>
  ({ type: 'signal', name }) as SignalDefinition<Args>;
const query = <Ret>(name: string): QueryDefinition<Ret> => ({ type: 'query', name }) as QueryDefinition<Ret>;

export const approveSignal = signal<[ApproveInput]>('approve');
export const rejectSignal = signal<[RejectInput]>('reject');
export const provideCrossClusterApiKeySignal = signal<[ProvideKeyInput]>('provideCrossClusterApiKey');
export const provideRemoteCaCertificateSignal = signal<[ProvideCaInput]>('provideRemoteCaCertificate');
export const confirmRemoteStepSignal = signal<[ConfirmStepInput]>('confirmRemoteStep');
export const statusQuery = query<ConnectStatus>('status');

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
