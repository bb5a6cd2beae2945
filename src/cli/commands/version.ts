import type { Command } from 'commander';

/** `kiln version`: prints the version (and Packer's machine-readable `version` lines with -machine-readable). */
export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the version of kiln')
    .action((_opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ machineReadable?: boolean }>();
      const version = program.version() ?? '0.0.0';
      if (opts.machineReadable) {
        const ts = Math.floor(Date.now() / 1000);
        process.stdout.write(
          `${ts},,version,${version}\n${ts},,version-prelease,\n${ts},,version-commit,\n`,
        );
      } else {
        process.stdout.write(`kiln v${version}\n`);
      }
    });
}
