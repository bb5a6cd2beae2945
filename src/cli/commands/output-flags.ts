/**
 * One output vocabulary for every command that prints data: `--output json` (the context
 * reads it as `ctx.mode`), with `--json` kept as a hidden alias where a command had it.
 */
import { type Command, Option } from 'commander';
import { nearest } from '../../lib/suggest.js';

/** The `--output <format>` option (json: `what`), for commands that declare their options in a chain. */
export function outputOption(what: string): Option {
  return new Option('--output <format>', `json: ${what}`).choices(['json']);
}

/** Adds `--output <format>` (json: `what`) and, with `jsonAlias`, the hidden `--json`. */
export function addOutputFlag(
  cmd: Command,
  what: string,
  opts: { jsonAlias?: boolean } = {},
): Command {
  cmd.addOption(outputOption(what));
  if (opts.jsonAlias) cmd.addOption(new Option('--json', 'same as --output json').hideHelp());
  return cmd;
}

/** The commands whose output has a Packer machine-readable form (a Ui or lines of their own). */
const MACHINE_READABLE = new Set([
  'build',
  'inspect',
  'version',
  'base',
  'images import',
  'deploy aws',
  'pipeline',
]);

/**
 * Adds `--machine-readable` (Packer's `timestamp,target,type,data…` lines on stdout) to the
 * commands that honour it, and only to them: every other one refuses it as an unknown flag
 * instead of ignoring it. Packer takes the flag anywhere on the line (`cli/argv.ts` moves it
 * after the command).
 */
export function offerMachineReadable(program: Command): void {
  const visit = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const name = [...path, sub.name()];
      if (MACHINE_READABLE.has(name.join(' ')))
        sub.option('--machine-readable', 'Packer-compatible machine-readable output on stdout');
      visit(sub, name);
    }
  };
  visit(program, []);
}

/**
 * A group with a default subcommand (`kiln images` is `kiln images ls`) hands a mistyped
 * subcommand (`images lss`) to the default as an argument, which then says "too many
 * arguments": report it as the unknown command it is, with a did-you-mean.
 */
export function rejectUnknownSubcommand(group: Command): void {
  group.hook('preSubcommand', (self, sub) => {
    const first = self.args[0];
    if (first === undefined || first.startsWith('-')) return;
    if (first === sub.name() || sub.aliases().includes(first)) return;
    const names = self.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    const close = nearest(first, names);
    self.error(
      `error: unknown command '${first}' for '${self.name()}'${close ? `\n(Did you mean ${close}?)` : ''}`,
      { code: 'commander.unknownCommand' },
    );
  });
}
