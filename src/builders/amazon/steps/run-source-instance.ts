/**
 * Launches the source instance, tagged from creation (run_tags plus kiln's ownership tags
 * on the instance and its volumes) and with a ClientToken. RunInstances is retried here, not
 * by the SDK: before every retry kiln looks for an instance carrying this attempt's token
 * tag, so a response lost after AWS (or moto, which ignores ClientToken) created the
 * instance never leads to a second one. The cleanup terminates it — found by tag if the
 * launch's answer never arrived.
 */
import { randomBytes } from 'node:crypto';
import {
  type BlockDeviceMapping,
  DescribeInstancesCommand,
  type EC2Client,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { Step } from '../../../core/steps.js';
import {
  awsCode,
  describeAwsError,
  explainAwsError,
  isCredentialError,
  isTransient,
  leftoverError,
} from '../aws-errors.js';
import type { AmazonEbsConfig } from '../config.js';
import { RUN_TAG, sleep, toTags } from '../driver.js';
import type { AmazonState } from '../state.js';

/** Tags the instance with the token of its launch, so a lost answer can be found again. */
export const TOKEN_TAG = 'kiln:client-token';
const LAUNCH_ATTEMPTS = 10;

export const runSourceInstance: Step<AmazonState> = {
  name: 'run-source-instance',
  async run(state, { signal, ui }) {
    const { config, ctx } = state;
    const token = `${ctx.runId}-${randomBytes(4).toString('hex')}`.slice(0, 64);
    const tags = toTags({ Name: 'kiln builder', ...(config.run_tags ?? {}) }, [
      ...state.ownTags,
      { Key: TOKEN_TAG, Value: token },
    ]);
    const input: RunInstancesCommandInput = {
      ImageId: state.sourceImage!.ImageId,
      InstanceType: config.instance_type as RunInstancesCommandInput['InstanceType'],
      MinCount: 1,
      MaxCount: 1,
      ClientToken: token,
      ...(state.keyName ? { KeyName: state.keyName } : {}),
      InstanceInitiatedShutdownBehavior: config.shutdown_behavior ?? 'stop',
      BlockDeviceMappings: blockDevices(config),
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    };
    if (config.associate_public_ip_address !== undefined) {
      input.NetworkInterfaces = [
        {
          DeviceIndex: 0,
          AssociatePublicIpAddress: config.associate_public_ip_address,
          DeleteOnTermination: true,
          Groups: state.securityGroupIds,
          ...(config.subnet_id ? { SubnetId: config.subnet_id } : {}),
        },
      ];
    } else {
      input.SecurityGroupIds = state.securityGroupIds;
      if (config.subnet_id) input.SubnetId = config.subnet_id;
    }
    ui.say('Launching a source AWS instance...');
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

function blockDevices(config: AmazonEbsConfig): BlockDeviceMapping[] | undefined {
  const list = config.launch_block_device_mappings;
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
