/**
 * `kiln deploy aws`: put an AMI into service in an Auto Scaling group. A new numbered
 * launch template version with the AMI becomes the default, an instance refresh replaces
 * the instances (minimum healthy percentage, warm-up, checkpoints) while kiln reports its
 * progress, and when the refresh fails or is cancelled the previous default version is
 * restored and a second refresh brings the old instances back. `rollbackDeploy` returns
 * to the previous release on request. Every deploy is recorded in the catalog. Both are
 * step lists (steps/*.ts) through core's runner: what a failure or an interrupt must undo
 * is each step's cleanup.
 */

import { runSteps, type Step } from '../../core/steps.js';
import { UserError } from '../../lib/errors.js';
import type { DeployTarget, RefreshPreferences } from './asg.js';
import type { DeployAwsState } from './state.js';
import { checkGroup } from './steps/check-group.js';
import { createTemplateVersion } from './steps/create-template-version.js';
import { findPreviousRelease } from './steps/find-previous-release.js';
import { openClients } from './steps/open-clients.js';
import { setDefaultVersion } from './steps/set-default-version.js';
import { startRefresh } from './steps/start-refresh.js';
import { waitRefresh } from './steps/wait-refresh.js';
import { waitRollback } from './steps/wait-rollback.js';

export type { DeployTarget, RefreshPreferences } from './asg.js';

/** The steps of a deploy, in order (each undoes what it changed in its cleanup). */
export const DEPLOY_STEPS: readonly Step<DeployAwsState>[] = [
  openClients,
  checkGroup,
  createTemplateVersion,
  setDefaultVersion,
  startRefresh,
  waitRefresh,
];

/** The steps of `--rollback`, in order. */
export const ROLLBACK_STEPS: readonly Step<DeployAwsState>[] = [
  openClients,
  findPreviousRelease,
  setDefaultVersion,
  startRefresh,
  waitRollback,
];

export interface DeployOptions extends DeployTarget, RefreshPreferences {
  /** `ami-…` */
  imageId: string;
  /** The launch template version to base the new one on; `$Latest` is refused (default: the current default version). */
  sourceVersion?: string;
}

export interface DeployResult {
  refreshId: string;
  launchTemplateId: string;
  version: number;
  previousVersion: number;
}

/** Checks deploy options before any AWS call: every problem at once, as one UserError. */
export function validateDeployOptions(o: Partial<DeployOptions>): void {
  const errors: string[] = [];
  if (!o.asg) errors.push('--asg: the Auto Scaling group name is required');
  if (o.imageId !== undefined && !/^ami-([0-9a-f]{8}|[0-9a-f]{17})$/.test(o.imageId))
    errors.push(`IMAGE: "${o.imageId}" is not an AMI id (ami-…)`);
  if (
    o.minHealthy !== undefined &&
    (!Number.isInteger(o.minHealthy) || o.minHealthy < 0 || o.minHealthy > 100)
  )
    errors.push(`--min-healthy: ${o.minHealthy} is not a percentage from 0 to 100`);
  if (o.warmupSeconds !== undefined && (!Number.isInteger(o.warmupSeconds) || o.warmupSeconds < 0))
    errors.push(`--warmup: ${o.warmupSeconds} is not a whole number of seconds`);
  if (o.checkpoints) {
    const c = o.checkpoints;
    if (
      c.some((p) => !Number.isInteger(p) || p < 1 || p > 100) ||
      c.some((p, i) => i > 0 && p <= c[i - 1]!)
    )
      errors.push(`--checkpoints: ${c.join(',')} must be ascending percentages from 1 to 100`);
    else if (c.at(-1) !== 100)
      errors.push(`--checkpoints: ${c.join(',')} must end with 100 (AWS requires it)`);
  }
  if (o.sourceVersion !== undefined && !/^\d+$|^\$Default$/.test(o.sourceVersion))
    errors.push(
      `launch template version "${o.sourceVersion}": only a number or $Default — $Latest moves on its own, and a rollback needs the numbered version it replaced`,
    );
  if (errors.length > 0)
    throw new UserError(
      'InvalidDeploy',
      errors.length === 1 ? errors[0]! : 'invalid deploy options',
      {
        ...(errors.length > 1 ? { details: errors } : {}),
        hint: 'kiln deploy aws --asg NAME ami-… [--min-healthy 90] [--warmup 60] [--checkpoints 50,100]',
      },
    );
}

/** Deploys an AMI to the group; resolves when the refresh succeeded, throws (after rolling back) when it did not. */
export async function deployAmi(o: DeployOptions): Promise<DeployResult> {
  validateDeployOptions(o);
  const state: DeployAwsState = {
    kind: 'deploy',
    target: o,
    imageId: o.imageId,
    ...(o.sourceVersion ? { sourceVersion: o.sourceVersion } : {}),
  };
  await runSteps(DEPLOY_STEPS, state, stepContext(o), o);
  return result(state);
}

/** Returns the group to the release before the current one (kiln's record, else the version's own description). */
export async function rollbackDeploy(o: DeployTarget & RefreshPreferences): Promise<DeployResult> {
  validateDeployOptions(o);
  const state: DeployAwsState = { kind: 'rollback', target: o };
  await runSteps(ROLLBACK_STEPS, state, stepContext(o), o);
  return result(state);
}

function stepContext(o: DeployTarget) {
  return { signal: o.signal ?? new AbortController().signal, ui: o.ui };
}

function result(state: DeployAwsState): DeployResult {
  return {
    refreshId: state.refreshId!,
    launchTemplateId: state.launchTemplateId!,
    version: state.version!,
    previousVersion: state.previous!,
  };
}
