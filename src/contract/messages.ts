/**
 * Signals, updates and the query of connectRemoteCluster. Defined here (not in the workflow file) so the CLI and the
 * client import them without pulling in workflow code; `description`s are what the Temporal UI shows.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ConnectStatus } from './status';
import type { HumanStepId } from './steps';

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
  confirmRemoteStep:
    'Self-managed org confirms it completed a step (remote-cluster-server or remote-trust). Payload: {"step":"remote-cluster-server","by":"admin@corp.example"}',
  status:
    'Phase, every step with its state, what the run waits for (step, who, instructions, artifacts), plan and result.',
} as const;
