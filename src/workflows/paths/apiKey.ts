/**
 * Paths A and B (API-key model), the steps that differ from the TLS-certificate model: the remote cluster server on
 * the self-managed side, the cross-cluster API key (created with remote credentials, or handed over by the
 * self-managed org), then on ECH the private CA's trust entry (path B) and the key in the keystore. Orchestration
 * only; bodies and instructions come from src/domain.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { Finding, TlsProbeReport } from '../../activities/types';
import { HUMAN_STEPS } from '../../contract/steps';
import { crossClusterApiKeyInstructions, remoteClusterServerInstructions } from '../../domain/instructions';
import { formatFindings, preflightFailureType } from '../../domain/preflight';
import { privateCaTrustEntry } from '../../domain/requests';
import { activity, fewerRoundTrips, storeKeyInEchKeystore, trustOnEch } from '../activity';
import type { PathContext } from './context';

export interface ApiKeyPathContext extends PathContext {
  /** The preflight probe of the remote cluster server, and whether it proved the server is on. */
  probe: TlsProbeReport;
  remoteClusterServerProven: boolean;
}

export interface ApiKeySignals {
  confirmed(step: string): boolean;
  /** The encoded key from `provideCrossClusterApiKey`, once one arrived. */
  providedKey(): string | undefined;
}

/** A0/B0 (remote cluster server) and A1/B1 (the cross-cluster API key). Returns the key's encoded value. */
export async function apiKeyRemoteSide(ctx: ApiKeyPathContext, signals: ApiKeySignals): Promise<string> {
  const { r, state, workflowId, remote } = ctx;
  if (!ctx.remoteClusterServerProven) {
    ctx.setCurrent(HUMAN_STEPS.remoteClusterServer);
    const why = ctx.probe.reachable
      ? 'The worker reached the address but could not verify a remote cluster server there.'
      : `The worker could not reach ${r.remote.proxyAddress} (only ECH's egress may be allowed), so it cannot prove the remote cluster server is enabled.`;
    const ok = await state.waitForHuman(
      HUMAN_STEPS.remoteClusterServer,
      'self-managed-org',
      remoteClusterServerInstructions(r, workflowId, why),
      ctx.humanTimeoutMs,
      () => signals.confirmed(HUMAN_STEPS.remoteClusterServer),
    );
    if (!ok) return ctx.endWithoutChanges('timed-out', HUMAN_STEPS.remoteClusterServer);
    const again = await activity('Probe the remote cluster server again').probeRemoteClusterServer({
      proxyAddress: r.remote.proxyAddress,
      serverName: r.remote.serverName,
      ca: r.remote.ca,
      expect: 'remote-cluster-server',
    });
    const stillWrong = again.findings.filter((f: Finding) => f.level === 'error');
    if (again.reachable && stillWrong.length > 0) {
      throw ApplicationFailure.create({
        type: preflightFailureType(stillWrong),
        message: `The remote cluster server is still not usable after the self-managed org confirmed it:\n${formatFindings(stillWrong)}`,
        nonRetryable: true,
      });
    }
    state.step(
      HUMAN_STEPS.remoteClusterServer,
      'done',
      again.reachable ? 'verified by TLS probe' : 'confirmed by the self-managed org',
    );
  } else {
    state.step(HUMAN_STEPS.remoteClusterServer, 'skipped', 'proven by the TLS probe');
  }

  ctx.setCurrent(HUMAN_STEPS.crossClusterApiKey);
  if (remote) {
    state.step(HUMAN_STEPS.crossClusterApiKey, 'running', 'creating the key on the self-managed cluster');
    const key = await activity('Create the cross-cluster API key').findOrCreateCrossClusterApiKey({
      target: remote,
      alias: r.alias,
      workflowId,
      access: r.access ?? {},
      expiration: r.keyExpiration,
    });
    ctx.created.apiKeyId = key.id;
    ctx.compensations.push({
      label: `cross-cluster API key ${key.id} on the self-managed cluster`,
      undo: () =>
        activity('Invalidate the cross-cluster API key').invalidateCrossClusterApiKey({ target: remote, id: key.id }),
    });
    state.step(HUMAN_STEPS.crossClusterApiKey, 'done', `key ${key.id}${key.created ? ' created' : ''}`);
    return key.encoded;
  }
  const ok = await state.waitForHuman(
    HUMAN_STEPS.crossClusterApiKey,
    'self-managed-org',
    crossClusterApiKeyInstructions(r, workflowId),
    ctx.humanTimeoutMs,
    () => signals.providedKey() !== undefined,
  );
  if (!ok) return ctx.endWithoutChanges('timed-out', HUMAN_STEPS.crossClusterApiKey);
  state.step(HUMAN_STEPS.crossClusterApiKey, 'done', 'key provided by the self-managed org');
  return signals.providedKey() as string;
}

/** A2/B2 on ECH after the approval: trust the private CA (path B), store the key in the keystore. */
export async function apiKeyEchSide(ctx: ApiKeyPathContext, encoded: string): Promise<void> {
  await apiKeyEchTrust(ctx);
  await apiKeyKeystore(ctx, encoded);
}

/** B2's trust entry for the private CA (path A: skipped, ECH trusts public CAs already). */
export async function apiKeyEchTrust(ctx: ApiKeyPathContext): Promise<void> {
  const { r, state, cloud, created } = ctx;
  if (r.remote.ca.kind === 'private') {
    ctx.setCurrent('ech-trust');
    const entry = privateCaTrustEntry(r.alias, r.remote.ca.pem);
    const trust = {
      state,
      cloud,
      compensations: ctx.compensations,
      ...(ctx.pendingReleases ? { pendingReleases: ctx.pendingReleases } : {}),
      ...(ctx.earlyTurn ? { earlyTurn: ctx.earlyTurn } : {}),
    };
    if ((await trustOnEch(trust, entry, 'the private CA')).created) created.trustEntry = entry.name;
  } else {
    state.step('ech-trust', 'skipped', 'public CA: ECH trusts it already');
  }
}

/**
 * A2/B2's keystore entry: the key under `cluster.remote.<alias>.credentials` (a restart before 8.14). `sideBySide`:
 * another step runs at the same time, so the keystore read is a regular activity — a local one would hold the
 * workflow task, and with it the other step's next command, until it answers.
 */
export async function apiKeyKeystore(
  ctx: ApiKeyPathContext,
  encoded: string,
  opts: { sideBySide?: boolean } = {},
): Promise<void> {
  ctx.created.keystoreEntry = await storeKeyInEchKeystore(
    ctx,
    { cloud: ctx.cloud, alias: ctx.r.alias, version: ctx.deployment.version },
    encoded,
    { localRead: !opts.sideBySide && fewerRoundTrips() },
  );
}
