/**
 * The last AWS call of a good build: tags the AMIs and snapshots as kiln's artifacts, so
 * `kiln gc aws` never takes them for a dead run's leftovers.
 */
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { explainAwsError } from '../../../aws/errors.js';
import { ARTIFACT_TAG } from '../../../aws/tags.js';
import type { Step } from '../../../core/steps.js';
import type { AmazonState } from '../state.js';

export const markArtifact: Step<AmazonState> = {
  name: 'mark-artifact',
  async run(state, { signal }) {
    try {
      for (const [region, id] of Object.entries(state.amis)) {
        await state.ec2(region).send(
          new CreateTagsCommand({
            Resources: [id, ...(state.snapshots[region] ?? [])],
            Tags: [{ Key: ARTIFACT_TAG, Value: 'true' }],
          }),
          { abortSignal: signal },
        );
      }
    } catch (err) {
      throw explainAwsError(err, 'CreateTags');
    }
  },
};
