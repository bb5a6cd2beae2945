/** `kiln completion bash|zsh|fish`: prints a completion script generated from the commands themselves. */
import { Argument, type Command } from 'commander';
import { SHELLS } from '../completion.js';
import { lazyAction } from '../lazy-action.js';

/** Registers `kiln completion`. */
export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (commands, flags, image and instance ids)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText(
      'after',
      `
Load it now, or save it where your shell looks for completions:
  source <(kiln completion bash)    kiln completion bash > ~/.local/share/bash-completion/completions/kiln
  source <(kiln completion zsh)     kiln completion zsh > "\${fpath[1]}/_kiln"
  kiln completion fish | source     kiln completion fish > ~/.config/fish/completions/kiln.fish`,
    )
    .action(lazyAction(() => import('../actions/completion.js'), 'completion'));
}
