/**
 * connectRemoteCluster: validate, preflight, remote side, approval, ECH side, connect, verify, roles and users, with a
 * saga that undoes, in reverse order, only what this run created. Orchestration only: every external call is an
 * activity; every body comes from src/domain/requests.ts.
 */
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import type { CloudTarget, EsTarget } from '../activities/types';
import { durationToMs } from '../contract/duration';
import {
  HANDLER_DESCRIPTIONS,
  approveInputSchema,
  approveSignal,
  confirmStepInputSchema,
  parseSignal,
  provideCaInputSchema,
  provideKeyInputSchema,
  rejectInputSchema,
  confirmRemoteStepSignal,
  provideCrossClusterApiKeySignal,
  provideRemoteCaCertificateSignal,
  rejectSignal,
  statusQuery,
  type ApproveInput,
  type RejectInput,
  type SignalName,
} from '../contract/messages';
import { formatProblems, sameHttpsEndpoint, validateConnectRequest, type ConnectRequest } from '../contract/request';
import { EchDeploymentId, RemoteClusterAlias, SecurityModel } from '../contract/searchAttributes';
import type { CleanupOutcome, ConnectResult, DryRunResult } from '../contract/status';
import { HUMAN_STEPS, type StepId } from '../contract/steps';
import { approvalInstructions } from '../domain/instructions';
import { buildPlan } from '../domain/plan';
import {
  LOCAL_REQUIRED_PRIVILEGES,
  REMOTE_REQUIRED_PRIVILEGES,
  evaluatePreflight,
  formatFindings,
  preflightFailureType,
  remoteClusterServerProven,
  secretReferences,
} from '../domain/preflight';
import { connectRequest, roleRequest, userRequest } from '../domain/requests';
import { selfManagedIdentity, type SelfManagedIdentity } from '../domain/tlsCertificate';
import { VERIFY_OPTIONS, activity, type Compensation } from './activity';
import { acquireConnectionLease } from './connectionLease';
import { RunState } from './humanSteps';
import { apiKeyEchSide, apiKeyRemoteSide, type ApiKeyPathContext } from './paths/apiKey';
import { ensureRemoteRole, tlsEchTrust, tlsRemoteSide, type TlsPathContext } from './paths/tlsCertificate';

export async function connectRemoteCluster(input: unknown): Promise<ConnectResult | DryRunResult> {
  const started = Date.now();
  const { workflowId } = wf.workflowInfo();
  const state = new RunState('Connect remote cluster');
  const status = state.status;

  // Handlers first, so a signal sent right after start is never lost. Every payload is parsed before it touches the
  // run's state; a bad one is refused and recorded in the status (never thrown: that would wedge the run).
  let approval:
    { decision: 'approved'; input: ApproveInput } | { decision: 'rejected'; input: RejectInput } | undefined;
  let providedKey: string | undefined;
  let providedCaPem: string | undefined;
  const confirmed = new Set<string>();
  const refuse = (signal: SignalName, reason: string): void => state.refuse(signal, reason);
  const decide = (signal: 'approve' | 'reject', raw: unknown): void => {
    const parsed = signal === 'approve' ? parseSignal(approveInputSchema, raw) : parseSignal(rejectInputSchema, raw);
    if (!parsed.ok) return refuse(signal, parsed.reason);
    const a = parsed.value;
    if (a.step !== HUMAN_STEPS.approveLocalChanges) {
      return refuse(signal, `step "${a.step}" takes no decision (only ${HUMAN_STEPS.approveLocalChanges} does)`);
    }
    if (approval) {
      return refuse(signal, `${approval.decision} already by ${approval.input.approver}; a decision is final`);
    }
    if (status.phase !== 'validating' && !['preflight', 'remote-side', 'awaiting-approval'].includes(status.phase)) {
      return refuse(signal, `the run is past the approval (phase ${status.phase})`);
    }
    approval =
      signal === 'approve'
        ? { decision: 'approved', input: a as ApproveInput }
        : { decision: 'rejected', input: a as RejectInput };
    status.approvals.push({
      step: a.step,
      approver: a.approver,
      decision: approval.decision,
      ...('comment' in a && a.comment ? { comment: a.comment } : {}),
      ...('reason' in a ? { comment: a.reason } : {}),
      at: new Date().toISOString(),
    });
    state.publish();
  };
  wf.setHandler(statusQuery, () => status, { description: HANDLER_DESCRIPTIONS.status });
  wf.setHandler(approveSignal, (raw: unknown) => decide('approve', raw), {
    description: HANDLER_DESCRIPTIONS.approve,
  });
  wf.setHandler(rejectSignal, (raw: unknown) => decide('reject', raw), { description: HANDLER_DESCRIPTIONS.reject });
  wf.setHandler(
    provideCrossClusterApiKeySignal,
    (raw: unknown) => {
      const parsed = parseSignal(provideKeyInputSchema, raw);
      if (!parsed.ok) return refuse('provideCrossClusterApiKey', parsed.reason);
      if (providedKey !== undefined) return refuse('provideCrossClusterApiKey', 'a key was already provided');
      providedKey = parsed.value.encoded;
    },
    { description: HANDLER_DESCRIPTIONS.provideCrossClusterApiKey },
  );
  wf.setHandler(
    provideRemoteCaCertificateSignal,
    (raw: unknown) => {
      // Checked again by an activity (@peculiar/x509) before use: a certificate, a CA, no key, not expired.
      const parsed = parseSignal(provideCaInputSchema, raw);
      if (!parsed.ok) return refuse('provideRemoteCaCertificate', parsed.reason);
      providedCaPem = parsed.value.pem.trim();
    },
    { description: HANDLER_DESCRIPTIONS.provideRemoteCaCertificate },
  );
  wf.setHandler(
    confirmRemoteStepSignal,
    (raw: unknown) => {
      const parsed = parseSignal(confirmStepInputSchema, raw);
      if (!parsed.ok) return refuse('confirmRemoteStep', parsed.reason);
      const step = parsed.value.step;
      if (step !== HUMAN_STEPS.remoteClusterServer && step !== HUMAN_STEPS.remoteTrust) {
        return refuse('confirmRemoteStep', `step "${step}" is not confirmed by the self-managed org`);
      }
      confirmed.add(step);
    },
    { description: HANDLER_DESCRIPTIONS.confirmRemoteStep },
  );

  // 1. Validate: nothing is changed before this passes.
  state.step('validate', 'running');
  const validation = validateConnectRequest(input);
  if (!validation.ok) {
    const message = formatProblems(validation.problems);
    state.step('validate', 'failed', `${validation.problems.length} problem(s)`);
    status.error = { type: 'InvalidRequest', message };
    state.setPhase('failed');
    throw ApplicationFailure.create({
      type: 'InvalidRequest',
      message,
      nonRetryable: true,
      details: [validation.problems],
    });
  }
  const r: ConnectRequest = validation.request;
  state.step('validate', 'done');
  wf.upsertSearchAttributes([
    { key: EchDeploymentId, value: r.local.deploymentId },
    { key: RemoteClusterAlias, value: r.alias },
    { key: SecurityModel, value: r.securityModel },
  ]);
  const tlsModel = r.securityModel === 'tls-certificate';

  // 2. Preflight: read-only.
  state.setPhase('preflight');
  state.step('preflight', 'running');
  const cloud: CloudTarget = {
    ...(r.local.cloud.endpoint ? { endpoint: r.local.cloud.endpoint } : {}),
    apiKeySecret: r.local.cloud.apiKeySecret,
    deploymentId: r.local.deploymentId,
    refId: r.local.refId,
  };
  // A preflight read that fails (bad credentials, unreachable API) ends the run here: nothing was changed.
  const preflightFailed = (err: unknown): never => {
    const type = failureType(err);
    const message = `${failureMessage(err)}\nNothing was changed.`;
    state.step('preflight', 'failed', failureMessage(err).split('\n')[0]);
    status.error = { type, message };
    state.setPhase('failed');
    throw ApplicationFailure.create({
      type,
      message,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
    });
  };
  // One run per connection: before reading the state this run will change (a dry run changes nothing: no lease).
  if (!r.dryRun) await acquireConnectionLease(r.local.deploymentId, r.alias).catch(preflightFailed);
  await activity('Check the secrets the request names')
    .checkSecrets({ secrets: secretReferences(r) })
    .catch(preflightFailed);
  const deployment = await activity('Describe the ECH deployment')
    .describeDeployment({ target: cloud })
    .catch(preflightFailed);
  cloud.refId = deployment.refId;
  // The ECH credentials go to the deployment's own endpoint as the Cloud API reports it, never to a URL of the request.
  const localUrl =
    deployment.esUrl ??
    preflightFailed(
      ApplicationFailure.create({
        type: 'DeploymentNotHealthy',
        message: `The Cloud API reports no Elasticsearch endpoint for deployment ${r.local.deploymentId}, so the worker has nowhere to send local.elasticsearch.credentialsSecret: check the deployment in the Cloud console.`,
        nonRetryable: true,
      }),
    );
  if (r.local.elasticsearch.url && !sameHttpsEndpoint(r.local.elasticsearch.url, localUrl)) {
    preflightFailed(
      ApplicationFailure.create({
        type: 'SecretNotAllowed',
        message:
          `local.elasticsearch.url (${r.local.elasticsearch.url}) is not the Elasticsearch endpoint the Cloud API reports for deployment ` +
          `${r.local.deploymentId} (${localUrl}); the worker sends local.elasticsearch.credentialsSecret only there → leave local.elasticsearch.url out, or set it to that endpoint.`,
        nonRetryable: true,
      }),
    );
  }
  const local: EsTarget = {
    side: 'ech',
    url: localUrl,
    credentialsSecret: r.local.elasticsearch.credentialsSecret,
    deployment: cloud,
  };
  const remote: EsTarget | undefined = r.remote.elasticsearch && {
    side: 'self-managed',
    url: r.remote.elasticsearch.url,
    credentialsSecret: r.remote.elasticsearch.credentialsSecret,
    caPem: r.remote.elasticsearch.caPem,
  };
  const [localFacts, remoteFacts, probe, caCheck] = await Promise.all([
    activity('Inspect the ECH cluster').inspectCluster({
      target: local,
      required: { cluster: LOCAL_REQUIRED_PRIVILEGES },
      alias: r.alias,
    }),
    remote
      ? activity('Inspect the self-managed cluster').inspectCluster({
          target: remote,
          required: { cluster: REMOTE_REQUIRED_PRIVILEGES },
        })
      : Promise.resolve(undefined),
    activity(
      tlsModel ? 'Probe the transport port over TLS' : 'Probe the remote cluster server over TLS',
    ).probeRemoteClusterServer({
      proxyAddress: r.remote.proxyAddress,
      serverName: r.remote.serverName,
      ca: r.remote.ca,
      expect: tlsModel ? 'transport' : 'remote-cluster-server',
    }),
    tlsModel && r.remote.ca.kind === 'private'
      ? activity('Check the self-managed transport CA').inspectCaCertificate({ pem: r.remote.ca.pem })
      : Promise.resolve(undefined),
  ]).catch(preflightFailed);
  local.version = localFacts.version;
  if (remote && remoteFacts) remote.version = remoteFacts.version;
  const findings = evaluatePreflight(
    r,
    { deployment, local: localFacts, remote: remoteFacts, probe, ...(caCheck ? { caCheck } : {}) },
    workflowId,
  );
  const errors = findings.filter((f) => f.level === 'error');
  const warnings = findings.filter((f) => f.level === 'warning').map((f) => `${f.message}${f.fix ? ` ${f.fix}` : ''}`);
  if (errors.length > 0) {
    const type = preflightFailureType(errors);
    const message = `Preflight found ${errors.length} problem(s); nothing was changed.\n${formatFindings(errors)}`;
    state.step('preflight', 'failed', errors.map((e) => e.code).join(', '));
    status.error = { type, message };
    state.setPhase('failed');
    throw ApplicationFailure.create({ type, message, nonRetryable: true, details: [errors] });
  }
  // What the checks saw (e.g. the TLS chain, a transport certificate's otherName) stays visible in the step.
  const seen = findings.filter((f) => f.level === 'info').map((f) => f.message);
  state.step(
    'preflight',
    'done',
    [warnings.length ? `${warnings.length} warning(s)` : 'all checks passed', ...seen].join('; '),
  );
  const rcsProven = !tlsModel && remoteClusterServerProven(probe);
  // Path C: how ECH will identify the self-managed nodes, from the transport certificate the probe saw.
  const identity: SelfManagedIdentity | undefined = tlsModel
    ? selfManagedIdentity({
        ...(probe.reachable && probe.chain[0] ? { leaf: probe.chain[0] } : {}),
        clusterName: remoteFacts?.clusterName,
        nodeNames: r.remote.nodeNames,
        alias: r.alias,
      })
    : undefined;
  const plan = buildPlan(r, {
    workflowId,
    refId: deployment.refId,
    remoteClusterServerProven: rcsProven,
    ...(identity ? { identity } : {}),
  });
  status.plan = plan;

  if (r.dryRun) {
    const result: DryRunResult = { plan, warnings };
    status.result = result;
    state.setPhase('completed');
    return result;
  }

  const compensations: Compensation[] = [];
  const created: ConnectResult['created'] = { clusterSettings: [], roles: [], users: [] };
  const humanTimeoutMs = durationToMs(r.humanStepTimeout);
  let current: StepId = 'preflight';
  const apiKey: ApiKeyPathContext | undefined = tlsModel
    ? undefined
    : {
        r,
        workflowId,
        state,
        cloud,
        deployment,
        ...(remote ? { remote } : {}),
        probe,
        remoteClusterServerProven: rcsProven,
        humanTimeoutMs,
        compensations,
        created,
        setCurrent: (step) => (current = step),
        endWithoutChanges: (outcome, step) => endWithoutChanges(outcome, step),
      };
  const tls: TlsPathContext | undefined = identity && {
    r,
    workflowId,
    state,
    cloud,
    deployment,
    ...(remote ? { remote } : {}),
    ...(remoteFacts ? { remoteClusterName: remoteFacts.clusterName } : {}),
    identity,
    humanTimeoutMs,
    compensations,
    created,
    setCurrent: (step) => (current = step),
    endWithoutChanges: (outcome, step) => endWithoutChanges(outcome, step),
  };

  try {
    // 3. Remote side.
    state.setPhase('remote-side');
    let tlsTrust: Awaited<ReturnType<typeof tlsRemoteSide>> | undefined;
    let encoded = ''; // API-key model: the cross-cluster key (payloads are encrypted: src/codec)
    if (tls) {
      tlsTrust = await tlsRemoteSide(tls, {
        hasCaPem: () => providedCaPem !== undefined,
        takeCaPem: () => {
          const pem = providedCaPem;
          providedCaPem = undefined;
          return pem;
        },
        confirmed: (step) => confirmed.has(step),
      });
    } else if (apiKey) {
      encoded = await apiKeyRemoteSide(apiKey, {
        confirmed: (step) => confirmed.has(step),
        providedKey: () => providedKey,
      });
    }

    // 4. Approval of the ECH changes.
    current = HUMAN_STEPS.approveLocalChanges;
    if (r.approvals.beforeLocalChanges) {
      state.setPhase('awaiting-approval');
      const changes = plan.filter((p) => ['ech-trust', 'ech-keystore', 'connect', 'roles-and-users'].includes(p.step));
      const ok = await state.waitForHuman(
        HUMAN_STEPS.approveLocalChanges,
        'ech-org',
        approvalInstructions(r, workflowId, changes),
        durationToMs(r.approvals.timeout),
        () => approval !== undefined,
      );
      if (!ok) return await endWithoutChanges('timed-out', HUMAN_STEPS.approveLocalChanges);
      if (approval?.decision === 'rejected') {
        return await endWithoutChanges('rejected', HUMAN_STEPS.approveLocalChanges, approval.input);
      }
      state.step(HUMAN_STEPS.approveLocalChanges, 'done', `approved by ${approval?.input.approver}`);
    } else {
      state.step(HUMAN_STEPS.approveLocalChanges, 'skipped', 'approvals.beforeLocalChanges is false');
    }

    // 5. ECH side.
    state.setPhase('ech-side');
    if (tls && tlsTrust) {
      await tlsEchTrust(tls, tlsTrust.selfManagedCaPem, tlsTrust.identity);
    } else if (apiKey) {
      await apiKeyEchSide(apiKey, encoded);
    }

    // 6. Connect.
    state.setPhase('connecting');
    current = 'connect';
    state.step('connect', 'running');
    const connectBody = connectRequest(r, { workflowId, alias: r.alias }).body;
    // The preflight saw no such alias and this run holds the connection's lease: the settings are this run's, so the
    // compensation is registered before the write (a write whose answer was lost is still undone). The removal checks
    // the ownership record, so it never removes settings this workflow did not write.
    compensations.push({
      label: `cluster settings cluster.remote.${r.alias}.*`,
      undo: () =>
        activity('Remove the remote cluster').removeRemoteCluster({ target: local, alias: r.alias, workflowId }),
    });
    const put = await activity('Register the remote cluster').putRemoteCluster({
      target: local,
      body: connectBody,
      alias: r.alias,
      workflowId,
    });
    created.clusterSettings = put.settings;
    state.step('connect', 'done', `proxy_address ${r.remote.proxyAddress}`);

    // 7. Verify.
    state.setPhase('verifying');
    current = 'verify';
    state.step('verify', 'running');
    const verifyMs = durationToMs(r.verify.timeout);
    const evidence = await activity('Verify the remote connection', VERIFY_OPTIONS(verifyMs)).verifyRemoteConnection({
      target: local,
      alias: r.alias,
      securityModel: r.securityModel,
      searchIndex: r.verify.searchIndex,
      timeoutMs: verifyMs,
      ca: r.remote.ca,
    });
    state.step(
      'verify',
      'done',
      evidence.searchHits !== undefined ? `connected; search found ${evidence.searchHits} hits` : 'connected',
    );

    // 8. Roles and users.
    state.setPhase('roles-and-users');
    current = 'roles-and-users';
    if (r.roles.length + r.users.length > 0) state.step('roles-and-users', 'running');
    const o = { workflowId, alias: r.alias };
    for (const role of r.roles) {
      if (tls) await ensureRemoteRole(tls, role);
      const res = await activity(`Create role ${role.name}`).ensureRole({
        target: local,
        name: role.name,
        body: roleRequest(role, o).body,
      });
      created.roles.push(role.name);
      if (res.created) {
        compensations.push({
          label: `role ${role.name}`,
          undo: () => activity('Remove role').removeRole({ target: local, name: role.name }),
        });
      }
    }
    for (const user of r.users) {
      const res = await activity(`Create user ${user.username}`).ensureUser({
        target: local,
        username: user.username,
        body: userRequest(user, o).body,
        passwordSecret: user.passwordSecret,
      });
      created.users?.push(user.username);
      if (res.created) {
        compensations.push({
          label: `user ${user.username}`,
          undo: () => activity('Remove user').removeUser({ target: local, username: user.username }),
        });
      }
    }
    state.step('roles-and-users', r.roles.length + r.users.length > 0 ? 'done' : 'skipped');

    const result: ConnectResult = {
      alias: r.alias,
      securityModel: r.securityModel,
      connected: true,
      evidence,
      created,
      warnings,
      durationMs: Date.now() - started,
    };
    status.result = result;
    state.setPhase('completed');
    return result;
  } catch (err) {
    state.step(current, 'failed', failureMessage(err).split('\n')[0]);
    await wf.CancellationScope.nonCancellable(() => cleanUp(err));
    if (err instanceof ApplicationFailure && (status.phase === 'rejected' || status.phase === 'timed-out')) throw err;
    // The run's failure says what happened and whether it was rolled back or kept.
    throw ApplicationFailure.create({
      type: status.error?.type ?? 'Failed',
      message: status.error?.message ?? failureMessage(err),
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
      details: status.cleanup ? [status.cleanup] : undefined,
    });
  }

  /** Rejection or timeout: undo what the remote side created (the key), change nothing on ECH, end cleanly. */
  async function endWithoutChanges(
    outcome: 'rejected' | 'timed-out',
    step: StepId,
    rejection?: RejectInput,
  ): Promise<never> {
    let message =
      outcome === 'rejected'
        ? `Rejected by ${rejection?.approver} at step ${step}: ${rejection?.reason}. Nothing was changed on the ECH deployment.`
        : `Timed out waiting at step ${step}. Nothing was changed on the ECH deployment.`;
    state.step(step, 'failed', outcome);
    const outcomes = await undoAll();
    // Clients (the CLI) read what was undone from the failure's details, as for any other failure.
    if (outcomes.length) status.cleanup = { mode: 'rollback', items: outcomes.map((o) => o.item), outcomes };
    const leftover = outcomes.some((o) => o.outcome === 'failed') ? `\n${rollbackReport(outcomes)}` : '';
    message += leftover;
    status.error = { type: outcome === 'rejected' ? 'Rejected' : 'HumanStepTimedOut', message };
    state.setPhase(outcome === 'rejected' ? 'rejected' : 'timed-out');
    throw ApplicationFailure.create({
      type: status.error.type,
      message,
      nonRetryable: true,
      details: status.cleanup ? [status.cleanup] : undefined,
    });
  }

  /**
   * Every compensation, newest first; one that fails does not stop the others. Each item's outcome is reported.
   */
  async function undoAll(): Promise<CleanupOutcome[]> {
    const outcomes: CleanupOutcome[] = [];
    for (const c of compensations.reverse()) {
      try {
        await c.undo();
        outcomes.push({ item: c.label, outcome: 'undone' });
      } catch (err) {
        outcomes.push({ item: c.label, outcome: 'failed', why: failureMessage(err).split('\n')[0]!.slice(0, 500) });
      }
    }
    compensations.length = 0;
    return outcomes;
  }

  function rollbackReport(outcomes: CleanupOutcome[]): string {
    const undone = outcomes.filter((o) => o.outcome === 'undone').map((o) => o.item);
    const failed = outcomes.filter((o) => o.outcome === 'failed');
    return [
      undone.length ? `Rolled back: ${undone.join('; ')}` : '',
      failed.length
        ? `Could NOT roll back (remove by hand): ${failed.map((o) => `${o.item} (${o.why})`).join('; ')}`
        : '',
    ]
      .filter(Boolean)
      .join('\n');
  }

  async function cleanUp(err: unknown): Promise<void> {
    if (status.phase === 'rejected' || status.phase === 'timed-out') return; // already ended cleanly
    const type = failureType(err);
    if (compensations.length === 0) {
      status.error = { type, message: failureMessage(err) };
      state.setPhase('failed');
      return;
    }
    if (r.onFailure === 'keep') {
      const items = compensations.map((c) => c.label);
      status.cleanup = {
        mode: 'keep',
        items,
        outcomes: items.map((item) => ({ item, outcome: 'left' as const, why: 'onFailure "keep"' })),
      };
      status.error = {
        type,
        message: `${failureMessage(err)}\nLeft in place (onFailure "keep"): ${status.cleanup.items.join('; ')}`,
      };
      state.setPhase('failed');
      return;
    }
    state.setPhase('rolling-back');
    state.step('rollback', 'running');
    const outcomes = await undoAll();
    status.cleanup = { mode: 'rollback', items: outcomes.map((o) => o.item), outcomes };
    const failed = outcomes.filter((o) => o.outcome === 'failed').length;
    state.step(
      'rollback',
      failed ? 'failed' : 'done',
      failed ? `${failed} of ${outcomes.length} item(s) could not be removed` : `${outcomes.length} item(s) removed`,
    );
    status.error = { type, message: `${failureMessage(err)}\n${rollbackReport(outcomes)}` };
    state.setPhase('failed');
  }
}

/** The classified type of what failed: an activity's ApplicationFailure type travels as the ActivityFailure's cause. */
function failureType(err: unknown): string {
  const failure = err instanceof wf.ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.type ? failure.type : 'Failed';
}

function failureMessage(err: unknown): string {
  if (err instanceof wf.ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
