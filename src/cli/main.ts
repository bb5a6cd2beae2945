/**
 * The `kiln` command. Only this layer touches `process.*`: it parses arguments, wires a
 * Ui to stdout/stderr, maps errors to exit codes (1 for anything a user or the machine
 * caused, 130 for an interrupt) and never shows a stack trace unless KILN_DEBUG is set.
 */
import { Command, CommanderError } from 'commander';
import { brokenInstallCause } from '../lib/broken-install.js';
import { CancelledError, formatError, KilnError } from '../lib/errors.js';
import { asksForJson, normalizeArgv } from './argv.js';
import { registerCommands } from './commands/index.js';
import { offerMachineReadable } from './commands/output-flags.js';
import { errorJson } from './error-json.js';

export const VERSION = '0.1.0';

export function createProgram(): Command {
  const program = new Command('kiln')
    .description(
      'Bake immutable machine images the 12-factor way: build → release → run → deploy.\n' +
        'Reads Packer JSON templates and speaks Packer’s -machine-readable output.',
    )
    .version(VERSION, '-v, --version', 'print the version')
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .exitOverride();
  registerCommands(program);
  offerMachineReadable(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = normalizeArgv(argv);
  const program = createProgram();
  try {
    await program.parseAsync(args, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err, { json: asksForJson(args) });
  }
}

/**
 * Prints one clear message for an error (and with `json`, its JSON object on stdout) and
 * returns the exit code.
 */
export function reportError(err: unknown, opts: { json?: boolean } = {}): number {
  const asJson = opts.json ? errorJson(err) : undefined;
  if (asJson) process.stdout.write(`${JSON.stringify(asJson)}\n`);
  if (err instanceof CommanderError) {
    // Commander already printed its message (help, version, or a usage error).
    return err.exitCode === 0 ? 0 : 1;
  }
  if (err instanceof CancelledError) {
    process.stderr.write(`kiln: ${formatError(err)}\n`);
    return 130;
  }
  const install = err instanceof KilnError ? undefined : brokenInstallCause(err);
  if (install !== undefined) {
    process.stderr.write(
      `kiln: kiln’s installation is broken (not a bug in kiln): ${install}\n` +
        'hint: run `kiln doctor` to see what is missing; `npm ci` in kiln’s folder reinstalls it\n',
    );
    return 1;
  }
  process.stderr.write(`kiln: ${formatError(err)}\n`);
  if (process.env.KILN_DEBUG && err instanceof Error && err.stack)
    process.stderr.write(`${err.stack}\n`);
  if (!(err instanceof KilnError) && !process.env.KILN_DEBUG) {
    process.stderr.write(
      'This is a bug in kiln. Run again with KILN_DEBUG=1 for the stack trace.\n',
    );
  }
  return 1;
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
