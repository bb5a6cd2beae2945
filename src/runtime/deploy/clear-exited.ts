/**
 * Members of the group that exited on their own serve nothing: they are cleared (their
 * rows and files removed) before the rollout plans its ports. Nothing to undo: they were
 * already gone.
 */
import type { Step } from '../../core/steps.js';
import { stopInstance } from '../stop-instance.js';
import type { DeployLocalState } from './state.js';

export const clearExited: Step<DeployLocalState> = {
  name: 'clear-exited',
  async run(state, { ui }) {
    for (const s of state.members.filter((m) => m.state !== 'running')) {
      ui.message(`${s.instance.id} had exited (${s.reason ?? 'unknown reason'}); clearing it`);
      await stopInstance(state.catalog, s.instance.id);
      state.stopped.push(s.instance.id);
    }
    state.members = state.members.filter((m) => m.state === 'running');
  },
};
