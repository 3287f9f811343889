/**
 * connectRemoteClusters (fleet): many connect requests (one self-managed cluster to N deployments, or N to one) that
 * share `defaults`, run as child connectRemoteCluster runs with bounded concurrency under one approval. The request,
 * its validation (each connection is a full ConnectRequest once merged over the defaults), the status and the result.
 * No I/O: the workflow bundle imports this file.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { DURATION_BOUNDS } from './duration';
import { approveInputSchema, rejectInputSchema } from './messages';
import {
  LIMITS,
  boundedDuration,
  validateConnectRequest,
  validateWith,
  type ConnectRequest,
  type ValidationProblem,
} from './request';
import type { ConnectStatus, PlanStep } from './status';

type Approval = ConnectStatus['approvals'][number];
type Refused = NonNullable<ConnectStatus['refused']>[number];

/** A partial ConnectRequest: checked as a whole once merged (the problem then names the field where it came from). */
const partialRequest = z.record(z.string(), z.unknown());

export const FLEET_APPROVAL_MODES = ['batch', 'per-deployment'] as const;

export const fleetRequestSchema = z
  .object({
    /** Fields every connection shares (deep-merged under each one; a connection's own value wins, lists replace). */
    defaults: partialRequest.default({}),
    /** One entry per connection: with `defaults`, a complete ConnectRequest. */
    connections: z
      .array(partialRequest)
      .min(1, 'must list at least one connection')
      .max(LIMITS.items, `must have at most ${LIMITS.items} entries`),
    /** Child connectRemoteCluster runs at once. */
    concurrency: z.number().int().min(1).max(20).default(5),
    /** One approval for every change of the fleet, or one per ECH deployment. */
    approval: z.enum(FLEET_APPROVAL_MODES).default('batch'),
    /** Nobody decides within this: nothing is started (`HumanStepTimedOut`). */
    approvalTimeout: boundedDuration(DURATION_BOUNDS.approvalTimeout).default('7d'),
    /** Return every connection's plan, change nothing. */
    dryRun: z.boolean().default(false),
  })
  .strict();

export type FleetRequestInput = z.input<typeof fleetRequestSchema>;
export type FleetRequest = Omit<z.output<typeof fleetRequestSchema>, 'connections'> & {
  /** Each connection merged over the defaults and validated. */
  connections: ConnectRequest[];
  /** The merged inputs as sent to each child (defaults applied by the child's own validation). */
  inputs: Record<string, unknown>[];
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `over` on top of `base`: objects merge field by field, anything else (lists included) replaces. */
export function mergeDefaults(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? mergeDefaults(b, v) : v;
  }
  return out;
}

/** Whether the JSON path (`$.remote.ca.pem`, `$.roles[0].name`) names a value present in `obj`. */
function hasPath(obj: unknown, path: string): boolean {
  const parts = path.replace(/^\$/, '').match(/\.[A-Za-z_$][\w$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\]/g);
  let cur: unknown = obj;
  for (const p of parts ?? []) {
    const key = p.startsWith('.')
      ? p.slice(1)
      : p.startsWith('["')
        ? (JSON.parse(p.slice(1, -1)) as string)
        : Number(p.slice(1, -1));
    if (typeof cur !== 'object' || cur === null || !(key in (cur as object))) return false;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return true;
}

/**
 * The child run of a connection: the id `ech-remote connect` gives the same connection (src/client.ts), so a re-run of
 * the fleet, or a connect by hand, finds it.
 */
export function connectionWorkflowId(r: { local: { deploymentId: string }; alias: string }): string {
  return `connect-${r.local.deploymentId}-${r.alias}`;
}

/** The connection's id within the fleet: one ECH deployment and one alias. */
export function connectionKey(r: { local: { deploymentId: string }; alias: string }): string {
  return `${r.local.deploymentId}/${r.alias}`;
}

/**
 * The fleet request, then each connection merged over the defaults as a ConnectRequest. A problem is named where the
 * value came from: `$.connections[3].remote.proxyAddress`, or `$.defaults.remote.ca.pem` when the connection took it
 * from the defaults (reported once). `dryRun` belongs to the fleet, not to a connection.
 */
export function validateFleetRequest(
  input: unknown,
): { ok: true; request: FleetRequest } | { ok: false; problems: ValidationProblem[] } {
  const outer = validateWith(fleetRequestSchema, input);
  if (!outer.ok) return outer;
  const r = outer.request;
  const problems: ValidationProblem[] = [];
  const seen = new Map<string, number>();
  const connections: ConnectRequest[] = [];
  const inputs: Record<string, unknown>[] = [];
  if ('dryRun' in r.defaults) problems.push({ path: '$.defaults.dryRun', message: 'use the fleet\'s own "dryRun"' });
  r.connections.forEach((c, i) => {
    if ('dryRun' in c) problems.push({ path: `$.connections[${i}].dryRun`, message: 'use the fleet\'s own "dryRun"' });
    const merged = mergeDefaults(r.defaults, c);
    const v = validateConnectRequest(merged);
    if (!v.ok) {
      for (const p of v.problems) {
        const own = p.path === '$' || hasPath(c, p.path) || !hasPath(r.defaults, p.path);
        const path = own ? `$.connections[${i}]${p.path.slice(1)}` : `$.defaults${p.path.slice(1)}`;
        if (!problems.some((q) => q.path === path && q.message === p.message))
          problems.push({ path, message: p.message });
      }
      return;
    }
    const key = connectionKey(v.request);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({
        path: `$.connections[${i}].alias`,
        message: `deployment ${v.request.local.deploymentId} and alias "${v.request.alias}" are already connections[${first}]`,
      });
    }
    seen.set(key, first ?? i);
    connections.push(v.request);
    inputs.push(merged);
  });
  if (problems.length > 0) return { ok: false, problems: problems.slice(0, LIMITS.problems) };
  return { ok: true, request: { ...r, connections, inputs } };
}

/** Where one connection of the fleet stands. */
export const FLEET_CONNECTION_STATES = [
  'pending',
  'planning',
  'planned',
  'awaiting-approval',
  'running',
  'connected',
  'already-connected',
  'failed',
  'rejected',
  'timed-out',
  'cancelled',
] as const;
export type FleetConnectionState = (typeof FLEET_CONNECTION_STATES)[number];

/** The states a connection ends in; `connected` and `already-connected` are the good ones. */
export const FLEET_ENDED: readonly FleetConnectionState[] = [
  'connected',
  'already-connected',
  'failed',
  'rejected',
  'timed-out',
  'cancelled',
];

export interface FleetConnection {
  /** Its index in the request's `connections`. */
  index: number;
  deploymentId: string;
  alias: string;
  proxyAddress: string;
  /** The child connectRemoteCluster run (`connect-<deploymentId>-<alias>`, as `ech-remote connect` names it). */
  workflowId: string;
  state: FleetConnectionState;
  /** failed / rejected / timed-out / cancelled / already-connected: why, one paragraph. */
  reason?: string;
  /** failed: the failure type of the child (failures.md), e.g. `AuthenticationFailed`, `RemoteConnectionFailed`. */
  errorType?: string;
  /** The plan of the child (its dry run), shown in the approval. */
  plan?: PlanStep[];
  /** connected: the key the child created, its duration. */
  apiKeyId?: string;
  durationMs?: number;
}

export type FleetCounts = Record<FleetConnectionState, number>;

export type FleetPhase =
  | 'validating'
  | 'planning'
  | 'awaiting-approval'
  | 'connecting'
  | 'completed'
  | 'failed'
  | 'rejected'
  | 'timed-out'
  | 'cancelled';

export interface FleetStatus {
  phase: FleetPhase;
  approval: 'batch' | 'per-deployment' | 'none';
  /** The decision the fleet waits for (batch: one; per deployment: the deployments not decided yet). */
  waitingFor?: {
    step: 'approve-local-changes';
    who: 'ech-org';
    deploymentIds: string[];
    instructions: string;
    since: string;
  };
  connections: FleetConnection[];
  counts: FleetCounts;
  approvals: (Approval & { deploymentId?: string })[];
  refused: Refused[];
  error?: { type: string; message: string };
}

export interface FleetResult {
  /** Every connection connected or already connected. */
  ok: boolean;
  connections: FleetConnection[];
  counts: FleetCounts;
  approvals: FleetStatus['approvals'];
  dryRun?: boolean;
  durationMs: number;
}

export function countConnections(connections: FleetConnection[]): FleetCounts {
  const counts = Object.fromEntries(FLEET_CONNECTION_STATES.map((s) => [s, 0])) as FleetCounts;
  for (const c of connections) counts[c.state]++;
  return counts;
}

/** The fleet's approve/reject: connect's payload, plus the deployment decided when approvals are per deployment. */
export const fleetApproveInputSchema = approveInputSchema.extend({ deploymentId: z.string().optional() }).strict();
export const fleetRejectInputSchema = rejectInputSchema.extend({ deploymentId: z.string().optional() }).strict();
export type FleetApproveInput = z.output<typeof fleetApproveInputSchema>;
export type FleetRejectInput = z.output<typeof fleetRejectInputSchema>;

/** Same names as connect's (`ech-remote approve <fleet id>` works), fleet payloads. */
export const fleetStatusQuery = defineQuery<FleetStatus>('status');
export const fleetApproveSignal = defineSignal<[FleetApproveInput]>('approve');
export const fleetRejectSignal = defineSignal<[FleetRejectInput]>('reject');
