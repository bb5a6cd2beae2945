/** The qemu builder's artifact: a catalog image (`img-…`) and its disk file(s). */
import { rm } from 'node:fs/promises';
import type { CatalogApi } from '../../catalog/types.js';
import type { Artifact } from '../../core/plugin.js';

export const QEMU_BUILDER_ID = 'transcend.qemu';

/** Builds the artifact for a registered image; `destroy` removes the image and any output copy. */
export function qemuArtifact(opts: {
  imageId: string;
  parentId?: string;
  directory: string;
  files: string[];
  /** The open catalog the image is in (the command's, still open when post-processors run). */
  catalog: CatalogApi;
  outputDirectory?: string;
}): Artifact {
  return {
    builderId: QEMU_BUILDER_ID,
    id: opts.imageId,
    string: `VM files in directory: ${opts.directory}`,
    files: opts.files,
    state: {
      image: opts.imageId,
      imageId: opts.imageId,
      parentId: opts.parentId,
      directory: opts.directory,
    },
    async destroy() {
      opts.catalog.images.remove(opts.imageId);
      if (opts.outputDirectory) await rm(opts.outputDirectory, { recursive: true, force: true });
    },
  };
}
