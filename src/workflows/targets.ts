/**
 * The first reads of every lifecycle run (connect, rotate, update access, disconnect): the secrets the request names,
 * checked against the worker's bindings; the deployment; and where each credential may go. The ECH credentials go only
 * to the deployment's own endpoint as the Cloud API reports it, never to a URL of the request.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { CloudTarget, DeploymentFacts, EsTarget } from '../contract/facts';
import { sameHttpsEndpoint, type ConnectRequest } from '../contract/request';
import { secretReferences, type SecretNamingRequest } from '../domain/preflight';
import { activity, localActivity } from './activity';

type RemoteElasticsearch = NonNullable<ConnectRequest['remote']['elasticsearch']>;

export type TargetRequest = SecretNamingRequest & {
  local: Pick<ConnectRequest['local'], 'refId'>;
  remote: { elasticsearch?: Pick<RemoteElasticsearch, 'url' | 'credentialsSecret' | 'caPem'> };
};

export interface Targets {
  cloud: CloudTarget;
  deployment: DeploymentFacts;
  local: EsTarget;
  remote?: EsTarget;
}

/** The self-managed cluster's API, when the request gives credentials for it (no call needed to know it). */
export function remoteTargetOf(r: TargetRequest): EsTarget | undefined {
  return (
    r.remote.elasticsearch && {
      side: 'self-managed',
      url: r.remote.elasticsearch.url,
      credentialsSecret: r.remote.elasticsearch.credentialsSecret,
      ...(r.remote.elasticsearch.caPem ? { caPem: r.remote.elasticsearch.caPem } : {}),
    }
  );
}

/** The deployment as the request names it (its ref id may be absent: the deployment read then fills it in). */
export function cloudTargetOf(r: TargetRequest): CloudTarget {
  return {
    ...(r.local.cloud.endpoint ? { endpoint: r.local.cloud.endpoint } : {}),
    apiKeySecret: r.local.cloud.apiKeySecret,
    deploymentId: r.local.deploymentId,
    refId: r.local.refId,
  };
}

/**
 * `concurrent`: the secrets check (a local activity: it only reads the worker's bindings) and the deployment read side
 * by side (a secret the worker may not use is never sent by the read either: every activity resolves its secret
 * through the bindings); the secrets check's failure is the one reported when both fail. Otherwise one activity after
 * the other, as runs recorded before FEWER_ROUND_TRIPS_PATCH did.
 */
export async function resolveTargets(
  r: TargetRequest,
  preflightFailed: (err: unknown) => never,
  opts: { concurrent?: boolean } = {},
): Promise<Targets> {
  const cloud = cloudTargetOf(r);
  let deployment: DeploymentFacts;
  if (opts.concurrent) {
    const [secrets, described] = await Promise.all([
      settle(localActivity('Check the secrets the request names').checkSecrets({ secrets: secretReferences(r) })),
      // A regular activity: the first one of a run, where a run waits when the Cloud API is slow or down.
      settle(activity('Describe the ECH deployment').describeDeployment({ target: cloud })),
    ]);
    if (secrets.status === 'rejected') preflightFailed(secrets.reason);
    if (described.status === 'rejected') preflightFailed(described.reason);
    deployment = described.value;
  } else {
    await activity('Check the secrets the request names')
      .checkSecrets({ secrets: secretReferences(r) })
      .catch(preflightFailed);
    deployment = await activity('Describe the ECH deployment')
      .describeDeployment({ target: cloud })
      .catch(preflightFailed);
  }
  cloud.refId = deployment.refId;
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
  const remote = remoteTargetOf(r);
  return { cloud, deployment, local, ...(remote ? { remote } : {}) };
}

/**
 * A promise that never rejects: what it settled to. Calls started side by side are awaited through it, so one that
 * fails while the workflow awaits another is never an unhandled rejection (which would fail the workflow task).
 */
export function settle<T>(p: Promise<T>): Promise<PromiseSettledResult<T>> {
  return p.then(
    (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
    (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
  );
}
