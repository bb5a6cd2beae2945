/**
 * Where SSH may come from, decided before anything is created (so a failure here leaves
 * nothing behind): `temporary_security_group_source_cidrs` when given; with
 * `ssh_interface` private_ip/private_dns, the VPC's own CIDR blocks (kiln then runs inside
 * the VPC and needs no internet); otherwise this machine's public address, asked of a
 * what-is-my-IP service with a short timeout. Packer 1.6.6 opens 0.0.0.0/0 instead.
 */
import { DescribeVpcsCommand, type Vpc } from '@aws-sdk/client-ec2';
import { explainAwsError } from '../../../aws/errors.js';
import type { Step } from '../../../core/steps.js';
import { UserError } from '../../../lib/errors.js';
import type { AmazonState } from '../state.js';

/** Where to ask for this machine's public address (what AWS will see as the SSH client). */
export const CHECKIP_URL = 'https://checkip.amazonaws.com';
/** How long to wait for it: offline, the answer never comes. */
const CHECKIP_TIMEOUT_MS = 3000;

export const sshSource: Step<AmazonState> = {
  name: 'ssh-source',
  async run(state, { signal, ui }) {
    const { config } = state;
    state.sshCidrs = [];
    const groupsGiven =
      state.filteredGroupIds !== undefined ||
      (config.security_group_ids?.length ?? 0) > 0 ||
      !!config.security_group_id;
    if (groupsGiven || (config.communicator ?? 'ssh') !== 'ssh') return;
    if (config.temporary_security_group_source_cidrs?.length) {
      state.sshCidrs = config.temporary_security_group_source_cidrs;
      return;
    }
    if (config.ssh_interface === 'private_ip' || config.ssh_interface === 'private_dns') {
      const vpc = await findVpc(state, signal);
      state.sshCidrs = vpcCidrs(vpc);
      ui.message(`SSH goes to the private address: opening it to ${vpc.VpcId}'s CIDR`);
      return;
    }
    // KILN_CHECKIP_URL: where tests (and a proxy-only network) point the lookup instead.
    state.sshCidrs = [await callerCidr(process.env.KILN_CHECKIP_URL || CHECKIP_URL, signal)];
  },
};

/** The VPC the instance launches in: known from network-info, else the region's default VPC. */
async function findVpc(state: AmazonState, signal: AbortSignal): Promise<Vpc> {
  const { config } = state;
  let vpcs: Vpc[];
  try {
    const res = await state
      .ec2()
      .send(
        new DescribeVpcsCommand(
          state.vpcId
            ? { VpcIds: [state.vpcId] }
            : { Filters: [{ Name: 'is-default', Values: ['true'] }] },
        ),
        { abortSignal: signal },
      );
    vpcs = res.Vpcs ?? [];
  } catch (err) {
    throw explainAwsError(err, 'DescribeVpcs');
  }
  const vpc = vpcs[0];
  if (!vpc || vpcCidrs(vpc).length === 0)
    throw new UserError(
      'NoVpcCidr',
      `ssh_interface ${config.ssh_interface}: ${state.vpcId ? `VPC ${state.vpcId} has no CIDR block` : `${config.region} has no default VPC`} to open SSH to`,
      {
        where: 'ssh_interface',
        hint: 'give vpc_id or subnet_id, or temporary_security_group_source_cidrs',
      },
    );
  return vpc;
}

/** A VPC's associated IPv4 and IPv6 CIDR blocks. */
function vpcCidrs(vpc: Vpc): string[] {
  const v4 = (vpc.CidrBlockAssociationSet ?? [])
    .filter((a) => (a.CidrBlockState?.State ?? 'associated') === 'associated')
    .flatMap((a) => (a.CidrBlock ? [a.CidrBlock] : []));
  const v6 = (vpc.Ipv6CidrBlockAssociationSet ?? [])
    .filter((a) => (a.Ipv6CidrBlockState?.State ?? 'associated') === 'associated')
    .flatMap((a) => (a.Ipv6CidrBlock ? [a.Ipv6CidrBlock] : []));
  const all = [
    ...new Set([...v4, ...(v4.length === 0 && vpc.CidrBlock ? [vpc.CidrBlock] : []), ...v6]),
  ];
  return all;
}

async function callerCidr(url: string, signal: AbortSignal): Promise<string> {
  try {
    const res = await fetch(url, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(CHECKIP_TIMEOUT_MS)]),
    });
    const ip = (await res.text()).trim();
    if (!res.ok || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip))
      throw new Error(`unexpected answer "${ip.slice(0, 40)}"`);
    return `${ip}/32`;
  } catch (err) {
    if (signal.aborted) throw err;
    const why = err instanceof Error ? describeFetchError(err) : String(err);
    throw new UserError(
      'CallerAddressUnknown',
      `could not learn this machine's public address from ${url} (${why}), so SSH cannot be opened to it: set temporary_security_group_source_cidrs to the addresses kiln connects from, or ssh_interface = "private_ip" when kiln runs inside the VPC`,
      { where: 'temporary_security_group_source_cidrs' },
    );
  }
}

/** fetch's "fetch failed" with its real cause (ECONNREFUSED, ENOTFOUND, a timeout). */
function describeFetchError(err: Error): string {
  if (err.name === 'TimeoutError') return `no answer within ${CHECKIP_TIMEOUT_MS / 1000} s`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}
