/**
 * `kiln base <name> [--force]`: makes a base image (Debian 12 with mmdebstrap) and
 * registers it in the catalog; instant when it exists. `kiln images import <disk>`:
 * brings an existing qcow2/raw disk (optionally with a kernel and initrd) into the catalog.
 * The image id goes to stdout; progress to stderr.
 */
import type { Command } from 'commander';
import { BASES } from '../../base/recipe.js';
import { lazyAction } from '../lazy-action.js';

/** Registers `kiln base` and `kiln images import` (after `kiln images`, when it exists). */
export function registerBase(program: Command): void {
  program
    .command('base')
    .description(
      `make a base image and register it in the catalog (${Object.keys(BASES).join(', ')})`,
    )
    .argument('<name>', 'which base: debian-12')
    .option('--force', 'rebuild it even when it exists')
    .option(
      '--on-error <action>',
      'on failure: cleanup (default) removes the half-made image; abort leaves it for debugging',
    )
    .action(lazyAction(() => import('../actions/base.js'), 'base'));

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
    .action(lazyAction(() => import('../actions/base.js'), 'importDisk'));
}
