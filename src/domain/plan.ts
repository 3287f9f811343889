/** The plan of a run: every step, who does it, and the request it sends (dry run, approval text). Pure. */
import type { ConnectRequest } from '../contract/request';
import type { PlanStep } from '../contract/status';
import { HUMAN_STEPS } from '../contract/steps';
import {
  connectRequest,
  crossClusterApiKeyRequest,
  keystorePatchBody,
  keystoreSecretName,
  privateCaTrustEntry,
  remoteRoleRequest,
  roleRequest,
  tlsCertificateTrustEntry,
  userRequest,
} from './requests';
import type { SelfManagedIdentity } from './tlsCertificate';

export function buildPlan(
  r: ConnectRequest,
  ctx: { workflowId: string; refId: string; remoteClusterServerProven: boolean; identity?: SelfManagedIdentity },
): PlanStep[] {
  const o = { workflowId: ctx.workflowId, alias: r.alias };
  const deploymentPath = `/api/v1/deployments/${r.local.deploymentId}`;
  const plan: PlanStep[] = [
    {
      step: 'preflight',
      who: 'workflow',
      action: 'Read-only checks of both clusters, the deployment and the TLS endpoint',
    },
  ];
  if (r.securityModel === 'api-key') {
    if (!ctx.remoteClusterServerProven) {
      plan.push({
        step: HUMAN_STEPS.remoteClusterServer,
        who: 'self-managed-org',
        action: 'Enable the remote cluster server with TLS on every node, restart, confirm',
      });
    }
    const key = crossClusterApiKeyRequest(r, ctx.workflowId);
    plan.push(
      r.remote.elasticsearch
        ? {
            step: HUMAN_STEPS.crossClusterApiKey,
            who: 'workflow',
            action: 'Create (or reuse) the cross-cluster API key on the self-managed cluster',
            request: { system: 'self-managed-elasticsearch', ...key },
          }
        : {
            step: HUMAN_STEPS.crossClusterApiKey,
            who: 'self-managed-org',
            action: 'Create the cross-cluster API key and hand over its encoded value (provideCrossClusterApiKey)',
            request: { system: 'self-managed-elasticsearch', ...key },
          },
    );
  }
  if (r.securityModel === 'tls-certificate') {
    if (r.remote.ca.kind !== 'private') {
      plan.push({
        step: HUMAN_STEPS.remoteCaCertificate,
        who: 'self-managed-org',
        action: 'Hand over the transport CA certificate (provideRemoteCaCertificate)',
      });
    }
    plan.push({
      step: HUMAN_STEPS.remoteTrust,
      who: 'self-managed-org',
      action:
        `Trust the ECH CA(s) (GET ${deploymentPath}/certificate-authority), restrict trust to this deployment and the own nodes` +
        `${ctx.identity?.reissue === 'no' ? '' : ', re-issue transport certificates with otherName if they lack it'}` +
        `${r.remote.elasticsearch ? '' : ', create the same-named roles'}; restart, confirm (confirmRemoteStep)`,
    });
  }
  if (r.approvals.beforeLocalChanges) {
    plan.push({
      step: HUMAN_STEPS.approveLocalChanges,
      who: 'ech-org',
      action: 'Approve the changes to the ECH deployment',
    });
  }
  // The ECH trust entry: the self-managed transport CA for its nodes only (path C), or the private CA (path B).
  const trust =
    r.securityModel === 'tls-certificate' && ctx.identity
      ? {
          action:
            'Trust the self-managed transport CA for its nodes only (settings.trust.direct, type generic, whole trust object re-sent), wait for the plan',
          entry: tlsCertificateTrustEntry(
            r.alias,
            r.remote.ca.kind === 'private' ? r.remote.ca.pem : '<the transport CA from provideRemoteCaCertificate>',
            ctx.identity,
          ),
        }
      : r.securityModel === 'api-key' && r.remote.ca.kind === 'private'
        ? {
            action:
              'Trust the private CA on the ECH deployment (settings.trust.direct, whole trust object re-sent), wait for the plan',
            entry: privateCaTrustEntry(r.alias, r.remote.ca.pem),
          }
        : undefined;
  if (trust) {
    plan.push({
      step: 'ech-trust',
      who: 'workflow',
      action: trust.action,
      request: {
        system: 'cloud-api',
        method: 'PUT',
        path: deploymentPath,
        body: {
          resources: {
            elasticsearch: [
              { ref_id: ctx.refId, settings: { trust: { direct: ['…existing entries…', trust.entry] } } },
            ],
          },
        },
      },
    });
  }
  if (r.securityModel === 'api-key') {
    plan.push({
      step: 'ech-keystore',
      who: 'workflow',
      action: `Store the key as ${keystoreSecretName(r.alias)} in the ECH keystore (reloaded without restart on 8.14+)`,
      request: {
        system: 'cloud-api',
        method: 'PATCH',
        path: `${deploymentPath}/elasticsearch/${ctx.refId}/keystore`,
        body: keystorePatchBody(r.alias, '<encoded cross-cluster API key>'),
      },
    });
  }
  plan.push({
    step: 'connect',
    who: 'workflow',
    action: 'Register the remote cluster (proxy mode)',
    request: { system: 'ech-elasticsearch', ...connectRequest(r, o) },
  });
  plan.push({
    step: 'verify',
    who: 'workflow',
    action: `Check _remote/info, _resolve/cluster${r.verify.searchIndex ? ` and search ${r.alias}:${r.verify.searchIndex}` : ''}`,
  });
  for (const role of r.roles) {
    const remoteRole = r.securityModel === 'tls-certificate' ? remoteRoleRequest(role, o) : undefined;
    if (remoteRole && r.remote.elasticsearch) {
      plan.push({
        step: 'roles-and-users',
        who: 'workflow',
        action: `Create or update role ${role.name} on the self-managed cluster (same name as on ECH)`,
        request: { system: 'self-managed-elasticsearch', ...remoteRole },
      });
    }
    plan.push({
      step: 'roles-and-users',
      who: 'workflow',
      action: `Create or update role ${role.name}`,
      request: { system: 'ech-elasticsearch', ...roleRequest(role, o) },
    });
  }
  for (const user of r.users) {
    plan.push({
      step: 'roles-and-users',
      who: 'workflow',
      action: `Create or update user ${user.username}`,
      request: { system: 'ech-elasticsearch', ...userRequest(user, o) },
    });
  }
  return plan;
}
