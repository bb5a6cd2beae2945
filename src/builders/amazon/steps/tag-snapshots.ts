/**
 * Tags every AMI's snapshots with `tags` and `snapshot_tags` (+ their blocks) and kiln's ownership tags. It happens
 * here, after the images exist, because moto rejects snapshot tags inside CreateImage.
 */
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { IMAGE_NOT_FOUND } from '../../../aws/ami.js';
import { explainAwsError } from '../../../aws/errors.js';
import { retryOn } from '../../../aws/retry.js';
import { toTags } from '../../../aws/tags.js';
import type { Step } from '../../../core/steps.js';
import { amiTags, snapshotTags } from '../config.js';
import type { AmazonState } from '../state.js';

export const tagSnapshots: Step<AmazonState> = {
  name: 'tag-snapshots',
  async run(state, { signal, ui }) {
    // As Packer 1.6.6 (StepCreateTags): the AMI's `tags` go on its snapshots too, then
    // `snapshot_tags` (which win on equal keys).
    const tags = toTags({ ...amiTags(state.config), ...snapshotTags(state.config) }, state.ownTags);
    try {
      for (const [region, snaps] of Object.entries(state.snapshots)) {
        if (snaps.length === 0) continue;
        ui.say(`Adding tags to snapshots in ${region}: ${snaps.join(', ')}`);
        await retryOn(
          () =>
            state.ec2(region).send(new CreateTagsCommand({ Resources: snaps, Tags: tags }), {
              abortSignal: signal,
            }),
          { codes: IMAGE_NOT_FOUND, signal },
        );
      }
    } catch (err) {
      throw explainAwsError(err, 'CreateTags');
    }
  },
};
