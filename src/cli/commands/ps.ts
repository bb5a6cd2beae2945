/** `kiln ps [-a] [-q] [--output json]`: local instances of catalogued images, as a table, ids or JSON. */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { addOutputFlag } from './output-flags.js';

/** Registers `kiln ps`. */
export function registerPs(program: Command): void {
  const cmd = program
    .command('ps')
    .description('list local instances (running ones; -a adds those that exited)')
    .option('-a, --all', 'include instances whose QEMU exited')
    .option('-q, --quiet', 'print only the ids');
  addOutputFlag(cmd, 'one JSON array on stdout', { jsonAlias: true }).action(
    lazyAction(() => import('../actions/ps.js'), 'ps'),
  );
}
