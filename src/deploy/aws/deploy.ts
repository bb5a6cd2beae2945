/**
 * `kiln deploy aws`: put an AMI into service in an Auto Scaling group. A new numbered
 * launch template version with the AMI becomes the default, an instance refresh replaces
 * the instances (minimum healthy percentage, warm-up, checkpoints) while kiln reports its
 * progress, and when the refresh fails or is cancelled the previous default version is
 * restored and a second refresh brings the old instances back. `rollbackDeploy` returns
 * to the previous release on request. Every deploy is recorded in the catalog.
 */
import {
  type AutoScalingClient,
  type AutoScalingGroup,
  CancelInstanceRefreshCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  type InstanceRefresh,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateVersionsCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import { type AwsAccess, autoScalingClient, ec2Client } from '../../aws/clients.js';
import { awsCode, describeAwsError, explainAwsError } from '../../aws/errors.js';
import type { CatalogApi, NewDeployment } from '../../catalog/types.js';
import type { BuildUi } from '../../core/events.js';
import { CancelledError, SystemError, UserError } from '../../lib/errors.js';
import { sleep } from '../../lib/sleep.js';

export interface RefreshPreferences {
  /** MinHealthyPercentage, 0–100 (AWS's default 90). */
  minHealthy: number;
  /** InstanceWarmup in seconds. */
  warmupSeconds: number;
  /** CheckpointPercentages: ascending, ending with 100. */
  checkpoints?: number[];
  /** CheckpointDelay in seconds. */
  checkpointDelaySeconds?: number;
}

export interface DeployTarget {
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
  /** Told what a cancel would still have to undo (runSteps' shape), so a forced exit can name it. */
  onCleanupPending?: (pending: readonly string[]) => void;
}

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

const ACTIVE = ['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking'];

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
  const { ec2, asg, close } = clients(o);
  const ui = o.ui;
  try {
    const lt = await groupLaunchTemplate(asg, ec2, o);
    await refuseActiveRefresh(asg, o);
    const image = await ec2
      .send(new DescribeImagesCommand({ ImageIds: [o.imageId] }), { abortSignal: o.signal })
      .catch((err) => {
        if (/InvalidAMIID/.test(awsCode(err) ?? '')) return { Images: [] };
        throw explainAwsError(err, 'DescribeImages');
      });
    if (image.Images?.[0]?.State !== 'available')
      throw new UserError(
        'AmiNotAvailable',
        `${o.imageId} is not an available AMI in ${o.region}`,
        {
          hint: 'check the region (--region) and that the build finished',
        },
      );
    const previous = await defaultVersion(ec2, lt.id, o.signal);
    const source =
      o.sourceVersion && o.sourceVersion !== '$Default' ? Number(o.sourceVersion) : previous;

    ui.say(`Creating launch template ${lt.id} version with ${o.imageId} (from version ${source})`);
    const created = await ec2
      .send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: lt.id,
          SourceVersion: String(source),
          VersionDescription: `kiln deploy ${o.imageId} (previous default ${previous})`,
          LaunchTemplateData: { ImageId: o.imageId },
        }),
        { abortSignal: o.signal },
      )
      .catch((err) => {
        throw explainAwsError(err, 'CreateLaunchTemplateVersion');
      });
    const version = created.LaunchTemplateVersion!.VersionNumber!;
    const restore = `set launch template ${lt.id}'s default version back to ${previous}`;
    o.onCleanupPending?.([restore, `delete launch template ${lt.id} version ${version}`]);
    let refreshId: string;
    try {
      await setDefault(ec2, lt.id, version, o.signal);
      ui.say(`Launch template ${lt.id}: default version ${previous} → ${version}`);
      refreshId = await startRefresh(asg, o, o);
    } catch (err) {
      // Nothing has changed on the instances: put the template back and forget the version.
      await setDefault(ec2, lt.id, previous).catch(() => {});
      // Few attempts: this is the undo of a failure the user is waiting to hear about.
      const undo = ec2Client(o.access ?? {}, o.region, 3);
      await undo
        .send(
          new DeleteLaunchTemplateVersionsCommand({
            LaunchTemplateId: lt.id,
            Versions: [String(version)],
          }),
        )
        .then((res) => {
          const bad = res.UnsuccessfullyDeletedLaunchTemplateVersions?.[0];
          if (bad) throw new Error(`${bad.ResponseError?.Code}: ${bad.ResponseError?.Message}`);
        })
        .catch((e) =>
          ui.error(
            `could not delete launch template ${lt.id} version ${version}: ${describeAwsError(e)}`,
          ),
        )
        .finally(() => undo.destroy());
      throw err;
    }
    const record: NewDeployment = {
      backend: 'aws',
      group: o.asg,
      region: o.region,
      imageId: o.imageId,
      kind: 'deploy',
      status: 'succeeded',
      launchTemplateId: lt.id,
      version,
      previousVersion: previous,
      refreshId,
    };
    o.onCleanupPending?.([`cancel instance refresh ${refreshId}`, restore]);
    let final: InstanceRefresh;
    try {
      final = await waitRefresh(asg, o, refreshId);
    } catch (err) {
      if (err instanceof CancelledError) {
        ui.error(
          `Cancelled: stopping instance refresh ${refreshId} and restoring launch template version ${previous}`,
        );
        await asg
          .send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: o.asg }))
          .catch(() => {});
        await setDefault(ec2, lt.id, previous).catch(() => {});
        o.catalog.deployments.record({ ...record, status: 'cancelled', reason: 'interrupted' });
      }
      throw err;
    }
    if (final.Status === 'Successful') {
      o.catalog.deployments.record(record);
      ui.say(`Deployed ${o.imageId} to ${o.asg} (launch template ${lt.id} version ${version})`);
      return { refreshId, launchTemplateId: lt.id, version, previousVersion: previous };
    }

    const reason = final.StatusReason ?? 'no reason given';
    ui.error(`Instance refresh ${refreshId} ${final.Status}: ${reason}`);
    ui.say(`Rolling back: launch template ${lt.id} default version ${version} → ${previous}`);
    await setDefault(ec2, lt.id, previous, undefined);
    let rolledBack = false;
    let rollbackNote = '';
    try {
      const back = await startRefresh(asg, { ...o, signal: undefined }, o);
      const done = await waitRefresh(asg, { ...o, signal: undefined }, back);
      rolledBack = done.Status === 'Successful';
      if (!rolledBack)
        rollbackNote = `; the rollback refresh ${back} ended ${done.Status}: ${done.StatusReason ?? ''}`;
    } catch (err) {
      rollbackNote = `; the rollback refresh could not run: ${describeAwsError(err)}`;
    }
    o.catalog.deployments.record({
      ...record,
      status: rolledBack ? 'failed' : 'rollback-failed',
      reason,
    });
    throw new SystemError(
      'DeployFailed',
      `deploy of ${o.imageId} to ${o.asg} failed: instance refresh ${final.Status}: ${reason}${rolledBack ? `; rolled back to launch template version ${previous}` : rollbackNote}`,
      {
        where: `${o.region}/${o.asg}`,
        hint: rolledBack
          ? 'the group runs the previous release again; fix the image and deploy again'
          : 'the launch template default is back to the previous version; check the group in the AWS console',
      },
    );
  } finally {
    o.onCleanupPending?.([]);
    close();
  }
}

/** Returns the group to the release before the current one (kiln's record, else the version's own description). */
export async function rollbackDeploy(o: DeployTarget & RefreshPreferences): Promise<DeployResult> {
  validateDeployOptions(o);
  const { ec2, asg, close } = clients(o);
  try {
    const lt = await groupLaunchTemplate(asg, ec2, o);
    await refuseActiveRefresh(asg, o);
    const current = await defaultVersion(ec2, lt.id, o.signal);
    const target = await previousRelease(ec2, o, lt.id, current);
    const versions = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: lt.id,
        Versions: [String(target)],
      }),
      { abortSignal: o.signal },
    );
    const imageId = versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId ?? 'unknown';
    o.ui.say(
      `Rolling back ${o.asg}: launch template ${lt.id} default version ${current} → ${target} (${imageId})`,
    );
    await setDefault(ec2, lt.id, target, o.signal);
    let refreshId: string;
    try {
      refreshId = await startRefresh(asg, o, o);
    } catch (err) {
      await setDefault(ec2, lt.id, current).catch(() => {});
      throw err;
    }
    const done = await waitRefresh(asg, o, refreshId);
    const record: NewDeployment = {
      backend: 'aws',
      group: o.asg,
      region: o.region,
      imageId,
      kind: 'rollback',
      status: done.Status === 'Successful' ? 'succeeded' : 'failed',
      launchTemplateId: lt.id,
      version: target,
      previousVersion: current,
      refreshId,
      ...(done.StatusReason ? { reason: done.StatusReason } : {}),
    };
    o.catalog.deployments.record(record);
    if (done.Status !== 'Successful')
      throw new SystemError(
        'RollbackFailed',
        `rollback refresh ${refreshId} ended ${done.Status}: ${done.StatusReason ?? 'no reason given'}`,
        {
          where: `${o.region}/${o.asg}`,
          hint: `the launch template default is version ${target}; check the group's instances`,
        },
      );
    o.ui.say(`Rolled back ${o.asg} to launch template version ${target}`);
    return { refreshId, launchTemplateId: lt.id, version: target, previousVersion: current };
  } finally {
    close();
  }
}

function clients(o: DeployTarget): { ec2: EC2Client; asg: AutoScalingClient; close: () => void } {
  const ec2 = ec2Client(o.access ?? {}, o.region);
  const asg = autoScalingClient(o.access ?? {}, o.region);
  return {
    ec2,
    asg,
    close: () => {
      ec2.destroy();
      asg.destroy();
    },
  };
}

/** The group's launch template; refuses groups a deploy cannot roll back (launch configurations, `$Latest`, pinned versions). */
async function groupLaunchTemplate(
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

async function refuseActiveRefresh(asg: AutoScalingClient, o: DeployTarget): Promise<void> {
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

function refreshInProgress(o: DeployTarget, id?: string): UserError {
  return new UserError(
    'InstanceRefreshInProgress',
    `an instance refresh${id ? ` (${id})` : ''} is already running in group "${o.asg}"`,
    {
      where: `${o.region}/${o.asg}`,
      hint: 'wait for it to finish, or cancel it (aws autoscaling cancel-instance-refresh), then deploy again',
    },
  );
}

async function defaultVersion(ec2: EC2Client, id: string, signal?: AbortSignal): Promise<number> {
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

async function setDefault(
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

async function startRefresh(
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

async function waitRefresh(
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

async function previousRelease(
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
