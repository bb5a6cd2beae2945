/**
 * A private temp dir on this host for the export file (the overlay seen as a raw disk)
 * and the mount point of the image's root. Its cleanup removes it only once nothing is
 * mounted below it: a directory holding a bound /dev must never be deleted recursively.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { journal, unjournal } from '../../../core/journal-step.js';
import type { Step } from '../../../core/steps.js';
import type { ChrootState } from '../state.js';
import { removeUnmounted } from './create-overlay.js';

export const createRunDir: Step<ChrootState> = {
  name: 'create-run-dir',
  async run(state) {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-chroot-'));
    journal(state, 'dir', dir);
    state.runDir = dir;
    state.exportFile = join(dir, 'disk.raw');
    state.root = join(dir, 'root');
    await mkdir(state.root, { mode: 0o755 });
  },
  async cleanup(state) {
    if (!state.runDir) return;
    await removeUnmounted(state, state.runDir);
    unjournal(state, state.runDir);
    state.runDir = undefined;
  },
  owes: (state) => (state.runDir ? `remove ${state.runDir}` : undefined),
};
