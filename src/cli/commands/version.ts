import type { Command } from 'commander';
import { withContext } from '../context.js';
import { addOutputFlag } from './output-flags.js';

/** `kiln version`: prints the version (and Packer's machine-readable `version` lines with -machine-readable). */
export function registerVersion(program: Command): void {
  const cmd = program.command('version').description('print the version of kiln');
  addOutputFlag(cmd, '{"version": "…"}').action(
    withContext({ name: 'kiln version' }, (ctx) => {
      const version = program.version() ?? '0.0.0';
      if (ctx.mode === 'json') {
        ctx.out(`${JSON.stringify({ version })}\n`);
      } else if (ctx.flags.machineReadable) {
        const ts = Math.floor(Date.now() / 1000);
        ctx.out(`${ts},,version,${version}\n${ts},,version-prelease,\n${ts},,version-commit,\n`);
      } else {
        ctx.out(`kiln v${version}\n`);
      }
    }),
  );
}
