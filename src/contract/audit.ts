/**
 * auditRemoteClusters (read-only): the request (the deployments, the remote credentials the audit may use, the expiry
 * warning) and its result (one row per connection with a status and the evidence). No I/O: the workflow bundle
 * imports this file.
 */
import { z } from 'zod';
import { DURATION_BOUNDS } from './duration';
import { local, remote, rotateRequestSchema } from './lifecycle';
import { boundedDuration, indexName, list, validateWith, type ValidationProblem } from './request';

const alias = z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1-64 lowercase letters, digits, "-" or "_"');

/** One self-managed cluster the audit may read (keys of ours, orphans), and the aliases that point at it. */
const auditRemote = z
  .object({
    aliases: list(alias).refine((a) => a.length > 0, 'must name at least one alias'),
    elasticsearch: remote.unwrap().shape.elasticsearch.unwrap(),
  })
  .strict();

const auditDeployment = z
  .object({
    local,
    /** Self-managed clusters with credentials: keys of ours are checked there (`_security/_query/api_key`). */
    remotes: list(auditRemote).default([]),
    /** A size-0 search through each alias on this index pattern (absent: connection checks only). */
    searchIndex: indexName.optional(),
  })
  .strict();

export const auditRequestSchema = z
  .object({
    deployments: list(auditDeployment).refine((d) => d.length > 0, 'must name at least one deployment'),
    /** A key expiring within this is `expiring`. */
    expiryWarning: boundedDuration(DURATION_BOUNDS.expiryWarning).default('30d'),
    /** Child workflows (one per deployment) running at once. */
    concurrency: z.number().int().min(1).max(50).default(5),
    /**
     * Start rotateRemoteClusterKey for every key of ours inside the warning window (id `rotate-<deployment>-<alias>`,
     * as `ech-remote rotate` uses; the rotation runs on, with its own approval, after the audit ends).
     */
    autoRotate: z.boolean().default(false),
    /** The rotations' options (as in a RotateRequest). */
    rotation: rotateRequestSchema
      .pick({ gracePeriod: true, keyExpiration: true, approvals: true, humanStepTimeout: true })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    r.deployments.forEach((d, i) => {
      if (seen.has(d.local.deploymentId)) {
        ctx.addIssue({ code: 'custom', path: ['deployments', i, 'local', 'deploymentId'], message: 'is listed twice' });
      }
      seen.add(d.local.deploymentId);
    });
  });

export type AuditRequest = z.output<typeof auditRequestSchema>;
export type AuditRequestInput = z.input<typeof auditRequestSchema>;
export type AuditDeployment = AuditRequest['deployments'][number];

export function validateAuditRequest(
  input: unknown,
): { ok: true; request: AuditRequest } | { ok: false; problems: ValidationProblem[] } {
  return validateWith(auditRequestSchema, input);
}

/** The child run's input: one deployment, the warning window, and the rotations to start (absent: none). */
export interface AuditDeploymentInput {
  deployment: AuditDeployment;
  expiryWarning: string;
  autoRotate?: AuditRequest['rotation'];
}

export const AUDIT_STATUSES = ['healthy', 'degraded', 'broken', 'drifted', 'expiring', 'orphan'] as const;
export type AuditStatus = (typeof AUDIT_STATUSES)[number];
/** The statuses that make `ech-remote audit` exit 3. */
export const AUDIT_FAILING: readonly AuditStatus[] = ['broken', 'drifted', 'expiring', 'orphan'];

export interface AuditRow {
  deploymentId: string;
  alias: string;
  status: AuditStatus;
  /** Made by this tool (our ownership record next to its settings). */
  ours: boolean;
  securityModel: 'api-key' | 'tls-certificate' | 'unknown';
  /** What is wrong, one sentence each (empty when healthy). */
  problems: string[];
  evidence: {
    connected?: boolean;
    resolveCluster?: unknown;
    searchHits?: number;
    keystoreEntry?: boolean;
    trustEntry?: boolean;
    recordModel?: string;
    keyId?: string;
    keyExpiration?: string;
    /** What the orphan is (key, trust entry, role, user). */
    orphan?: string;
    /** Proxy sockets open / configured, when fewer are open (`degraded`). */
    proxySockets?: string;
    /** Why the search through the alias was partial (`degraded`). */
    searchPartial?: string;
    /** The rotation the audit started for an expiring key (`autoRotate`), or why it did not. */
    rotation?: { workflowId: string; started: boolean; note?: string };
  };
}

export type AuditCounts = Record<AuditStatus, number>;

export interface AuditDeploymentResult {
  deploymentId: string;
  rows: AuditRow[];
  counts: AuditCounts;
  /** The deployment could not be audited at all (secrets, Cloud API): why. */
  error?: string;
}

export interface AuditResult {
  auditedAt: string;
  expiryWarning: string;
  rows: AuditRow[];
  counts: AuditCounts;
  /** Deployments that could not be audited, with why. */
  errors: { deploymentId: string; error: string }[];
  healthy: boolean;
}

export function countRows(rows: AuditRow[]): AuditCounts {
  const counts = Object.fromEntries(AUDIT_STATUSES.map((s) => [s, 0])) as AuditCounts;
  for (const r of rows) counts[r.status]++;
  return counts;
}
