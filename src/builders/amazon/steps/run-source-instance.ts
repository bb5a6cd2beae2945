/**
 * Launches the source instance, tagged from creation (run_tags on the instance,
 * run_volume_tags on its volumes, kiln's ownership tags on both) and with a ClientToken. RunInstances is retried here, not
 * by the SDK: before every retry kiln looks for an instance carrying this attempt's token
 * tag, so a response lost after AWS (or moto, which ignores ClientToken) created the
 * instance never leads to a second one. The cleanup terminates it — found by tag if the
 * launch's answer never arrived.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type BlockDeviceMapping,
  DescribeInstancesCommand,
  type EC2Client,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  awsCode,
  describeAwsError,
  explainAwsError,
  isCredentialError,
  isTransient,
  leftoverError,
} from '../../../aws/errors.js';
import { RUN_TAG, TOKEN_TAG, toTags } from '../../../aws/tags.js';
import type { Step } from '../../../core/steps.js';
import { sleep } from '../../../lib/sleep.js';
import { type BlockDeviceConfig, runTags, runVolumeTags, tenancyOf } from '../config.js';
import type { AmazonState } from '../state.js';
import { journalAws } from './open-lease.js';

const LAUNCH_ATTEMPTS = 10;

export const runSourceInstance: Step<AmazonState> = {
  name: 'run-source-instance',
  async run(state, { signal, ui }) {
    const { ctx } = state;
    const token = `${ctx.runId}-${randomBytes(4).toString('hex')}`.slice(0, 64);
    const input = await launchInput(state, token);
    ui.say('Launching a source AWS instance...');
    const region = state.config.region;
    journalAws(state, 'aws-instance', token, { region, token });
    let delay = 500;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await state.ec2NoRetry.send(new RunInstancesCommand(input), {
          abortSignal: signal,
        });
        state.instanceId = res.Instances?.[0]?.InstanceId;
        break;
      } catch (err) {
        if (isCredentialError(err)) throw explainAwsError(err, 'RunInstances');
        if (!isTransient(err) || attempt >= LAUNCH_ATTEMPTS || signal.aborted) throw err;
        // If kiln cannot tell whether the launch happened, it stops rather than risk a second
        // instance (moto, unlike AWS, does not deduplicate ClientToken); cleanup finds it by tag.
        const found = await findByToken(state.ec2(), token, signal).catch((lookupErr) => {
          throw explainAwsError(
            lookupErr,
            'DescribeInstances (looking for a launch whose answer was lost)',
          );
        });
        if (found?.InstanceId) {
          ui.message(
            `RunInstances answer lost (${describeAwsError(err)}); found the instance by its token: ${found.InstanceId}`,
          );
          state.instanceId = found.InstanceId;
          break;
        }
        ui.message(
          `RunInstances: ${describeAwsError(err)}; retrying in ${delay} ms (attempt ${attempt})`,
        );
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 20_000);
      }
    }
    if (state.instanceId)
      journalAws(state, 'aws-instance', token, { region, token, id: state.instanceId });
    ui.message(`Instance ID: ${state.instanceId}`);
    ctx.generated.InstanceId = state.instanceId;
  },
  async cleanup(state, { signal, ui }) {
    const ec2 = state.ec2();
    let ids = state.instanceId ? [state.instanceId] : [];
    if (ids.length === 0) {
      // The launch may have happened without kiln hearing of it: look by the run's tag.
      const res = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${RUN_TAG}`, Values: [state.ctx.runId] },
            { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
          ],
        }),
        { abortSignal: signal },
      );
      ids = (res.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
    }
    if (ids.length === 0) return;
    ui.say('Terminating the source AWS instance...');
    try {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }), { abortSignal: signal });
    } catch (err) {
      if (awsCode(err) === 'InvalidInstanceID.NotFound') return;
      throw leftoverError('instance', ids.join(', '), err);
    }
    await waitTerminated(ec2, ids, state.polling.delayMs, signal).catch((err) => {
      ui.error(
        `instance ${ids.join(', ')} was told to terminate but kiln stopped waiting: ${describeAwsError(err)}`,
      );
    });
  },
};

/** The instance launched with `token`, if AWS lists it. */
export async function findByToken(
  ec2: EC2Client,
  token: string,
  signal: AbortSignal,
): Promise<Instance | undefined> {
  const res = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TOKEN_TAG}`, Values: [token] }] }),
    { abortSignal: signal },
  );
  return (res.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .find((i) => i.State?.Name !== 'terminated');
}

async function waitTerminated(
  ec2: EC2Client,
  ids: string[],
  delayMs: number,
  signal: AbortSignal,
): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const res = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }), {
      abortSignal: signal,
    });
    const states = (res.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .map((x) => x.State?.Name);
    if (states.every((s) => s === 'terminated')) return;
    await sleep(delayMs, signal);
  }
}

/**
 * The RunInstances request for this build: the source AMI with the run's network, key,
 * user data (base64, from user_data or user_data_file), instance profile, placement,
 * metadata options and block devices, tagged from creation — the instance with run_tags,
 * its volumes with run_volume_tags, both with kiln's ownership tags and the launch token.
 */
export async function launchInput(
  state: AmazonState,
  token: string,
): Promise<RunInstancesCommandInput> {
  const { config } = state;
  const own = [...state.ownTags, { Key: TOKEN_TAG, Value: token }];
  const input: RunInstancesCommandInput = {
    ImageId: state.sourceImage!.ImageId,
    InstanceType: config.instance_type as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    ClientToken: token,
    ...(state.keyName ? { KeyName: state.keyName } : {}),
    InstanceInitiatedShutdownBehavior: config.shutdown_behavior ?? 'stop',
    BlockDeviceMappings: [
      ...(blockDevices(config.launch_block_device_mappings) ?? []),
      ...(config.no_ephemeral ? noEphemeral() : []),
    ],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: toTags({ Name: 'kiln builder', ...runTags(config) }, own) },
      { ResourceType: 'volume', Tags: toTags(runVolumeTags(config), own) },
    ],
  };
  if (input.BlockDeviceMappings?.length === 0) delete input.BlockDeviceMappings;
  let userData: Buffer | undefined;
  if (config.user_data) userData = Buffer.from(config.user_data, 'utf8');
  else if (config.user_data_file) {
    userData = await readFile(config.user_data_file);
    state.userDataFileSha256 = createHash('sha256').update(userData).digest('hex');
  }
  if (userData?.length) input.UserData = userData.toString('base64');
  if (config.iam_instance_profile)
    input.IamInstanceProfile = config.iam_instance_profile.startsWith('arn:')
      ? { Arn: config.iam_instance_profile }
      : { Name: config.iam_instance_profile };
  if (config.ebs_optimized) input.EbsOptimized = true;
  if (config.enable_t2_unlimited) input.CreditSpecification = { CpuCredits: 'unlimited' };
  const tenancy = tenancyOf(config);
  if (config.availability_zone || tenancy || config.placement?.host_resource_group_arn)
    input.Placement = {
      ...(config.availability_zone ? { AvailabilityZone: config.availability_zone } : {}),
      ...(tenancy ? { Tenancy: tenancy as 'default' } : {}),
      ...(config.placement?.host_resource_group_arn
        ? { HostResourceGroupArn: config.placement.host_resource_group_arn }
        : {}),
    };
  const md = config.metadata_options;
  if (md && Object.keys(md).length > 0)
    input.MetadataOptions = {
      ...(md.http_endpoint ? { HttpEndpoint: md.http_endpoint } : {}),
      ...(md.http_tokens ? { HttpTokens: md.http_tokens } : {}),
      ...(md.http_put_response_hop_limit
        ? { HttpPutResponseHopLimit: md.http_put_response_hop_limit }
        : {}),
    };
  // As Packer 1.6.6: a network interface (to ask for a public IP) only with a subnet and
  // `true`; in a default VPC the instance gets a public IP anyway.
  if (state.subnetId && config.associate_public_ip_address) {
    input.NetworkInterfaces = [
      {
        DeviceIndex: 0,
        AssociatePublicIpAddress: config.associate_public_ip_address,
        DeleteOnTermination: true,
        Groups: state.securityGroupIds,
        SubnetId: state.subnetId,
      },
    ];
  } else {
    input.SecurityGroupIds = state.securityGroupIds;
    if (state.subnetId) input.SubnetId = state.subnetId;
  }
  return input;
}

/**
 * Packer's `no_ephemeral`: NoDevice for xvdca…xvdcz, where EC2 maps instance-store drives
 * by default, so none appear on the instance (and in the AMI made from it).
 */
export function noEphemeral(): BlockDeviceMapping[] {
  return [...'abcdefghijklmnopqrstuvwxyz'].map((c) => ({ DeviceName: `xvdc${c}`, NoDevice: '' }));
}

/** Packer's BlockDevices as EC2 block device mappings (launch and AMI mappings alike). */
export function blockDevices(
  list: BlockDeviceConfig[] | undefined,
): BlockDeviceMapping[] | undefined {
  if (!list?.length) return undefined;
  return list.map((b) => {
    if (b.no_device) return { DeviceName: b.device_name, NoDevice: '' };
    if (b.virtual_name) return { DeviceName: b.device_name, VirtualName: b.virtual_name };
    return {
      DeviceName: b.device_name,
      Ebs: {
        DeleteOnTermination: b.delete_on_termination ?? true,
        ...(b.encrypted !== undefined ? { Encrypted: b.encrypted } : {}),
        ...(b.iops ? { Iops: b.iops } : {}),
        ...(b.throughput ? { Throughput: b.throughput } : {}),
        ...(b.kms_key_id ? { KmsKeyId: b.kms_key_id } : {}),
        ...(b.snapshot_id ? { SnapshotId: b.snapshot_id } : {}),
        ...(b.volume_size ? { VolumeSize: b.volume_size } : {}),
        ...(b.volume_type ? { VolumeType: b.volume_type as 'gp2' } : {}),
      },
    };
  });
}
