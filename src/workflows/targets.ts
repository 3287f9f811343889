/**
 * The first reads of every lifecycle run (connect, rotate, update access, disconnect): the secrets the request names,
 * checked against the worker's bindings; the deployment; and where each credential may go. The ECH credentials go only
 * to the deployment's own endpoint as the Cloud API reports it, never to a URL of the request.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { CloudTarget, DeploymentFacts, EsTarget } from '../contract/facts';
import { sameHttpsEndpoint, type ConnectRequest } from '../contract/request';
import { secretReferences, type SecretNamingRequest } from '../domain/preflight';
import { activity } from './activity';

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

export async function resolveTargets(r: TargetRequest, preflightFailed: (err: unknown) => never): Promise<Targets> {
  const cloud: CloudTarget = {
    ...(r.local.cloud.endpoint ? { endpoint: r.local.cloud.endpoint } : {}),
    apiKeySecret: r.local.cloud.apiKeySecret,
    deploymentId: r.local.deploymentId,
    refId: r.local.refId,
  };
  await activity('Check the secrets the request names')
    .checkSecrets({ secrets: secretReferences(r) })
    .catch(preflightFailed);
  const deployment = await activity('Describe the ECH deployment')
    .describeDeployment({ target: cloud })
    .catch(preflightFailed);
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
  const remote: EsTarget | undefined = r.remote.elasticsearch && {
    side: 'self-managed',
    url: r.remote.elasticsearch.url,
    credentialsSecret: r.remote.elasticsearch.credentialsSecret,
    ...(r.remote.elasticsearch.caPem ? { caPem: r.remote.elasticsearch.caPem } : {}),
  };
  return { cloud, deployment, local, ...(remote ? { remote } : {}) };
}
