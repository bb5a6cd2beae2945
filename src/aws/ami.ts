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
import { ec2Client } from './clients.js';
import { awsCode, explainAwsError } from './errors.js';
import { type Polling, retryOn } from './retry.js';
import { ARTIFACT_TAG, FORMAT_TAG, INPUT_HASH_TAG, RUN_TAG } from './tags.js';

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

/** Packer's image filter (`source_ami_filter`, the `amazon-ami` data source): EC2 filters and owners. */
export interface ImageQuery {
  filters?: Record<string, string> | undefined;
  owners?: string[] | undefined;
}

/** Every image matching `query` (one DescribeImages call), newest first. */
export async function imagesMatching(
  ec2: EC2Client,
  query: ImageQuery,
  signal?: AbortSignal,
): Promise<Image[]> {
  const res = await ec2.send(
    new DescribeImagesCommand({
      ...(query.owners?.length ? { Owners: query.owners } : {}),
      Filters: Object.entries(query.filters ?? {}).map(([Name, v]) => ({ Name, Values: [v] })),
    }),
    { abortSignal: signal },
  );
  return newestFirst(res.Images ?? []);
}

/** Images sorted by CreationDate, newest first. */
export function newestFirst(images: Image[]): Image[] {
  return [...images].sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''));
}

/**
 * The image `imageId` (one DescribeImages call), or undefined when AWS says it does not
 * exist (`InvalidAMIID.NotFound`/`.Malformed`/`.Unavailable`): no waiting.
 */
export async function describeImage(
  ec2: EC2Client,
  imageId: string,
  signal?: AbortSignal,
): Promise<Image | undefined> {
  try {
    const res = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }), {
      abortSignal: signal,
    });
    return res.Images?.find((i) => i.ImageId === imageId);
  } catch (err) {
    if (/^InvalidAMIID\./.test(awsCode(err) ?? '')) return undefined;
    throw err;
  }
}

/**
 * This account's finished kiln AMIs in a region built from inputs hashed `hash` (by the
 * cache tags and the artifact tag: a half-made AMI of a killed run never counts) that are
 * `available`, newest first.
 */
export async function cachedImages(
  ec2: EC2Client,
  hash: string,
  format: number,
  signal?: AbortSignal,
): Promise<Image[]> {
  const res = await ec2.send(
    new DescribeImagesCommand({
      Owners: ['self'],
      Filters: [
        { Name: `tag:${INPUT_HASH_TAG}`, Values: [hash] },
        { Name: `tag:${FORMAT_TAG}`, Values: [String(format)] },
        { Name: `tag:${ARTIFACT_TAG}`, Values: ['true'] },
      ],
    }),
    { abortSignal: signal },
  );
  return newestFirst((res.Images ?? []).filter((i) => i.State === 'available'));
}

/**
 * Deregisters an AMI in every region it is in (`region → id`) and deletes its snapshots,
 * with the access of the environment (credentials chain, AWS_ENDPOINT_URL). Returns one
 * line per image removed; throws at the first failure (what is left stays listed).
 */
export async function deregisterAmis(
  amis: Record<string, string>,
  signal?: AbortSignal,
): Promise<string[]> {
  const lines: string[] = [];
  for (const [region, id] of Object.entries(amis)) {
    const ec2 = ec2Client({}, region);
    try {
      const { snapshots } = await removeImage(ec2, id, [], signal);
      lines.push(
        `deregistered ${region}:${id}${snapshots.length ? ` and deleted ${snapshots.join(', ')}` : ''}`,
      );
    } catch (err) {
      throw explainAwsError(err, 'DeregisterImage');
    } finally {
      ec2.destroy();
    }
  }
  return lines;
}
