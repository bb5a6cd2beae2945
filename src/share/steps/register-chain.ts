/**
 * Records the fetched images in the catalog in one transaction, parents first, each with
 * the id, lineage and creation time it had where it was built: all of them or none. From
 * then on the catalog owns their files and create-work-dirs' cleanup keeps them.
 */
import { join } from 'node:path';
import { digestForRegistration, rememberDigest } from '../../catalog/digest.js';
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
      // The disk's own digest (its header names this home's parent): what a build checks. A
      // root's disk was not rebased: its bytes are the layer's, whose digest was checked as
      // it was written — no second read of the largest file.
      let sha256: string;
      if (c.record.parentId === null) {
        sha256 = c.link.layer.diffId.replace(/^sha256:/, '');
        rememberDigest(state.catalog.home, files[0]!, sha256);
      } else sha256 = await digestForRegistration(state.catalog.home, files[0]!, signal);
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
