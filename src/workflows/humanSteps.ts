/**
 * The run's visible state (the `status` query, the UI's current details, the Phase search attribute) and waiting for
 * a person: a step waits for its signal or its timeout, while status and current details say who must do what.
 */
import * as wf from '@temporalio/workflow';
import {
  MAX_REFUSED_SIGNALS,
  STEP_STATE_ICON,
  type CleanupOutcome,
  type ConnectStatus,
  type StepState,
  type WaitingFor,
} from '../contract/status';
import type { HumanStepId, Phase as PhaseName, StepId, Who } from '../contract/steps';
import { Phase } from '../contract/searchAttributes';
import type { HumanInstructions } from '../domain/instructions';

export class RunState {
  readonly status: ConnectStatus = { phase: 'validating', steps: [], approvals: [] };

  constructor(private readonly title: string) {}

  setPhase(phase: PhaseName): void {
    this.status.phase = phase;
    wf.upsertSearchAttributes([{ key: Phase, value: phase }]);
    this.publish();
  }

  step(id: StepId, state: StepState, detail?: string): void {
    const now = new Date().toISOString();
    let s = this.status.steps.find((x) => x.id === id);
    if (!s) {
      s = { id, state };
      this.status.steps.push(s);
    }
    if (state === 'running' || state === 'waiting') s.startedAt ??= now;
    if (['done', 'skipped', 'failed', 'rolled-back'].includes(state)) s.endedAt = now;
    s.state = state;
    if (detail !== undefined) s.detail = detail;
    this.publish();
  }

  /** A signal the run refused: recorded (bounded, newest kept) so the sender can see why nothing happened. */
  refuse(signal: string, reason: string): void {
    const refused = (this.status.refused ??= []);
    refused.push({ signal, at: new Date().toISOString(), reason: reason.slice(0, 500) });
    if (refused.length > MAX_REFUSED_SIGNALS) refused.splice(0, refused.length - MAX_REFUSED_SIGNALS);
    wf.log.warn(`signal ${signal} refused: ${reason.slice(0, 500)}`);
    this.publish();
  }

  /** Markdown for the Temporal UI: what is done, what the run waits for, from whom, with the instructions. */
  publish(): void {
    const lines = [`## ${this.title}`, `**Phase:** ${this.status.phase}`, ''];
    for (const s of this.status.steps) {
      lines.push(`- ${STEP_STATE_ICON[s.state]} \`${s.id}\` ${s.state}${s.detail ? ` — ${s.detail}` : ''}`);
    }
    const w = this.status.waitingFor;
    if (w) {
      lines.push('', `### Waiting for **${w.who}** since ${w.since} (step \`${w.step}\`)`, '', w.instructions);
    }
    const refused = this.status.refused?.at(-1);
    if (refused) lines.push('', `Last refused signal: \`${refused.signal}\` at ${refused.at}: ${refused.reason}`);
    if (this.status.error) lines.push('', `### Failed: ${this.status.error.type}`, this.status.error.message);
    if (this.status.cleanup) {
      lines.push('', `### ${this.status.cleanup.mode === 'rollback' ? 'Rolled back' : 'Left in place'}`);
      const outcomes: CleanupOutcome[] =
        this.status.cleanup.outcomes ?? this.status.cleanup.items.map((item) => ({ item, outcome: 'undone' }));
      lines.push(...outcomes.map((o) => `- ${o.outcome}: ${o.item}${o.outcome === 'failed' ? ` (${o.why})` : ''}`));
    }
    wf.setCurrentDetails(lines.join('\n'));
  }

  /**
   * Wait until `answered()` or the timeout. Returns false on timeout. The status names the step, who must act and
   * the instructions for as long as the wait lasts.
   */
  async waitForHuman(
    step: HumanStepId,
    who: Who,
    help: HumanInstructions,
    timeoutMs: number,
    answered: () => boolean,
  ): Promise<boolean> {
    const waiting: WaitingFor = { step, who, instructions: help.instructions, since: new Date().toISOString() };
    if (help.artifacts) waiting.artifacts = help.artifacts;
    this.status.waitingFor = waiting;
    this.step(step, 'waiting', `waiting for ${who}`);
    const ok = await wf.condition(answered, timeoutMs);
    this.status.waitingFor = undefined;
    this.publish();
    return ok;
  }
}
