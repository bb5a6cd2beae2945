/**
 * Where the instance will run (Packer's StepNetworkInfo): vpc_filter, subnet_filter and
 * security_group_filter become ids before anything is created, so a filter matching
 * nothing (or too much) fails the build with nothing to clean up.
 */
import {
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type Filter,
  type Subnet,
} from '@aws-sdk/client-ec2';
import { explainAwsError } from '../../../aws/errors.js';
import type { Step } from '../../../core/steps.js';
import { UserError } from '../../../lib/errors.js';
import type { AmazonState } from '../state.js';

/** A Packer filter map as EC2 filters (one value each, as Packer sends them). */
export function toFilters(map: Record<string, string> | undefined): Filter[] {
  return Object.entries(map ?? {}).map(([Name, v]) => ({ Name, Values: [v] }));
}

/** The subnet subnet_filter picks: the only match, the one with most free addresses, or a random one. */
export function pickSubnet(
  subnets: Subnet[],
  how: { most_free?: boolean | undefined; random?: boolean | undefined },
  rand: () => number = Math.random,
): Subnet | undefined {
  if (subnets.length <= 1 || (!how.most_free && !how.random)) return subnets[0];
  if (how.most_free)
    return [...subnets].sort(
      (a, b) => (b.AvailableIpAddressCount ?? 0) - (a.AvailableIpAddressCount ?? 0),
    )[0];
  return subnets[Math.floor(rand() * subnets.length)];
}

export const networkInfo: Step<AmazonState> = {
  name: 'network-info',
  async run(state, { signal, ui }) {
    const { config } = state;
    const ec2 = state.ec2();
    state.vpcId = config.vpc_id;
    state.subnetId = config.subnet_id;
    state.availabilityZone = config.availability_zone;
    try {
      if (!state.vpcId && Object.keys(config.vpc_filter?.filters ?? {}).length > 0) {
        const res = await ec2.send(
          new DescribeVpcsCommand({ Filters: toFilters(config.vpc_filter?.filters) }),
          { abortSignal: signal },
        );
        const vpcs = res.Vpcs ?? [];
        if (vpcs.length !== 1)
          throw new UserError(
            'VpcFilter',
            `vpc_filter matched ${vpcs.length} VPCs in ${config.region}; it must match exactly one`,
            { where: 'vpc_filter', hint: 'make the filters match one VPC, or give vpc_id' },
          );
        state.vpcId = vpcs[0]!.VpcId;
        ui.message(`Found VPC ID: ${state.vpcId}`);
      }
      if (!state.subnetId && Object.keys(config.subnet_filter?.filters ?? {}).length > 0) {
        const filters = toFilters(config.subnet_filter?.filters);
        if (state.vpcId) filters.push({ Name: 'vpc-id', Values: [state.vpcId] });
        if (state.availabilityZone)
          filters.push({ Name: 'availability-zone', Values: [state.availabilityZone] });
        const res = await ec2.send(new DescribeSubnetsCommand({ Filters: filters }), {
          abortSignal: signal,
        });
        const subnets = res.Subnets ?? [];
        if (subnets.length === 0)
          throw new UserError(
            'SubnetFilter',
            `subnet_filter matched no subnet in ${config.region}`,
            {
              where: 'subnet_filter',
              hint: 'check the filters (and vpc_id/availability_zone, which narrow them)',
            },
          );
        if (subnets.length > 1 && !config.subnet_filter?.most_free && !config.subnet_filter?.random)
          throw new UserError(
            'SubnetFilter',
            `subnet_filter matched ${subnets.length} subnets: ${subnets.map((s) => s.SubnetId).join(', ')}`,
            {
              where: 'subnet_filter',
              hint: 'make the filters match one subnet, or set most_free: true or random: true',
            },
          );
        const subnet = pickSubnet(subnets, config.subnet_filter ?? {})!;
        state.subnetId = subnet.SubnetId;
        ui.message(`Found Subnet ID: ${state.subnetId}`);
      }
      if (state.subnetId && (!state.vpcId || !state.availabilityZone)) {
        // The instance's VPC and zone are the subnet's: the security group must be made there.
        const res = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [state.subnetId] }), {
          abortSignal: signal,
        });
        const s = res.Subnets?.[0];
        state.vpcId ??= s?.VpcId;
        state.availabilityZone ??= s?.AvailabilityZone;
      }
      if (Object.keys(config.security_group_filter?.filters ?? {}).length > 0) {
        const filters = toFilters(config.security_group_filter?.filters);
        if (state.vpcId) filters.push({ Name: 'vpc-id', Values: [state.vpcId] });
        const res = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: filters }), {
          abortSignal: signal,
        });
        const ids = (res.SecurityGroups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : []));
        if (ids.length === 0)
          throw new UserError(
            'SecurityGroupFilter',
            `security_group_filter matched no security group${state.vpcId ? ` in ${state.vpcId}` : ''}`,
            { where: 'security_group_filter', hint: 'check the filters and the VPC' },
          );
        state.filteredGroupIds = ids;
        ui.message(`Found Security Group(s): ${ids.join(', ')}`);
      }
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw explainAwsError(err, 'DescribeVpcs/DescribeSubnets/DescribeSecurityGroups');
    }
  },
};
