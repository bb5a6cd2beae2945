/**
 * Packs the tree into `<work>/disk.raw`, an ext4 file system written by `mkfs.ext4 -d`
 * (no mount), then removes the tree. Both live in the work dir, whose cleanup removes
 * whatever a stopped run left of them.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { run } from '../../lib/exec.js';
import { BASE_DISK_SIZE } from '../recipe.js';
import type { BaseState } from '../state.js';

export const makeFileSystem: Step<BaseState> = {
  name: 'make-file-system',
  async run(state, { ui, signal }) {
    ui.say(
      `Writing the ext4 file system (${BASE_DISK_SIZE}, no mount) and converting it to qcow2…`,
    );
    // Inode tables and journal initialised now: otherwise every boot's ext4lazyinit writes them into the overlay.
    await run(
      'mkfs.ext4',
      [
        '-q',
        '-F',
        '-L',
        'root',
        '-E',
        'lazy_itable_init=0,lazy_journal_init=0',
        '-d',
        state.rootfs,
        join(state.work, 'disk.raw'),
        BASE_DISK_SIZE,
      ],
      { signal },
    );
    await rm(state.rootfs, { recursive: true, force: true });
  },
};
