/**
 * Renames each fetched image's work directory to its final `<images>/<id>/`, once all
 * its files are complete and verified. Both names were journalled by create-work-dirs,
 * whose cleanup removes whichever exists until the chain is registered.
 */
import { rename } from 'node:fs/promises';
import type { Step } from '../../core/steps.js';
import type { PullState } from '../state.js';

export const moveIntoPlace: Step<PullState> = {
  name: 'move-into-place',
  async run(state) {
    for (const c of state.chain) if (!c.present) await rename(c.work, c.final);
  },
};
