/** Stable ids of the workflow's steps, including the human steps of the contract. */
export const HUMAN_STEPS = {
  remoteClusterServer: 'remote-cluster-server',
  crossClusterApiKey: 'cross-cluster-api-key',
  remoteCaCertificate: 'remote-ca-certificate',
  approveLocalChanges: 'approve-local-changes',
  remoteTrust: 'remote-trust',
  /** Rotate / update access / disconnect without remote credentials: the self-managed org acts on the key by hand. */
  invalidateOldKey: 'invalidate-old-key',
  updateRemoteKey: 'update-remote-key',
  invalidateRemoteKey: 'invalidate-remote-key',
  /** migrateRemoteClusterToApiKey: the ECH org pauses CCR, transforms and datafeeds that use the alias (re-read). */
  pauseOperations: 'pause-operations',
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
  // rotateRemoteClusterKey
  'verify-new-key',
  'grace-period',
  HUMAN_STEPS.invalidateOldKey,
  'verify-after-invalidation',
  // updateRemoteClusterAccess
  HUMAN_STEPS.updateRemoteKey,
  // disconnectRemoteCluster
  'disconnect',
  HUMAN_STEPS.invalidateRemoteKey,
  // migrateRemoteClusterToApiKey
  HUMAN_STEPS.pauseOperations,
  'switch-to-api-key',
  'remove-leftovers',
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
  | 'grace-period'
  | 'invalidating-old-key'
  | 'updating-access'
  | 'disconnecting'
  | 'rolling-back'
  | 'completed'
  | 'failed'
  | 'rejected'
  | 'timed-out';

/** Everything this tool creates is tagged with this, and every cleanup path filters on it. */
export const MANAGED_BY = 'ech-remote-clusters';
export const DEFAULT_TASK_QUEUE = 'ech-remote-clusters';

/** The lifecycle workflows, as the `Workflow` search attribute names them. */
export const WORKFLOW_KINDS = ['connect', 'rotate', 'update-access', 'disconnect', 'migrate'] as const;
export type WorkflowKind = (typeof WORKFLOW_KINDS)[number];

/**
 * The steps the self-managed org confirms with `confirmRemoteStep`, per workflow: the one list the workflows accept
 * and `ech-remote confirm --step` offers (a step a workflow's instructions print must be answerable from the CLI).
 */
export const CONFIRMABLE_STEPS = {
  connect: [HUMAN_STEPS.remoteClusterServer, HUMAN_STEPS.remoteTrust],
  rotate: [HUMAN_STEPS.invalidateOldKey],
  'update-access': [HUMAN_STEPS.updateRemoteKey],
  disconnect: [],
  migrate: [HUMAN_STEPS.remoteClusterServer],
} as const satisfies Record<WorkflowKind, readonly HumanStepId[]>;

/** Every step some workflow lets the self-managed org confirm, in contract order. */
export const ALL_CONFIRMABLE_STEPS: readonly HumanStepId[] = [
  ...new Set<HumanStepId>(WORKFLOW_KINDS.flatMap((k) => CONFIRMABLE_STEPS[k])),
];
