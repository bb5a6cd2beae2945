/**
 * Mounts the image's root file system (the loop device) at the run dir's `root`. Its
 * cleanup first stops whatever a provisioner left running inside the chroot (a daemon
 * keeps the file system busy), then unmounts.
 */
import { journal, unjournal } from '../../../core/journal-step.js';
import type { Step } from '../../../core/steps.js';
import type { ChrootState } from '../state.js';

export const mountRoot: Step<ChrootState> = {
  name: 'mount-root',
  async run(state, { ui, signal }) {
    const root = state.root!;
    ui.say(`Mounting the image's root file system at ${root}...`);
    journal(state, 'mount', root);
    state.rootMounted = true;
    await state.driver.mount(
      { source: state.device!, target: root, options: state.config.mount_options },
      signal,
    );
  },
  async cleanup(state, { ui }) {
    if (!state.rootMounted) return;
    ui.message(`Unmounting ${state.root}`);
    await state.driver.unmount(state.root!, state.root!);
    unjournal(state, state.root!);
    state.rootMounted = false;
  },
  owes: (state) => (state.rootMounted ? `unmount ${state.root}` : undefined),
};
