/** Finds the catalog image the build starts from, checks that kiln may trust it, and checks its disks. */
import { verifyImageDigests } from '../../../catalog/digest.js';
import type { Step } from '../../../core/steps.js';
import type { ChrootState } from '../state.js';
import { resolveTrustedSource } from '../trust.js';

export const resolveSource: Step<ChrootState> = {
  name: 'resolve-source',
  async run(state, { ui, signal }) {
    const c = state.config;
    const image = resolveTrustedSource(state.catalog, c.source_image, c.trust_source);
    // The whole backing chain: a changed ancestor changes what the overlay reads.
    await verifyImageDigests(state.ctx.kilnHome, state.catalog.images.lineage(image.id), signal);
    state.source = image;
    state.sourceFormat = image.format ?? 'qcow2';
    state.ctx.generated.SourceImage = image.id;
    ui.say(`Using source image ${image.id} (${image.name})`);
  },
};
