/**
 * The files for direct kernel boot, beside the disk in the work dir: the tree's kernel and
 * a lean initrd made from its modules (virtio and ext4 only). A half-written one goes with
 * the work dir.
 */
import { copyFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { SystemError } from '../../lib/errors.js';
import { buildLeanInitrd } from '../initrd.js';
import type { BaseState } from '../state.js';

export const extractBootFiles: Step<BaseState> = {
  name: 'extract-boot-files',
  async run(state, { ui }) {
    const kver = await kernelVersion(state.rootfs);
    state.kernelVersion = kver;
    const initrd = join(state.work, 'initrd.img');
    await copyFile(join(state.rootfs, 'boot', `vmlinuz-${kver}`), join(state.work, 'vmlinuz'));
    await writeFile(initrd, await buildLeanInitrd(state.rootfs, kver));
    ui.message(`kernel ${kver}; lean initrd ${((await stat(initrd)).size / 1024).toFixed(0)} KiB`);
  },
};

async function kernelVersion(rootfs: string): Promise<string> {
  const versions = (await readdir(join(rootfs, 'lib/modules')).catch(() => [] as string[])).sort();
  const v = versions.at(-1);
  if (!v) throw new SystemError('NoKernel', 'the tree has no kernel in /lib/modules');
  return v;
}
