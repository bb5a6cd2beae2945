/**
 * Fetches each missing image's layers into its work directory: the compressed blob
 * streams into `<name>.zst.part` with its digest checked on the way and is renamed only
 * once it matches; it is then decompressed into `<name>.part`, checked against the
 * uncompressed digest the config names, and renamed to `<name>`. A mismatch, an error or an
 * interrupt leaves no partial file (the work directory goes with create-work-dirs).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { decompressLayer, type LayerBlob } from '../../registry/index.js';
import type { PullState } from '../state.js';

export const downloadLayers: Step<PullState> = {
  name: 'download-layers',
  async run(state, { signal, ui }) {
    const client = state.client!;
    const repo = state.ref.repository;
    for (const c of state.chain) {
      if (c.present) continue;
      const files: Array<{ name: string; layer: LayerBlob }> = [
        { name: c.record.disk, layer: c.link.layer },
        ...(c.link.files ?? []),
      ];
      for (const f of files) {
        const label = `${c.link.id} ${f.name}`;
        const blob = join(c.work, `${f.name}.zst`);
        await client.pullBlob(repo, f.layer, blob, {
          signal,
          mode: 0o600,
          onProgress: (done, total) => ui.progress(`pull ${label}`, done, total, done === total),
        });
        state.bytesFetched += f.layer.size;
        await decompressLayer(
          blob,
          join(c.work, f.name),
          { diffId: f.layer.diffId, diffSize: f.layer.diffSize },
          { signal },
        );
        await rm(blob, { force: true });
        ui.message(`${label}: ${(f.layer.diffSize / 1e6).toFixed(1)} MB, digests match`);
      }
    }
  },
};
