/**
 * With `--with-state` only, once the chain is registered: hands the verified state files to
 * the image's builder (`SavedStateTransfer.import`), which makes them the image's saved VM
 * state in this kiln home — complete or not at all. A state the image has already and that
 * is usable is kept. Nothing to clean up: what is not installed goes with the scratch directory.
 */
import type { Step } from '../../core/steps.js';
import type { PullState } from '../state.js';

export const installState: Step<PullState> = {
  name: 'install-state',
  async run(state, { signal, ui }) {
    const saved = state.savedState;
    if (!saved?.local) return;
    const top = state.catalog.images.get(state.chain.at(-1)!.link.id)!;
    const done = await saved.transfer.import(top, saved.local, signal);
    state.stateInstalled = true;
    ui.say(`${top.id}: ${done}`);
  },
};
