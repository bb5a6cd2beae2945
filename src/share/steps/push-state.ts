/**
 * With `--with-state` only: sends the pushed image's saved VM state (the build VM's memory,
 * its frozen disk layer, its login key) as a referrer of the image manifest, one blob per
 * file, as the image's builder exports it (`SavedStateTransfer`: nothing in it names this
 * kiln home). The image manifest does not change, so a pull that does not ask for the state
 * never sees it. What the export makes goes in the scratch directory (removed with it).
 */
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../../catalog/digest.js';
import type { Step } from '../../core/steps.js';
import { UserError } from '../../lib/errors.js';
import { digestOf, EMPTY_CONFIG, stateArtifact } from '../../registry/index.js';
import type { PushState } from '../state.js';
import { mb } from './push-layers.js';

export const pushState: Step<PushState> = {
  name: 'push-state',
  async run(state, { signal, ui }) {
    if (!state.withState || !state.stateTransfer) return;
    const client = state.client!;
    const repo = state.ref.repository;
    const top = state.chain.at(-1)!.image;
    ui.progress(`export the saved VM state of ${top.id}`, 0);
    const exported = await state.stateTransfer.export(
      top,
      join(state.scratchDir!, 'state'),
      signal,
    );
    if (!exported)
      throw new UserError('NoSavedState', `image ${top.id} (${top.name}) has no saved VM state`, {
        hint: 'its state was removed while pushing: push without --with-state',
      });
    const files = [];
    for (const f of [...exported].sort((a, b) => a.name.localeCompare(b.name))) {
      const size = (await stat(f.path)).size;
      const digest = `sha256:${await sha256File(f.path, signal)}`;
      const r = await client.pushBlob(
        repo,
        { path: f.path, digest, size },
        {
          signal,
          onProgress: (done, total) =>
            ui.progress(`push state ${f.name}`, done, total, done === total),
        },
      );
      state.blobs.push({ digest, size, how: r.how, bytesSent: r.bytesSent });
      files.push({ name: f.name, blob: { digest, size } });
    }
    // The artifact's empty config must be in the repository too.
    const empty = join(state.scratchDir!, 'empty.json');
    await writeFile(empty, EMPTY_CONFIG);
    await client.pushBlob(
      repo,
      { path: empty, digest: digestOf(EMPTY_CONFIG), size: EMPTY_CONFIG.length },
      { signal },
    );
    await rm(empty, { force: true });
    const built = stateArtifact(state.artifact!.descriptor, top.id, files, top.createdAt);
    const desc = await client.pushReferrer(repo, built.bytes, built.manifest, signal);
    state.stateDigest = desc.digest;
    ui.say(
      `Pushed the saved VM state of ${top.id} (${files.length} files, ${mb(files.reduce((n, f) => n + f.blob.size, 0))})`,
    );
  },
};
