/**
 * What the chroot builder's steps share: a typed object in place of Packer's state bag.
 * Each resource's field is cleared by the cleanup that removed it, so an early cleanup
 * (before registering) and the final one never undo a thing twice.
 */
import type { CatalogApi, ImageRecord } from '../../catalog/types.js';
import type { Communicator } from '../../communicator/communicator.js';
import type { JournalState } from '../../core/journal-step.js';
import type { Artifact, BuildContext, ProvisionHook } from '../../core/plugin.js';
import type { FuseExport } from '../../qemu/storage-daemon.js';
import type { ChrootConfig } from './config.js';
import type { ChrootDriver } from './driver.js';

export interface ChrootState extends JournalState {
  config: ChrootConfig;
  driver: ChrootDriver;
  ctx: BuildContext;
  hook: ProvisionHook;
  catalog: CatalogApi;
  /** The catalog image the build starts from, and its disk's format. */
  source?: ImageRecord;
  sourceFormat?: string;
  /** The new image's id, decided before its disk is made. */
  imageId?: string;
  /** `<images>/.tmp-<id>`: the overlay until it becomes an image. */
  workDir?: string;
  /** The qcow2 overlay the build writes (inside workDir). */
  disk?: string;
  /** A temp dir on this host holding the export file and the mount point. */
  runDir?: string;
  /** The raw view of the overlay (a FUSE file), while exported. */
  exportFile?: string;
  export?: FuseExport;
  /** The loop device over the export, while attached. */
  device?: string;
  /** Where the image's root is mounted (inside runDir). */
  root?: string;
  /** Set while the root is mounted. */
  rootMounted?: boolean;
  /** The chroot_mounts made, in order (absolute host paths). */
  mounts: string[];
  /** copy_files bound into the chroot: where, and whether the build created the file under it. */
  boundFiles: Array<{ target: string; created: boolean }>;
  comm?: Communicator;
  /** Set once the disk is the catalog's (cleanup must then keep it). */
  registered?: boolean;
  artifact?: Artifact;
}
