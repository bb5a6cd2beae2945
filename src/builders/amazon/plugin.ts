/**
 * The `amazon-ebs` entry of the registry. Validation needs only the schema; the AWS SDK
 * (about 0.6 s to import) is loaded when a build actually runs, so that every other
 * command — `kiln validate`, a qemu build, a reused image — starts fast.
 */
import { NotCacheable } from '../../core/input-hash.js';
import type { BuilderPlugin } from '../../core/plugin.js';
import { AMAZON_EBS_BUILDER_ID } from './artifact.js';
import { type AmazonEbsConfig, amazonEbsSchema } from './config.js';
import { prepareAmazonEbs } from './prepare.js';
import { reusableArtifact } from './reuse.js';
import { LATE_KEYS } from './steps/build-info.js';

export const amazonEbs: BuilderPlugin<AmazonEbsConfig> = {
  type: 'amazon-ebs',
  builderId: AMAZON_EBS_BUILDER_ID,
  schema: amazonEbsSchema,
  lateKeys: LATE_KEYS,

  async prepare(config) {
    return prepareAmazonEbs(config);
  },

  async run(config, ctx, hook) {
    const { runAmazonEbs } = await import('./builder.js');
    return runAmazonEbs(config, ctx, hook);
  },

  sourceImage(config, catalog) {
    if (config.source_ami_filter !== undefined && !config.source_ami)
      throw new NotCacheable('source_ami_filter picks the source AMI when the build runs');
    return config.source_ami ? catalog.images.get(config.source_ami) : undefined;
  },

  inputs(config) {
    return { files: config.user_data_file ? [config.user_data_file] : [], dirs: [] };
  },

  artifactFor(image) {
    return reusableArtifact(image);
  },
};
