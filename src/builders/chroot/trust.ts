/**
 * The chroot builder runs the source image's own programs on this host as root, as
 * amazon-chroot does: it builds only from images whose whole lineage kiln made (a base
 * made by `kiln base`, or images kiln built from one), or that the user trusts by saying
 * so (`trust_source`). An imported or pulled image is refused, with the way out.
 */
import type { CatalogApi, ImageRecord } from '../../catalog/types.js';
import { UserError } from '../../lib/errors.js';

/** The `builder` values of catalog images kiln made itself. */
export const KILN_MADE_BUILDERS: ReadonlySet<string> = new Set(['base', 'qemu', 'kiln-chroot']);

/** The first image of the lineage kiln did not make, or undefined when kiln made them all. */
export function untrustedAncestor(lineage: readonly ImageRecord[]): ImageRecord | undefined {
  return lineage.find((i) => !KILN_MADE_BUILDERS.has(i.builder));
}

/**
 * Resolves `ref` to a catalog image the chroot builder may build from: present, with a
 * disk, and trusted. Throws a UserError saying what is wrong and what to do.
 */
export function resolveTrustedSource(
  catalog: CatalogApi,
  ref: string,
  trustSource: boolean,
): ImageRecord {
  const image = catalog.images.resolve(ref);
  if (image.status === 'missing' || !image.files[0]) {
    throw new UserError(
      'SourceImageMissing',
      `source image ${image.id} (${image.name}) has lost its disk file`,
      { where: 'source_image', hint: 'rebuild it or choose another source_image' },
    );
  }
  if (image.format && image.format !== 'qcow2' && image.format !== 'raw') {
    throw new UserError(
      'SourceImageFormat',
      `source image ${image.id} is ${image.format}; the chroot builder mounts qcow2 and raw disks`,
      { where: 'source_image', hint: 'build from this image with the qemu builder' },
    );
  }
  const stranger = trustSource ? undefined : untrustedAncestor(catalog.images.lineage(image.id));
  if (stranger) {
    const from = (stranger.metadata as Record<string, unknown>).importedFrom;
    const what =
      stranger.id === image.id
        ? `source image ${image.id} (${image.name})`
        : `source image ${image.id} (${image.name}) is built on ${stranger.id} (${stranger.name}), which`;
    throw new UserError(
      'UntrustedSourceImage',
      `${what} was not made by kiln (builder "${stranger.builder}"${typeof from === 'string' ? `, from ${from}` : ''}): the chroot builder runs an image's own programs on this host as root`,
      {
        where: 'source_image',
        hint: 'build it with the qemu builder (in a VM), or set "trust_source": true if you trust where it came from',
      },
    );
  }
  return image;
}
