/**
 * Announces the start in the catalog's run journal, so that what it creates (the
 * directory, the QEMU process) can be found and removed by `kiln gc` if kiln dies before
 * the instance is recorded. Cleanup closes the journal entry, on success too.
 */
import type { Step } from '../../core/steps.js';
import type { StartState } from './state.js';

export const openJournal: Step<StartState> = {
  name: 'open-journal',
  async run(state) {
    const { image, id } = state;
    state.catalog.journal.begin(state.runId, process.pid, `kiln run ${image.id} (${id})`);
    state.journalOpen = true;
  },
  async cleanup(state) {
    if (state.journalOpen) state.catalog.journal.end(state.runId);
    state.journalOpen = false;
  },
};
