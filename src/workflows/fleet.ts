/**
 * connectRemoteClusters (fleet): many connections, each a child connectRemoteCluster run under the id `ech-remote
 * connect` gives it (`connect-<deploymentId>-<alias>`), `concurrency` at a time.
 *
 *   validate every connection → plan (each child's dry run, when someone must approve) → one approval (or one per
 *   deployment) showing every change → the children, each handed the approval → one report
 *
 * The approval reaches a child as the `approve` signal any approver could send, recorded in the child's own status with
 * the approver's name and this fleet's id: the child trusts no flag of its caller and keeps its audit trail. A child
 * that fails is reported (which and why) and never rolls back another. A connection already there (the alias exists,
 * made by this tool, same proxy address, connected now) is `already-connected`, neither redone nor failed: re-running
 * the same request completes only what is missing. Cancelling the fleet cancels every connection not started yet; the
 * ones already started are left to finish on their own (their ids are in the report): each is a complete connect with
 * its own rollback, and cutting it short would only roll it back.
 */
import * as wf from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ApplicationFailure } from '@temporalio/workflow';
import { durationToMs } from '../contract/duration';
import {
  connectionWorkflowId,
  countConnections,
  fleetApproveInputSchema,
  fleetApproveSignal,
  fleetRejectInputSchema,
  fleetRejectSignal,
  fleetStatusQuery,
  validateFleetRequest,
  type FleetApproveInput,
  type FleetConnection,
  type FleetRejectInput,
  type FleetRequest,
  type FleetResult,
  type FleetStatus,
} from '../contract/fleet';
import { approveSignal, parseSignal } from '../contract/messages';
import { formatProblems, type ConnectRequest } from '../contract/request';
import { EchDeploymentId, Phase, WorkflowKind } from '../contract/searchAttributes';
import type { ConnectResult, DryRunResult } from '../contract/status';
import { HUMAN_STEPS } from '../contract/steps';
import { activity } from './activity';
import { connectRemoteCluster } from './connect';
import { failureMessage, failureType } from './run';
import { resolveTargets } from './targets';

/** The plan steps an approver decides on (the ones that change something), as in connect's own approval. */
const CHANGE_STEPS = ['cross-cluster-api-key', 'ech-trust', 'ech-keystore', 'connect', 'roles-and-users'];

type Decision = { decision: 'approved'; input: FleetApproveInput } | { decision: 'rejected'; input: FleetRejectInput };

export async function connectRemoteClusters(input: unknown): Promise<FleetResult> {
  const started = Date.now();
  const { workflowId } = wf.workflowInfo();
  const status: FleetStatus = {
    phase: 'validating',
    approval: 'none',
    connections: [],
    counts: countConnections([]),
    approvals: [],
    refused: [],
  };
  wf.setHandler(fleetStatusQuery, () => status, {
    description: 'Where the fleet stands: every connection (done, waiting, failed with why) and the approval awaited',
  });
  let published: string | undefined;
  const publish = (): void => {
    status.counts = countConnections(status.connections);
    // Only a change of phase is a command in the history: 50 children must not mean hundreds of upserts.
    if (published !== status.phase) wf.upsertSearchAttributes([{ key: Phase, value: status.phase }]);
    published = status.phase;
    wf.setCurrentDetails(details(status));
  };
  const setPhase = (phase: FleetStatus['phase']): void => {
    status.phase = phase;
    publish();
  };
  wf.upsertSearchAttributes([{ key: WorkflowKind, value: 'fleet' }]);

  // 1. Validate every connection: nothing is started before all of them pass.
  const v = validateFleetRequest(input);
  if (!v.ok) {
    const message = formatProblems(v.problems, 'FleetRequest');
    status.error = { type: 'InvalidRequest', message };
    setPhase('failed');
    throw ApplicationFailure.create({ type: 'InvalidRequest', message, nonRetryable: true, details: [v.problems] });
  }
  const r: FleetRequest = v.request;
  const deployments = [...new Set(r.connections.map((c) => c.local.deploymentId))];
  if (deployments.length === 1) wf.upsertSearchAttributes([{ key: EchDeploymentId, value: deployments[0]! }]);
  status.connections = r.connections.map((c, index) => ({
    index,
    deploymentId: c.local.deploymentId,
    alias: c.alias,
    proxyAddress: c.remote.proxyAddress,
    workflowId: connectionWorkflowId(c),
    state: 'pending',
  }));
  const needsApproval = (i: number): boolean =>
    !r.dryRun && (r.connections[i] as ConnectRequest).approvals.beforeLocalChanges;
  const anyApproval = r.connections.some((_, i) => needsApproval(i));
  status.approval = anyApproval ? r.approval : 'none';
  /** Who decides a connection: the batch (`*`) or its deployment. */
  const groupOf = (c: FleetConnection): string => (r.approval === 'batch' ? '*' : c.deploymentId);

  // Decisions arrive by signal, possibly before the plan (approval in advance, as `ech-remote connect --approve`).
  const decisions = new Map<string, Decision>();
  const closed = new Set<string>(); // groups whose wait ended without a decision (timed out)
  const decide = (kind: 'approve' | 'reject', raw: unknown): void => {
    const parsed =
      kind === 'approve' ? parseSignal(fleetApproveInputSchema, raw) : parseSignal(fleetRejectInputSchema, raw);
    const refuse = (reason: string): void => {
      status.refused.push({ signal: kind, at: new Date().toISOString(), reason });
      if (status.refused.length > 20) status.refused.splice(0, status.refused.length - 20);
      publish();
    };
    if (!parsed.ok) return refuse(parsed.reason);
    const a = parsed.value;
    if (a.step !== HUMAN_STEPS.approveLocalChanges) {
      return refuse(`step "${a.step}" takes no decision (only ${HUMAN_STEPS.approveLocalChanges} does)`);
    }
    if (status.approval === 'none') return refuse('this fleet asks for no approval');
    let group = '*';
    if (r.approval === 'batch') {
      if (a.deploymentId !== undefined) return refuse('deploymentId: the approval of this fleet is one for the batch');
    } else {
      if (a.deploymentId === undefined) return refuse('deploymentId: approvals of this fleet are per deployment');
      if (!deployments.includes(a.deploymentId)) return refuse('deploymentId: not a deployment of this fleet');
      group = a.deploymentId;
    }
    const earlier = decisions.get(group);
    if (earlier) return refuse(`${earlier.decision} already by ${earlier.input.approver}; a decision is final`);
    if (closed.has(group)) return refuse('the approval timed out; nothing of it was started');
    decisions.set(
      group,
      kind === 'approve'
        ? { decision: 'approved', input: a as FleetApproveInput }
        : { decision: 'rejected', input: a as FleetRejectInput },
    );
    status.approvals.push({
      step: a.step,
      approver: a.approver,
      decision: kind === 'approve' ? 'approved' : 'rejected',
      ...('comment' in a && a.comment ? { comment: a.comment } : {}),
      ...('reason' in a ? { comment: a.reason } : {}),
      ...(a.deploymentId ? { deploymentId: a.deploymentId } : {}),
      at: new Date().toISOString(),
    });
    publish();
  };
  wf.setHandler(fleetApproveSignal, (raw: unknown) => decide('approve', raw), {
    description:
      'Approve the fleet\'s ECH changes: {"step":"approve-local-changes","approver":"…","deploymentId"?:"…"}',
  });
  wf.setHandler(fleetRejectSignal, (raw: unknown) => decide('reject', raw), {
    description: 'Reject: {"step":"approve-local-changes","approver":"…","reason":"…","deploymentId"?:"…"}',
  });
  publish();

  /** `concurrency` lanes over `todo`, each taking the first connection `ready` lets go (in the request's order). */
  async function lanes(todo: number[], work: (i: number) => Promise<void>, ready = (_i: number) => true) {
    const queue = [...todo];
    const lane = async (): Promise<void> => {
      for (;;) {
        await wf.condition(() => queue.length === 0 || queue.some(ready));
        const at = queue.findIndex(ready);
        if (at < 0) return;
        const [i] = queue.splice(at, 1);
        await work(i as number);
      }
    };
    await Promise.all(Array.from({ length: Math.min(r.concurrency, queue.length) }, lane));
  }

  try {
    // 2. Plan: each child's dry run (read-only, no lease), so that the approval shows every change.
    if (anyApproval || r.dryRun) {
      setPhase('planning');
      await lanes(
        status.connections.map((c) => c.index),
        (i) => plan(i),
      );
    }
    if (r.dryRun) return finish(true);

    // 3. Approval (batch or per deployment), then 4. the connections, `concurrency` at a time.
    const toRun = status.connections.filter((c) => c.state === 'pending' || c.state === 'planned').map((c) => c.index);
    const groups = [...new Set(toRun.filter(needsApproval).map((i) => groupOf(status.connections[i]!)))];
    for (const i of toRun) if (needsApproval(i)) status.connections[i]!.state = 'awaiting-approval';
    const undecided = (): string[] => groups.filter((g) => !decisions.has(g) && !closed.has(g));
    const waitForDecisions = async (): Promise<void> => {
      if (groups.length === 0) return;
      status.waitingFor = {
        step: HUMAN_STEPS.approveLocalChanges,
        who: 'ech-org',
        deploymentIds: r.approval === 'batch' ? deployments : undecided(),
        instructions: approvalInstructions(workflowId, r, status.connections, groups),
        since: new Date().toISOString(),
      };
      setPhase('awaiting-approval');
      await wf.condition(() => undecided().length === 0, durationToMs(r.approvalTimeout));
      for (const g of undecided()) closed.add(g);
      status.waitingFor = undefined;
      publish();
    };
    const decisionOf = (i: number): Decision | 'timed-out' | undefined => {
      if (!needsApproval(i)) return undefined;
      const g = groupOf(status.connections[i]!);
      return decisions.get(g) ?? (closed.has(g) ? 'timed-out' : undefined);
    };
    const ready = (i: number): boolean => !needsApproval(i) || decisionOf(i) !== undefined;
    const connecting = lanes(toRun, (i) => connectOne(i, decisionOf(i)), ready);
    // Per deployment, a deployment approved starts while others still wait (the phase stays awaiting-approval).
    const waited = waitForDecisions().then(() => {
      if (status.phase === 'awaiting-approval') setPhase('connecting');
    });
    if (groups.length === 0) setPhase('connecting');
    await Promise.all([connecting, waited]);
    return finish(false);
  } catch (err) {
    if (!wf.isCancellation(err)) throw err;
    // Cancelled: what has not started never will; what runs is left to finish (its own run, its own rollback).
    for (const c of status.connections) {
      if (['pending', 'planning', 'planned', 'awaiting-approval'].includes(c.state)) {
        c.state = 'cancelled';
        c.reason = 'the fleet was cancelled before this connection started; nothing of it was changed';
      } else if (c.state === 'running') {
        c.reason = `the fleet was cancelled while this connection ran; it goes on as ${c.workflowId} (ech-remote status ${c.workflowId})`;
      }
    }
    status.waitingFor = undefined;
    setPhase('cancelled');
    throw err;
  }

  function finish(dryRun: boolean): FleetResult {
    const ok = status.connections.every((c) => c.state === 'connected' || c.state === 'already-connected');
    const allRejected = status.connections.every((c) => c.state === 'rejected');
    const allTimedOut = status.connections.every((c) => c.state === 'timed-out');
    setPhase(dryRun || ok ? 'completed' : allRejected ? 'rejected' : allTimedOut ? 'timed-out' : 'failed');
    wf.upsertMemo({ fleetCounts: status.counts });
    return {
      ok: dryRun ? status.connections.every((c) => c.state !== 'failed') : ok,
      // The plans were for the approval (the status query still has them); the result, kept in the history, is the
      // report: a dry run's plans are its point.
      connections: dryRun ? status.connections : status.connections.map(({ plan: _plan, ...c }) => c),
      counts: status.counts,
      approvals: status.approvals,
      ...(dryRun ? { dryRun: true } : {}),
      durationMs: Date.now() - started,
    };
  }

  /** The child's dry run: its plan, or why it would fail (then it is not started at all). */
  async function plan(i: number): Promise<void> {
    const c = status.connections[i]!;
    c.state = 'planning';
    publish();
    try {
      const res = (await wf.executeChild(connectRemoteCluster, {
        workflowId: `${workflowId}/plan/${c.deploymentId}/${c.alias}`,
        args: [{ ...r.inputs[i], dryRun: true }],
        parentClosePolicy: 'TERMINATE',
        staticSummary: `Plan of ${c.alias} on ECH ${c.deploymentId} (fleet ${workflowId})`,
      })) as DryRunResult;
      c.plan = res.plan;
      c.state = 'planned';
    } catch (err) {
      await childFailed(i, err);
    }
    publish();
  }

  async function connectOne(i: number, decision: Decision | 'timed-out' | undefined): Promise<void> {
    const c = status.connections[i]!;
    if (decision === 'timed-out') {
      c.state = 'timed-out';
      c.reason = `nobody decided on the approval within ${r.approvalTimeout}; this connection was not started`;
      return publish();
    }
    if (decision?.decision === 'rejected') {
      c.state = 'rejected';
      c.reason = `rejected by ${decision.input.approver}: ${decision.input.reason}; this connection was not started`;
      return publish();
    }
    c.state = 'running';
    publish();
    try {
      const child = await wf.startChild(connectRemoteCluster, {
        workflowId: c.workflowId,
        args: [r.inputs[i]],
        // A started connection is a run of its own: it outlives the fleet and is not cut short by its cancellation.
        parentClosePolicy: 'ABANDON',
        cancellationType: wf.ChildWorkflowCancellationType.ABANDON,
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: `Connect ECH ${c.deploymentId} to ${c.proxyAddress} as "${c.alias}" (fleet ${workflowId})`,
      });
      if (decision) {
        const by = decision.input.approver;
        const what = r.approval === 'batch' ? 'batch approval' : `approval of deployment ${c.deploymentId}`;
        const comment = `fleet ${workflowId}: ${what}${decision.input.comment ? `: ${decision.input.comment}` : ''}`;
        // A child that already ended (its preflight failed at once) cannot take it: its result says why, not this.
        await child
          .signal(approveSignal, {
            step: HUMAN_STEPS.approveLocalChanges,
            approver: by,
            comment: comment.slice(0, 1000),
          })
          .catch(() => undefined);
      }
      const res = (await child.result()) as ConnectResult;
      c.state = 'connected';
      if (res.created.apiKeyId) c.apiKeyId = res.created.apiKeyId;
      c.durationMs = res.durationMs;
    } catch (err) {
      if (wf.isCancellation(err)) throw err;
      await childFailed(i, err);
    }
    publish();
  }

  /** A child that failed: an alias already connected by this tool is `already-connected`; anything else, why. */
  async function childFailed(i: number, err: unknown): Promise<void> {
    const c = status.connections[i]!;
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      c.state = 'failed';
      c.errorType = 'ConnectionBusy';
      c.reason = `another run of this connection is going (${c.workflowId}, started outside this fleet): follow it with ech-remote status ${c.workflowId}`;
      return;
    }
    const cause = err instanceof wf.ChildWorkflowFailure ? (err.cause ?? err) : err;
    const type = failureType(cause);
    if (type === 'AliasInUse') {
      const existing = await alreadyConnected(r.connections[i] as ConnectRequest);
      if (existing.connected) {
        c.state = 'already-connected';
        c.reason = existing.why;
        delete c.plan;
        return;
      }
      c.state = 'failed';
      c.errorType = type;
      c.reason = `${failureMessage(cause)}\n${existing.why}`;
      return;
    }
    c.state = 'failed';
    c.errorType = type;
    c.reason = failureMessage(cause);
    // A child that waited for the self-managed org in vain: say for what and where (its own message names the step).
    const human = (c.plan ?? []).filter((p) => p.who === 'self-managed-org');
    if (type === 'HumanStepTimedOut' && human.length) {
      c.reason +=
        `\nIt waited for the self-managed org at ${c.proxyAddress}: ${human.map((p) => `${p.step} (${p.action})`).join('; ')}. ` +
        `Once done (or the address fixed), run the fleet again.`;
    }
  }

  /**
   * Whether the alias that is in the way is this connection, made before: ours (our ownership record), the same
   * proxy address and security model, and connected now. Read-only.
   */
  async function alreadyConnected(req: ConnectRequest): Promise<{ connected: boolean; why: string }> {
    try {
      const { local } = await resolveTargets(req, (e) => {
        throw e;
      });
      const facts = await activity(`Read ${req.alias}`).readConnection({ target: local, alias: req.alias });
      if (!facts.record) return { connected: false, why: `"${req.alias}" was not made by this tool.` };
      const address = facts.settings[`cluster.remote.${req.alias}.proxy_address`];
      if (address !== req.remote.proxyAddress) {
        return {
          connected: false,
          why: `"${req.alias}" points at ${String(address)}, not at ${req.remote.proxyAddress}: disconnect it first, or choose another alias.`,
        };
      }
      if (facts.record.security_model && facts.record.security_model !== req.securityModel) {
        return {
          connected: false,
          why: `"${req.alias}" uses the ${facts.record.security_model} model, not ${req.securityModel}.`,
        };
      }
      const check = await activity(`Check ${req.alias}`).checkRemoteConnection({
        target: local,
        alias: req.alias,
        securityModel: req.securityModel,
        ...(req.verify.searchIndex ? { searchIndex: req.verify.searchIndex } : {}),
      });
      if (!check.ok) {
        return {
          connected: false,
          why: `"${req.alias}" is ours but does not work: ${check.problem ?? 'not connected'}`,
        };
      }
      return {
        connected: true,
        why:
          `made by ${facts.record.workflow_id ?? 'this tool'} and connected` +
          (check.searchHits !== undefined ? ` (search found ${check.searchHits} hits)` : '') +
          '; left as it is',
      };
    } catch (err) {
      return { connected: false, why: `Could not check the existing alias: ${failureMessage(err).split('\n')[0]}` };
    }
  }
}

/** Markdown for the approver: every connection's changes, per deployment. */
function approvalInstructions(
  workflowId: string,
  r: FleetRequest,
  connections: FleetConnection[],
  groups: string[],
): string {
  const todo = connections.filter((c) => c.state === 'awaiting-approval');
  const lines = [
    `Fleet \`${workflowId}\`: ${todo.length} connection(s) to ${new Set(todo.map((c) => c.deploymentId)).size} ECH deployment(s) wait for your decision. Nothing is changed until you decide.`,
    r.approval === 'batch'
      ? 'One decision covers them all: `ech-remote approve <fleet id> --step approve-local-changes --as NAME`.'
      : `One decision per deployment (${groups.join(', ')}): send \`approve\` with \`deploymentId\` (\`ech-remote fleet --request FILE --approve --as NAME\` approves every deployment of the request).`,
  ];
  const skipped = connections.filter((c) => c.state !== 'awaiting-approval' && c.state !== 'pending');
  for (const d of new Set(todo.map((c) => c.deploymentId))) {
    lines.push('', `### ECH deployment \`${d}\``);
    for (const c of todo.filter((x) => x.deploymentId === d)) {
      lines.push('', `**\`${c.alias}\`** → \`${c.proxyAddress}\` (run \`${c.workflowId}\`)`);
      for (const p of (c.plan ?? []).filter((s) => CHANGE_STEPS.includes(s.step))) {
        const req = p.request ? ` — \`${p.request.method} ${p.request.path}\` (${p.request.system})` : '';
        lines.push(`- \`${p.step}\` (${p.who}): ${p.action}${req}`);
      }
    }
  }
  if (skipped.length) {
    lines.push('', '### Not part of this decision');
    for (const c of skipped)
      lines.push(
        `- \`${c.deploymentId}\` \`${c.alias}\`: ${c.state}${c.reason ? ` — ${c.reason.split('\n')[0]}` : ''}`,
      );
  }
  return lines.join('\n');
}

/** The Temporal UI's current details: counts, the approval awaited, the connections not (yet) done. */
function details(s: FleetStatus): string {
  const counts = Object.entries(s.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const lines = [`## Connect remote clusters (fleet)`, `**Phase:** ${s.phase}`, '', `**Connections:** ${counts}`];
  if (s.waitingFor)
    lines.push('', `### Waiting for **ech-org** since ${s.waitingFor.since}`, '', s.waitingFor.instructions);
  const notable = s.connections.filter((c) => ['failed', 'rejected', 'timed-out', 'running'].includes(c.state));
  if (notable.length) {
    lines.push('');
    for (const c of notable.slice(0, 100)) {
      lines.push(
        `- \`${c.deploymentId}\` \`${c.alias}\`: ${c.state}${c.reason ? ` — ${c.reason.split('\n')[0]}` : ''}`,
      );
    }
  }
  return lines.join('\n');
}
