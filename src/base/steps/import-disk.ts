/**
 * Copies the disk to import into `<work>/disk.qcow2` (flattening any backing chain, so the
 * image depends on nothing outside the catalog), with its kernel and initrd beside it when
 * given. Everything it writes is in the work dir, which cleanup removes.
 */
import { copyFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Step } from '../../core/steps.js';
import { convertImage } from '../../qemu/img.js';
import type { ImportState } from '../state.js';

export const importDisk: Step<ImportState> = {
  name: 'import-disk',
  async run(state, { ui, signal }) {
    ui.say(
      `Importing ${state.disk} (${state.format}${state.flatten ? `, flattening its backing chain` : ''})...`,
    );
    await convertImage(state.disk, join(state.work, 'disk.qcow2'), 'qcow2', signal, state.format);
    if (state.kernel) await copyFile(resolve(state.kernel), join(state.work, 'vmlinuz'));
    if (state.initrd) await copyFile(resolve(state.initrd), join(state.work, 'initrd.img'));
  },
};
