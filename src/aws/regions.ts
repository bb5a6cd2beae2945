/**
 * Telling an unknown region from other failures: a call to a region that does not exist
 * fails obscurely (real AWS: `getaddrinfo ENOTFOUND ec2.us-east-7.amazonaws.com`; moto: an
 * HTML page the SDK cannot parse). Only after such a failure, kiln asks EC2's region list
 * (DescribeRegions from us-east-1) and names the region when it is not there.
 */
import { DescribeRegionsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { UserError } from '../lib/errors.js';
import { type AwsAccess, ec2Client } from './clients.js';
import { awsCode } from './errors.js';

/** The region every account can ask for the list of regions. */
const LIST_FROM = 'us-east-1';

/** Whether `err` is what a call to a region that does not exist gives. */
function looksLikeNoSuchRegion(err: unknown): boolean {
  if (!(err instanceof Error) || awsCode(err)?.includes('.')) return false;
  const m = `${err.message} ${(err as { code?: string }).code ?? ''}`;
  return /ENOTFOUND|EAI_AGAIN|Deserialization error|XML parse error/.test(m);
}

/**
 * A UserError naming `region` when `err` came from calling a region EC2 does not list;
 * undefined otherwise (also when the list cannot be had).
 */
export async function unknownRegionError(
  err: unknown,
  access: AwsAccess,
  region: string,
  field = 'region',
): Promise<UserError | undefined> {
  if (!looksLikeNoSuchRegion(err) || region === LIST_FROM) return undefined;
  const ec2 = ec2Client(access, LIST_FROM, 1);
  try {
    const res = await ec2.send(new DescribeRegionsCommand({ AllRegions: true }));
    const names = (res.Regions ?? []).flatMap((r) => (r.RegionName ? [r.RegionName] : [])).sort();
    if (names.length === 0 || names.includes(region)) return undefined;
    return new UserError(
      'UnknownRegion',
      `${field} "${region}" is not an AWS region (EC2 lists: ${names.join(', ')})`,
      { where: field, cause: err },
    );
  } catch {
    return undefined;
  } finally {
    ec2.destroy();
  }
}

/**
 * Runs the first AWS call of a command: once with a client that does not retry, so a
 * region that does not exist is named at once instead of after the SDK's back-off; a
 * UserError is passed on; any other failure (throttling, a dropped connection) is tried
 * again with a client that retries as usual.
 */
export async function firstCall<T>(
  access: AwsAccess,
  region: string,
  call: (ec2: EC2Client) => Promise<T>,
  field = 'region',
): Promise<T> {
  const once = ec2Client(access, region, 1);
  try {
    return await call(once);
  } catch (err) {
    if (err instanceof UserError) throw err;
    const named = await unknownRegionError(err, access, region, field);
    if (named) throw named;
  } finally {
    once.destroy();
  }
  const retrying = ec2Client(access, region);
  try {
    return await call(retrying);
  } finally {
    retrying.destroy();
  }
}
