/**
 * The run's scratch directory, `<home>/tmp/<run>`, journalled before it exists: a push's
 * compressed layers wait there until they are sent, a pull's config blob until it is read.
 * Its cleanup removes it whatever happened, so no blob is left behind in the kiln home.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { journal, unjournal } from '../../core/journal-step.js';
import type { Step } from '../../core/steps.js';
import type { RegistryState } from '../state.js';

export const createScratchDir: Step<RegistryState> = {
  name: 'create-scratch-dir',
  async run(state) {
    const dir = join(state.catalog.home, 'tmp', state.runId);
    journal(state, 'dir', dir);
    state.scratchDir = dir;
    await mkdir(dir, { recursive: true, mode: 0o700 });
  },
  async cleanup(state) {
    if (!state.scratchDir) return;
    await rm(state.scratchDir, { recursive: true, force: true });
    unjournal(state, state.scratchDir);
    state.scratchDir = undefined;
  },
  owes: (state) => (state.scratchDir ? `remove ${state.scratchDir}` : undefined),
};
