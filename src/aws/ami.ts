/** Waiting for, finding and removing AMIs with their snapshots: shared by the steps that make AMIs. */
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  type EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import { SystemError } from '../lib/errors.js';
import { sleep } from '../lib/sleep.js';
import { awsCode } from './errors.js';
import { type Polling, retryOn } from './retry.js';
import { RUN_TAG } from './tags.js';

/** Eventual-consistency codes for a just-made image or snapshot. */
export const IMAGE_NOT_FOUND = [
  'InvalidAMIID.NotFound',
  'InvalidAMIID.Unavailable',
  'InvalidSnapshot.NotFound',
];

/** Waits until the image is `available` and returns it; throws naming the reason when it fails. */
export async function waitForImage(
  ec2: EC2Client,
  imageId: string,
  polling: Polling,
  signal: AbortSignal,
): Promise<Image> {
  for (let i = 0; i < polling.maxAttempts; i++) {
    const res = await retryOn(
      () => ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }), { abortSignal: signal }),
      { codes: IMAGE_NOT_FOUND, signal },
    );
    const image = res.Images?.[0];
    if (image?.State === 'available') return image;
    if (image?.State === 'failed' || image?.State === 'error' || image?.State === 'invalid')
      throw new SystemError(
        'AmiFailed',
        `AMI ${imageId} went to state ${image.State}: ${image.StateReason?.Message ?? 'no reason given'}`,
        {
          where: imageId,
        },
      );
    await sleep(polling.delayMs, signal);
  }
  throw new SystemError(
    'AmiTimeout',
    `AMI ${imageId} did not become available after ${polling.maxAttempts} checks`,
    {
      where: imageId,
      hint: 'raise aws_polling.max_attempts or aws_polling.delay_seconds',
    },
  );
}

/** The snapshot IDs behind an image's block devices. */
export function snapshotsOf(image: Image | undefined): string[] {
  return (image?.BlockDeviceMappings ?? []).flatMap((b) =>
    b.Ebs?.SnapshotId ? [b.Ebs.SnapshotId] : [],
  );
}

/** This run's images in a region (by kiln's run tag), e.g. one whose CreateImage answer was lost. */
export async function imagesOfRun(
  ec2: EC2Client,
  runId: string,
  signal?: AbortSignal,
): Promise<Image[]> {
  const res = await ec2.send(
    new DescribeImagesCommand({
      Owners: ['self'],
      Filters: [{ Name: `tag:${RUN_TAG}`, Values: [runId] }],
    }),
    { abortSignal: signal },
  );
  return res.Images ?? [];
}

/**
 * Deregisters an image and deletes its snapshots (those given, plus any the image still
 * lists). Missing ones count as removed. Returns what it removed.
 */
export async function removeImage(
  ec2: EC2Client,
  imageId: string,
  knownSnapshots: string[],
  signal?: AbortSignal,
): Promise<{ snapshots: string[] }> {
  let snapshots = [...knownSnapshots];
  try {
    const res = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }), {
      abortSignal: signal,
    });
    snapshots = [...new Set([...snapshots, ...snapshotsOf(res.Images?.[0])])];
  } catch (err) {
    if (!/NotFound|Malformed/.test(awsCode(err) ?? '')) throw err;
  }
  try {
    await ec2.send(new DeregisterImageCommand({ ImageId: imageId }), { abortSignal: signal });
  } catch (err) {
    if (!/NotFound|Unavailable/.test(awsCode(err) ?? '')) throw err;
  }
  for (const snap of snapshots) {
    try {
      // A snapshot stays "in use" for a moment after its image is deregistered.
      await retryOn(
        () => ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap }), { abortSignal: signal }),
        {
          codes: ['InvalidSnapshot.InUse'],
          attempts: 8,
          ...(signal ? { signal } : {}),
        },
      );
    } catch (err) {
      if (!/NotFound/.test(awsCode(err) ?? '')) throw err;
    }
  }
  return { snapshots };
}

/**
 * This account's images called `name` in a region. After pre-validate found the name free
 * (or force_deregister freed it), every image of that name is this run's — also one whose
 * CreateImage/CopyImage answer never arrived and that carries no tag yet (moto drops
 * CopyImage's TagSpecifications).
 */
export async function imagesNamed(
  ec2: EC2Client,
  name: string,
  signal?: AbortSignal,
): Promise<Image[]> {
  const res = await ec2.send(
    new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] }),
    { abortSignal: signal },
  );
  return res.Images ?? [];
}
