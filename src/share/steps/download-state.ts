/**
 * With `--with-state` only: downloads the saved VM state's files into the scratch
 * directory, each verified against its digest while it streams (nothing unverified gets its
 * name). Before the chain is registered, so a failure here registers nothing; the files go
 * with the scratch directory.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import type { PullState } from '../state.js';

export const downloadState: Step<PullState> = {
  name: 'download-state',
  async run(state, { signal, ui }) {
    const saved = state.savedState;
    if (!saved) return;
    const dir = join(state.scratchDir!, 'state');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    saved.local = [];
    for (const f of saved.files) {
      const path = join(dir, f.name);
      await state.client!.pullBlob(state.ref.repository, f.blob, path, {
        signal,
        mode: 0o600,
        onProgress: (done, total) =>
          ui.progress(`pull state ${f.name}`, done, total, done === total),
      });
      state.bytesFetched += f.blob.size;
      saved.local.push({ name: f.name, path });
    }
  },
};
