/**
 * connectRemoteCluster: validate, preflight, remote side, approval, ECH side, connect, verify, roles and users, on the
 * run skeleton (src/workflows/run.ts), whose saga undoes, in reverse order, only what this run created. Orchestration
 * only: every external call is an activity; every body comes from src/domain/requests.ts.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { CaCheck, CloudTarget, ClusterFacts, DeploymentFacts, EsTarget, TlsProbeReport } from '../contract/facts';
import { durationToMs } from '../contract/duration';
import { validateConnectRequest, type ConnectRequest } from '../contract/request';
import type { ConnectResult, DryRunResult, PlanStep } from '../contract/status';
import { CONFIRMABLE_STEPS, HUMAN_STEPS, type StepId } from '../contract/steps';
import { approvalInstructions } from '../domain/instructions';
import { buildPlan } from '../domain/plan';
import {
  LOCAL_REQUIRED_PRIVILEGES,
  REMOTE_REQUIRED_PRIVILEGES,
  evaluatePreflight,
  formatFindings,
  preflightFailureType,
  remoteClusterServerProven,
} from '../domain/preflight';
import { connectRequest, roleRequest, userRequest } from '../domain/requests';
import { KEYSTORE_AUTO_RELOAD_VERSION, atLeast } from '../domain/versions';
import { seenNodeCertificates, selfManagedIdentity, type SelfManagedIdentity } from '../domain/tlsCertificate';
import { VERIFY_OPTIONS, activity, fewerHops, fewerRoundTrips, parallelSteps } from './activity';
import {
  apiKeyEchSide,
  apiKeyEchTrust,
  apiKeyKeystore,
  apiKeyRemoteSide,
  type ApiKeyPathContext,
} from './paths/apiKey';
import { ensureRemoteRole, tlsEchTrust, tlsRemoteSide, type TlsPathContext } from './paths/tlsCertificate';
import { askPlanTurnEarly, giveBackEarlyPlanTurn, type EarlyPlanTurn } from './deploymentPlans';
import { runLifecycle, sideBySide, type Preflighted, type RunContext, type RunDefinition } from './run';
import { cloudTargetOf, remoteTargetOf, resolveTargets, settle } from './targets';

/** What the preflight of a connect found, for the steps after it. */
interface ConnectFound {
  cloud: CloudTarget;
  deployment: DeploymentFacts;
  local: EsTarget;
  remote?: EsTarget;
  remoteClusterName?: string;
  probe: TlsProbeReport;
  rcsProven: boolean;
  identity?: SelfManagedIdentity;
  warnings: string[];
  plan: PlanStep[];
  /** The trust entry's plan turn, asked for during the preflight (trustTurnWanted). */
  earlyTurn?: EarlyPlanTurn;
}

/** The preflight's reads of the self-managed side, settled: its cluster (when credentials are given), the probe, the CA. */
type UnguardedReads = Promise<
  [
    PromiseSettledResult<ClusterFacts | undefined>,
    PromiseSettledResult<TlsProbeReport>,
    PromiseSettledResult<CaCheck | undefined>,
  ]
>;

export const CONNECT: RunDefinition<ConnectRequest, ConnectFound, ConnectResult | DryRunResult, UnguardedReads> = {
  kind: 'connect',
  title: 'Connect remote cluster',
  requestName: 'ConnectRequest',
  confirmable: CONFIRMABLE_STEPS.connect,
  validate: validateConnectRequest,
  beforeLease: (ctx) => unguardedReads(ctx.r),
  preflight: connectPreflight,
  run: connectChanges,
};

export async function connectRemoteCluster(input: unknown): Promise<ConnectResult | DryRunResult> {
  return runLifecycle(CONNECT, input);
}

/**
 * Whether the request alone says the run will change the trust with nothing to wait for: path B (private CA) with the
 * self-managed cluster's credentials and no approval. Its plan turn is then asked for while the preflight reads.
 */
function trustTurnWanted(r: ConnectRequest): boolean {
  return (
    !r.dryRun &&
    r.securityModel !== 'tls-certificate' &&
    r.remote.ca.kind === 'private' &&
    r.remote.elasticsearch !== undefined &&
    !r.approvals.beforeLocalChanges
  );
}

/**
 * The self-managed side of the preflight: its cluster, the TLS probe, the CA. Nothing a run of this tool changes, so
 * they may start before the lease is held (beforeLease); each settles, a failure is reported by the preflight.
 */
function unguardedReads(r: ConnectRequest): UnguardedReads {
  const tlsModel = r.securityModel === 'tls-certificate';
  const remoteTarget = remoteTargetOf(r);
  return Promise.all([
    settle(
      remoteTarget
        ? activity('Inspect the self-managed cluster').inspectCluster({
            target: remoteTarget,
            required: { cluster: REMOTE_REQUIRED_PRIVILEGES },
          })
        : Promise.resolve(undefined),
    ),
    settle(
      activity(
        tlsModel ? 'Probe the transport port over TLS' : 'Probe the remote cluster server over TLS',
      ).probeRemoteClusterServer({
        proxyAddress: r.remote.proxyAddress,
        serverName: r.remote.serverName,
        ca: r.remote.ca,
        expect: tlsModel ? 'transport' : 'remote-cluster-server',
      }),
    ),
    settle(
      tlsModel && r.remote.ca.kind === 'private'
        ? activity('Check the self-managed transport CA').inspectCaCertificate({ pem: r.remote.ca.pem })
        : Promise.resolve(undefined),
    ),
  ]);
}

/** 2. Preflight: read-only. Every secret, the deployment, both clusters, the TLS probe; then the plan. */
async function connectPreflight(
  ctx: RunContext<ConnectRequest>,
  early?: UnguardedReads,
): Promise<Preflighted<ConnectFound>> {
  let earlyTurn: EarlyPlanTurn | undefined;
  try {
    return await connectPreflightSteps(ctx, early, (turn) => (earlyTurn = turn));
  } catch (err) {
    // A preflight that fails changes nothing: a turn asked for meanwhile is given back.
    await giveBackEarlyPlanTurn(earlyTurn);
    throw err;
  }
}

async function connectPreflightSteps(
  ctx: RunContext<ConnectRequest>,
  unguarded: UnguardedReads | undefined,
  asked: (turn: EarlyPlanTurn) => void,
): Promise<Preflighted<ConnectFound>> {
  const { r, workflowId, state, preflightFailed } = ctx;
  let earlyTurn: EarlyPlanTurn | undefined;
  const tlsModel = r.securityModel === 'tls-certificate';
  const inspectRemote = (target: EsTarget) =>
    activity('Inspect the self-managed cluster').inspectCluster({
      target,
      required: { cluster: REMOTE_REQUIRED_PRIVILEGES },
    });
  const probeRemote = () =>
    activity(
      tlsModel ? 'Probe the transport port over TLS' : 'Probe the remote cluster server over TLS',
    ).probeRemoteClusterServer({
      proxyAddress: r.remote.proxyAddress,
      serverName: r.remote.serverName,
      ca: r.remote.ca,
      expect: tlsModel ? 'transport' : 'remote-cluster-server',
    });
  const checkCa = () =>
    tlsModel && r.remote.ca.kind === 'private'
      ? activity('Check the self-managed transport CA').inspectCaCertificate({ pem: r.remote.ca.pem })
      : Promise.resolve(undefined);
  const inspectLocal = (target: EsTarget) =>
    activity('Inspect the ECH cluster').inspectCluster({
      target,
      required: { cluster: LOCAL_REQUIRED_PRIVILEGES },
      alias: r.alias,
    });
  let targets: Awaited<ReturnType<typeof resolveTargets>>;
  let facts: [ClusterFacts, ClusterFacts | undefined, TlsProbeReport, CaCheck | undefined];
  if (fewerRoundTrips()) {
    // The trust entry's plan turn, granted while the reads run (FEWER_HOPS_PATCH; see askPlanTurnEarly).
    if (fewerHops() && trustTurnWanted(r)) {
      earlyTurn = askPlanTurnEarly(cloudTargetOf(r), 'trust the private CA');
      asked(earlyTurn);
    }
    // Everything that needs nothing from the deployment read starts with it: the self-managed side, the probe, the
    // CA check; from FEWER_HOPS_PATCH on the ECH cluster too, at the endpoint the Cloud API reports to the worker (its
    // credentials go nowhere else). Before it, the ECH cluster waited for the workflow's deployment read.
    const echEarly = fewerHops()
      ? settle(
          activity('Inspect the ECH cluster').inspectEchCluster({
            deployment: cloudTargetOf(r),
            credentialsSecret: r.local.elasticsearch.credentialsSecret,
            required: { cluster: LOCAL_REQUIRED_PRIVILEGES },
            alias: r.alias,
          }),
        )
      : undefined;
    // Started before the lease when the skeleton did (beforeLease), else here, side by side as before.
    const early = unguarded ?? unguardedReads(r);
    targets = await resolveTargets(r, preflightFailed, { concurrent: true });
    let localR: PromiseSettledResult<ClusterFacts & { url?: string }> | undefined = await echEarly;
    // The endpoint the worker inspected is the one the deployment read reports (they differ only if the deployment's
    // endpoint changed between the two reads): otherwise it is inspected again where the workflow now sends it.
    if (localR?.status === 'fulfilled' && localR.value.url !== targets.local.url) localR = undefined;
    localR ??= await settle(inspectLocal(targets.local));
    const [remoteR, probeR, caR] = await early;
    const failed = [localR, remoteR, probeR, caR].find((x) => x.status === 'rejected');
    if (failed) preflightFailed(failed.reason);
    facts = [value(localR), value(remoteR), value(probeR), value(caR)];
  } else {
    targets = await resolveTargets(r, preflightFailed);
    facts = await Promise.all([
      inspectLocal(targets.local),
      targets.remote ? inspectRemote(targets.remote) : Promise.resolve(undefined),
      probeRemote(),
      checkCa(),
    ]).catch(preflightFailed);
  }
  const { cloud, deployment, local, remote } = targets;
  const [localFacts, remoteFacts, probe, caCheck] = facts;
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
    state.status.error = { type, message };
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
  // Path C: how ECH will identify the self-managed nodes, from every transport certificate the probe met behind the
  // address (reports recorded before the survey carry only the first connection's leaf: the same identity as then).
  const identity: SelfManagedIdentity | undefined = tlsModel
    ? selfManagedIdentity({
        nodes: seenNodeCertificates(probe),
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

  return {
    plan,
    warnings,
    found: {
      cloud,
      deployment,
      local,
      ...(remote ? { remote } : {}),
      ...(earlyTurn ? { earlyTurn } : {}),
      ...(remoteFacts ? { remoteClusterName: remoteFacts.clusterName } : {}),
      probe,
      rcsProven,
      ...(identity ? { identity } : {}),
      warnings,
      plan,
    },
  };
}

/** 3–8: the remote side, the approval, the ECH side, connect, verify, roles and users. */
async function connectChanges(ctx: RunContext<ConnectRequest>, found: ConnectFound): Promise<ConnectResult> {
  const created: ConnectResult['created'] = { clusterSettings: [], roles: [], users: [] };
  const humanTimeoutMs = durationToMs(ctx.r.humanStepTimeout);
  // Plan-turn releases in flight (runs from FEWER_ROUND_TRIPS_PATCH on): awaited before the run ends, however it ends.
  const pendingReleases: Promise<void>[] | undefined = fewerRoundTrips() ? [] : undefined;
  try {
    return await connectSteps(ctx, found, created, humanTimeoutMs, pendingReleases);
  } finally {
    // An early turn the trust step did not take over (the run failed before it) is given back.
    await giveBackEarlyPlanTurn(found.earlyTurn);
    if (pendingReleases) await Promise.all(pendingReleases);
  }
}

async function connectSteps(
  ctx: RunContext<ConnectRequest>,
  found: ConnectFound,
  created: ConnectResult['created'],
  humanTimeoutMs: number,
  pendingReleases: Promise<void>[] | undefined,
): Promise<ConnectResult> {
  const { r, workflowId, state, signals, compensations } = ctx;
  const { cloud, deployment, remote, probe, identity } = found;
  const tlsModel = r.securityModel === 'tls-certificate';
  const rcsProven = found.rcsProven;
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
        setCurrent: ctx.setCurrent,
        endWithoutChanges: (outcome, step) => ctx.endWithoutChanges(outcome, step),
        ...(pendingReleases ? { pendingReleases } : {}),
        ...(found.earlyTurn ? { earlyTurn: found.earlyTurn } : {}),
      };
  const tls: TlsPathContext | undefined = identity && {
    r,
    workflowId,
    state,
    cloud,
    deployment,
    ...(remote ? { remote } : {}),
    ...(found.remoteClusterName ? { remoteClusterName: found.remoteClusterName } : {}),
    identity,
    humanTimeoutMs,
    compensations,
    created,
    setCurrent: ctx.setCurrent,
    endWithoutChanges: (outcome, step) => ctx.endWithoutChanges(outcome, step),
    ...(pendingReleases ? { pendingReleases } : {}),
  };

  const changes = found.plan.filter((p) =>
    ['ech-trust', 'ech-keystore', 'connect', 'roles-and-users'].includes(p.step),
  );
  // Path B with nothing to wait for (the worker makes the key, the remote cluster server is proven, no approval): the
  // key and the trust entry do not depend on each other, so the key is made — and, where ECH reloads its keystore by
  // itself (8.14+), stored in the keystore — while the trust entry's plan runs (PARALLEL_STEPS_PATCH). Whichever
  // fails is the step reported; the other is left to finish, then the rollback undoes both.
  if (
    apiKey &&
    remote &&
    rcsProven &&
    r.remote.ca.kind === 'private' &&
    !r.approvals.beforeLocalChanges &&
    parallelSteps()
  ) {
    await ctx.approve(approvalInstructions(r, workflowId, changes));
    state.setPhase('ech-side');
    const keystoreMeanwhile = atLeast(deployment.version, KEYSTORE_AUTO_RELOAD_VERSION);
    let keySide: StepId = HUMAN_STEPS.crossClusterApiKey;
    const [key] = await sideBySide(
      ctx,
      {
        run: (async () => {
          const encoded = await apiKeyRemoteSide(apiKey, {
            confirmed: (step) => signals.confirmed.has(step),
            providedKey: () => signals.providedKey,
          });
          keySide = 'ech-keystore';
          if (keystoreMeanwhile) await apiKeyKeystore(apiKey, encoded, { sideBySide: true });
          return encoded;
        })(),
        step: () => keySide,
      },
      { run: apiKeyEchTrust(apiKey), step: () => 'ech-trust' },
    );
    if (!keystoreMeanwhile) await apiKeyKeystore(apiKey, key);
    return connectAndVerify(ctx, found, created);
  }

  // Something to wait for after all (the remote cluster server not proven): the early turn is given back now, not held
  // while the run waits; the trust step asks again when it comes.
  await giveBackEarlyPlanTurn(found.earlyTurn);

  // 3. Remote side.
  state.setPhase('remote-side');
  let tlsTrust: Awaited<ReturnType<typeof tlsRemoteSide>> | undefined;
  let encoded = ''; // API-key model: the cross-cluster key (payloads are encrypted: src/codec)
  if (tls) {
    tlsTrust = await tlsRemoteSide(tls, {
      hasCaPem: () => signals.providedCaPem !== undefined,
      takeCaPem: () => signals.takeCaPem(),
      confirmed: (step) => signals.confirmed.has(step),
    });
  } else if (apiKey) {
    encoded = await apiKeyRemoteSide(apiKey, {
      confirmed: (step) => signals.confirmed.has(step),
      providedKey: () => signals.providedKey,
    });
  }

  // 4. Approval of the ECH changes.
  await ctx.approve(approvalInstructions(r, workflowId, changes));

  // 5. ECH side.
  state.setPhase('ech-side');
  if (tls && tlsTrust) {
    await tlsEchTrust(tls, tlsTrust.selfManagedCaPem, tlsTrust.identity);
  } else if (apiKey) {
    await apiKeyEchSide(apiKey, encoded);
  }
  return connectAndVerify(ctx, found, created, tls);
}

/** 6–8: connect, verify, roles and users. */
async function connectAndVerify(
  ctx: RunContext<ConnectRequest>,
  found: ConnectFound,
  created: ConnectResult['created'],
  tls?: TlsPathContext,
): Promise<ConnectResult> {
  const { r, started } = ctx;
  const { warnings } = found;
  let evidence: ConnectResult['evidence'];
  if (!tls && fewerHops()) {
    // The roles and users need nothing from the connection (they grant access through it): they are made while the
    // remote cluster is registered and verified (FEWER_HOPS_PATCH). Whichever fails is the step reported; the other
    // is left to finish, then the rollback undoes both.
    let connectStep: StepId = 'connect';
    const [connected, access] = await sideBySide(
      ctx,
      {
        run: (async () => {
          await registerRemoteCluster(ctx, found, created);
          connectStep = 'verify';
          return verifyRemoteCluster(ctx, found);
        })(),
        step: () => connectStep,
      },
      { run: rolesAndUsers(ctx, found, created, { sideBySide: true }), step: () => 'roles-and-users' },
    );
    evidence = connected;
    // Roles and users of ours that other runs made (shared by several connections) are updated only now that this
    // connection works: a run that fails never rewrites what another connection relies on.
    if (access.length > 0) await rolesAndUsers(ctx, found, created, { only: access });
  } else {
    await registerRemoteCluster(ctx, found, created);
    evidence = await verifyRemoteCluster(ctx, found);
    await rolesAndUsers(ctx, found, created, { ...(tls ? { tls } : {}) });
  }
  const result: ConnectResult = {
    alias: r.alias,
    securityModel: r.securityModel,
    connected: true,
    evidence,
    created,
    warnings,
    durationMs: Date.now() - started,
  };
  return result;
}

/** 6. Connect: the remote cluster's settings on the ECH cluster. */
async function registerRemoteCluster(
  ctx: RunContext<ConnectRequest>,
  found: ConnectFound,
  created: ConnectResult['created'],
): Promise<void> {
  const { r, workflowId, state, compensations } = ctx;
  const { local } = found;
  state.setPhase('connecting');
  ctx.setCurrent('connect');
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
}

/** 7. Verify: connected, `_resolve/cluster`, a search through the alias. */
async function verifyRemoteCluster(
  ctx: RunContext<ConnectRequest>,
  found: ConnectFound,
): Promise<ConnectResult['evidence']> {
  const { r, state } = ctx;
  state.setPhase('verifying');
  ctx.setCurrent('verify');
  state.step('verify', 'running');
  const verifyMs = durationToMs(r.verify.timeout);
  const evidence = await activity('Verify the remote connection', VERIFY_OPTIONS(verifyMs)).verifyRemoteConnection({
    target: found.local,
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
  return evidence;
}

/** A role or user of the request, by kind and name. */
type AccessItem = { kind: 'role' | 'user'; name: string };

/**
 * 8. Roles and users on the ECH cluster (path C: each role's remote side first). `sideBySide`: while the connection
 * is made, so the run's phase and current step stay the connection's (the caller reports a failure here), and only
 * what does not exist yet is made: the ones of ours made by other runs are returned, to be updated (`only`) once the
 * connection is verified.
 */
async function rolesAndUsers(
  ctx: RunContext<ConnectRequest>,
  found: ConnectFound,
  created: ConnectResult['created'],
  opts: { tls?: TlsPathContext; sideBySide?: boolean; only?: AccessItem[] },
): Promise<AccessItem[]> {
  const { r, workflowId, state, compensations } = ctx;
  const { local } = found;
  const { tls, sideBySide, only } = opts;
  if (!sideBySide) {
    state.setPhase('roles-and-users');
    ctx.setCurrent('roles-and-users');
  }
  const wanted = (kind: AccessItem['kind'], name: string) =>
    !only || only.some((x) => x.kind === kind && x.name === name);
  const deferred: AccessItem[] = [];
  if (!only && r.roles.length + r.users.length > 0) state.step('roles-and-users', 'running');
  const o = { workflowId, alias: r.alias };
  for (const role of r.roles.filter((x) => wanted('role', x.name))) {
    if (tls) await ensureRemoteRole(tls, role);
    const res = await activity(`Create role ${role.name}`).ensureRole({
      target: local,
      name: role.name,
      body: roleRequest(role, o).body,
      ...(sideBySide ? { onlyIfAbsent: true } : {}),
    });
    if (res.deferred) {
      deferred.push({ kind: 'role', name: role.name });
      continue;
    }
    created.roles.push(role.name);
    if (res.created) {
      compensations.push({
        label: `role ${role.name}`,
        undo: () => activity('Remove role').removeRole({ target: local, name: role.name }),
      });
    }
  }
  for (const user of r.users.filter((x) => wanted('user', x.username))) {
    const res = await activity(`Create user ${user.username}`).ensureUser({
      target: local,
      username: user.username,
      body: userRequest(user, o).body,
      passwordSecret: user.passwordSecret,
      ...(sideBySide ? { onlyIfAbsent: true } : {}),
    });
    if (res.deferred) {
      deferred.push({ kind: 'user', name: user.username });
      continue;
    }
    created.users?.push(user.username);
    if (res.created) {
      compensations.push({
        label: `user ${user.username}`,
        undo: () => activity('Remove user').removeUser({ target: local, username: user.username }),
      });
    }
  }
  if (deferred.length === 0) {
    state.step('roles-and-users', r.roles.length + r.users.length > 0 ? 'done' : 'skipped');
  }
  return deferred;
}

/** The value of a settled call that did not fail (checked by the caller). */
function value<T>(r: PromiseSettledResult<T>): T {
  if (r.status === 'rejected') throw r.reason;
  return r.value;
}
