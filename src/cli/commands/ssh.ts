/**
 * `kiln ssh INSTANCE [-- COMMAND…]`: OpenSSH into a running local instance with the
 * instance's own key (made by `kiln run`, authorized in the guest at boot through a systemd
 * credential, never in the image). With a command, its exit status becomes kiln's; without
 * one, on a terminal, an interactive shell. The first connection waits (with a spinner)
 * until the guest's sshd answers.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';

/** Registers `kiln ssh`. */
export function registerSsh(program: Command): void {
  program
    .command('ssh')
    .description('run a command in a running instance over SSH, or open a shell in it')
    .argument('<instance>', 'instance id, unique prefix or name')
    .argument('[command...]', 'run this (after --) instead of a shell; its exit status is kiln’s')
    .option('-t, --tty', 'give the command a terminal (a shell always gets one on a terminal)')
    .option('--timeout <duration>', 'how long to wait for the guest’s sshd (Go duration)', '2m')
    .action(lazyAction(() => import('../actions/ssh.js'), 'ssh'));
}
