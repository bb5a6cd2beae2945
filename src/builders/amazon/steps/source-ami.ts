/**
 * The source AMI and its facts (SourceAMI, SourceAMIName…): as found before hashing
 * (`ctx.source`, see ../source.ts), else looked up now.
 */
import type { Image } from '@aws-sdk/client-ec2';
import type { Step } from '../../../core/steps.js';
import { findSourceAmi } from '../source.js';
import type { AmazonState } from '../state.js';

export const sourceAmi: Step<AmazonState> = {
  name: 'source-ami',
  async run(state, { signal, ui }) {
    const { config, ctx } = state;
    const image =
      (ctx.source?.detail as Image | undefined) ??
      (await findSourceAmi(state.ec2(), config, { signal }));
    state.sourceImage = image;
    ui.message(`Found Image ID: ${image.ImageId}`);
    Object.assign(ctx.generated, {
      SourceAMI: image.ImageId,
      SourceAMIName: image.Name ?? '',
      SourceAMIOwner: image.OwnerId ?? '',
      SourceAMIOwnerName: image.ImageOwnerAlias ?? '',
      SourceAMICreationDate: image.CreationDate ?? '',
      BuildRegion: config.region,
    });
  },
};
