/**
 * Fetches each missing image's layers into its work directory in one pass per layer: the
 * compressed blob streams from the registry through zstd into `<name>.part`, its digest
 * and size checked on the way in, the uncompressed digest the config names checked on the
 * way out; it is renamed to `<name>` only once both match. A mismatch, an error or an
 * interrupt leaves no partial file (the work directory goes with create-work-dirs).
 */
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { CancelledError, isDiskFull, KilnError, SystemError } from '../../lib/errors.js';
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
        await client.streamBlob(
          repo,
          f.layer,
          async (body, verified, received) => {
            try {
              await decompressLayer(
                body,
                join(c.work, f.name),
                { diffId: f.layer.diffId, diffSize: f.layer.diffSize },
                { signal, mode: 0o644, verify: verified },
              );
            } catch (err) {
              if (signal.aborted || isDiskFull(err)) throw err;
              if (err instanceof KilnError && err.code === 'DigestMismatch') throw err;
              // zstd could not read it: all of it arrived and it does not match its digest, or
              // it is damaged.
              if (received() === f.layer.size) verified();
              throw new SystemError(
                'LayerCorrupt',
                `layer ${f.layer.digest} of ${label} from ${state.ref.registry}/${repo} is corrupt: it does not match its digest or is not zstd`,
                {
                  cause: err,
                  details: [(err as Error).message],
                  hint: 'nothing was kept; push the image again',
                },
              );
            }
          },
          {
            signal,
            where: c.work,
            onProgress: (done, total) => ui.progress(`pull ${label}`, done, total, done === total),
          },
        );
        if (signal.aborted) throw new CancelledError(`pull of ${label} cancelled`);
        state.bytesFetched += f.layer.size;
        ui.message(`${label}: ${(f.layer.diffSize / 1e6).toFixed(1)} MB, digests match`);
      }
    }
  },
};
