/**
 * The disk the VM writes to: a qcow2 overlay on the source (always with its backing
 * format, `-F`), or a full copy when `use_backing_file` is false. It lives in
 * `<images>/.tmp-<id>/` until the build succeeds; the source is never written.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../../core/exec.js';
import type { Step } from '../../../core/steps.js';
import { parseDiskSize } from '../config.js';
import { convertImage, createOverlay, imageInfo, QEMU_IMG, QEMU_INSTALL_HINT } from '../driver.js';
import { journal, type QemuState, unjournal } from '../state.js';

export const createDisk: Step<QemuState> = {
  name: 'create-disk',
  async run(state, { ui, signal }) {
    const c = state.config;
    const src = state.source!;
    state.imageId = state.catalog.newImageId('img');
    const work = join(state.catalog.imagesDir, `.tmp-${state.imageId}`);
    journal(state, 'dir', work);
    state.workDir = work;
    await mkdir(work, { recursive: true, mode: 0o700 });
    const disk = join(work, `disk.${c.format}`);
    state.disk = disk;
    const info = await imageInfo(src.file, signal);
    const wanted = c.disk_size === undefined ? undefined : parseDiskSize(c.disk_size);
    const grow = wanted !== undefined && wanted > info.virtualSize ? wanted : undefined;
    if (wanted !== undefined && wanted < info.virtualSize) {
      ui.message(
        `disk_size is smaller than the source's ${info.virtualSize} bytes: keeping the source's size`,
      );
    }
    if (c.use_backing_file) {
      ui.say('Creating overlay disk on the source image...');
      await createOverlay(src.file, src.format, disk, grow, signal);
    } else {
      ui.say('Copying the source image...');
      await convertImage(src.file, disk, c.format, signal, src.format);
      if (grow)
        await run(QEMU_IMG, ['resize', '-q', '-f', c.format, disk, String(grow)], {
          signal,
          installHint: QEMU_INSTALL_HINT,
        });
    }
  },
  async cleanup(state) {
    if (!state.workDir || state.registered) return;
    await rm(state.workDir, { recursive: true, force: true });
    unjournal(state, state.workDir);
    state.workDir = undefined;
  },
};
