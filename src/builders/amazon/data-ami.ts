/**
 * Packer's `amazon-ami` data source (HCL2 `data "amazon-ami" "x" { … }`): the AMI matching
 * `filters` and `owners` — the newest with `most_recent` — fetched with one DescribeImages
 * call while the template loads. `data.amazon-ami.x.id` as a build's `source_ami` is then an
 * AMI id like any other: the build hashes it, so an unchanged match reuses and a newer one
 * rebuilds. The AWS SDK is loaded only when a template declares one.
 */
import { z } from 'zod';
import type { DataSourcePlugin } from '../../core/plugin.js';
import { UserError } from '../../lib/errors.js';

export const amazonAmiDataSchema = z.strictObject({
  /** Access, as amazon-ebs takes it; empty means the SDK's default credential chain. */
  access_key: z.string().optional(),
  secret_key: z.string().optional(),
  token: z.string().optional(),
  profile: z.string().optional(),
  /** The region to search. */
  region: z.string().min(1),
  /** An EC2 endpoint URL instead of AWS's. */
  custom_endpoint_ec2: z.string().optional(),
  /** Retries per API call. */
  max_retries: z.number().int().nonnegative().optional(),
  /** EC2 DescribeImages filters, name → value (e.g. `name = "debian-12-amd64-*"`). */
  filters: z.record(z.string(), z.string()).optional(),
  /** Accounts, aliases (`amazon`) or `self` whose images may match: at least one. */
  owners: z.array(z.string()).min(1),
  /** With several matches, take the newest (else several matches are an error). */
  most_recent: z.boolean().optional(),
});
export type AmazonAmiData = z.infer<typeof amazonAmiDataSchema>;

/** The `amazon-ami` entry of the registry's data sources. */
export const amazonAmiData: DataSourcePlugin<AmazonAmiData> = {
  type: 'amazon-ami',
  schema: amazonAmiDataSchema,
  async fetch(config, { signal }) {
    const { imagesMatching } = await import('../../aws/ami.js');
    const { explainAwsError } = await import('../../aws/errors.js');
    const { firstCall } = await import('../../aws/regions.js');
    const images = await firstCall(config, config.region, (ec2) =>
      imagesMatching(ec2, config, signal).catch((err: unknown) => {
        throw explainAwsError(err, 'DescribeImages');
      }),
    );
    // A build's error line shows the message only: the what-to-do is in it.
    if (images.length === 0) {
      const todo = `check the filters, owners and region (aws ec2 describe-images --region ${config.region} --owners ${config.owners.join(' ')} lists what there is)`;
      throw new UserError(
        'NoAmiMatches',
        `no AMI of ${config.owners.join(', ')} matches the filters in ${config.region}; ${todo}`,
        { hint: todo },
      );
    }
    if (images.length > 1 && !config.most_recent) {
      const todo = 'make the filters more specific, or set most_recent = true to take the newest';
      throw new UserError(
        'AmiAmbiguous',
        `${images.length} AMIs match the filters in ${config.region} (${listed(images)}); ${todo}`,
        { hint: todo },
      );
    }
    const image = images[0]!;
    return {
      id: image.ImageId ?? '',
      name: image.Name ?? '',
      creation_date: image.CreationDate ?? '',
      owner: image.OwnerId ?? '',
      owner_name: image.ImageOwnerAlias ?? '',
      tags: Object.fromEntries((image.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
    };
  },
};

/** The first few images as `ami-… (name)`, newest first, for an error. */
export function listed(
  images: Array<{ ImageId?: string | undefined; Name?: string | undefined }>,
): string {
  const shown = images.slice(0, 3).map((i) => `${i.ImageId} (${i.Name ?? '?'})`);
  return images.length > 3 ? `${shown.join(', ')} and ${images.length - 3} more` : shown.join(', ');
}
