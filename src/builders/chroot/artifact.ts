/** The chroot builder's artifact: a catalog image (`img-…`) and its disk file. */
import type { CatalogApi } from '../../catalog/types.js';
import type { Artifact } from '../../core/plugin.js';

export const CHROOT_BUILDER_ID = 'kiln.chroot';

/** The artifact of a registered image; `destroy` removes the image. */
export function chrootArtifact(opts: {
  imageId: string;
  parentId?: string;
  directory: string;
  files: string[];
  /** The open catalog the image is in (the command's, still open when post-processors run). */
  catalog: CatalogApi;
}): Artifact {
  return {
    builderId: CHROOT_BUILDER_ID,
    id: opts.imageId,
    string: `Image files in directory: ${opts.directory}`,
    files: opts.files,
    state: {
      image: opts.imageId,
      imageId: opts.imageId,
      parentId: opts.parentId,
      directory: opts.directory,
    },
    async destroy() {
      opts.catalog.images.remove(opts.imageId);
    },
  };
}
