/** Shapes of the `status` query and of the workflow result (contract). */
import type { HumanStepId, Phase, StepId, Who } from './steps';

export type StepState = 'pending' | 'running' | 'waiting' | 'done' | 'skipped' | 'failed' | 'rolled-back';

/** How a step's state is shown to people (current details in the UI, the CLI's progress). */
export const STEP_STATE_ICON: Record<StepState, string> = {
  pending: '○',
  running: '◐',
  waiting: '⏳',
  done: '✔',
  skipped: '↷',
  failed: '✖',
  'rolled-back': '↶',
};

export interface StepStatus {
  id: StepId;
  state: StepState;
  startedAt?: string;
  endedAt?: string;
  detail?: string;
}

/**
 * Machine-readable form of a human step's instructions, to apply with configuration management. A setting whose value
 * is `null` is a line to remove from elasticsearch.yml.
 */
export interface Artifacts {
  settings?: Record<string, unknown>;
  files?: Record<string, string>;
  requests?: { method: string; path: string; body?: unknown }[];
  restartRequired?: boolean;
  /**
   * When the order matters (path C: re-issued certificates before trust restrictions): apply each phase on every node,
   * restarting when it says so, before the next. `settings` and `files` are then inside the phases only.
   */
  phases?: ArtifactPhase[];
}

export interface ArtifactPhase {
  title: string;
  settings?: Record<string, unknown>;
  files?: Record<string, string>;
  restartRequired?: boolean;
}

export interface WaitingFor {
  step: HumanStepId;
  who: Who;
  instructions: string;
  artifacts?: Artifacts;
  since: string;
}

export interface PlanStep {
  step: StepId;
  who: Who;
  action: string;
  request?: {
    system: 'cloud-api' | 'ech-elasticsearch' | 'self-managed-elasticsearch';
    method: string;
    path: string;
    body?: unknown;
  };
}

export interface ConnectResult {
  alias: string;
  securityModel: 'api-key' | 'tls-certificate';
  connected: true;
  evidence: { remoteInfo: unknown; resolveCluster?: unknown; searchHits?: number };
  created: {
    apiKeyId?: string;
    keystoreEntry?: string;
    trustEntry?: string;
    clusterSettings: string[];
    roles: string[];
    /** TLS model: roles of the same names created on the self-managed cluster. */
    remoteRoles?: string[];
    users?: string[];
  };
  warnings: string[];
  durationMs: number;
}

export interface DryRunResult {
  plan: PlanStep[];
  warnings: string[];
  /** Disconnect / update access: nothing of the tool's to remove, or the access is already so. */
  nothingToDo?: boolean;
  /** Update access: the access as Elasticsearch stores it now and as the request would store it. */
  diff?: { before: unknown; after: unknown };
}

/** rotateRemoteClusterKey's result: which key the connection uses now, and what became of the old one. */
export interface RotateResult {
  alias: string;
  rotated: true;
  /** The new key (its id; the secret never leaves the encrypted payloads). */
  newKeyId: string;
  /** The key the connection used before, when the tool knows it (its own record, or the key handed over). */
  oldKeyId?: string;
  /** `invalidated` by the tool, `confirmed` by the self-managed org's signal, `unknown` when neither could be. */
  oldKey: 'invalidated' | 'confirmed' | 'unknown';
  gracePeriodMs: number;
  evidence: { remoteInfo: unknown; resolveCluster?: unknown; searchHits?: number };
  warnings: string[];
  durationMs: number;
}

/** updateRemoteClusterAccess's result. */
export interface UpdateAccessResult {
  alias: string;
  keyId?: string;
  /** Elasticsearch's `updated` of `PUT /_security/cross_cluster/api_key/<id>` (false: the access was already so). */
  updated: boolean;
  /** The access as Elasticsearch stores it, before and after. */
  before?: unknown;
  after: unknown;
  roles: string[];
  evidence?: { remoteInfo: unknown; resolveCluster?: unknown; searchHits?: number };
  warnings: string[];
  durationMs: number;
}

/** disconnectRemoteCluster's result: what was removed (or, with `nothingToDo`, that nothing of ours was left). */
export interface DisconnectResult {
  alias: string;
  nothingToDo: boolean;
  removed: {
    clusterSettings: string[];
    keystoreEntry?: string;
    trustEntry?: string;
    apiKeyIds: string[];
    roles: string[];
    users: string[];
    ownershipRecord: boolean;
  };
  /** What was found but left, and why (another alias uses the trust entry, an adopted alias's other objects…). */
  left: { item: string; why: string }[];
  warnings: string[];
  durationMs: number;
}

/** migrateRemoteClusterToApiKey's result: the alias in the API-key model, verified, and what was removed after. */
export interface MigrateResult {
  alias: string;
  migrated: true;
  securityModel: 'api-key';
  /** The cross-cluster API key the alias uses now (its id; the secret never leaves the encrypted payloads). */
  apiKeyId: string;
  /** The settings the certificate connection had (what a rollback would have put back). */
  previousSettings: Record<string, unknown>;
  clusterSettings: string[];
  keystoreEntry: string;
  /** The `proxy` trust entry made for a private remote cluster server CA. */
  trustEntry?: string;
  roles: string[];
  /** With `removeLeftovers`: the certificate model's trust entry and same-named remote roles this tool had made. */
  removed: { trustEntry?: string; remoteRoles: string[] };
  evidence: { remoteInfo: unknown; resolveCluster?: unknown; searchHits?: number };
  warnings: string[];
  durationMs: number;
}

export type RunResult =
  ConnectResult | RotateResult | UpdateAccessResult | DisconnectResult | MigrateResult | DryRunResult;

export interface ConnectStatus {
  phase: Phase;
  steps: StepStatus[];
  waitingFor?: WaitingFor;
  plan?: PlanStep[];
  result?: RunResult;
  /** What is left in place after a failure with onFailure "keep", or what a rollback removed. */
  cleanup?: { mode: 'rollback' | 'keep'; items: string[]; outcomes?: CleanupOutcome[] };
  error?: { type: string; message: string };
  approvals: { step: HumanStepId; approver: string; decision: 'approved' | 'rejected'; comment?: string; at: string }[];
  /**
   * Signals the run refused (bad payload, or nothing awaited it), newest last, at most MAX_REFUSED_SIGNALS; the
   * reason names fields, never the value sent.
   */
  refused?: { signal: string; at: string; reason: string }[];
}

/** The status of every lifecycle workflow (connect's, by its first name). */
export type RunStatus = ConnectStatus;

export const MAX_REFUSED_SIGNALS = 20;

/**
 * What became of one item of a rollback: undone; failed (and why: it is left for a person to remove); or left (and why:
 * onFailure "keep", or someone else changed it since the run wrote it).
 */
export interface CleanupOutcome {
  item: string;
  outcome: 'undone' | 'failed' | 'left';
  why?: string;
}
