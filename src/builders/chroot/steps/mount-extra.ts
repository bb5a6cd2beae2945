/**
 * The `chroot_mounts` provisioners need (by default /proc, /sys, /dev and /dev/pts —
 * never the host's root), each journalled before it is made so `kiln gc` can undo it.
 * A missing mount point is made in the image (and stays: an empty directory). Its
 * cleanup unmounts them in reverse order.
 */
import { mkdir } from 'node:fs/promises';
import { journal, unjournal } from '../../../core/journal-step.js';
import type { Step } from '../../../core/steps.js';
import { chrootPath } from '../chroot-path.js';
import type { ChrootState } from '../state.js';

export const mountExtra: Step<ChrootState> = {
  name: 'mount-extra',
  async run(state, { signal }) {
    for (const [i, [type, source, inside]] of state.config.chroot_mounts.entries()) {
      const target = await chrootPath(state.root!, inside, `chroot_mounts[${i}]`);
      if (!target.exists) await mkdir(target.path, { recursive: true });
      journal(state, 'mount', target.path);
      state.mounts.push(target.path);
      await state.driver.mount({ type, source, target: target.path }, signal);
    }
  },
  async cleanup(state) {
    while (state.mounts.length > 0) {
      const target = state.mounts.at(-1)!;
      await state.driver.unmount(target);
      unjournal(state, target);
      state.mounts.pop();
    }
  },
  owes: (state) =>
    state.mounts.length > 0 ? `unmount ${[...state.mounts].reverse().join(', ')}` : undefined,
};
