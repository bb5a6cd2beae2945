/**
 * One work directory per image to fetch, `<images>/.tmp-<id>` (0700), journalled with the
 * final `<images>/<id>` before either exists. Until the chain is registered, cleanup removes
 * both — whichever exists after a pull that stopped anywhere, before or after the renames —
 * so a failed or interrupted pull leaves no file of the images it was making.
 */
import { mkdir, rm } from 'node:fs/promises';
import { journal } from '../../core/journal-step.js';
import type { Step } from '../../core/steps.js';
import type { PullState } from '../state.js';

export const createWorkDirs: Step<PullState> = {
  name: 'create-work-dirs',
  async run(state) {
    for (const c of state.chain) {
      if (c.present) continue;
      journal(state, 'dir', c.work);
      journal(state, 'dir', c.final);
      // Not in the catalog, so what is there is what a killed pull of this image left.
      await rm(c.work, { recursive: true, force: true });
      await rm(c.final, { recursive: true, force: true });
      await mkdir(c.work, { recursive: true, mode: 0o700 });
    }
  },
  async cleanup(state) {
    if (state.registered) return;
    for (const c of state.chain) {
      if (c.present) continue;
      await rm(c.work, { recursive: true, force: true }).catch(() => undefined);
      await rm(c.final, { recursive: true, force: true }).catch(() => undefined);
    }
  },
  owes: (state) =>
    state.registered
      ? undefined
      : `remove ${state.chain
          .filter((c) => !c.present)
          .map((c) => c.work)
          .join(', ')}`,
};
