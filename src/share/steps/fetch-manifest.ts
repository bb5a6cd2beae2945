/**
 * Reads the reference's image manifest and its config blob (verified against their
 * digests), and decides, image by image, what this catalog already has: an image with the
 * same id is the same image, and is neither fetched nor registered again. Makes nothing
 * but the config blob in the scratch directory (removed with it).
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { UserError } from '../../lib/errors.js';
import { formatReference, readImageArtifact, referenceTarget } from '../../registry/index.js';
import { readPortable } from '../portable.js';
import type { PullState } from '../state.js';

export const fetchManifest: Step<PullState> = {
  name: 'fetch-manifest',
  async run(state, { signal, ui }) {
    const client = state.client!;
    const repo = state.ref.repository;
    const fetched = await client.getManifest(repo, referenceTarget(state.ref), signal);
    if (!fetched.manifest)
      throw new UserError(
        'NotKilnImage',
        `${formatReference(state.ref)} is an image index (${fetched.mediaType}), not a kiln image`,
        { hint: 'kiln pulls what kiln push wrote' },
      );
    const manifest = fetched.manifest;
    const configFile = join(state.scratchDir!, 'config.json');
    await client.pullBlob(repo, manifest.config, configFile, { signal });
    const links = readImageArtifact(manifest, await readFile(configFile));
    await rm(configFile, { force: true });
    state.manifestDigest = fetched.digest;
    const images = state.catalog.images;
    let parent: string | null = null;
    state.chain = links.map((link) => {
      const record = readPortable(link.id, link.metadata);
      if (record.parentId !== parent)
        throw new UserError(
          'KilnConfigInvalid',
          `image ${link.id} names ${record.parentId ?? 'no parent'} as its parent, but the chain has ${parent ?? 'none'} before it`,
        );
      parent = link.id;
      return {
        link,
        record,
        present: images.get(link.id) !== undefined,
        work: join(state.catalog.imagesDir, `.tmp-${link.id}`),
        final: join(state.catalog.imagesDir, link.id),
      };
    });
    const missing = state.chain.filter((c) => !c.present);
    ui.message(
      `${formatReference(state.ref)} is ${fetched.digest}: ${state.chain.length} images, ${missing.length} to fetch`,
    );
  },
};
