/**
 * Path C (TLS-certificate model), the steps that differ from the API-key model: the two CAs, the self-managed org's
 * trust configuration (a human step with generated files), ECH's `generic` trust entry for the self-managed nodes,
 * and same-named roles on the self-managed cluster. Orchestration only; bodies and files come from src/domain.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { Finding } from '../../activities/types';
import type { RoleSpec } from '../../contract/request';
import { HUMAN_STEPS } from '../../contract/steps';
import { remoteCaCertificateInstructions, remoteTrustInstructions } from '../../domain/instructions';
import { formatFindings, preflightFailureType } from '../../domain/preflight';
import { remoteRoleRequest, tlsCertificateTrustEntry } from '../../domain/requests';
import {
  NODE_IDENTITY_MISMATCH,
  certificateMatchesIdentity,
  cloudNodePattern,
  echTrustedNames,
  ownNodePatterns,
  sameIdentity,
  seenNodeCertificates,
  selfManagedIdentity,
  type SelfManagedIdentity,
} from '../../domain/tlsCertificate';
import { activity, trustOnEch } from '../activity';
import type { PathContext } from './context';

export interface TlsPathContext extends PathContext {
  remoteClusterName?: string;
  identity: SelfManagedIdentity;
}

export interface TlsSignals {
  hasCaPem(): boolean;
  /** The last PEM received by `provideRemoteCaCertificate` (cleared, so a rejected one is not checked twice). */
  takeCaPem(): string | undefined;
  confirmed(step: string): boolean;
}

/** C1–C5 up to the self-managed org's confirmation. Returns the CA and identity ECH is to trust. */
export async function tlsRemoteSide(
  ctx: TlsPathContext,
  signals: TlsSignals,
): Promise<{ selfManagedCaPem: string; identity: SelfManagedIdentity }> {
  const { r, state, workflowId } = ctx;
  const caStep = HUMAN_STEPS.remoteCaCertificate;
  const trustStep = HUMAN_STEPS.remoteTrust;

  // C1b: the self-managed transport CA, from the request (checked in preflight) or from the self-managed org.
  ctx.setCurrent(caStep);
  let caPem: string;
  if (r.remote.ca.kind === 'private') {
    caPem = r.remote.ca.pem;
    state.step(caStep, 'skipped', 'given in the request');
  } else {
    let rejected: string[] | undefined;
    for (;;) {
      const ok = await state.waitForHuman(
        caStep,
        'self-managed-org',
        remoteCaCertificateInstructions(workflowId, rejected),
        ctx.humanTimeoutMs,
        signals.hasCaPem,
      );
      if (!ok) return ctx.endWithoutChanges('timed-out', caStep);
      const pem = signals.takeCaPem() ?? '';
      const check = await activity('Check the self-managed transport CA').inspectCaCertificate({ pem });
      if (check.ok) {
        caPem = pem;
        state.step(caStep, 'done', `${check.subject}, valid until ${check.validTo}`);
        break;
      }
      rejected = check.problems;
    }
  }

  // C1a: every ECH transport CA (rotation) and the pattern of this deployment's nodes.
  ctx.setCurrent(trustStep);
  state.step(trustStep, 'running', 'reading the ECH transport CA(s)');
  const echCa = await activity('Read the ECH transport CA').getCertificateAuthority({ target: ctx.cloud });
  const echPattern = echCa.recommendedTrustRestriction ?? cloudNodePattern(ctx.deployment.clusterId, '*');

  // C2, C4, C5 (+ same-named roles without remote credentials): done by the self-managed org.
  const ok = await state.waitForHuman(
    trustStep,
    'self-managed-org',
    remoteTrustInstructions(r, workflowId, {
      deploymentId: r.local.deploymentId,
      echCaPems: echCa.pems,
      echPattern,
      selfManagedCaPem: caPem,
      identity: ctx.identity,
      remoteRolesByHand: !ctx.remote,
    }),
    ctx.humanTimeoutMs,
    () => signals.confirmed(trustStep),
  );
  if (!ok) return ctx.endWithoutChanges('timed-out', trustStep);

  // What the worker can check: the transport port presents a chain of that CA with the node names ECH will trust.
  // The mutual part (the self-managed side trusting ECH) only the connection from ECH proves.
  const again = await activity('Probe the transport port again').probeRemoteClusterServer({
    proxyAddress: r.remote.proxyAddress,
    serverName: r.remote.serverName,
    ca: { kind: 'private', pem: caPem },
    expect: 'transport',
  });
  // ECH is configured for the identity the instructions were generated for (the files the admin installed): the
  // certificates now served must carry it. Re-deriving the identity from them would only check them against themselves.
  const identity = ctx.identity;
  // Every node met behind the address must carry it, not only the one the first connection reached: ECH's proxy
  // sockets reach them all (a report recorded before the survey existed holds the first connection's leaf only).
  const nodes = seenNodeCertificates(again);
  if (again.reachable) {
    const problems: Finding[] = again.findings.filter((f) => f.level === 'error');
    if (problems.length > 0) {
      throw ApplicationFailure.create({
        type: preflightFailureType(problems),
        message: `The self-managed transport port is not ready although ${trustStep} was confirmed; nothing was changed on ECH:\n${formatFindings(problems)}`,
        nonRetryable: true,
      });
    }
    const wrong = nodes.length ? nodes.filter((n) => !certificateMatchesIdentity(n, identity)) : [undefined];
    if (wrong.length > 0) {
      const leaf = wrong[0];
      // What the certificates carry now, when they carry an otherName: a new run would configure for that.
      const seen =
        nodes.length && nodes.every((n) => n.otherNames.length)
          ? selfManagedIdentity({
              nodes,
              clusterName: ctx.remoteClusterName,
              nodeNames: r.remote.nodeNames,
              alias: r.alias,
            })
          : undefined;
      const changed = seen && !sameIdentity(seen, identity) ? seen : undefined;
      const which =
        nodes.length > 1
          ? `${wrong.length} of the ${nodes.length} nodes the worker met behind ${r.remote.proxyAddress}: ${wrong.map((n) => (n ? `${n.subject} carries otherName [${n.otherNames.join(', ')}]` : 'unreadable')).join('; ')}`
          : `The transport certificate at ${r.remote.proxyAddress} (${leaf?.subject ?? 'unreadable'}) carries otherName [${leaf?.otherNames.join(', ') ?? ''}]`;
      throw ApplicationFailure.create({
        type: NODE_IDENTITY_MISMATCH,
        message:
          `${which}, ` +
          `but the ${trustStep} files and the ECH trust entry of this run expect ${echTrustedNames(identity).join(', ')}` +
          ` (own nodes in the trust-restrictions file: ${ownNodePatterns(identity).join(', ')}); nothing was changed on ECH.\n` +
          (changed
            ? `Fix: the certificates do not carry the names the instructions were generated for. Either re-issue them with the instances.yml of the ${trustStep} instructions, install them on every node and restart, or start a new run: it generates the trust-restrictions file and the ECH entry for the names they carry now (${echTrustedNames(changed).join(', ')}).`
            : `Fix: re-issue the transport certificates with the instances.yml of the ${trustStep} instructions, install them on every node, restart, then start again.`),
        nonRetryable: true,
      });
    }
  }
  state.step(
    trustStep,
    'done',
    again.reachable ? 'transport chain and node names verified by a TLS probe' : 'confirmed by the self-managed org',
  );
  return { selfManagedCaPem: caPem, identity };
}

/** C3: a `generic` direct trust entry for the self-managed CA, limited to its nodes; waits for the plan. */
export async function tlsEchTrust(ctx: TlsPathContext, caPem: string, identity: SelfManagedIdentity): Promise<void> {
  ctx.setCurrent('ech-trust');
  const entry = tlsCertificateTrustEntry(ctx.r.alias, caPem, identity);
  const { created } = await trustOnEch(
    {
      state: ctx.state,
      cloud: ctx.cloud,
      compensations: ctx.compensations,
      ...(ctx.pendingReleases ? { pendingReleases: ctx.pendingReleases } : {}),
    },
    entry,
    'the self-managed transport CA',
  );
  if (created) ctx.created.trustEntry = entry.name;
}

/** §5 TLS model: the role of the same name on the self-managed cluster, when the tool may call it. */
export async function ensureRemoteRole(ctx: TlsPathContext, role: RoleSpec): Promise<void> {
  const req = remoteRoleRequest(role, { workflowId: ctx.workflowId, alias: ctx.r.alias });
  const remote = ctx.remote;
  if (!req || !remote) return;
  const res = await activity(`Create role ${role.name} on the self-managed cluster`).ensureRole({
    target: remote,
    name: role.name,
    body: req.body,
  });
  (ctx.created.remoteRoles ??= []).push(role.name);
  if (res.created) {
    ctx.compensations.push({
      label: `role ${role.name} on the self-managed cluster`,
      undo: () => activity('Remove the self-managed role').removeRole({ target: remote, name: role.name }),
    });
  }
}
