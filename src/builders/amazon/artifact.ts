/** The amazon-ebs artifact as Packer shows it: id `region:ami,…` sorted, and "AMIs were created:" lines. */
import type { Artifact } from '../../core/plugin.js';

export const AMAZON_EBS_BUILDER_ID = 'mitchellh.amazonebs';

/** Builds the artifact for AMIs by region (Packer's `Artifact.Id()` and `String()`). */
export function amiArtifact(
  amis: Record<string, string>,
  state: Record<string, unknown> = {},
): Artifact {
  const parts = Object.entries(amis)
    .map(([region, id]) => `${region}:${id}`)
    .sort();
  const lines = Object.entries(amis)
    .map(([region, id]) => `${region}: ${id}`)
    .sort();
  return {
    builderId: AMAZON_EBS_BUILDER_ID,
    id: parts.join(','),
    string: `AMIs were created:\n${lines.join('\n')}\n`,
    files: [],
    state: { amis: { ...amis }, ...state },
  };
}
