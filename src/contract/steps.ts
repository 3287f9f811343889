/** Stable ids of the workflow's steps, including the human steps of the contract. */
export const HUMAN_STEPS = {
  remoteClusterServer: 'remote-cluster-server',
  crossClusterApiKey: 'cross-cluster-api-key',
  remoteCaCertificate: 'remote-ca-certificate',
  approveLocalChanges: 'approve-local-changes',
  remoteTrust: 'remote-trust',
} as const;
export type HumanStepId = (typeof HUMAN_STEPS)[keyof typeof HUMAN_STEPS];

export const STEP_IDS = [
  'validate',
  'preflight',
  HUMAN_STEPS.remoteClusterServer,
  HUMAN_STEPS.remoteCaCertificate,
  HUMAN_STEPS.remoteTrust,
  HUMAN_STEPS.crossClusterApiKey,
  HUMAN_STEPS.approveLocalChanges,
  'ech-trust',
  'ech-keystore',
  'connect',
  'verify',
  'roles-and-users',
  'rollback',
] as const;
export type StepId = (typeof STEP_IDS)[number];

export type Who = 'ech-org' | 'self-managed-org' | 'workflow';

export type Phase =
  | 'validating'
  | 'preflight'
  | 'remote-side'
  | 'awaiting-approval'
  | 'ech-side'
  | 'connecting'
  | 'verifying'
  | 'roles-and-users'
  | 'rolling-back'
  | 'completed'
  | 'failed'
  | 'rejected'
  | 'timed-out';

/** Everything this tool creates is tagged with this, and every cleanup path filters on it. */
export const MANAGED_BY = 'ech-remote-clusters';
export const DEFAULT_TASK_QUEUE = 'ech-remote-clusters';
