/**
 * `kiln logs ID [-f] [-n N]`: an instance's serial console on stdout; with `--journal UNIT`
 * the guest's journal of that unit instead, read over `kiln ssh`'s connection.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';

/** Registers `kiln logs`. */
export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description("print an instance's serial console")
    .argument('<id>', 'instance id, unique prefix or name')
    .option('-f, --follow', 'keep printing until the instance stops (or Ctrl-C)')
    .option('-n, --tail <lines>', 'only the last N lines')
    .option('--journal <unit>', "the guest's journal of this systemd unit (over SSH) instead")
    .option('--timeout <duration>', "with --journal: how long to wait for the guest's sshd", '2m')
    .action(
      // Ctrl-C is how `logs -f` ends.
      lazyAction(() => import('../actions/logs.js'), 'logs'),
    );
}
