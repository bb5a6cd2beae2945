/**
 * Makes sure the repository has one zstd blob per file of each chain image, base first:
 * a blob it has is not sent (HEAD, before anything is compressed when the layer cache knows
 * the digest), one another repository of the registry has is mounted (the layer cache says
 * which), any other is compressed into the scratch directory while it is uploaded in chunks
 * as zstd writes it (one pass; an interrupted upload of an earlier push is continued once
 * the digest is known), and deleted. It creates nothing of its own to clean up: the blob
 * file goes with create-scratch-dir, an unfinished upload session is the registry's.
 */
import { openSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step, StepContext } from '../../core/steps.js';
import { CancelledError } from '../../lib/errors.js';
import {
  type BlobFile,
  type ChainLink,
  type CompressedBlob,
  compressLayer,
  FileUploadState,
  KilnMedia,
  type LayerBlob,
  type PushBlobResult,
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
  const uploads = new FileUploadState(join(state.catalog.home, 'registry', 'uploads'));
  // A blob another repository of this registry has (the layer cache knows where it went).
  const mountFrom = (known?.repositories ?? [])
    .filter((r) => r.startsWith(`${state.ref.registry}/`) && r !== here)
    .map((r) => r.slice(state.ref.registry.length + 1));
  if (known && (await client.mountBlob(repo, known.layer.digest, mountFrom, signal))) {
    state.blobs.push({
      digest: known.layer.digest,
      size: known.layer.size,
      how: 'mounted',
      bytesSent: 0,
    });
    ui.message(`${label}: the registry mounted it from another repository`);
    await cache.put(file.path, known.layer, here);
    return { ...known.layer, mediaType };
  }
  // Compressed and uploaded side by side (an upload an earlier push left is continued).
  const r = await pushWhileCompressing(state, file, label, uploads, { signal, ui });
  state.blobs.push({
    digest: r.blob.digest,
    size: r.blob.size,
    how: r.how,
    bytesSent: r.bytesSent,
  });
  ui.message(
    r.how === 'uploaded'
      ? `${label}: sent ${mb(r.bytesSent)}${r.resumedFrom ? ` (continued at ${mb(r.resumedFrom)})` : ''}`
      : `${label}: the registry has it`,
  );
  const layer = {
    digest: r.blob.digest,
    size: r.blob.size,
    diffId: r.blob.diffId,
    diffSize: r.blob.diffSize,
  };
  await cache.put(file.path, layer, here);
  return { ...layer, mediaType };
}

/**
 * Compresses `file` into the scratch directory while the client uploads what zstd has
 * written so far; if either fails the other is stopped. The blob file is removed either way.
 */
async function pushWhileCompressing(
  state: PushState,
  file: OutgoingFile,
  label: string,
  uploads: FileUploadState,
  { signal, ui }: Pick<StepContext, 'signal' | 'ui'>,
): Promise<PushBlobResult & { blob: CompressedBlob }> {
  type Uploaded = PushBlobResult & { blob: BlobFile };
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  // The first failure is the one reported; it stops the other side.
  let first: { err: unknown } | undefined;
  const fail = (err: unknown): never => {
    first ??= { err };
    stop.abort();
    throw err;
  };
  let startUpload!: (p: Promise<Uploaded>) => void;
  const uploadStarted = new Promise<Promise<Uploaded>>((r) => {
    startUpload = r;
  });
  const total = statSync(file.path).size;
  const compressing = compressLayer(file.path, state.scratchDir!, {
    signal: both,
    onOutput: (tmp, written) =>
      startUpload(
        state.client!.pushBlobFollowing(
          state.ref.repository,
          // Opened now: zstd's file is renamed once complete.
          { fd: openSync(tmp, 'r'), written, done: compressing },
          {
            signal: both,
            state: uploads,
            // The compressed size is known only at the end.
            onProgress: (done, size) => ui.progress(`push ${label}`, done, Math.max(size, done)),
          },
        ),
      ),
  });
  const [c, u] = await Promise.allSettled([
    compressing.catch(fail),
    // A compression that fails before its output exists never starts the upload.
    Promise.race([uploadStarted, compressing.then(() => uploadStarted)])
      .then((p) => p)
      .catch(fail),
  ]);
  if (c.status === 'fulfilled') await rm(c.value.path, { force: true });
  if (signal.aborted) throw new CancelledError(`push of ${label} cancelled`);
  if (first) throw first.err;
  if (c.status === 'rejected' || u.status === 'rejected')
    throw c.status === 'rejected' ? c.reason : (u as PromiseRejectedResult).reason;
  ui.progress(`push ${label}`, total, total, true);
  return { ...u.value, blob: c.value };
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
