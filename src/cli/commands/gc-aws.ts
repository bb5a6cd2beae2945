/**
 * `kiln gc aws [--older-than 2h] [--dry-run] [--region …]`: removes what killed kiln runs
 * left in AWS — exactly the resources carrying kiln's run tag that are older than the
 * limit. It is a subcommand of `kiln gc` (added to it when that command exists).
 */
import type { Command } from 'commander';
import type { GcAwsAction } from '../../deploy/aws/gc.js';
import { UserError } from '../../lib/errors.js';
import { withContext } from '../context.js';
import { durationOption } from '../options.js';

interface GcAwsOpts {
  olderThan: string;
  dryRun?: boolean;
  region?: string[];
}

/** Adds the `aws` subcommand to a `gc` command (the hook the local `kiln gc` hosts it by). */
export function addGcAwsCommand(gc: Command): void {
  gc.command('aws')
    .description(
      "remove AWS resources (instances, key pairs, security groups, AMIs, snapshots) left by killed kiln runs, by kiln's tags",
    )
    .option('--older-than <duration>', 'only resources created longer ago than this', '2h')
    .option('--dry-run', 'only list what would be removed')
    .option(
      '--region <region...>',
      'regions to sweep (default: AWS_REGION); repeat or comma-separate',
    )
    .action(
      withContext({ name: 'kiln gc aws' }, async (ctx, opts: GcAwsOpts, cmd: Command) => {
        // `kiln gc` has its own --dry-run, and commander gives it the flag even after `aws`:
        // a dry run must never turn into a real one, so either counts.
        const dryRun =
          opts.dryRun === true || cmd.optsWithGlobals<{ dryRun?: boolean }>().dryRun === true;
        const olderThanMs = durationOption('--older-than', opts.olderThan, { allowZero: true });
        const regions = (
          opts.region ?? [process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '']
        )
          .flatMap((r) => r.split(','))
          .map((r) => r.trim())
          .filter(Boolean);
        if (regions.length === 0)
          throw new UserError('NoRegion', 'no AWS region given', {
            hint: 'pass --region or set AWS_REGION',
          });
        // The AWS SDK loads only when this command runs.
        const { findAwsLeftovers, removeAwsLeftovers } = await import('../../deploy/aws/gc.js');
        const leftovers = await findAwsLeftovers({ regions, olderThanMs });
        const actions = await removeAwsLeftovers(leftovers, {
          dryRun,
          onAction: (a) => ctx.out(`${describe(a)}\n`),
        });
        if (actions.length === 0)
          ctx.out(`nothing to remove (kiln-tagged, older than ${opts.olderThan})\n`);
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

function describe(a: GcAwsAction): string {
  const l = a.leftover;
  const verb = {
    removed: 'removed',
    gone: 'already gone',
    failed: 'FAILED to remove',
    'would-remove': 'would remove',
  }[a.outcome];
  return `${verb} ${l.kind} ${l.id} (${l.region}, ${l.runId}, created ${l.created})${a.detail ? `: ${a.detail}` : ''}`;
}
