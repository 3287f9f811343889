/** What connectRemoteCluster hands each security model's steps: the request, the run's state, and its saga. */
import type { CloudTarget, DeploymentFacts, EsTarget } from '../../activities/types';
import type { ConnectRequest } from '../../contract/request';
import type { ConnectResult } from '../../contract/status';
import type { StepId } from '../../contract/steps';
import type { Compensation } from '../activity';
import type { EarlyPlanTurn } from '../deploymentPlans';
import type { RunState } from '../humanSteps';

export interface PathContext {
  r: ConnectRequest;
  workflowId: string;
  state: RunState;
  cloud: CloudTarget;
  deployment: DeploymentFacts;
  /** The self-managed cluster's API, when the request gives credentials for it. */
  remote?: EsTarget;
  humanTimeoutMs: number;
  /** What to undo, in reverse order, if a later step fails. */
  compensations: Compensation[];
  created: ConnectResult['created'];
  /** The step a failure is attributed to. */
  setCurrent(step: StepId): void;
  endWithoutChanges(outcome: 'timed-out', step: StepId): Promise<never>;
  /** Plan-turn releases sent but not yet confirmed: awaited before the run ends (src/workflows/deploymentPlans.ts). */
  pendingReleases?: Promise<void>[];
  /** A plan turn asked for during the preflight, for the trust entry (connect: see askPlanTurnEarly). */
  earlyTurn?: EarlyPlanTurn;
}
