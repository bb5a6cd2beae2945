/** The bodies of `kiln base` and `kiln images import` (declared in `commands/base.ts`). */
import { makeBase } from '../../base/debian.js';
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

/** `kiln base NAME`: makes (or finds) the base image; its id on stdout. */
export const base = withContext(
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
);

/** `kiln images import DISK`: registers an existing disk; its id on stdout. */
export const importDisk = withContext(
  { name: 'kiln images import' },
  async (ctx, disk: string, opts: ImportOpts) => {
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
  },
);
