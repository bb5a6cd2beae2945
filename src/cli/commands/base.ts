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
import { withContext } from '../context.js';
import { onErrorOption } from '../options.js';

interface ImportOpts {
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  name?: string;
  tag?: string[];
}

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
    .action(
      withContext(
        { name: 'kiln base' },
        async (ctx, name: string, opts: { force?: boolean; onError?: string }) => {
          const onError = onErrorOption(opts.onError);
          // Progress to stderr; stdout carries only the image id (or the machine-readable lines).
          const ui = ctx.ui();
          using catalog = Catalog.open();
          const r = await makeBase({
            catalog,
            name,
            force: opts.force === true,
            ui: new BuildUi(ui, name),
            signal: ctx.signal,
            cleanupSignal: ctx.cleanupSignal,
            onCleanupPending: ctx.pendingCleanups(`base ${name}`),
            ...(onError ? { onError } : {}),
          });
          if (r.created) {
            const t = Object.entries(r.timings)
              .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
              .join(', ');
            ui.emit({ type: 'ui', level: 'message', build: name, text: `timings: ${t}` });
          }
          ctx.out(`${r.image.id}\n`);
        },
      ),
    );

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
    .action(
      withContext({ name: 'kiln images import' }, async (ctx, disk: string, opts: ImportOpts) => {
        using catalog = Catalog.open();
        const image = await importImage({
          catalog,
          disk,
          kernel: opts.kernel,
          initrd: opts.initrd,
          cmdline: opts.cmdline,
          name: opts.name,
          tags: opts.tag,
          ui: new BuildUi(ctx.ui(), 'import'),
          signal: ctx.signal,
          cleanupSignal: ctx.cleanupSignal,
          onCleanupPending: ctx.pendingCleanups(`import ${disk}`),
        });
        ctx.out(`${image.id}\n`);
      }),
    );
}
