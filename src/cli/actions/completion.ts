/** The body of `kiln completion` (declared in `commands/completion.ts`). */
import type { Command } from 'commander';
import { completionScript, type Shell } from '../completion.js';
import { withContext } from '../context.js';

/** Prints the completion script of the programme the command belongs to. */
export const completion = withContext(
  { name: 'kiln completion' },
  (ctx, shell: Shell, _opts: unknown, command: Command) => {
    ctx.out(completionScript(command.parent as Command, shell));
  },
);
