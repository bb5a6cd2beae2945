import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { addOutputFlag } from './output-flags.js';

/** `kiln version`: prints the version (and Packer's machine-readable `version` lines with -machine-readable). */
export function registerVersion(program: Command): void {
  const cmd = program.command('version').description('print the version of kiln');
  addOutputFlag(cmd, '{"version": "…"}').action(
    lazyAction(() => import('../actions/version.js'), 'version'),
  );
}
