/**
 * What the steps of `kiln deploy aws` (and its `--rollback`) share: a typed object in
 * place of Packer's state bag.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { NewDeployment } from '../../catalog/types.js';
import type { DeployTarget, RefreshPreferences } from './asg.js';

export interface DeployAwsState {
  /** `deploy` puts `imageId` into service; `rollback` returns to the release before. */
  kind: 'deploy' | 'rollback';
  target: DeployTarget & RefreshPreferences;
  /** The AMI to deploy (`deploy`), or the one the rollback returns to (learnt). */
  imageId?: string;
  /** `--launch-template-version`: what the new version is based on (`deploy`). */
  sourceVersion?: string;
  ec2?: EC2Client;
  asg?: AutoScalingClient;
  launchTemplateId?: string;
  /** The default version before this run: what a failure puts back. */
  previous?: number;
  /** The version this run makes the default (created by a deploy, an older one for a rollback). */
  version?: number;
  /** Set once the new version is made (a deploy's cleanup deletes it if no refresh started). */
  created?: boolean;
  refreshId?: string;
  /** The refresh was being waited on when the run was interrupted. */
  interrupted?: boolean;
  /** The default version is what it must stay (the deploy succeeded, or its rollback restored it). */
  settled?: boolean;
}

/** The deploy history row for this run as it stands (status `succeeded` until told otherwise). */
export function deploymentRecord(state: DeployAwsState): NewDeployment {
  return {
    backend: 'aws',
    group: state.target.asg,
    region: state.target.region,
    imageId: state.imageId ?? 'unknown',
    kind: state.kind,
    status: 'succeeded',
    launchTemplateId: state.launchTemplateId!,
    version: state.version!,
    previousVersion: state.previous!,
    refreshId: state.refreshId!,
  };
}
