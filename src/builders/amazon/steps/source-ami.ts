/** Finds the source AMI (by id, or the newest match of source_ami_filter) and publishes its facts. */
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import { awsCode, explainAwsError } from '../../../aws/errors.js';
import { retryOn } from '../../../aws/retry.js';
import type { Step } from '../../../core/steps.js';
import { UserError } from '../../../lib/errors.js';
import type { AmazonState } from '../state.js';

export const sourceAmi: Step<AmazonState> = {
  name: 'source-ami',
  async run(state, { signal, ui }) {
    const { config } = state;
    const ec2 = state.ec2();
    let images: Image[];
    try {
      if (config.source_ami) {
        // A release build's source is often an AMI made minutes ago: AWS may not list it yet.
        const res = await retryOn(
          () =>
            ec2.send(new DescribeImagesCommand({ ImageIds: [config.source_ami!] }), {
              abortSignal: signal,
            }),
          { codes: ['InvalidAMIID.NotFound'], attempts: 6, signal },
        ).catch((err) => {
          if (/^InvalidAMIID/.test(awsCode(err) ?? '')) return { Images: [] };
          throw err;
        });
        images = res.Images ?? [];
      } else {
        const f = config.source_ami_filter!;
        const res = await ec2.send(
          new DescribeImagesCommand({
            Owners: f.owners,
            Filters: Object.entries(f.filters ?? {}).map(([Name, v]) => ({ Name, Values: [v] })),
          }),
          { abortSignal: signal },
        );
        images = res.Images ?? [];
        if (images.length > 1 && !f.most_recent)
          throw new UserError(
            'SourceAmiAmbiguous',
            `source_ami_filter matched ${images.length} images`,
            {
              where: 'source_ami_filter',
              hint: 'make the filters more specific, or set most_recent: true',
            },
          );
        images.sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''));
      }
    } catch (err) {
      throw explainAwsError(err, 'DescribeImages');
    }
    const image = images[0];
    if (!image?.ImageId)
      throw new UserError(
        'SourceAmiNotFound',
        config.source_ami
          ? `source AMI ${config.source_ami} was not found in ${config.region}`
          : `source_ami_filter matched no image in ${config.region}`,
        {
          where: config.source_ami ? 'source_ami' : 'source_ami_filter',
          hint: 'check the id/filters and the region',
        },
      );
    state.sourceImage = image;
    ui.message(`Found Image ID: ${image.ImageId}`);
    Object.assign(state.ctx.generated, {
      SourceAMI: image.ImageId,
      SourceAMIName: image.Name ?? '',
      SourceAMIOwner: image.OwnerId ?? '',
      SourceAMIOwnerName: image.ImageOwnerAlias ?? '',
      SourceAMICreationDate: image.CreationDate ?? '',
      BuildRegion: config.region,
    });
  },
};
