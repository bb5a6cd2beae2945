/**
 * What a deploy asks of AWS, one call each: the group's launch template, its default
 * version, an instance refresh started and watched. Errors come back explained
 * (explainAwsError); waits end on the caller's signal.
 */
import {
  type AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  type InstanceRefresh,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import type { AwsAccess } from '../../aws/clients.js';
import { awsCode, explainAwsError } from '../../aws/errors.js';
import type { CatalogApi } from '../../catalog/types.js';
import type { BuildUi } from '../../core/events.js';
import type { RunStepsOptions } from '../../core/steps.js';
import { CancelledError, SystemError, UserError } from '../../lib/errors.js';
import { sleep } from '../../lib/sleep.js';
import type { RefreshPreferencesInput } from './preferences.js';

export interface RefreshPreferences {
  /** MinHealthyPercentage, 0–100 (AWS's default 90). */
  minHealthy: number;
  /** InstanceWarmup in seconds. */
  warmupSeconds: number;
  /** CheckpointPercentages: ascending, ending with 100. */
  checkpoints?: number[];
  /** CheckpointDelay in seconds. */
  checkpointDelaySeconds?: number;
  /** `--preferences`: any StartInstanceRefresh preference by its AWS name; wins over the fields above. */
  preferences?: RefreshPreferencesInput;
}

/** Where a deploy goes, and how its steps run (-on-error, second interrupt, left-behind report). */
export interface DeployTarget extends RunStepsOptions {
  access?: AwsAccess;
  region: string;
  /** The Auto Scaling group's name. */
  asg: string;
  /** The command's open catalog: the deploy history is kept in it. */
  catalog: CatalogApi;
  ui: BuildUi;
  signal?: AbortSignal;
  /** Between DescribeInstanceRefreshes calls (default 15 s). */
  pollMs?: number;
}

/** Instance refresh states that mean one is still running. */
export const ACTIVE = ['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking'];

/** The group's launch template; refuses groups a deploy cannot roll back (launch configurations, `$Latest`, pinned versions). */
export async function groupLaunchTemplate(
  asg: AutoScalingClient,
  ec2: EC2Client,
  o: DeployTarget,
): Promise<{ id: string }> {
  let group: AutoScalingGroup | undefined;
  try {
    const res = await asg.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [o.asg] }),
      {
        abortSignal: o.signal,
      },
    );
    group = res.AutoScalingGroups?.[0];
  } catch (err) {
    throw explainAwsError(err, 'DescribeAutoScalingGroups');
  }
  if (!group)
    throw new UserError('AsgNotFound', `no Auto Scaling group named "${o.asg}" in ${o.region}`, {
      hint: 'check --asg and --region',
    });
  const spec =
    group.LaunchTemplate ?? group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  if (!spec)
    throw new UserError(
      'AsgWithoutLaunchTemplate',
      `group "${o.asg}" uses a launch configuration, not a launch template`,
      {
        hint: 'move the group to a launch template (kiln deploys by launch template version)',
      },
    );
  const version = spec.Version ?? '$Default';
  if (version !== '$Default')
    throw new UserError(
      'AsgVersionNotDefault',
      `group "${o.asg}" uses launch template version ${version}; kiln deploys by changing the default version`,
      {
        hint:
          version === '$Latest'
            ? "$Latest cannot be rolled back to a numbered version: set the group to Version=$Default (aws autoscaling update-auto-scaling-group --launch-template LaunchTemplateId=…,Version='$Default')"
            : "set the group's launch template version to $Default",
      },
    );
  if (spec.LaunchTemplateId) return { id: spec.LaunchTemplateId };
  const res = await ec2
    .send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [spec.LaunchTemplateName!] }), {
      abortSignal: o.signal,
    })
    .catch((err) => {
      throw explainAwsError(err, 'DescribeLaunchTemplates');
    });
  const id = res.LaunchTemplates?.[0]?.LaunchTemplateId;
  if (!id)
    throw new SystemError(
      'LaunchTemplateNotFound',
      `launch template ${spec.LaunchTemplateName} not found`,
      { where: o.asg },
    );
  return { id };
}

/** Throws InstanceRefreshInProgress when the group has a refresh running. */
export async function refuseActiveRefresh(asg: AutoScalingClient, o: DeployTarget): Promise<void> {
  const res = await asg
    .send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: o.asg }), {
      abortSignal: o.signal,
    })
    .catch((err) => {
      throw explainAwsError(err, 'DescribeInstanceRefreshes');
    });
  const active = (res.InstanceRefreshes ?? []).find((r) => ACTIVE.includes(r.Status ?? ''));
  if (active) throw refreshInProgress(o, active.InstanceRefreshId);
}

/** The error for a group whose refresh is already running (`id` when known). */
export function refreshInProgress(o: DeployTarget, id?: string): UserError {
  return new UserError(
    'InstanceRefreshInProgress',
    `an instance refresh${id ? ` (${id})` : ''} is already running in group "${o.asg}"`,
    {
      where: `${o.region}/${o.asg}`,
      hint: 'wait for it to finish, or cancel it (aws autoscaling cancel-instance-refresh), then deploy again',
    },
  );
}

/** The launch template's default version number. */
export async function defaultVersion(
  ec2: EC2Client,
  id: string,
  signal?: AbortSignal,
): Promise<number> {
  const res = await ec2
    .send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [id] }), { abortSignal: signal })
    .catch((err) => {
      throw explainAwsError(err, 'DescribeLaunchTemplates');
    });
  const v = res.LaunchTemplates?.[0]?.DefaultVersionNumber;
  if (v === undefined)
    throw new SystemError('LaunchTemplateNotFound', `launch template ${id} not found`, {
      where: id,
    });
  return v;
}

/** Makes `version` the launch template's default. */
export async function setDefault(
  ec2: EC2Client,
  id: string,
  version: number,
  signal?: AbortSignal,
): Promise<void> {
  await ec2
    .send(
      new ModifyLaunchTemplateCommand({ LaunchTemplateId: id, DefaultVersion: String(version) }),
      { abortSignal: signal },
    )
    .catch((err) => {
      throw explainAwsError(err, 'ModifyLaunchTemplate');
    });
}

/** Starts a rolling instance refresh of the group with the preferences; returns its id. */
export async function startRefresh(
  asg: AutoScalingClient,
  o: DeployTarget,
  p: RefreshPreferences,
): Promise<string> {
  try {
    const res = await asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: o.asg,
        Strategy: 'Rolling',
        Preferences: {
          MinHealthyPercentage: p.minHealthy,
          InstanceWarmup: p.warmupSeconds,
          SkipMatching: true,
          ...(p.checkpoints?.length ? { CheckpointPercentages: p.checkpoints } : {}),
          ...(p.checkpointDelaySeconds !== undefined
            ? { CheckpointDelay: p.checkpointDelaySeconds }
            : {}),
          ...p.preferences,
        },
      }),
      { abortSignal: o.signal },
    );
    o.ui.say(`Started instance refresh ${res.InstanceRefreshId} in ${o.asg}`);
    return res.InstanceRefreshId!;
  } catch (err) {
    if (/^InstanceRefreshInProgress/.test(awsCode(err) ?? '')) throw refreshInProgress(o);
    throw explainAwsError(err, 'StartInstanceRefresh');
  }
}

/** Polls the refresh (progress to the Ui) until it is no longer active; returns its last state. */
export async function waitRefresh(
  asg: AutoScalingClient,
  o: DeployTarget,
  id: string,
): Promise<InstanceRefresh> {
  let last = '';
  for (;;) {
    const res = await asg
      .send(
        new DescribeInstanceRefreshesCommand({
          AutoScalingGroupName: o.asg,
          InstanceRefreshIds: [id],
        }),
        {
          abortSignal: o.signal,
        },
      )
      .catch((err) => {
        if (o.signal?.aborted) throw new CancelledError();
        throw explainAwsError(err, 'DescribeInstanceRefreshes');
      });
    const r = res.InstanceRefreshes?.[0];
    if (!r)
      throw new SystemError('RefreshVanished', `instance refresh ${id} is no longer listed`, {
        where: o.asg,
      });
    const pct = r.PercentageComplete ?? 0;
    const line = `${r.Status} ${pct}%${r.InstancesToUpdate !== undefined ? `, ${r.InstancesToUpdate} to update` : ''}`;
    if (line !== last)
      o.ui.message(
        `instance refresh ${id}: ${line}${r.StatusReason ? ` (${r.StatusReason})` : ''}`,
      );
    last = line;
    o.ui.progress(`instance refresh ${o.asg}`, pct, 100, !ACTIVE.includes(r.Status ?? ''));
    if (!ACTIVE.includes(r.Status ?? '')) return r;
    await sleep(o.pollMs ?? 15_000, o.signal);
  }
}

/** The version the group's current default replaced: kiln's record, else the version's own description. */
export async function previousRelease(
  ec2: EC2Client,
  o: DeployTarget,
  ltId: string,
  current: number,
): Promise<number> {
  const recorded = o.catalog.deployments
    .list({ backend: 'aws', group: o.asg })
    .find(
      (d) =>
        d.status === 'succeeded' &&
        d.launchTemplateId === ltId &&
        d.version === current &&
        d.previousVersion !== undefined,
    );
  if (recorded?.previousVersion !== undefined) return recorded.previousVersion;
  // Another machine may have deployed: the version kiln made names what it replaced.
  const res = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({
      LaunchTemplateId: ltId,
      Versions: [String(current)],
    }),
    { abortSignal: o.signal },
  );
  const m = /^kiln deploy \S+ \(previous default (\d+)\)$/.exec(
    res.LaunchTemplateVersions?.[0]?.VersionDescription ?? '',
  );
  if (m) return Number(m[1]);
  throw new UserError(
    'NothingToRollBack',
    `launch template ${ltId} version ${current} (the default of "${o.asg}") was not made by kiln deploy`,
    {
      hint: 'roll back by deploying the earlier AMI: kiln deploy aws --asg NAME ami-…',
    },
  );
}
