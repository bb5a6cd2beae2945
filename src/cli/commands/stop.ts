/** `kiln stop ID… | --all`: stops local instances and deletes their overlays; their ids go to stdout. */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { addOutputFlag } from './output-flags.js';

/** Registers `kiln stop`. */
export function registerStop(program: Command): void {
  const cmd = program
    .command('stop')
    .description('stop instances (ACPI/Ctrl-Alt-Del, then by force) and delete their overlays')
    .argument('[ids...]', 'instance ids, unique prefixes or names')
    .option('--all', 'stop every local instance')
    .option('--timeout <duration>', 'how long the guest gets to shut down cleanly', '20s');
  addOutputFlag(
    cmd,
    '{"stopped": [ids]} (when one did not stop: the error object, its details saying which)',
  ).action(lazyAction(() => import('../actions/stop.js'), 'stop'));
}
