/**
 * Makes the AMI from the stopped instance, with ami_block_device_mappings added to what
 * the instance has, tagged from creation with `tags` and kiln's ownership tags, and waits until it is available. If the build fails later, the cleanup
 * deregisters it and deletes its snapshots — also when CreateImage's answer was lost
 * (the image is then found by the run's tag).
 */
import { CreateImageCommand } from '@aws-sdk/client-ec2';
import {
  imagesNamed,
  imagesOfRun,
  removeImage,
  snapshotsOf,
  waitForImage,
} from '../../../aws/ami.js';
import { explainAwsError, leftoverError } from '../../../aws/errors.js';
import { retryOn } from '../../../aws/retry.js';
import { toTags } from '../../../aws/tags.js';
import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import { amiTags } from '../config.js';
import type { AmazonState } from '../state.js';
import { journalAws } from './open-lease.js';
import { blockDevices } from './run-source-instance.js';

export const createAmi: Step<AmazonState> = {
  name: 'create-ami',
  async run(state, { signal, ui }) {
    const { config } = state;
    const ec2 = state.ec2();
    ui.say(`Creating AMI ${config.ami_name} from instance ${state.instanceId}`);
    let imageId: string | undefined;
    // Named before it exists: an AMI whose CreateImage answer a kill -9 cut off is found by name.
    const key = `create:${config.ami_name}`;
    journalAws(state, 'aws-image', key, { region: config.region, name: config.ami_name });
    try {
      const res = await retryOn(
        () =>
          ec2.send(
            new CreateImageCommand({
              InstanceId: state.instanceId,
              Name: config.ami_name,
              ...(config.ami_description ? { Description: config.ami_description } : {}),
              ...(config.ami_block_device_mappings?.length
                ? { BlockDeviceMappings: blockDevices(config.ami_block_device_mappings) }
                : {}),
              // Snapshots are tagged once they exist (tag-snapshots): moto rejects snapshot tags here.
              TagSpecifications: [
                { ResourceType: 'image', Tags: toTags(amiTags(config), state.imageTags) },
              ],
            }),
            { abortSignal: signal },
          ),
        { codes: ['InvalidInstanceID.NotFound'], signal },
      );
      imageId = res.ImageId!;
      journalAws(state, 'aws-image', key, {
        region: config.region,
        name: config.ami_name,
        id: imageId,
      });
      state.amis[config.region] = imageId;
      const made = {
        region: config.region,
        id: imageId,
        snapshots: [] as string[],
        by: 'create-ami',
      };
      state.made.push(made);
      ui.message(`AMI: ${imageId}`);
      ui.say('Waiting for AMI to become ready...');
      const image = await waitForImage(ec2, imageId, state.polling, signal);
      state.snapshots[config.region] = snapshotsOf(image);
      made.snapshots = snapshotsOf(image);
    } catch (err) {
      throw explainAwsError(err, 'CreateImage');
    }
  },
  async cleanup(state, { signal, ui, failed }) {
    if (!failed) return;
    const region = state.config.region;
    const ec2 = state.ec2(region);
    const mine = state.made.filter((m) => m.by === 'create-ami');
    // CreateImage may have worked without kiln hearing the answer: look by the run's tag and
    // by the name (free before this run, see pre-validate). An encrypted copy made here by
    // copy-regions has the same name; removing it twice is harmless.
    for (const image of [
      ...(await imagesOfRun(ec2, state.ctx.runId, signal)),
      ...(await imagesNamed(ec2, state.config.ami_name, signal)),
    ])
      if (
        image.ImageId &&
        image.Name === state.config.ami_name &&
        !mine.some((m) => m.id === image.ImageId)
      )
        mine.push({ region, id: image.ImageId, snapshots: snapshotsOf(image), by: 'create-ami' });
    const failures: string[] = [];
    for (const made of mine) {
      ui.say(
        `Deregistering the AMI and deleting associated snapshots because of cancellation, or error... (${made.id})`,
      );
      try {
        await removeImage(ec2, made.id, made.snapshots, signal);
      } catch (err) {
        failures.push(leftoverError('AMI', `${region}:${made.id}`, err).message);
      }
    }
    if (failures.length > 0)
      throw new SystemError('AwsLeftover', failures.join('; '), {
        hint: 'run `kiln gc aws` once the cause is fixed',
      });
  },
};
