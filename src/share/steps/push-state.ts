/**
 * With `--with-state` only: sends the pushed image's saved VM state (the build VM's memory,
 * its frozen disk layer, its login key) as a referrer of the image manifest, one blob per
 * file, as stored. The image manifest does not change, so a pull that does not ask for the
 * state never sees it. Nothing to clean up.
 */
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../../catalog/digest.js';
import type { Step } from '../../core/steps.js';
import { digestOf, EMPTY_CONFIG, stateArtifact } from '../../registry/index.js';
import type { PushState } from '../state.js';
import { mb } from './push-layers.js';

export const pushState: Step<PushState> = {
  name: 'push-state',
  async run(state, { signal, ui }) {
    if (!state.withState || !state.stateDir) return;
    const client = state.client!;
    const repo = state.ref.repository;
    const top = state.chain.at(-1)!.image;
    const files = [];
    for (const name of (await readdir(state.stateDir)).sort()) {
      const path = join(state.stateDir, name);
      const st = await stat(path);
      if (!st.isFile()) continue;
      const digest = `sha256:${await sha256File(path, signal)}`;
      const r = await client.pushBlob(
        repo,
        { path, digest, size: st.size },
        {
          signal,
          onProgress: (done, total) =>
            ui.progress(`push state ${name}`, done, total, done === total),
        },
      );
      state.blobs.push({ digest, size: st.size, how: r.how, bytesSent: r.bytesSent });
      files.push({ name, blob: { digest, size: st.size } });
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
