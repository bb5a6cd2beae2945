/**
 * One output vocabulary for every command that prints data: `--output json` (the context
 * reads it as `ctx.mode`), with `--json` kept as a hidden alias where a command had it.
 */
import { type Command, Option } from 'commander';

/** Adds `--output <format>` (json: `what`) and, with `jsonAlias`, the hidden `--json`. */
export function addOutputFlag(
  cmd: Command,
  what: string,
  opts: { jsonAlias?: boolean } = {},
): Command {
  cmd.addOption(new Option('--output <format>', `json: ${what}`).choices(['json']));
  if (opts.jsonAlias) cmd.addOption(new Option('--json', 'same as --output json').hideHelp());
  return cmd;
}
