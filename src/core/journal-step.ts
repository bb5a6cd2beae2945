/**
 * The run journal as a step, for any workflow that creates something: it announces the
 * run in the catalog before anything is made, so that whatever the later steps journal (a
 * directory, a process, a lock file) can be found and removed by `kiln gc` if kiln dies
 * without running its cleanups. Its cleanup, the last to run, ends the run; a run that
 * never began has nothing to end.
 */

import type { Step } from './steps.js';

/** The catalog's run journal, as the step uses it (the catalog's `journal` implements it). */
export interface RunJournal {
  begin(runId: string, pid: number, description: string): void;
  record(resource: { runId: string; kind: string; ref: string }): void;
  forget(runId: string, ref: string): void;
  end(runId: string): void;
}

/** What a workflow's state needs for the journal. */
export interface JournalState {
  catalog: { readonly journal: RunJournal };
  /** The run's id in the journal (`base-…`, `deploy-…`): unique per run. */
  runId: string;
  /** What the run is, for `kiln gc`'s report (`kiln base debian-12`). */
  runDescription: string;
  /** Set once the run is announced: steps journal what they make only then. */
  journalRun?: string;
}

/** Begins the state's run in the journal; its cleanup ends it. */
export const openJournal: Step<JournalState> = {
  name: 'open-journal',
  async run(state) {
    state.catalog.journal.begin(state.runId, process.pid, state.runDescription);
    state.journalRun = state.runId;
  },
  async cleanup(state) {
    if (state.journalRun) state.catalog.journal.end(state.journalRun);
    state.journalRun = undefined;
  },
};

/** Journals a resource before it is created, when the run is journalled. */
export function journal(state: JournalState, kind: string, ref: string): void {
  if (state.journalRun) state.catalog.journal.record({ runId: state.journalRun, kind, ref });
}

/** Forgets a journalled resource (removed, or handed over to the catalog). */
export function unjournal(state: JournalState, ref: string): void {
  if (!state.journalRun) return;
  try {
    state.catalog.journal.forget(state.journalRun, ref);
  } catch {
    // A journal write that fails (SQLITE_FULL on a full disk) must not stop the cleanup
    // after it: the entry left only sends `kiln gc` to something already removed.
  }
}
