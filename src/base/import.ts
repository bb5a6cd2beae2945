/**
 * `kiln images import`: brings an existing disk (qcow2 or raw; with a bootloader, or with
 * a kernel and initrd for direct kernel boot) into the catalog as a standalone qcow2.
 */

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import { openJournal } from '../core/journal-step.js';
import { type RunStepsOptions, runSteps, type Step } from '../core/steps.js';
import { UserError } from '../lib/errors.js';
import { imageInfo } from '../qemu/img.js';
import type { ImportState } from './state.js';
import { createWorkDir } from './steps/create-work-dir.js';
import { importDisk } from './steps/import-disk.js';
import { registerImage } from './steps/register-image.js';

/** The steps of `kiln images import`, in order; each removes what it made in its cleanup. */
export const IMPORT_STEPS: readonly Step<ImportState>[] = [
  openJournal,
  createWorkDir,
  importDisk,
  registerImage,
];

export interface ImportOptions extends RunStepsOptions {
  catalog: CatalogApi;
  disk: string;
  kernel?: string;
  initrd?: string;
  /** Kernel command line (default `root=/dev/vda rw console=ttyS0` when a kernel is given). */
  cmdline?: string;
  name?: string;
  tags?: string[];
  ui: BuildUi;
  signal: AbortSignal;
}

/** Copies (flattening a backing chain) the disk into `<images>/<id>/` and registers it. */
export async function importImage(opts: ImportOptions): Promise<ImageRecord> {
  const disk = resolve(opts.disk);
  const problems: string[] = [];
  for (const [what, f] of [
    ['disk', disk],
    ['kernel', opts.kernel],
    ['initrd', opts.initrd],
  ] as const) {
    if (f && !existsSync(resolve(f))) problems.push(`${what} ${f} does not exist`);
  }
  if (opts.initrd && !opts.kernel) problems.push('--initrd needs --kernel');
  if (opts.cmdline && !opts.kernel) problems.push('--cmdline needs --kernel');
  if (problems.length > 0) {
    throw new UserError('ImportInvalid', 'cannot import the image', {
      details: problems,
      hint: 'check the paths',
    });
  }
  const info = await imageInfo(disk, opts.signal);
  if (info.format !== 'qcow2' && info.format !== 'raw') {
    throw new UserError(
      'ImportFormat',
      `${disk} is ${info.format}; kiln imports qcow2 and raw disks`,
      {
        hint: `convert it first: qemu-img convert -O qcow2 ${disk} disk.qcow2`,
      },
    );
  }
  const { catalog, ui } = opts;
  const imageId = catalog.images.newId('img');
  const final = join(catalog.imagesDir, imageId);
  const state: ImportState = {
    catalog,
    runId: `import-${randomBytes(8).toString('hex')}`,
    runDescription: `kiln images import ${disk}`,
    imageId,
    work: join(catalog.imagesDir, `.tmp-${imageId}`),
    final,
    disk,
    format: info.format,
    flatten: Boolean(info.backingFile),
    ...(opts.kernel ? { kernel: opts.kernel } : {}),
    ...(opts.initrd ? { initrd: opts.initrd } : {}),
    files: [
      'disk.qcow2',
      ...(opts.kernel ? ['vmlinuz'] : []),
      ...(opts.initrd ? ['initrd.img'] : []),
    ],
    record: () => ({
      name: opts.name ?? basename(disk).replace(/\.(qcow2|raw|img)$/i, ''),
      builder: 'import',
      format: 'qcow2',
      tags: opts.tags,
      metadata: {
        importedFrom: disk,
        ...(opts.kernel
          ? {
              kernel: join(final, 'vmlinuz'),
              initrd: opts.initrd ? join(final, 'initrd.img') : undefined,
              cmdline: opts.cmdline ?? 'root=/dev/vda rw console=ttyS0',
            }
          : {}),
      },
    }),
  };
  await runSteps(IMPORT_STEPS, state, { signal: opts.signal, ui }, opts);
  const image = state.image!;
  ui.say(`Imported as ${image.id} (${image.name})`);
  return image;
}
