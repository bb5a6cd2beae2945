/**
 * `kiln gc [--dry-run]`: cleans up after kiln processes that died without running their
 * cleanups (leftover QEMU processes, temporary files and directories recorded in the run
 * journal) and removes stray entries under the images directory. `kiln gc aws` is added
 * as a subcommand of this command by the AWS part.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { addOutputFlag } from './output-flags.js';

/** Registers `kiln gc` (local clean-up). */
export function registerGc(program: Command): void {
  const cmd = program
    .command('gc')
    .description(
      'remove what crashed kiln runs left behind (QEMU processes, temporary files) and stray image files; evict saved VM states over KILN_WARM_BUDGET',
    )
    .option('--dry-run', 'only list what would be removed');
  addOutputFlag(
    cmd,
    '{"dryRun": …, "actions": [{runId, kind, ref, outcome, detail}], "runs": […]}',
  ).action(lazyAction(() => import('../actions/gc.js'), 'gc'));
}
