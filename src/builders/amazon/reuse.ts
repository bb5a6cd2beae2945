/**
 * Whether a catalog AMI can stand for this config's build when the build's inputs are
 * unchanged. The input hash covers the config's text, not the files it names: the content
 * of `user_data_file` is recorded with the image (register-catalog) and compared here, so
 * an edited user data file makes a new AMI.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ImageRecord } from '../../catalog/types.js';
import type { Artifact } from '../../core/plugin.js';
import { amiArtifact } from './artifact.js';
import type { AmazonEbsConfig } from './config.js';

/** sha256 of the user data file's bytes, or undefined when the config names none (or it cannot be read). */
export function userDataFileSha256(
  config: Pick<AmazonEbsConfig, 'user_data_file'>,
): string | undefined {
  if (!config.user_data_file) return undefined;
  try {
    return createHash('sha256').update(readFileSync(config.user_data_file)).digest('hex');
  } catch {
    return undefined;
  }
}

/** The artifact of `image` for this config, or undefined when the image cannot be reused. */
export function reusableArtifact(
  image: ImageRecord,
  config: Pick<AmazonEbsConfig, 'user_data_file'> | undefined,
): Artifact | undefined {
  const meta = image.metadata as {
    regions?: Record<string, string>;
    snapshots?: Record<string, string[]>;
    userDataFileSha256?: string;
  };
  if (!meta.regions || Object.keys(meta.regions).length === 0) return undefined;
  if (config?.user_data_file) {
    const now = userDataFileSha256(config);
    if (!now || now !== meta.userDataFileSha256) return undefined;
  }
  return amiArtifact(meta.regions, { image: image.id, snapshots: meta.snapshots ?? {} });
}
