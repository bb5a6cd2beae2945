/**
 * encrypt_boot (an encrypted copy replaces the build AMI, with kms_key_id or the build
 * region's region_kms_key_ids key) and ami_regions (a copy in each other region, encrypted
 * with that region's region_kms_key_ids key when given). Every CopyImage carries a ClientToken and kiln's tags; on failure the
 * cleanup removes every copy this step made, with its snapshots.
 */
import { CopyImageCommand, CreateTagsCommand } from '@aws-sdk/client-ec2';
import {
  IMAGE_NOT_FOUND,
  imagesNamed,
  removeImage,
  snapshotsOf,
  waitForImage,
} from '../../../aws/ami.js';
import { explainAwsError, leftoverError } from '../../../aws/errors.js';
import { retryOn } from '../../../aws/retry.js';
import { COPY_OF_TAG, toTags } from '../../../aws/tags.js';
import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import { amiTags, targetRegions } from '../config.js';
import type { AmazonState } from '../state.js';
import { journalAws } from './open-lease.js';

export const copyRegions: Step<AmazonState> = {
  name: 'copy-regions',
  async run(state, { signal, ui }) {
    const { config, ctx } = state;
    const home = config.region;
    try {
      if (config.encrypt_boot) {
        const plain = state.amis[home]!;
        ui.say(`Creating an encrypted copy of ${plain}...`);
        const enc = await copy(state, home, home, plain, true, `${ctx.runId}-enc`, signal);
        ui.say(`Deregistering the unencrypted AMI ${plain}`);
        await removeImage(state.ec2(home), plain, state.snapshots[home] ?? [], signal);
        state.amis[home] = enc.id;
        state.snapshots[home] = enc.snapshots;
      }
      for (const region of targetRegions(config)) {
        if (region === home) continue;
        ui.say(`Copying AMI (${state.amis[home]}) to other regions...`);
        ui.message(`Copying to: ${region}`);
        const c = await copy(
          state,
          home,
          region,
          state.amis[home]!,
          !!config.encrypt_boot,
          `${ctx.runId}-${region}`,
          signal,
        );
        state.amis[region] = c.id;
        state.snapshots[region] = c.snapshots;
      }
    } catch (err) {
      throw explainAwsError(err, 'CopyImage');
    }
  },
  async cleanup(state, { signal, ui, failed }) {
    if (!failed) return;
    const failures: string[] = [];
    const mine = state.made.filter((m) => m.by === 'copy-regions');
    // A copy whose answer was lost (an interrupt while CopyImage was in flight) is known by name only.
    for (const region of targetRegions(state.config).filter((r) => r !== state.config.region)) {
      try {
        for (const image of await imagesNamed(state.ec2(region), state.config.ami_name, signal))
          if (image.ImageId && !mine.some((m) => m.id === image.ImageId))
            mine.push({
              region,
              id: image.ImageId,
              snapshots: snapshotsOf(image),
              by: 'copy-regions',
            });
      } catch (err) {
        failures.push(`could not look for AMI copies in ${region}: ${(err as Error).message}`);
      }
    }
    for (const made of mine) {
      ui.say(`Deregistering the AMI copy ${made.region}:${made.id}`);
      try {
        await removeImage(state.ec2(made.region), made.id, made.snapshots, signal);
      } catch (err) {
        failures.push(leftoverError('AMI', `${made.region}:${made.id}`, err).message);
      }
    }
    if (failures.length > 0)
      throw new SystemError('AwsLeftover', failures.join('; '), {
        hint: 'run `kiln gc aws` once the cause is fixed',
      });
  },
};

async function copy(
  state: AmazonState,
  from: string,
  to: string,
  sourceId: string,
  encrypted: boolean,
  tokenSeed: string,
  signal: AbortSignal,
): Promise<{ id: string; snapshots: string[] }> {
  const { config } = state;
  const ec2 = state.ec2(to);
  const tags = toTags(amiTags(config), [
    ...state.imageTags,
    ...(to !== from ? [{ Key: COPY_OF_TAG, Value: sourceId }] : []),
  ]);
  // region_kms_key_ids names the key per target region (a key is region-bound); giving one
  // encrypts the copy even without encrypt_boot, as in Packer.
  const regionKey = config.region_kms_key_ids?.[to];
  const kmsKeyId = regionKey ?? config.kms_key_id;
  const encrypt = encrypted || !!regionKey;
  const token = tokenSeed.slice(0, 64);
  // Named before it exists: a copy a kill -9 cut off (no answer, and no tag on moto) is found by name.
  journalAws(state, 'aws-image', `copy:${token}`, { region: to, name: config.ami_name });
  const res = await retryOn(
    () =>
      ec2.send(
        new CopyImageCommand({
          SourceRegion: from,
          SourceImageId: sourceId,
          Name: config.ami_name,
          ...(config.ami_description ? { Description: config.ami_description } : {}),
          ClientToken: token,
          TagSpecifications: [{ ResourceType: 'image', Tags: tags }],
          ...(encrypt ? { Encrypted: true, ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}) } : {}),
        }),
        { abortSignal: signal },
      ),
    { codes: IMAGE_NOT_FOUND, signal },
  );
  const id = res.ImageId!;
  journalAws(state, 'aws-image', `copy:${token}`, { region: to, name: config.ami_name, id });
  // Recorded before anything else, so a failure from here on still removes the copy.
  const made = { region: to, id, snapshots: [] as string[], by: 'copy-regions' };
  state.made.push(made);
  // Also tagged afterwards: moto accepts TagSpecifications on CopyImage but drops them.
  await retryOn(
    () => ec2.send(new CreateTagsCommand({ Resources: [id], Tags: tags }), { abortSignal: signal }),
    {
      codes: IMAGE_NOT_FOUND,
      signal,
    },
  );
  const image = await waitForImage(ec2, id, state.polling, signal);
  made.snapshots = snapshotsOf(image);
  return { id, snapshots: made.snapshots };
}
