/** The qemu builder's artifact: a catalog image (`img-…`) and its disk file(s). */
import { rm } from 'node:fs/promises';
import { Catalog } from '../../catalog/index.js';
import type { Artifact } from '../../core/plugin.js';

export const QEMU_BUILDER_ID = 'transcend.qemu';

/** Builds the artifact for a registered image; `destroy` removes the image and any output copy. */
export function qemuArtifact(opts: {
  imageId: string;
  parentId?: string;
  directory: string;
  files: string[];
  kilnHome: string;
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
      const catalog = Catalog.open(opts.kilnHome);
      try {
        catalog.removeImage(opts.imageId);
      } finally {
        catalog.close();
      }
      if (opts.outputDirectory) await rm(opts.outputDirectory, { recursive: true, force: true });
    },
  };
}
