/** Runs the template's provisioners on the running VM (Packer's provision hook). */
import type { Step } from '../../../core/steps.js';
import type { QemuState } from '../state.js';

export const provision: Step<QemuState> = {
  name: 'provision',
  async run(state) {
    await state.hook.run(state.comm);
  },
};
