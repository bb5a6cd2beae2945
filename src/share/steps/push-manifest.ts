/**
 * Sends the config blob (the chain's catalog records) and then the image manifest under
 * the reference's tag: the manifest goes last, so a tag never names an image whose blobs
 * the registry lacks. Nothing to clean up: a manifest is the push's result.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { imageArtifact, MediaType, referenceTarget } from '../../registry/index.js';
import type { PushState } from '../state.js';

export const pushManifest: Step<PushState> = {
  name: 'push-manifest',
  async run(state, { signal, ui }) {
    const client = state.client!;
    const repo = state.ref.repository;
    const top = state.chain.at(-1)!.image;
    const artifact = imageArtifact(state.links!, top.createdAt);
    const { descriptor, bytes } = artifact.config;
    const configFile = join(state.scratchDir!, 'config.json');
    await writeFile(configFile, bytes, { mode: 0o600 });
    const r = await client.pushBlob(
      repo,
      { path: configFile, digest: descriptor.digest, size: descriptor.size },
      { signal },
    );
    await rm(configFile, { force: true });
    state.blobs.push({ ...descriptor, how: r.how, bytesSent: r.bytesSent });
    await client.putManifest(
      repo,
      referenceTarget(state.ref),
      artifact.bytes,
      MediaType.imageManifest,
      signal,
    );
    state.artifact = artifact;
    ui.say(`Pushed ${top.id} as ${state.ref.registry}/${repo}@${artifact.descriptor.digest}`);
  },
};
