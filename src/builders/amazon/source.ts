/**
 * Finding the source AMI — by id, or the newest match of `source_ami_filter` — with one
 * DescribeImages call. Done before the build's inputs are hashed (the hash names the AMI
 * found, so a newer match rebuilds) and handed to the run, which then asks no more.
 */
import type { EC2Client, Image } from '@aws-sdk/client-ec2';
import { describeImage, IMAGE_NOT_FOUND, imagesMatching } from '../../aws/ami.js';
import { awsCode, explainAwsError } from '../../aws/errors.js';
import { retryOn } from '../../aws/retry.js';
import { UserError } from '../../lib/errors.js';
import type { AmazonEbsConfig } from './config.js';
import { listed } from './data-ami.js';

/** How to look: `madeThisRun` allows waiting out eventual consistency for an AMI this run made. */
export interface SourceLookup {
  signal?: AbortSignal;
  madeThisRun?: boolean;
}

/** The source AMI of `config`; a UserError naming the field when there is none. */
export async function findSourceAmi(
  ec2: EC2Client,
  config: AmazonEbsConfig,
  opts: SourceLookup = {},
): Promise<Image> {
  const { signal } = opts;
  let image: Image | undefined;
  try {
    if (config.source_ami) {
      const id = config.source_ami;
      // Only an AMI this very run made can be missing for a moment (eventual consistency):
      // any other missing id is a mistake, said at once.
      image = opts.madeThisRun
        ? await retryOn(
            async () => {
              const found = await describeImage(ec2, id, signal);
              if (!found)
                throw Object.assign(new Error(`${id} not visible yet`), {
                  Code: 'InvalidAMIID.NotFound',
                });
              return found;
            },
            { codes: IMAGE_NOT_FOUND, attempts: 6, ...(signal ? { signal } : {}) },
          ).catch((err: unknown) => {
            if (/^InvalidAMIID\./.test(awsCode(err) ?? '')) return undefined;
            throw err;
          })
        : await describeImage(ec2, id, signal);
    } else {
      const f = config.source_ami_filter!;
      const images = await imagesMatching(ec2, f, signal);
      if (images.length > 1 && !f.most_recent) {
        const todo = 'make the filters more specific, or set most_recent: true to take the newest';
        throw new UserError(
          'SourceAmiAmbiguous',
          `source_ami_filter matched ${images.length} images in ${config.region} (${listed(images)}); ${todo}`,
          { where: 'source_ami_filter', hint: todo },
        );
      }
      image = images[0];
    }
  } catch (err) {
    throw explainAwsError(err, 'DescribeImages');
  }
  if (!image?.ImageId) {
    // A build's error line shows the message only: the what-to-do is in it.
    const owners = config.source_ami_filter?.owners?.join(' ');
    const todo = config.source_ami
      ? `check the id and the region (an AMI exists in one region: copy it with aws ec2 copy-image, or set region to where it is)`
      : `check the filters, owners and the region (aws ec2 describe-images --region ${config.region}${owners ? ` --owners ${owners}` : ''} lists what there is)`;
    throw new UserError(
      'SourceAmiNotFound',
      config.source_ami
        ? `source AMI ${config.source_ami} was not found in ${config.region}; ${todo}`
        : `source_ami_filter matched no image in ${config.region}; ${todo}`,
      { where: config.source_ami ? 'source_ami' : 'source_ami_filter', hint: todo },
    );
  }
  return image;
}
