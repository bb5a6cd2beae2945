/**
 * Exposes the overlay as a raw, writable disk file on this host with
 * qemu-storage-daemon's FUSE export (no VM). The daemon is journalled the moment it is
 * spawned. Its cleanup flushes the export (what the loop device wrote reaches the qcow2)
 * and stops the daemon, which takes its FUSE mount with it.
 */
import { open } from 'node:fs/promises';
import { journal, unjournal } from '../../../core/journal-step.js';
import type { Step } from '../../../core/steps.js';
import type { ChrootState } from '../state.js';

export const exportDisk: Step<ChrootState> = {
  name: 'export-disk',
  async run(state, { signal }) {
    let spawned: number | undefined;
    try {
      state.export = await state.driver.startExport(
        state.disk!,
        state.exportFile!,
        signal,
        (pid) => {
          spawned = pid;
          journal(state, 'process', String(pid));
        },
      );
    } catch (err) {
      // A daemon that did not come up was stopped by startExport.
      if (spawned !== undefined) unjournal(state, String(spawned));
      throw err;
    }
  },
  async cleanup(state) {
    const exp = state.export;
    if (!exp) return;
    if (!exp.exited) {
      try {
        const fh = await open(exp.file, 'r+');
        await fh.sync().finally(() => fh.close());
      } catch {
        // A broken export: stopping the daemon is all that is left to do.
      }
    }
    await exp.stop();
    unjournal(state, String(exp.pid));
    state.export = undefined;
  },
  owes: (state) =>
    state.export ? `stop qemu-storage-daemon (pid ${state.export.pid})` : undefined,
};
