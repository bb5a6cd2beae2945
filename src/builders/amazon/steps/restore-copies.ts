/**
 * Makes a reused AMI whole again: copies it from the build region to each target region
 * where its copy is gone (deregistered by hand, another account's cleanup…), tagged like
 * the original with this run's ownership tags, waits until each copy is available and marks
 * it as kiln's artifact. On failure the cleanup deregisters the copies it made, with their
 * snapshots.
 */
import {
  CopyImageCommand,
  CreateTagsCommand,
  type EC2Client,
  type Image,
  type Tag,
} from '@aws-sdk/client-ec2';
import {
  IMAGE_NOT_FOUND,
  imagesOfRun,
  removeImage,
  snapshotsOf,
  waitForImage,
} from '../../../aws/ami.js';
import { explainAwsError, leftoverError } from '../../../aws/errors.js';
import { type Polling, retryOn } from '../../../aws/retry.js';
import { ARTIFACT_TAG, COPY_OF_TAG, RUN_BOOKKEEPING_TAGS, toTags } from '../../../aws/tags.js';
import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import type { AmazonEbsConfig } from '../config.js';

/** What restoring region copies needs and finds. */
export interface RestoreState {
  config: AmazonEbsConfig;
  runId: string;
  polling: Polling;
  ec2(region: string): EC2Client;
  /** The AMI in the build region, available. */
  home: Image;
  /** The run's ownership and cache tags, put on each copy. */
  ownTags: Tag[];
  /** Regions without a usable copy. */
  missing: string[];
  /** AMIs by region, filled in as copies become available. */
  amis: Record<string, string>;
  snapshots: Record<string, string[]>;
  made: Array<{ region: string; id: string; snapshots: string[] }>;
}

export const restoreCopies: Step<RestoreState> = {
  name: 'restore-copies',
  async run(state, { signal, ui }) {
    const { config, home } = state;
    const homeTags = Object.fromEntries(
      (home.Tags ?? [])
        .filter((t) => t.Key && !t.Key.startsWith('aws:') && t.Key !== ARTIFACT_TAG)
        .filter((t) => !RUN_BOOKKEEPING_TAGS.includes(t.Key!))
        .map((t) => [t.Key!, t.Value ?? '']),
    );
    const tags = toTags(homeTags, [...state.ownTags, { Key: COPY_OF_TAG, Value: home.ImageId! }]);
    try {
      for (const region of state.missing) {
        ui.say(`Restoring the copy of ${home.ImageId} in ${region} (it is gone)`);
        const ec2 = state.ec2(region);
        const regionKey = config.region_kms_key_ids?.[region];
        const encrypt = !!config.encrypt_boot || !!regionKey;
        const kmsKeyId = regionKey ?? config.kms_key_id;
        const res = await retryOn(
          () =>
            ec2.send(
              new CopyImageCommand({
                SourceRegion: config.region,
                SourceImageId: home.ImageId,
                Name: home.Name,
                ...(home.Description ? { Description: home.Description } : {}),
                ClientToken: `${state.runId}-restore-${region}`.slice(0, 64),
                TagSpecifications: [{ ResourceType: 'image', Tags: tags }],
                ...(encrypt
                  ? { Encrypted: true, ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}) }
                  : {}),
              }),
              { abortSignal: signal },
            ),
          { codes: IMAGE_NOT_FOUND, signal },
        );
        const made = { region, id: res.ImageId!, snapshots: [] as string[] };
        state.made.push(made);
        // moto drops CopyImage's TagSpecifications: tag again.
        await retryOn(
          () =>
            ec2.send(new CreateTagsCommand({ Resources: [made.id], Tags: tags }), {
              abortSignal: signal,
            }),
          { codes: IMAGE_NOT_FOUND, signal },
        );
        const image = await waitForImage(ec2, made.id, state.polling, signal);
        made.snapshots = snapshotsOf(image);
        await ec2.send(
          new CreateTagsCommand({
            Resources: [made.id, ...made.snapshots],
            Tags: [{ Key: ARTIFACT_TAG, Value: 'true' }],
          }),
          { abortSignal: signal },
        );
        state.amis[region] = made.id;
        state.snapshots[region] = made.snapshots;
      }
    } catch (err) {
      throw explainAwsError(err, 'CopyImage');
    }
  },
  async cleanup(state, { signal, ui, failed }) {
    if (!failed) return;
    const failures: string[] = [];
    for (const region of state.missing) {
      // A copy whose answer was lost carries the run's tag once CreateTags got through.
      try {
        for (const image of await imagesOfRun(state.ec2(region), state.runId, signal))
          if (image.ImageId && !state.made.some((m) => m.id === image.ImageId))
            state.made.push({ region, id: image.ImageId, snapshots: snapshotsOf(image) });
      } catch (err) {
        failures.push(`could not look for AMI copies in ${region}: ${(err as Error).message}`);
      }
    }
    for (const made of state.made) {
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
  owes(state, failed) {
    return failed && state.made.length > 0
      ? `deregister AMI copies ${state.made.map((m) => `${m.region}:${m.id}`).join(', ')}`
      : undefined;
  },
};
