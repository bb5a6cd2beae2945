/**
 * Attaches the export file to a loop device, once its first sectors show a file system
 * rather than a partition table: kiln's images are a bare file system (ext4, no
 * partitions), and that is what the chroot builder mounts. Journalled by the export file,
 * so `kiln gc` can find the device (`losetup -j`) if kiln dies. Its cleanup detaches it.
 */
import { journal, unjournal } from '../../../core/journal-step.js';
import type { Step } from '../../../core/steps.js';
import { UserError } from '../../../lib/errors.js';
import type { ChrootState } from '../state.js';

/** What the first 4 KiB of a disk hold: a bare file system, a partition table, or nothing known. */
export function diskLayout(head: Buffer): 'filesystem' | 'partitioned' | 'unknown' {
  // ext2/3/4: superblock at 1024, magic 0xEF53 at offset 56 in it (little endian).
  if (head.length >= 1082 && head.readUInt16LE(1080) === 0xef53) return 'filesystem';
  if (head.length >= 4 && head.subarray(0, 4).toString('latin1') === 'XFSB') return 'filesystem';
  if (head.length >= 520 && head.subarray(512, 520).toString('latin1') === 'EFI PART')
    return 'partitioned';
  if (head.length >= 512 && head.readUInt16LE(510) === 0xaa55) return 'partitioned';
  return 'unknown';
}

export const attachLoop: Step<ChrootState> = {
  name: 'attach-loop',
  async run(state, { signal }) {
    const file = state.exportFile!;
    const layout = diskLayout(await state.driver.readHead(file, 4096));
    if (layout === 'partitioned') {
      throw new UserError(
        'PartitionedImage',
        `the disk of source image ${state.source!.id} has a partition table; the chroot builder mounts images whose disk is one file system, as kiln's base images are`,
        { where: 'source_image', hint: 'build from this image with the qemu builder' },
      );
    }
    journal(state, 'loop', file);
    try {
      state.device = await state.driver.attachLoop(file, signal);
    } catch (err) {
      unjournal(state, file);
      throw err;
    }
  },
  async cleanup(state) {
    if (!state.device) return;
    await state.driver.detachLoop(state.device);
    unjournal(state, state.exportFile!);
    state.device = undefined;
  },
  owes: (state) => (state.device ? `detach ${state.device}` : undefined),
};
