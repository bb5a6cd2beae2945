/**
 * `kiln images import`: brings an existing disk (qcow2 or raw; with a bootloader, or with
 * a kernel and initrd for direct kernel boot) into the catalog as a standalone qcow2.
 */

import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { digestForRegistration } from '../catalog/digest.js';
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import { UserError } from '../lib/errors.js';
import { convertImage, imageInfo } from '../qemu/img.js';

export interface ImportOptions {
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
  const id = catalog.images.newId('img');
  const work = join(catalog.imagesDir, `.tmp-${id}`);
  const final = join(catalog.imagesDir, id);
  let done = false;
  try {
    await mkdir(work, { recursive: true, mode: 0o700 });
    ui.say(
      `Importing ${disk} (${info.format}${info.backingFile ? `, flattening its backing chain` : ''})...`,
    );
    await convertImage(disk, join(work, 'disk.qcow2'), 'qcow2', opts.signal, info.format);
    if (opts.kernel) await copyFile(resolve(opts.kernel), join(work, 'vmlinuz'));
    if (opts.initrd) await copyFile(resolve(opts.initrd), join(work, 'initrd.img'));
    await rename(work, final);
    const files = [join(final, 'disk.qcow2')];
    if (opts.kernel) files.push(join(final, 'vmlinuz'));
    if (opts.initrd) files.push(join(final, 'initrd.img'));
    const sha256 = await digestForRegistration(catalog.home, files[0]!, opts.signal);
    const image = catalog.images.register({
      id,
      sha256,
      name: opts.name ?? basename(disk).replace(/\.(qcow2|raw|img)$/i, ''),
      builder: 'import',
      files,
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
    });
    done = true;
    ui.say(`Imported as ${image.id} (${image.name})`);
    return image;
  } finally {
    if (!done) {
      await rm(work, { recursive: true, force: true }).catch(() => undefined);
      await rm(final, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
