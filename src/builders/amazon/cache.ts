/**
 * The amazon-ebs cache, kept in AWS: every AMI kiln registers carries its input hash and
 * kiln's image format version as tags, so any machine with the same inputs finds it
 * (DescribeImages, owner self, tag filters). The local catalog only hints which AMI to
 * prefer: nothing is reused before AWS shows it `available` in every region the template
 * asks for — a missing region copy is made again, a gone build-region AMI means a rebuild.
 */
import type { EC2Client, Image, Tag } from '@aws-sdk/client-ec2';
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { cachedImages, describeImage, snapshotsOf } from '../../aws/ami.js';
import { ec2ClientsByRegion } from '../../aws/clients.js';
import { explainAwsError } from '../../aws/errors.js';
import { ARTIFACT_TAG, COPY_OF_TAG, cacheTags, kilnTags } from '../../aws/tags.js';
import type { ImageRecord } from '../../catalog/types.js';
import { IMAGE_FORMAT_VERSION } from '../../core/input-hash.js';
import type { Artifact, BuildContext } from '../../core/plugin.js';
import { runSteps } from '../../core/steps.js';
import { amiArtifact } from './artifact.js';
import { type AmazonEbsConfig, polling, targetRegions } from './config.js';
import { type RestoreState, restoreCopies } from './steps/restore-copies.js';
import { sweepDeadRuns } from './steps/sweep-orphans.js';

/** The regions a catalog row records, by region. */
function recordedRegions(image: ImageRecord | undefined): Record<string, string> {
  const regions = (image?.metadata as { regions?: Record<string, string> } | undefined)?.regions;
  return regions ?? (image ? { [String(image.metadata.region ?? '')]: image.id } : {});
}

/**
 * The artifact of an AMI built from inputs hashed `hash`, available in every target
 * region (copies restored where gone), recorded in the catalog; undefined to build.
 */
export async function reuseAmi(
  hash: string,
  cached: ImageRecord | undefined,
  config: AmazonEbsConfig,
  ctx: BuildContext,
): Promise<Artifact | undefined> {
  const clients = ec2ClientsByRegion(config);
  const ec2 = (region: string): EC2Client => clients.get(region);
  try {
    const artifact = await reuse(hash, cached, config, ctx, ec2);
    // A build that reuses runs no steps: it sweeps what dead runs left here.
    if (artifact) await sweepDeadRuns(config, ctx, ctx.signal, ctx.ui);
    return artifact;
  } catch (err) {
    throw explainAwsError(err, 'DescribeImages');
  } finally {
    clients.destroy();
  }
}

async function reuse(
  hash: string,
  cached: ImageRecord | undefined,
  config: AmazonEbsConfig,
  ctx: BuildContext,
  ec2: (region: string) => EC2Client,
): Promise<Artifact | undefined> {
  const { signal, ui, catalog } = ctx;
  const home = config.region;
  const recorded = recordedRegions(cached);
  const homeImage = await findIn(ec2(home), hash, recorded[home], signal);
  if (cached && homeImage?.ImageId !== cached.id) {
    // The catalog is a cache of AWS: a row whose AMI AWS no longer shows available is not reused.
    ui.message(`${cached.id} is no longer available in ${home}: not reusing it`);
    catalog.images.setStatus(cached.id, 'missing');
  }
  if (!homeImage?.ImageId) return undefined;

  const amis: Record<string, string> = { [home]: homeImage.ImageId };
  const snapshots: Record<string, string[]> = { [home]: snapshotsOf(homeImage) };
  const missing: string[] = [];
  // A copy counts only when it was copied from this build-region AMI: an artifact's AMIs
  // come from one build.
  const sameBuild = cached?.id === homeImage.ImageId;
  for (const region of targetRegions(config)) {
    if (region === home) continue;
    const copy = await findCopy(
      ec2(region),
      hash,
      homeImage.ImageId,
      sameBuild ? recorded[region] : undefined,
      signal,
    );
    if (copy?.ImageId) {
      amis[region] = copy.ImageId;
      snapshots[region] = snapshotsOf(copy);
    } else missing.push(region);
  }
  if (missing.length > 0) {
    const state: RestoreState = {
      config,
      runId: ctx.runId,
      polling: polling(config),
      ec2,
      home: homeImage,
      ownTags: [...kilnTags(ctx.runId), ...cacheTags(hash, IMAGE_FORMAT_VERSION)],
      missing,
      amis,
      snapshots,
      made: [],
    };
    await runSteps(
      [restoreCopies],
      state,
      { signal, ui },
      {
        onError: ctx.onError,
        ...(ctx.cleanupSignal ? { cleanupSignal: ctx.cleanupSignal } : {}),
        ...(ctx.onCleanupPending ? { onCleanupPending: ctx.onCleanupPending } : {}),
      },
    );
  }

  const { images } = catalog;
  const known = images.get(homeImage.ImageId);
  const metadata = {
    ...known?.metadata,
    region: home,
    regions: { ...amis },
    snapshots: { ...snapshots },
    ...(homeImage.OwnerId ? { accountId: homeImage.OwnerId } : {}),
  };
  if (known) {
    images.setMetadata(known.id, metadata);
    if (known.status !== 'ready') images.setStatus(known.id, 'ready');
  } else {
    const source = String(ctx.source?.key ?? '').split(':')[1];
    images.register({
      id: homeImage.ImageId,
      name: homeImage.Name ?? config.ami_name,
      builder: 'amazon-ebs',
      format: 'ami',
      files: [],
      inputHash: hash,
      ...(source && images.get(source) ? { parentId: source } : {}),
      metadata: { ...metadata, ...(source ? { sourceAmi: source } : {}), foundInAws: true },
    });
  }
  return amiArtifact(amis, { image: homeImage.ImageId, snapshots });
}

/** The value of tag `key` on `image`. */
function tagOf(image: Image, key: string): string | undefined {
  return image.Tags?.find((t) => t.Key === key)?.Value;
}

/**
 * The AMI built from `hash` in the build region: the one the catalog names when AWS still
 * shows it available (tagged now if it predates the cache tags), else the newest tagged one.
 */
async function findIn(
  ec2: EC2Client,
  hash: string,
  preferred: string | undefined,
  signal: AbortSignal,
): Promise<Image | undefined> {
  const tagged = await cachedImages(ec2, hash, IMAGE_FORMAT_VERSION, signal);
  const hit = tagged.find((i) => i.ImageId === preferred);
  if (hit || !preferred) return hit ?? tagged[0];
  return (await adopt(ec2, hash, preferred, [], signal)) ?? tagged[0];
}

/** The copy of `homeId` in one region: tagged as its copy, or the one the catalog names. */
async function findCopy(
  ec2: EC2Client,
  hash: string,
  homeId: string,
  preferred: string | undefined,
  signal: AbortSignal,
): Promise<Image | undefined> {
  const tagged = (await cachedImages(ec2, hash, IMAGE_FORMAT_VERSION, signal)).filter(
    (i) => tagOf(i, COPY_OF_TAG) === homeId,
  );
  if (tagged[0] || !preferred) return tagged[0];
  return adopt(ec2, hash, preferred, [{ Key: COPY_OF_TAG, Value: homeId }], signal);
}

/**
 * An AMI the catalog names that AWS shows available and marked as kiln's artifact, given
 * the cache tags it lacks (it predates them); undefined when it is not usable.
 */
async function adopt(
  ec2: EC2Client,
  hash: string,
  id: string,
  extra: Tag[],
  signal: AbortSignal,
): Promise<Image | undefined> {
  const image = await describeImage(ec2, id, signal);
  if (image?.State !== 'available' || tagOf(image, ARTIFACT_TAG) !== 'true') return undefined;
  const want = [...cacheTags(hash, IMAGE_FORMAT_VERSION), ...extra];
  if (want.some((t) => tagOf(image, t.Key!) !== t.Value))
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: want }), {
      abortSignal: signal,
    });
  return image;
}
