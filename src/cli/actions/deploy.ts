/** The bodies of `kiln deploy aws` (declared in `commands/deploy.ts`). */
import type { Command } from 'commander';
import { Catalog } from '../../catalog/index.js';
import type { CatalogApi } from '../../catalog/types.js';
import { BuildUi } from '../../core/events.js';
import { UserError } from '../../lib/errors.js';
import { defaultKilnHome } from '../../lib/paths.js';
import { withContext } from '../context.js';
import { durationOption, intOption } from '../options.js';

interface DeployAwsOpts {
  asg?: string;
  region?: string;
  minHealthy: string;
  warmup: string;
  checkpoints?: string;
  checkpointDelay?: string;
  preferences?: string;
  rollback?: boolean;
  launchTemplateVersion?: string;
  pollInterval: string;
}

/**
 * `ami-…`, `region:ami-…[,…]` (Packer's artifact id, with real commas or as the
 * machine-readable output escapes them, `%!(PACKER_COMMA)`) or a catalog reference → the AMI
 * and its region: the one `--region` names (which must be there), else the environment's
 * (AWS_REGION) when the image is there, else the image's only region.
 */
function resolveImage(
  ref: string,
  regions: { given: string | undefined; env: string | undefined },
  catalog: CatalogApi,
): { imageId: string; region?: string } {
  const id = ref.trim().replaceAll('%!(PACKER_COMMA)', ',');
  if (/^ami-[0-9a-f]+$/.test(id)) return { imageId: id };
  if (/^[a-z0-9-]+:ami-[0-9a-f]+(,[a-z0-9-]+:ami-[0-9a-f]+)*$/.test(id))
    return pickRegion(
      ref,
      Object.fromEntries(id.split(',').map((p) => p.split(':') as [string, string])),
      regions,
    );
  const region = regions.given;
  const image = catalog.images.resolve(ref);
  if (image.format !== 'ami')
    throw new UserError(
      'NotAnAmi',
      `${ref} is ${image.id}, a local ${image.format ?? ''} image, not an AMI`,
      {
        hint: 'deploy an image built with amazon-ebs',
      },
    );
  const meta = image.metadata as { region?: string; regions?: Record<string, string> };
  if (meta.regions) return pickRegion(image.id, meta.regions, regions);
  if (region && meta.region !== region)
    throw new UserError('ImageNotInRegion', `${image.id} is not in ${region}`, {
      hint: `it exists in: ${meta.region ?? '?'}`,
    });
  return { imageId: image.id, ...(meta.region ? { region: meta.region } : {}) };
}

/** The AMI of `amis` (region → id) in the region asked for, as resolveImage says. */
function pickRegion(
  what: string,
  amis: Record<string, string>,
  regions: { given: string | undefined; env: string | undefined },
): { imageId: string; region: string } {
  const all = Object.keys(amis).sort();
  const pick =
    regions.given ??
    (regions.env && amis[regions.env] ? regions.env : all.length === 1 ? all[0] : undefined);
  if (!pick)
    throw new UserError('AmbiguousRegion', `${what} has AMIs in ${all.join(', ')}`, {
      hint: 'pass --region (or set AWS_REGION) to say which region to deploy in',
    });
  const imageId = amis[pick];
  if (!imageId)
    throw new UserError('ImageNotInRegion', `${what} has no AMI in ${pick}`, {
      hint: `use one of: ${all.join(', ')}`,
    });
  return { imageId, region: pick };
}

/** `kiln deploy aws`: a new launch template version and an instance refresh (or `--rollback`). */
export const deployAws = withContext(
  { name: 'kiln deploy aws' },
  async (ctx, image: string | undefined, opts: DeployAwsOpts, cmd: Command) => {
    // Opened after the flags are checked: the deploy history is written into it.
    using catalog = Catalog.open(defaultKilnHome());
    const checkpoints = opts.checkpoints
      ?.split(',')
      .map((p) => intOption('--checkpoints', p.trim())!);
    const pollMs = durationOption('--poll-interval', opts.pollInterval);
    const { parseRefreshPreferences } = await import('../../deploy/aws/preferences.js');
    const preferences = opts.preferences ? parseRefreshPreferences(opts.preferences) : undefined;
    // A value given twice (a kiln flag and its AWS name) is refused rather than guessed.
    const twice = (
      [
        ['minHealthy', '--min-healthy', 'MinHealthyPercentage'],
        ['warmup', '--warmup', 'InstanceWarmup'],
        ['checkpoints', '--checkpoints', 'CheckpointPercentages'],
        ['checkpointDelay', '--checkpoint-delay', 'CheckpointDelay'],
      ] as const
    ).filter(
      ([key, , name]) =>
        cmd.getOptionValueSource(key) === 'cli' && preferences?.[name] !== undefined,
    );
    if (twice.length > 0)
      throw new UserError(
        'InvalidOption',
        `${twice.map(([, flag, name]) => `${flag} and --preferences ${name}`).join(', ')} both given`,
        { hint: 'give each preference once' },
      );
    if (opts.rollback && image)
      throw new UserError(
        'InvalidOption',
        '--rollback takes no IMAGE: it returns to the release before the current one',
      );
    if (!opts.rollback && !image)
      throw new UserError('InvalidOption', 'IMAGE is required', {
        hint: 'kiln deploy aws --asg NAME ami-…',
      });
    const envRegion = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || undefined;
    const target = image
      ? resolveImage(image, { given: opts.region, env: envRegion }, catalog)
      : undefined;
    const region = opts.region ?? target?.region ?? envRegion;
    if (!region)
      throw new UserError('NoRegion', 'no AWS region given', {
        hint: 'pass --region or set AWS_REGION',
      });

    const ui = ctx.ui();
    ctx.leftBehindHint(
      `undo it by hand (aws autoscaling cancel-instance-refresh --auto-scaling-group-name ${opts.asg}; aws ec2 modify-launch-template --default-version), then deploy again.`,
    );
    const common = {
      region,
      asg: opts.asg!,
      catalog,
      ui: new BuildUi(ui, 'deploy'),
      signal: ctx.signal,
      pollMs,
      minHealthy: intOption('--min-healthy', opts.minHealthy)!,
      warmupSeconds: intOption('--warmup', opts.warmup)!,
      ...(checkpoints ? { checkpoints } : {}),
      ...(opts.checkpointDelay
        ? { checkpointDelaySeconds: intOption('--checkpoint-delay', opts.checkpointDelay)! }
        : {}),
      ...(preferences ? { preferences } : {}),
      onCleanupPending: ctx.pendingCleanups(`deploy to ${opts.asg}`),
      cleanupSignal: ctx.cleanupSignal,
    };
    const result = opts.rollback
      ? await (await import('../../deploy/aws/deploy.js')).rollbackDeploy(common)
      : await (await import('../../deploy/aws/deploy.js')).deployAmi({
          ...common,
          imageId: target!.imageId,
          ...(opts.launchTemplateVersion ? { sourceVersion: opts.launchTemplateVersion } : {}),
        });
    if (ctx.mode === 'human')
      ctx.out(
        `${opts.asg}: launch template ${result.launchTemplateId} version ${result.version} (was ${result.previousVersion}), refresh ${result.refreshId}\n`,
      );
  },
);
