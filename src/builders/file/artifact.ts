import { rm } from 'node:fs/promises';
import type { Artifact } from '../../core/plugin.js';

export const FILE_BUILDER_ID = 'packer.file';

/** Packer's FileArtifact (id `File`); destroying it also forgets the catalog image. */
export function fileArtifact(
  target: string,
  imageId?: string,
  forget?: () => Promise<void>,
): Artifact {
  return {
    builderId: FILE_BUILDER_ID,
    id: 'File',
    string: `Stored file: ${target}`,
    files: [target],
    state: imageId ? { image: imageId } : {},
    async destroy() {
      if (forget) await forget();
      await rm(target, { force: true });
    },
  };
}
