/**
 * `kiln gc aws [--dry-run] [--region …] [--run …] [--older-than 2h]`: removes what dead
 * kiln runs left in AWS — the resources whose run's lease expired or whose process on this
 * machine is gone (by kiln's tags), and what this machine's run journal names for dead
 * runs (an AMI copy a kill cut off before it was tagged). Every region EC2 lists is swept
 * unless --region names some. It is a subcommand of `kiln gc`.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { addOutputFlag } from './output-flags.js';

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
  cmd.action(lazyAction(() => import('../actions/gc-aws.js'), 'gcAws'));
}

/** Registers `kiln gc aws`: under the existing `kiln gc` when it is registered, else under a new `gc` group. */
export function registerGcAws(program: Command): void {
  const gc =
    program.commands.find((c) => c.name() === 'gc') ??
    program.command('gc').description('remove what crashed kiln runs left behind');
  addGcAwsCommand(gc);
}
