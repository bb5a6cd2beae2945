/**
 * Whether a catalog AMI can stand for this config's build when the build's inputs are
 * unchanged (the input hash covers the config and the content of its `user_data_file`).
 */
import type { ImageRecord } from '../../catalog/types.js';
import type { Artifact } from '../../core/plugin.js';
import { amiArtifact } from './artifact.js';

/** The artifact of `image`, or undefined when it records no AMI to reuse. */
export function reusableArtifact(image: ImageRecord): Artifact | undefined {
  const meta = image.metadata as {
    regions?: Record<string, string>;
    snapshots?: Record<string, string[]>;
  };
  if (!meta.regions || Object.keys(meta.regions).length === 0) return undefined;
  return amiArtifact(meta.regions, { image: image.id, snapshots: meta.snapshots ?? {} });
}
