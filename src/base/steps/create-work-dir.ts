/**
 * The new image's work directory, `<images>/.tmp-<id>` (0700), journalled with the final
 * `<images>/<id>` before either exists. Until the image is registered, cleanup removes
 * both — whichever exists after a run that stopped anywhere, before or after the rename.
 */
import { mkdir, rm } from 'node:fs/promises';
import { journal } from '../../core/journal-step.js';
import type { Step } from '../../core/steps.js';
import type { ImageWorkState } from '../state.js';

export const createWorkDir: Step<ImageWorkState> = {
  name: 'create-work-dir',
  async run(state) {
    journal(state, 'dir', state.work);
    journal(state, 'dir', state.final);
    await mkdir(state.work, { recursive: true, mode: 0o700 });
  },
  async cleanup(state) {
    if (state.registered) return;
    await rm(state.work, { recursive: true, force: true }).catch(() => undefined);
    await rm(state.final, { recursive: true, force: true }).catch(() => undefined);
  },
};
