/** The body of `kiln version` (declared in `commands/version.ts`). */
import type { Command } from 'commander';
import { withContext } from '../context.js';

/** Prints the version (and Packer's machine-readable `version` lines with -machine-readable). */
export const version = withContext(
  { name: 'kiln version' },
  (ctx, _opts: unknown, command: Command) => {
    const version = command.parent?.version() ?? '0.0.0';
    if (ctx.mode === 'json') {
      ctx.out(`${JSON.stringify({ version })}\n`);
    } else if (ctx.flags.machineReadable) {
      const ts = Math.floor(Date.now() / 1000);
      ctx.out(`${ts},,version,${version}\n${ts},,version-prelease,\n${ts},,version-commit,\n`);
    } else {
      ctx.out(`kiln v${version}\n`);
    }
  },
);
