/**
 * `kiln base <name> [--force]`: makes a base image (Debian 12 with mmdebstrap) and
 * registers it in the catalog; instant when it exists. `kiln images import <disk>`:
 * brings an existing qcow2/raw disk (optionally with a kernel and initrd) into the catalog.
 * The image id goes to stdout; progress to stderr.
 */
import type { Command } from 'commander';
import { BASES, makeBase } from '../../base/debian.js';
import { importImage } from '../../base/import.js';
import { Catalog } from '../../catalog/index.js';
import { BuildUi } from '../../core/events.js';
import { Secrets } from '../../core/secrets.js';
import { createUi } from '../../ui/index.js';
import { withInterrupts } from './run.js';

/** Registers `kiln base` and `kiln images import` (after `kiln images`, when it exists). */
export function registerBase(program: Command): void {
  program
    .command('base')
    .description(
      `make a base image and register it in the catalog (${Object.keys(BASES).join(', ')})`,
    )
    .argument('<name>', 'which base: debian-12')
    .option('--force', 'rebuild it even when it exists')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ force?: boolean; machineReadable?: boolean }>();
      await withInterrupts(async (signal) => {
        const ui = cliUi(opts.machineReadable === true);
        const catalog = Catalog.open();
        try {
          const r = await makeBase({
            catalog,
            name,
            force: opts.force === true,
            ui: new BuildUi(ui, name),
            signal,
          });
          if (r.created) {
            const t = Object.entries(r.timings)
              .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
              .join(', ');
            ui.emit({ type: 'ui', level: 'message', build: name, text: `timings: ${t}` });
          }
          process.stdout.write(`${r.image.id}\n`);
        } finally {
          catalog.close();
        }
      });
    });

  const images =
    program.commands.find((c) => c.name() === 'images') ??
    program.command('images').description('local image catalog');
  images
    .command('import')
    .description(
      'import a qcow2 or raw disk into the catalog (with --kernel/--initrd for direct kernel boot)',
    )
    .argument('<disk>', 'the disk file')
    .option('--kernel <file>', 'kernel for direct kernel boot')
    .option('--initrd <file>', 'initrd for direct kernel boot')
    .option('--cmdline <text>', 'kernel command line (default: root=/dev/vda rw console=ttyS0)')
    .option('--name <name>', 'image name (default: the file name)')
    .option('--tag <tag...>', 'tags for the image')
    .action(async (disk: string, _o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{
        kernel?: string;
        initrd?: string;
        cmdline?: string;
        name?: string;
        tag?: string[];
        machineReadable?: boolean;
      }>();
      await withInterrupts(async (signal) => {
        const ui = cliUi(opts.machineReadable === true);
        const catalog = Catalog.open();
        try {
          const image = await importImage({
            catalog,
            disk,
            kernel: opts.kernel,
            initrd: opts.initrd,
            cmdline: opts.cmdline,
            name: opts.name,
            tags: opts.tag,
            ui: new BuildUi(ui, 'import'),
            signal,
          });
          process.stdout.write(`${image.id}\n`);
        } finally {
          catalog.close();
        }
      });
    });
}

function cliUi(machineReadable: boolean) {
  // Progress to stderr; stdout carries only the image id (machine-readable lines go to stdout).
  return createUi({
    mode: machineReadable ? 'machine-readable' : 'human',
    secrets: new Secrets(),
    stdout: machineReadable ? process.stdout : process.stderr,
    stderr: process.stderr,
    env: process.env,
  });
}
