/**
 * Waits until the source instance runs and picks the address SSH will use (`ssh_host`, or
 * by `ssh_interface`, else the public IP when there is one). A just-launched instance may
 * be unknown to DescribeInstances for a while: that is waited out, not reported.
 */
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  type Instance,
} from '@aws-sdk/client-ec2';
import { explainAwsError } from '../../../aws/errors.js';
import { retryOn } from '../../../aws/retry.js';
import type { Step } from '../../../core/steps.js';
import { SystemError, UserError } from '../../../lib/errors.js';
import { sleep } from '../../../lib/sleep.js';
import type { AmazonEbsConfig } from '../config.js';
import type { AmazonState } from '../state.js';

/**
 * The address SSH connects to: `ssh_host`, else the one `ssh_interface` names, else the
 * public IP when there is one and the private IP otherwise (Packer's default). Empty
 * strings count as absent (EC2 answers "" for a missing DNS name).
 */
export function sshAddress(
  config: Pick<AmazonEbsConfig, 'ssh_host' | 'ssh_interface'>,
  inst: Instance,
): string | undefined {
  if (config.ssh_host) return config.ssh_host;
  const byInterface: Record<string, string | undefined> = {
    public_ip: inst.PublicIpAddress,
    private_ip: inst.PrivateIpAddress,
    public_dns: inst.PublicDnsName,
    private_dns: inst.PrivateDnsName,
  };
  const pick = config.ssh_interface
    ? byInterface[config.ssh_interface]
    : inst.PublicIpAddress || inst.PrivateIpAddress;
  return pick || undefined;
}

export const waitInstance: Step<AmazonState> = {
  name: 'wait-instance',
  async run(state, { signal, ui }) {
    const { config, ctx } = state;
    const id = state.instanceId!;
    ui.say(`Waiting for instance (${id}) to become ready...`);
    for (let i = 0; ; i++) {
      let res: DescribeInstancesCommandOutput;
      try {
        res = await retryOn(
          () =>
            state
              .ec2()
              .send(new DescribeInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal }),
          { codes: ['InvalidInstanceID.NotFound'], signal },
        );
      } catch (err) {
        throw explainAwsError(err, 'DescribeInstances');
      }
      const inst = res.Reservations?.[0]?.Instances?.[0];
      const name = inst?.State?.Name;
      if (inst && name === 'running') {
        state.instance = inst;
        break;
      }
      if (name === 'terminated' || name === 'shutting-down' || name === 'stopped')
        throw new SystemError(
          'InstanceDied',
          `instance ${id} went to ${name} while starting: ${inst?.StateReason?.Message ?? 'no reason given'}`,
          {
            where: id,
          },
        );
      if (i >= state.polling.maxAttempts)
        throw new SystemError(
          'InstanceTimeout',
          `instance ${id} was still ${name} after ${i} checks`,
          { where: id },
        );
      await sleep(state.polling.delayMs, signal);
    }
    const inst = state.instance;
    const host = sshAddress(config, inst);
    if (!host && (config.communicator ?? 'ssh') === 'ssh')
      throw new UserError(
        'NoSshAddress',
        `instance ${inst.InstanceId} has no ${config.ssh_interface ?? 'IP'} address to connect to`,
        {
          where: 'ssh_interface',
          hint: 'set associate_public_ip_address: true, or ssh_interface: "private_ip" when kiln runs inside the VPC',
        },
      );
    state.host = host;
    if (host) ui.message(`Public/Private address: ${host}`);
    Object.assign(ctx.generated, {
      Host: host ?? '',
      Port: config.ssh_port ?? 22,
      User: config.ssh_username ?? '',
      ...(state.privateKeyFile ? { SSHPrivateKeyFile: state.privateKeyFile } : {}),
    });
  },
};
