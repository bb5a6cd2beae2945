/**
 * After a build that saved VM states: the states beside the catalog's images are brought
 * back under their size budget (`KILN_WARM_BUDGET`), least recently used first
 * (catalog/warm-states.ts). Eviction removes nothing a build is using, and a failure here
 * never fails the build: states only save time. Nothing to undo.
 */
import { describeEviction, enforceWarmBudget, warmBudget } from '../../../catalog/warm-states.js';
import type { Step } from '../../../core/steps.js';
import type { QemuState } from '../state.js';

export const trimWarm: Step<QemuState> = {
  name: 'trim-warm',
  async run(state, { ui }) {
    if (!state.frozen.some((f) => f.saved)) return;
    try {
      const r = enforceWarmBudget(state.catalog, warmBudget());
      for (const e of r.evicted)
        ui.message(`evicted the saved VM state of ${describeEviction(e, r.budgetBytes)}`);
    } catch (err) {
      ui.message(`could not trim the saved VM states (${(err as Error).message})`);
    }
  },
};
