/**
 * `kiln doctor [--output json]`: checks what kiln needs from this machine (tools, the
 * accelerator, the catalog and its native module, disk, the kiln home) and prints each
 * finding with the command that fixes it. Exit 1 when a check fails; warnings do not.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { addOutputFlag } from './output-flags.js';

/** Registers `kiln doctor`. */
export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('check this machine for what kiln needs, and say how to fix what is missing');
  addOutputFlag(cmd, '{"ok": …, "checks": [{name, status, detail, fix}]}').action(
    lazyAction(() => import('../actions/doctor.js'), 'doctor'),
  );
}
