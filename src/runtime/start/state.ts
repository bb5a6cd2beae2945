/** What the steps of `kiln run`'s start share: a typed object in place of Packer's state bag. */
import type { CatalogApi, ImageRecord, InstanceRecord } from '../../catalog/types.js';
import type { Accelerator } from '../../qemu/accel.js';
import type { Vm } from '../../qemu/launch.js';
import type { LocalInstanceMeta } from '../status.js';

/** A port forward: `host` 0 picks a free loopback port. */
export interface PortSpec {
  host: number;
  guest: number;
}

export interface StartState {
  catalog: CatalogApi;
  image: ImageRecord;
  /** The new instance's id (`i-…`), decided before anything is made. */
  id: string;
  /** The run journal's id for this start. */
  runId: string;
  /** Where the instance's files go and how its VM is sized: its catalog row's metadata. */
  meta: LocalInstanceMeta;
  accel: Accelerator;
  /** QEMU's firmware flags (`-bios`), chosen for how the image boots. */
  firmware: string[][];
  ports: PortSpec[];
  name?: string;
  group?: string;
  /** Extra metadata for the row (e.g. a deploy group's port plan). */
  metadata?: Record<string, unknown>;
  qemuBinary?: string;
  /** Set while the run journal is open. */
  journalOpen?: boolean;
  /** The instance's own public key (create-ssh-key), authorized in the guest at boot. */
  sshPublicKey?: string;
  vm?: Vm;
  /** The catalog row, once the instance is recorded: from then on nothing is removed. */
  record?: InstanceRecord;
}
