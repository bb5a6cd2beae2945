/** Finds the disk the build starts from (catalog image or disk file) and checks it; an installer ISO is fetch-iso's. */
import { verifyImageDigests } from '../../../catalog/digest.js';
import type { Step } from '../../../core/steps.js';
import { pickDiskFile, resolveSourceImage, sourceFromImage, verifyChecksum } from '../source.js';
import type { QemuState } from '../state.js';

export const resolveSource: Step<QemuState> = {
  name: 'resolve-source',
  async run(state, { ui, signal }) {
    const c = state.config;
    if (c.source_image) {
      const image = resolveSourceImage(state.catalog, c.source_image);
      // The whole backing chain: a changed ancestor changes what the overlay reads.
      await verifyImageDigests(state.ctx.kilnHome, state.catalog.images.lineage(image.id), signal);
      state.source = sourceFromImage(image);
      ui.say(`Using source image ${image.id} (${image.name})`);
    } else if (c.disk_image) {
      const file = pickDiskFile(c);
      ui.say(`Retrieving ISO`);
      ui.message(`Using file in-place: file://${file}`);
      await verifyChecksum(file, c.iso_checksum ?? 'none', c.iso_checksum_type);
      const info = await state.driver.imageInfo(file, signal);
      state.source = { file, format: info.format, kilnCredentials: false };
    }
    if (state.source) state.ctx.generated.SourceImage = state.source.image?.id ?? state.source.file;
  },
};
