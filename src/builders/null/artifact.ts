import type { Artifact } from '../../core/plugin.js';

export const NULL_BUILDER_ID = 'fnoeding.null';

/** Packer's NullArtifact: nothing exported, id `Null`. */
export function nullArtifact(): Artifact {
  return {
    builderId: NULL_BUILDER_ID,
    id: 'Null',
    string: 'Did not export anything. This is the null builder',
    files: [],
    state: { generated_data: { ID: 'Null' } },
    async destroy() {},
  };
}
