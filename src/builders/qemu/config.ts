/**
 * The `qemu` builder's config: Packer's option names where they apply (`iso_url` +
 * `disk_image: true` for a disk file, `qemuargs`, `use_backing_file`…), plus
 * `source_image`, a catalog reference. One schema gives the type and the validation.
 */
import { z } from 'zod';
import { goDuration } from '../../lib/duration.js';

/** Parses `disk_size`: a number of megabytes, or a string with a K/M/G/T suffix (bare = megabytes). Returns bytes. */
export function parseDiskSize(value: string | number): number {
  if (typeof value === 'number') return value * 1024 * 1024;
  const m = /^\s*(\d+)\s*([KMGT]?)i?B?\s*$/i.exec(value);
  if (!m) throw new Error(`invalid disk size "${value}" (examples: 10240, "10240M", "10G")`);
  const unit = (m[2] || 'M').toUpperCase();
  const pow = { K: 1, M: 2, G: 3, T: 4 }[unit as 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * 1024 ** pow;
}

const diskSize = z.union([z.number().int().positive(), z.string()]).refine(
  (v) => {
    try {
      parseDiskSize(v);
      return true;
    } catch {
      return false;
    }
  },
  {
    error: (i) => `invalid disk size ${JSON.stringify(i.input)} (examples: 10240, "10240M", "10G")`,
  },
);

const port = z.number().int().min(1).max(65535);

export const qemuConfigSchema = z
  .strictObject({
    /** A catalog image to build on: id, unique id prefix, name or tag (e.g. `debian-12`). */
    source_image: z.string().min(1).optional(),
    /** A disk image file (with `disk_image: true`) to build on, as in Packer. */
    iso_url: z.string().min(1).optional(),
    /** Packer's list of alternatives; kiln uses the first that exists. */
    iso_urls: z.array(z.string().min(1)).optional(),
    /** `none`, `sha256:<hex>`, `md5:<hex>`, `file:<path>` or a bare hex digest (with `iso_checksum_type`). */
    iso_checksum: z.string().optional(),
    /** Packer 1.6 accepts the type apart (deprecated). */
    iso_checksum_type: z.string().optional(),
    /** True: `iso_url` is a bootable disk image, not an installer ISO (kiln boots disk images only). */
    disk_image: z.boolean().default(false),
    /** The new image is a qcow2 overlay on its source (kiln's default: cheap and immutable). */
    use_backing_file: z.boolean().default(true),
    /** Output format: qcow2 (default) or raw (raw implies use_backing_file false). */
    format: z.enum(['qcow2', 'raw']).default('qcow2'),
    /** `auto` (default: KVM only where it works, else TCG), `kvm`, `tcg`, `none` (= TCG). */
    accelerator: z
      .enum(['auto', 'kvm', 'tcg', 'xen', 'hax', 'hvf', 'whpx', 'none'])
      .default('auto'),
    /** Megabytes of guest memory (Packer's default 512). */
    memory: z.number().int().min(64).default(512),
    /** Guest CPUs (Packer's default 1). */
    cpus: z.number().int().min(1).max(64).default(1),
    /** Extra or overriding QEMU arguments: a list of [flag, value…]; a flag given here replaces kiln's. */
    qemuargs: z.array(z.array(z.string())).optional(),
    /** The QEMU binary. */
    qemu_binary: z.string().default('qemu-system-x86_64'),
    /** Machine type (`pc`). */
    machine_type: z.string().default('pc'),
    /** Accepted: kiln's VMs never have a display. */
    headless: z.boolean().optional(),
    /** Name of the VM and of the output disk file; also the catalog image's name. */
    vm_name: z.string().min(1).optional(),
    /** When set, the disk is also written here (refused when it exists, unless -force). */
    output_directory: z.string().min(1).optional(),
    /** NIC model (`virtio-net`, `e1000`…). */
    net_device: z.string().default('virtio-net'),
    /** `virtio` (default), `ide`, `scsi`, `virtio-scsi`. */
    disk_interface: z.enum(['virtio', 'ide', 'scsi', 'virtio-scsi']).default('virtio'),
    /** Grows the virtual disk (megabytes, or "10G"); never shrinks it. */
    disk_size: diskSize.optional(),
    /** Accepted for compatibility (kiln uses writeback / unmap). */
    disk_cache: z.string().optional(),
    disk_discard: z.string().optional(),
    disk_compression: z.boolean().optional(),
    skip_compaction: z.boolean().optional(),
    /** Packer's extra qemu-img arguments (kiln always passes the backing format itself). */
    qemu_img_args: z
      .strictObject({
        create: z.array(z.string()).optional(),
        convert: z.array(z.string()).optional(),
        resize: z.array(z.string()).optional(),
      })
      .optional(),
    /** `ssh` (default) or `none`. */
    communicator: z.enum(['ssh', 'none']).default('ssh'),
    ssh_username: z.string().min(1).optional(),
    /** The user's own key; by default each build makes a fresh one that never reaches the image. */
    ssh_private_key_file: z.string().min(1).optional(),
    /** Not supported (kiln never uses passwords): a key is used instead. */
    ssh_password: z.string().optional(),
    /** How long to wait for SSH (default 5m). */
    ssh_timeout: goDuration.default('5m'),
    /** Packer's older name for ssh_timeout. */
    ssh_wait_timeout: goDuration.optional(),
    /** The guest's SSH port (default 22). */
    ssh_port: port.default(22),
    /** Accepted: kiln forwards a free loopback port. */
    ssh_host_port_min: port.optional(),
    ssh_host_port_max: port.optional(),
    ssh_handshake_attempts: z.number().int().optional(),
    ssh_pty: z.boolean().optional(),
    ssh_agent_auth: z.boolean().optional(),
    /** Run over SSH to stop the guest; default: `sync`, then ACPI power-down or QMP quit. */
    shutdown_command: z.string().optional(),
    /** How long the guest may take to power off (default 5m). */
    shutdown_timeout: goDuration.default('5m'),
    /** Accepted: only used with boot_command, which needs VNC. */
    boot_wait: goDuration.optional(),
    boot_command: z.array(z.string()).optional(),
    /** Accepted and ignored: kiln starts no VNC server. */
    vnc_bind_address: z.string().optional(),
    vnc_port_min: port.optional(),
    vnc_port_max: port.optional(),
    vnc_use_password: z.boolean().optional(),
    disable_vnc: z.boolean().optional(),
    use_default_display: z.boolean().optional(),
    display: z.string().optional(),
  })
  .superRefine((c, issue) => {
    const urls = [...(c.iso_url ? [c.iso_url] : []), ...(c.iso_urls ?? [])];
    if (c.source_image && urls.length > 0) {
      issue.addIssue({
        code: 'custom',
        path: ['source_image'],
        message: 'give source_image or iso_url, not both',
      });
    }
    if (!c.source_image && urls.length === 0) {
      issue.addIssue({
        code: 'custom',
        path: ['source_image'],
        message:
          'one of source_image (a catalog image, e.g. "debian-12") or iso_url (with disk_image: true) must be specified',
      });
    }
    if (urls.length > 0 && !c.disk_image) {
      issue.addIssue({
        code: 'custom',
        path: ['disk_image'],
        message:
          'kiln boots disk images only: set "disk_image": true (installing from an ISO needs boot_command over VNC, which kiln does not support)',
      });
    }
    if (urls.length > 0 && c.iso_checksum === undefined) {
      issue.addIssue({
        code: 'custom',
        path: ['iso_checksum'],
        message: 'an iso_checksum must be specified ("none" to skip the check)',
      });
    }
    if (c.use_backing_file && c.format !== 'qcow2') {
      issue.addIssue({
        code: 'custom',
        path: ['use_backing_file'],
        message: 'use_backing_file can only be enabled for the qcow2 format',
      });
    }
    if (c.boot_command && c.boot_command.length > 0) {
      issue.addIssue({
        code: 'custom',
        path: ['boot_command'],
        message: 'boot_command is not supported: kiln starts no VNC server to type it',
      });
    }
    if (c.communicator === 'ssh') {
      if (!c.ssh_username) {
        issue.addIssue({
          code: 'custom',
          path: ['ssh_username'],
          message: 'a Username must be specified, please reference your communicator documentation',
        });
      }
      if (c.ssh_password) {
        issue.addIssue({
          code: 'custom',
          path: ['ssh_password'],
          message:
            'password authentication is not supported by kiln: leave it out (each build gets a fresh key)',
        });
      }
      if (c.ssh_agent_auth) {
        issue.addIssue({
          code: 'custom',
          path: ['ssh_agent_auth'],
          message:
            'agent authentication is not supported by kiln: use ssh_private_key_file or leave it out',
        });
      }
    }
  });

export type QemuConfig = z.infer<typeof qemuConfigSchema>;
