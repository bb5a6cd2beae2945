/**
 * `kiln gc aws [--dry-run] [--region …] [--run …] [--older-than 2h]`: removes what dead
 * kiln runs left in AWS — the resources whose run's lease expired or whose process on this
 * machine is gone (by kiln's tags), and what this machine's run journal names for dead
 * runs (an AMI copy a kill cut off before it was tagged). Every region EC2 lists is swept
 * unless --region names some. It is a subcommand of `kiln gc`.
 */
import type { Command } from 'commander';
import type { GcAwsAction } from '../../aws/gc.js';
import { Catalog } from '../../catalog/index.js';
import { withContext } from '../context.js';
import { durationOption } from '../options.js';
import { addOutputFlag } from './output-flags.js';

interface GcAwsOpts {
  olderThan: string;
  dryRun?: boolean;
  region?: string[];
  run?: string[];
}

/** Adds the `aws` subcommand to a `gc` command (the hook the local `kiln gc` hosts it by). */
export function addGcAwsCommand(gc: Command): void {
  const cmd = gc
    .command('aws')
    .description(
      "remove AWS resources (instances, key pairs, security groups, AMIs, snapshots) left by dead kiln runs: a run is dead once its lease (kiln:expires, renewed while it runs) has passed, or at once when its process on this machine is gone; a live run's resources are never touched",
    )
    .option(
      '--older-than <duration>',
      'for resources without a lease (made by an older kiln): only those created longer ago than this',
      '2h',
    )
    .option('--dry-run', 'only list what would be removed')
    .option(
      '--region <region...>',
      'regions to sweep (default: every region EC2 lists); repeat or comma-separate',
    )
    .option(
      '--run <run-id...>',
      "also remove these runs' resources whatever their lease says (a run you know is dead, e.g. a hung process)",
    );
  // Commander hands `kiln gc`'s own --output to `gc` even after `aws`; the context reads both.
  addOutputFlag(
    cmd,
    '{"dryRun": …, "actions": [{outcome, detail, leftover: {kind, id, region, runId, created}}]}',
  );
  cmd.action(
    withContext({ name: 'kiln gc aws' }, async (ctx, opts: GcAwsOpts, cmd: Command) => {
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
      const { allRegions, sweepAwsLeftovers, describeGcAwsAction } = await import(
        '../../aws/gc.js'
      );
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
    }),
  );
}

/** Registers `kiln gc aws`: under the existing `kiln gc` when it is registered, else under a new `gc` group. */
export function registerGcAws(program: Command): void {
  const gc =
    program.commands.find((c) => c.name() === 'gc') ??
    program.command('gc').description('remove what crashed kiln runs left behind');
  addGcAwsCommand(gc);
}
