/**
 * amazon-ebs's `resolveSource`: the source AMI found before hashing, as `region:ami-…`. The
 * first AWS call of a build, so it is also where a region that does not exist is named.
 */
import { firstCall } from '../../aws/regions.js';
import type { BuildContext, ResolvedSource } from '../../core/plugin.js';
import type { AmazonEbsConfig } from './config.js';
import { findSourceAmi } from './source.js';

/** Finds the source AMI of `config` (one DescribeImages call) for the hash and the run. */
export async function resolveSourceAmi(
  config: AmazonEbsConfig,
  ctx: BuildContext,
): Promise<ResolvedSource> {
  const known = config.source_ami ? ctx.catalog.images.get(config.source_ami) : undefined;
  const image = await firstCall(config, config.region, (ec2) =>
    findSourceAmi(ec2, config, {
      signal: ctx.signal,
      madeThisRun: known?.metadata.runId === ctx.runId,
    }),
  );
  return { key: `${config.region}:${image.ImageId}`, detail: image };
}
