/** force_deregister: removes AMIs of the same name in every target region (and, with force_delete_snapshot, their snapshots). */
import { DeregisterImageCommand, DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { removeImage } from '../../../aws/ami.js';
import { explainAwsError } from '../../../aws/errors.js';
import type { Step } from '../../../core/steps.js';
import { targetRegions } from '../config.js';
import type { AmazonState } from '../state.js';

export const deregisterExisting: Step<AmazonState> = {
  name: 'deregister-existing',
  async run(state, { signal, ui }) {
    const { config } = state;
    if (!config.force_deregister) return;
    try {
      for (const region of targetRegions(config)) {
        const ec2 = state.ec2(region);
        const res = await ec2.send(
          new DescribeImagesCommand({
            Owners: ['self'],
            Filters: [{ Name: 'name', Values: [config.ami_name] }],
          }),
          { abortSignal: signal },
        );
        for (const image of res.Images ?? []) {
          ui.say(`Deregistered AMI id: ${image.ImageId} (${region})`);
          if (config.force_delete_snapshot) {
            const { snapshots } = await removeImage(ec2, image.ImageId!, [], signal);
            for (const s of snapshots) ui.say(`Deleted snapshot: ${s}`);
          } else {
            await ec2.send(new DeregisterImageCommand({ ImageId: image.ImageId }), {
              abortSignal: signal,
            });
          }
        }
      }
    } catch (err) {
      throw explainAwsError(err, 'DeregisterImage');
    }
  },
};
