/**
 * The instance's directory (0700, journalled before it exists) with a fresh qcow2 overlay
 * on the image: the image file is never written. Cleanup removes the directory and a QMP
 * socket kept outside it, unless the instance was recorded; both removals tolerate a
 * directory that was never made.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { createOverlay } from '../../qemu/img.js';
import type { StartState } from './state.js';

export const createDisk: Step<StartState> = {
  name: 'create-disk',
  async run(state, { ui, signal }) {
    const { catalog, runId, meta, image } = state;
    catalog.journal.record({ runId, kind: 'dir', ref: meta.dir });
    if (meta.qmpSocket !== join(meta.dir, 'qmp.sock'))
      catalog.journal.record({ runId, kind: 'file', ref: meta.qmpSocket });
    mkdirSync(meta.dir, { recursive: true, mode: 0o700 });
    ui.say(`Starting ${state.id} from ${image.id} (${image.name})`);
    await createOverlay(image.files[0]!, image.format ?? 'qcow2', meta.overlay, undefined, signal);
  },
  async cleanup(state) {
    if (state.record) return;
    rmSync(state.meta.dir, { recursive: true, force: true });
    rmSync(state.meta.qmpSocket, { force: true });
  },
};
