/** The bodies of `kiln gc aws` (declared in `commands/gc-aws.ts`). */
import type { Command } from 'commander';
import type { GcAwsAction } from '../../aws/gc.js';
import { Catalog } from '../../catalog/index.js';
import { withContext } from '../context.js';
import { durationOption } from '../options.js';

interface GcAwsOpts {
  olderThan: string;
  dryRun?: boolean;
  region?: string[];
  run?: string[];
}

/** `kiln gc aws`: removes the AWS resources of dead runs in the regions asked. */
export const gcAws = withContext(
  { name: 'kiln gc aws' },
  async (ctx, opts: GcAwsOpts, cmd: Command) => {
    // `kiln gc` has its own --dry-run, and commander gives it the flag even after `aws`:
    // a dry run must never turn into a real one, so either counts.
    const dryRun =
      opts.dryRun === true || cmd.optsWithGlobals<{ dryRun?: boolean }>().dryRun === true;
    const olderThanMs = durationOption('--older-than', opts.olderThan, { allowZero: true });
    const split = (list: string[] | undefined) =>
      (list ?? [])
        .flatMap((r) => r.split(','))
        .map((r) => r.trim())
        .filter(Boolean);
    // The AWS SDK loads only when this command runs.
    const { allRegions, sweepAwsLeftovers, describeGcAwsAction } = await import('../../aws/gc.js');
    const signal = ctx.signal;
    const json = ctx.mode === 'json';
    const regions = opts.region
      ? split(opts.region)
      : await allRegions(
          {},
          process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
          signal,
        );
    using catalog = Catalog.open();
    const actions = await sweepAwsLeftovers({
      regions,
      olderThanMs,
      runs: split(opts.run),
      journal: catalog.journal,
      dryRun,
      signal,
      onAction: (a: GcAwsAction) => (json ? undefined : ctx.out(`${describeGcAwsAction(a)}\n`)),
    });
    if (json) ctx.out(`${JSON.stringify({ dryRun, actions }, null, 2)}\n`);
    else if (actions.length === 0)
      ctx.out(
        `nothing to remove in ${regions.length} region${regions.length === 1 ? '' : 's'} (no dead run's resources; none without a lease older than ${opts.olderThan})\n`,
      );
    if (actions.some((a) => a.outcome === 'failed')) ctx.exitCode = 1;
  },
);
