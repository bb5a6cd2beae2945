/**
 * Announces the build in the catalog's run journal, so that whatever it creates (the
 * QEMU process, the overlay, the temp dirs) can be found and removed by `kiln gc` if
 * kiln dies without running its cleanups.
 */
import type { Step } from '../../../core/steps.js';
import type { QemuState } from '../state.js';

export const openJournal: Step<QemuState> = {
  name: 'open-journal',
  async run(state) {
    const id = `${state.ctx.runId}-${state.ctx.buildName}`.replace(/[^A-Za-z0-9._-]/g, '_');
    state.catalog.journal.begin(id, process.pid, `kiln build ${state.ctx.buildName} (qemu)`);
    state.journalRun = id;
  },
  async cleanup(state) {
    if (state.journalRun) state.catalog.journal.end(state.journalRun);
    state.journalRun = undefined;
  },
};
