/**
 * The requests of the day-2 workflows (rotateRemoteClusterKey, updateRemoteClusterAccess, disconnectRemoteCluster):
 * the connection they act on (deployment + alias, named the same way as in a ConnectRequest), the remote credentials
 * when the tool may act on the self-managed cluster itself, and the run's options. Validated like a ConnectRequest
 * (same limits, one problem per JSON path). No I/O: the workflow bundle imports this file.
 */
import { z } from 'zod';
import { DURATION_BOUNDS } from './duration';
import type { WorkflowKind } from './steps';
import {
  access,
  boundedDuration,
  checkCrossClusterAccess,
  hostPort,
  httpsUrl,
  indexName,
  list,
  pemCertificate,
  refId,
  roleSpec,
  secretName,
  serverName,
  validateWith,
  type ValidationProblem,
} from './request';

const alias = z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1-64 lowercase letters, digits, "-" or "_"');

/** The ECH deployment, as in a ConnectRequest's `local`. */
export const local = z
  .object({
    deploymentId: z.string().regex(/^[a-z0-9]{32}$/, 'must be a 32-character ECH deployment id'),
    refId: refId.optional(),
    cloud: z.object({ endpoint: httpsUrl.optional(), apiKeySecret: secretName }).strict(),
    elasticsearch: z.object({ url: httpsUrl.optional(), credentialsSecret: secretName }).strict(),
  })
  .strict();

/** The self-managed cluster's API, when the tool may act there (else the self-managed org does, by hand). */
export const remote = z
  .object({
    elasticsearch: z
      .object({ url: httpsUrl, credentialsSecret: secretName, caPem: pemCertificate.optional() })
      .strict()
      .optional(),
  })
  .strict()
  .default({});

const approvals = z
  .object({
    beforeLocalChanges: z.boolean().default(true),
    timeout: boundedDuration(DURATION_BOUNDS.approvalTimeout).default('7d'),
  })
  .strict()
  .default({ beforeLocalChanges: true, timeout: '7d' });

const verify = z
  .object({
    searchIndex: indexName.optional(),
    timeout: boundedDuration(DURATION_BOUNDS.verifyTimeout).default('2m'),
  })
  .strict()
  .default({ timeout: '2m' });

/** What every day-2 request has. */
const common = {
  alias,
  local,
  remote,
  approvals,
  humanStepTimeout: boundedDuration(DURATION_BOUNDS.humanStepTimeout).default('7d'),
  verify,
  onFailure: z.enum(['rollback', 'keep']).default('rollback'),
  dryRun: z.boolean().default(false),
};

export const rotateRequestSchema = z
  .object({
    ...common,
    /** How long the old key stays valid after the connection uses the new one (a durable timer). */
    gracePeriod: boundedDuration(DURATION_BOUNDS.gracePeriod).default('0s'),
    /** Expiration of the new key (Elasticsearch's duration); absent: the key does not expire. */
    keyExpiration: boundedDuration(DURATION_BOUNDS.keyExpiration).optional(),
  })
  .strict();

export const updateAccessRequestSchema = z
  .object({
    ...common,
    /** The key's new access, whole (Elasticsearch replaces it whole). */
    access,
    /**
     * ECH roles of this alias to update in the same run (each must be one this tool made; `remoteIndices` of
     * another alias are refused). Absent: the roles are left as they are.
     */
    roles: list(roleSpec).default([]),
  })
  .strict()
  .superRefine((r, ctx) => {
    checkCrossClusterAccess(r.access, ctx);
  });

export const disconnectRequestSchema = z
  .object({
    ...common,
    /** Disconnect even while CCR follower indices or auto-follow patterns use the alias (they stop working). */
    force: z.boolean().default(false),
    /**
     * The alias was not made by this tool (no ownership record): remove its `cluster.remote.<alias>.*` settings only,
     * nothing else (the keystore entry, keys, roles and users are someone else's).
     */
    adopt: z.boolean().default(false),
  })
  .strict();

/**
 * migrateRemoteClusterToApiKey: a connection of this tool in the TLS-certificate model (path C) moved to the API-key
 * model under the same alias (Elasticsearch's "Migrate from certificate to API key authentication").
 *
 * The key's `access` is named explicitly: in the certificate model the self-managed roles with the same names as the
 * ECH user's roles decided what a search could read; a cross-cluster key has no roles, so the request states what the
 * key grants (normally the index names those remote roles gave). With remote credentials the preflight reads those
 * same-named roles and warns about each index pattern they granted that `access` does not name.
 */
export const migrateRequestSchema = z
  .object({
    ...common,
    remote: z
      .object({
        elasticsearch: remote.unwrap().shape.elasticsearch,
        /** The self-managed remote cluster server the alias will point at (port 9443 by default). */
        remoteClusterServer: z
          .object({
            proxyAddress: hostPort,
            serverName: serverName.optional(),
            ca: z.discriminatedUnion('kind', [
              z.object({ kind: z.literal('public') }).strict(),
              z.object({ kind: z.literal('private'), pem: pemCertificate }).strict(),
            ]),
          })
          .strict(),
      })
      .strict(),
    /** The cross-cluster API key's access (what the same-named self-managed roles granted). */
    access,
    /** Expiration of the key (Elasticsearch's duration); absent: the key does not expire. */
    keyExpiration: boundedDuration(DURATION_BOUNDS.keyExpiration).optional(),
    /**
     * ECH roles of this alias to rewrite for the API-key model (with `remoteIndices`: in that model the ECH role, not
     * the same-named remote role, grants the remote indices). Absent: the roles are left as they are.
     */
    roles: list(roleSpec).default([]),
    /** CCR followers, auto-follow patterns, transforms or datafeeds still using the alias: refuse, or wait until paused. */
    activeOperations: z.enum(['refuse', 'wait']).default('refuse'),
    /** After the verified switch: remove the certificate model's trust entry and remote roles this tool made. */
    removeLeftovers: z.boolean().default(false),
  })
  .strict()
  .superRefine((r, ctx) => {
    checkCrossClusterAccess(r.access, ctx);
    r.roles.forEach((role, i) => {
      if (role.remote) {
        ctx.addIssue({
          code: 'custom',
          path: ['roles', i, 'remote'],
          message: "is the certificate model's same-named remote role; after the migration use remoteIndices",
        });
      }
    });
  });

export type RotateRequestInput = z.input<typeof rotateRequestSchema>;
export type RotateRequest = z.output<typeof rotateRequestSchema>;
export type UpdateAccessRequestInput = z.input<typeof updateAccessRequestSchema>;
export type UpdateAccessRequest = z.output<typeof updateAccessRequestSchema>;
export type DisconnectRequestInput = z.input<typeof disconnectRequestSchema>;
export type DisconnectRequest = z.output<typeof disconnectRequestSchema>;
export type MigrateRequestInput = z.input<typeof migrateRequestSchema>;
export type MigrateRequest = z.output<typeof migrateRequestSchema>;
export type Day2Request = RotateRequest | UpdateAccessRequest | DisconnectRequest | MigrateRequest;

/** One id per workflow kind and connection: a running one is attached to; an ended one is followed by a new run. */
export function day2WorkflowId(kind: WorkflowKind, r: { alias: string; local: { deploymentId: string } }): string {
  return `${kind}-${r.local.deploymentId}-${r.alias}`;
}

type Validation<T> = { ok: true; request: T } | { ok: false; problems: ValidationProblem[] };

export function validateRotateRequest(input: unknown): Validation<RotateRequest> {
  return validateWith(rotateRequestSchema, input);
}
export function validateUpdateAccessRequest(input: unknown): Validation<UpdateAccessRequest> {
  return validateWith(updateAccessRequestSchema, input);
}
export function validateDisconnectRequest(input: unknown): Validation<DisconnectRequest> {
  return validateWith(disconnectRequestSchema, input);
}
export function validateMigrateRequest(input: unknown): Validation<MigrateRequest> {
  return validateWith(migrateRequestSchema, input);
}
