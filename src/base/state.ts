/**
 * What the steps that make a catalog image out of local files share (`kiln base`, `kiln
 * images import`): a typed object in place of Packer's state bag.
 */

import type { CatalogApi, ImageRecord, NewImage } from '../catalog/types.js';
import type { JournalState } from '../core/journal-step.js';

export interface ImageWorkState extends JournalState {
  catalog: CatalogApi;
  /** The new image's id, decided before anything is made. */
  imageId: string;
  /** `<images>/.tmp-<id>`: the image's files until it is registered. */
  work: string;
  /** `<images>/<id>`: where they go once complete. */
  final: string;
  /** The files to register, by name inside the work dir, the disk first (steps add theirs). */
  files: string[];
  /** The rest of the image's catalog record, given its files' final paths (disk first). */
  record(files: string[]): Omit<NewImage, 'id' | 'files' | 'sha256'>;
  /** Set once the catalog owns the files: cleanup must then keep them. */
  registered?: boolean;
  image?: ImageRecord;
}

/** `kiln base`: a Debian tree made with mmdebstrap, then a disk, kernel and initrd. */
export interface BaseState extends ImageWorkState {
  /** Debian's suite (`bookworm`). */
  suite: string;
  /** `<work>/rootfs`: the tree, removed once it is in the disk. */
  rootfs: string;
  /** The tree's kernel version, once its boot files are out. */
  kernelVersion?: string;
}

/** `kiln images import`: an existing disk (and kernel, initrd) copied in. */
export interface ImportState extends ImageWorkState {
  disk: string;
  /** The disk's format as qemu-img reads it (qcow2 or raw). */
  format: string;
  /** The disk has a backing chain, which the copy flattens. */
  flatten: boolean;
  kernel?: string;
  initrd?: string;
}
