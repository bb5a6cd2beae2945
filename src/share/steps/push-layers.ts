/**
 * Makes sure the repository has one zstd blob per file of each chain image, base first:
 * a blob it has is not sent (HEAD, before anything is compressed when the layer cache knows
 * the digest), one another repository of the registry has is mounted, any other is
 * compressed into the blob directory, uploaded in chunks (continuing an interrupted upload
 * of an earlier push) and deleted. It creates nothing of its own to clean up: the blob
 * directory goes with create-blob-dir, an unfinished upload session is the registry's.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step, StepContext } from '../../core/steps.js';
import { CancelledError } from '../../lib/errors.js';
import {
  type ChainLink,
  compressLayer,
  FileUploadState,
  KilnMedia,
  type LayerBlob,
} from '../../registry/index.js';
import { LayerCache } from '../layer-cache.js';
import { exportImage, fileToken } from '../portable.js';
import type { OutgoingFile, PushState } from '../state.js';

/** Human size: `129.5 MB`. */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

async function pushFile(
  state: PushState,
  file: OutgoingFile,
  label: string,
  mediaType: string,
  { signal, ui }: StepContext,
): Promise<LayerBlob> {
  const client = state.client!;
  const repo = state.ref.repository;
  const cache = new LayerCache(state.catalog.home);
  const here = `${state.ref.registry}/${repo}`;
  const known = cache.get(file.path);
  if (known && (await client.blobSize(repo, known.layer.digest, signal)) !== undefined) {
    state.blobs.push({
      digest: known.layer.digest,
      size: known.layer.size,
      how: 'exists',
      bytesSent: 0,
    });
    ui.message(`${label}: the registry has it (${known.layer.digest.slice(7, 19)})`);
    return { ...known.layer, mediaType };
  }
  ui.progress(`compress ${label}`, 0);
  const blob = await compressLayer(file.path, state.scratchDir!, { signal });
  ui.progress(`compress ${label}`, blob.diffSize, blob.diffSize, true);
  try {
    const mountFrom = (known?.repositories ?? [])
      .filter((r) => r.startsWith(`${state.ref.registry}/`) && r !== here)
      .map((r) => r.slice(state.ref.registry.length + 1));
    const r = await client.pushBlob(repo, blob, {
      signal,
      mountFrom,
      state: new FileUploadState(join(state.catalog.home, 'registry', 'uploads')),
      onProgress: (done, total) => ui.progress(`push ${label}`, done, total, done === total),
    });
    state.blobs.push({ digest: blob.digest, size: blob.size, how: r.how, bytesSent: r.bytesSent });
    ui.message(
      r.how === 'uploaded'
        ? `${label}: sent ${mb(r.bytesSent)}${r.resumedFrom ? ` (continued at ${mb(r.resumedFrom)})` : ''}`
        : `${label}: the registry ${r.how === 'mounted' ? 'mounted it from another repository' : 'has it'}`,
    );
    const layer = {
      digest: blob.digest,
      size: blob.size,
      diffId: blob.diffId,
      diffSize: blob.diffSize,
    };
    await cache.put(file.path, layer, here);
    return { ...layer, mediaType };
  } catch (err) {
    if (signal.aborted) throw new CancelledError(`push of ${label} cancelled`);
    throw err;
  } finally {
    await rm(blob.path, { force: true });
  }
}

export const pushLayers: Step<PushState> = {
  name: 'push-layers',
  async run(state, ctx) {
    const tokens = new Map<string, string>();
    for (const c of state.chain)
      for (const f of [c.disk, ...c.others]) tokens.set(f.path, fileToken(c.image.id, f.name));
    const links: ChainLink[] = [];
    for (const c of state.chain) {
      const layer = await pushFile(
        state,
        c.disk,
        `${c.image.id} ${c.disk.name}`,
        KilnMedia.qcow2Zstd,
        ctx,
      );
      const files = [];
      for (const f of c.others)
        files.push({
          name: f.name,
          layer: await pushFile(state, f, `${c.image.id} ${f.name}`, KilnMedia.fileZstd, ctx),
        });
      links.push({
        id: c.image.id,
        metadata: exportImage(c.image, c.disk.name, tokens),
        layer,
        ...(files.length > 0 ? { files } : {}),
      });
    }
    state.links = links;
  },
};
