/** Custom search attributes (contract): registered by `ech-remote dev` and the test server, documented for real servers. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const EchDeploymentId = defineSearchAttributeKey('EchDeploymentId', SearchAttributeType.KEYWORD);
export const RemoteClusterAlias = defineSearchAttributeKey('RemoteClusterAlias', SearchAttributeType.KEYWORD);
export const SecurityModel = defineSearchAttributeKey('SecurityModel', SearchAttributeType.KEYWORD);
/** Which lifecycle workflow a run is: connect, rotate, update-access, disconnect or migrate (WORKFLOW_KINDS). */
export const WorkflowKind = defineSearchAttributeKey('Workflow', SearchAttributeType.KEYWORD);
export const Phase = defineSearchAttributeKey('Phase', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [EchDeploymentId, RemoteClusterAlias, SecurityModel, Phase, WorkflowKind];
