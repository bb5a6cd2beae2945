/**
 * What the qemu builder's steps share: a typed object in place of Packer's state bag.
 */
import type { CatalogApi, ImageRecord } from '../../catalog/types.js';
import type { Communicator } from '../../communicator/communicator.js';
import type { Artifact, BuildContext, ProvisionHook } from '../../core/plugin.js';
import type { KilnError } from '../../lib/errors.js';
import type { AccelChoice } from '../../qemu/accel.js';
import type { BuildHttpServer } from '../../qemu/http-server.js';
import type { IsoFile } from '../../qemu/iso-source.js';
import type { Vm } from '../../qemu/launch.js';
import type { QemuConfig } from './config.js';
import type { QemuDriver } from './driver.js';
import type { WarmSource, WarmSpec } from './warm.js';

/** The disk a build starts from. */
export interface SourceDisk {
  file: string;
  format: string;
  /** The catalog image, when the source is one. */
  image?: ImageRecord;
  /** Direct kernel boot, from the image's metadata. */
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  /** The image has kiln's first-boot key unit (any ssh_username works). */
  kilnCredentials: boolean;
  /** Set when the source is an installer ISO (`file`), booted as a CD-ROM onto an empty disk. */
  iso?: IsoFile;
}

export interface QemuState {
  config: QemuConfig;
  /** QEMU and qemu-img, behind an interface so the steps can be tested without a VM. */
  driver: QemuDriver;
  ctx: BuildContext;
  hook: ProvisionHook;
  catalog: CatalogApi;
  /** The journal's run id for this build. */
  journalRun?: string;
  source?: SourceDisk;
  /** The new image's id, decided before its disk is made. */
  imageId?: string;
  /** `<images>/.tmp-<id>`: the overlay until it becomes an image. */
  workDir?: string;
  /** The disk the VM writes to (inside workDir). */
  disk?: string;
  /** The ISO made from cd_files/cd_content, attached as a second CD-ROM. */
  cdIso?: string;
  /** The HTTP server of http_directory/http_content. */
  http?: BuildHttpServer;
  /** Short-path temp dir with the QMP socket and the serial log. */
  runDir?: string;
  privateKeyFile?: string;
  publicKey?: string;
  /** The accelerator the VM runs with (chosen once, before the disk is made). */
  accel?: AccelChoice;
  /** How the VM is started, when this build may use and save warm states (see warm.ts). */
  warmSpec?: WarmSpec;
  /** The SMBIOS credentials QEMU was started with (a saved state records them). */
  vmCredentials?: Record<string, string>;
  /** The source's warm state the VM is restored from (undefined: it boots). */
  warmFrom?: WarmSource;
  /** Takes away the mark that keeps `warmFrom` from eviction while this build runs. */
  releaseWarm?: () => void;
  /** Disk layers frozen with a saved VM state, oldest first (the VM writes to `disk`). */
  frozen: Array<{ kind: 'source' | 'own'; layer: string; stateFile: string; saved: boolean }>;
  /** The template has sensitive values: they may be in the guest's RAM, which must then not be saved. */
  hasSecrets?: boolean;
  vm?: Vm;
  /** Aborted when QEMU exits while the build still needs it. */
  vmDied: AbortController;
  /** Why QEMU is gone, when it went on its own. */
  vmError?: KilnError;
  /** Set by the shutdown step: QEMU's exit is expected from here on. */
  stopping?: boolean;
  comm?: Communicator;
  /** Whether the guest handles the ACPI power button (learnt by clean-guest). */
  guestAcpi?: boolean;
  /** Set once the disk is the catalog's (cleanup must then keep it). */
  registered?: boolean;
  artifact?: Artifact;
}

/** Journals a resource before it is created, when a catalog journal is open. */
export function journal(state: QemuState, kind: string, ref: string): void {
  if (state.journalRun) state.catalog.journal.record({ runId: state.journalRun, kind, ref });
}

/** Forgets a journalled resource (removed, or handed over to the catalog). */
export function unjournal(state: QemuState, ref: string): void {
  if (!state.journalRun) return;
  try {
    state.catalog.journal.forget(state.journalRun, ref);
  } catch {
    // A journal write that fails (SQLITE_FULL on a full disk) must not stop the cleanup
    // after it: the entry left only sends `kiln gc` to something already removed.
  }
}
