/**
 * Records the fetched images in the catalog in one transaction, parents first, each with
 * the id, lineage and creation time it had where it was built: all of them or none. From
 * then on the catalog owns their files and create-work-dirs' cleanup keeps them.
 */
import { join } from 'node:path';
import { digestForRegistration } from '../../catalog/digest.js';
import { unjournal } from '../../core/journal-step.js';
import type { Step } from '../../core/steps.js';
import { formatReference } from '../../registry/index.js';
import { importImage } from '../portable.js';
import type { PullState } from '../state.js';

export const registerChain: Step<PullState> = {
  name: 'register-chain',
  async run(state, { signal, ui }) {
    const from = `${formatReference(state.ref)}@${state.manifestDigest}`;
    const incoming = [];
    for (const c of state.chain) {
      if (c.present) continue;
      const files = [
        join(c.final, c.record.disk),
        ...(c.link.files ?? []).map((f) => join(c.final, f.name)),
      ];
      // The disk's own digest (its header names this home's parent): what a build checks.
      const sha256 = await digestForRegistration(state.catalog.home, files[0]!, signal);
      incoming.push({
        ...importImage(c.link.id, c.record, files, state.catalog.imagesDir, from),
        sha256,
      });
    }
    state.catalog.images.importChain(incoming);
    state.registered = true;
    for (const c of state.chain) {
      if (c.present) continue;
      unjournal(state, c.work);
      unjournal(state, c.final);
    }
    state.images = state.chain.map((c) => state.catalog.images.get(c.link.id)!);
    for (const c of state.chain)
      if (!c.present) ui.message(`registered ${c.link.id} (${c.record.name})`);
  },
};
