/**
 * The `amazon-ebs` entry of the registry. Validation needs only the schema; the AWS SDK
 * (about 0.6 s to import) is loaded when an amazon-ebs build actually runs, so that every
 * other command — `kiln validate`, a qemu build — starts fast.
 */
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

  // The source is hashed by the AMI id AWS gives (ids are never reused), not by a catalog
  // row: two machines, one with the parent in its catalog and one without, hash alike.
  async resolveSource(config, ctx) {
    const { resolveSourceAmi } = await import('./resolve.js');
    return resolveSourceAmi(config, ctx);
  },

  async reuse(hash, cached, config, ctx) {
    const { reuseAmi } = await import('./cache.js');
    return reuseAmi(hash, cached, config, ctx);
  },

  inputs(config) {
    return { files: config.user_data_file ? [config.user_data_file] : [], dirs: [] };
  },

  artifactFor(image) {
    return reusableArtifact(image);
  },
};
