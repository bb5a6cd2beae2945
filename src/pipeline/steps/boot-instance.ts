/**
 * Boots the image under test in a throwaway instance on a free host port. Its QEMU is
 * journalled under the smoke test's run, so a pipeline killed mid-test leaves `kiln gc` a
 * process to stop, not a VM running on. Cleanup stops it at once whatever happened (no
 * graceful power-off: nothing on it is kept) and reports a stop that fails rather than
 * hiding the test's outcome.
 */
import { journal, unjournal } from '../../core/journal-step.js';
import type { Step } from '../../core/steps.js';
import { startInstance, stopInstance } from '../../runtime/index.js';
import type { SmokeState } from '../smoke-state.js';

export const bootInstance: Step<SmokeState> = {
  name: 'boot-instance',
  async run(state, { ui, signal }) {
    const o = state.opts;
    ui.say(`Booting ${o.imageId} to check GET ${o.path} on guest port ${o.guestPort}`);
    state.instance = await startInstance({
      catalog: state.catalog,
      image: o.imageId,
      ports: [{ host: 0, guest: o.guestPort }],
      name: `${o.name}-${o.imageId.slice(4, 12)}`,
      signal,
      ui,
    });
    if (state.instance.pid !== null) journal(state, 'process', String(state.instance.pid));
  },
  async cleanup(state, { ui }) {
    const instance = state.instance;
    if (!instance) return;
    await stopInstance(state.catalog, instance.id, { timeoutMs: 0 }).catch((err: unknown) =>
      ui.error(`could not stop ${instance.id}: ${(err as Error).message}`),
    );
    if (instance.pid !== null) unjournal(state, String(instance.pid));
    state.instance = undefined;
  },
};
