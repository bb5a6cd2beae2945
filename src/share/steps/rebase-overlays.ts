/**
 * Points each pulled overlay at its parent's disk in this kiln home (`qemu-img rebase -u`:
 * only the header changes; the content was verified as it was pushed). A root image that
 * names a backing file is refused: that file is outside the chain, and a registry must not
 * make a disk read an arbitrary file of this machine. Runs once every image is in its final
 * directory (move-into-place), so each parent's disk is where the overlay will look for it.
 * Nothing to clean up: the directories go with create-work-dirs until registered.
 */
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { UserError } from '../../lib/errors.js';
import { imageInfo, rebaseImage } from '../../qemu/img.js';
import type { PullState } from '../state.js';

export const rebaseOverlays: Step<PullState> = {
  name: 'rebase-overlays',
  async run(state, { signal }) {
    for (let i = 0; i < state.chain.length; i++) {
      const c = state.chain[i]!;
      if (c.present) continue;
      const disk = join(c.final, c.record.disk);
      const info = await imageInfo(disk, signal);
      if (!info.backingFile) continue;
      const parent = state.chain[i - 1];
      if (!parent)
        throw new UserError(
          'KilnConfigInvalid',
          `image ${c.link.id} is the root of the chain but its disk has a backing file (${info.backingFile})`,
          { hint: 'push the image again from a kiln home where it has its whole chain' },
        );
      const parentDisk = parent.present
        ? state.catalog.images.get(parent.link.id)!.files[0]!
        : join(parent.final, parent.record.disk);
      await rebaseImage(disk, parentDisk, parent.record.format ?? 'qcow2', false, signal);
    }
  },
};
