/**
 * The `qemu` builder's config: Packer's option names where they apply (`iso_url` for an
 * installer ISO, or with `disk_image: true` a disk file; `boot_command`, `http_directory`,
 * `cd_files`, `qemuargs`, `use_backing_file`…), plus `source_image`, a catalog reference.
 * One schema gives the type and the validation.
 */
import { z } from 'zod';
import { goDuration } from '../../lib/duration-schema.js';

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
    /** An installer ISO (local path or http(s) URL, booted as a CD-ROM onto an empty disk), or with `disk_image: true` a disk image file to build on. */
    iso_url: z.string().min(1).optional(),
    /** Packer's list of alternatives; kiln uses the first that exists. */
    iso_urls: z.array(z.string().min(1)).optional(),
    /** `none`, `sha256:<hex>`, `md5:<hex>`, `file:<path>` or a bare hex digest (with `iso_checksum_type`). */
    iso_checksum: z.string().optional(),
    /** Packer 1.6 accepts the type apart (deprecated). */
    iso_checksum_type: z.string().optional(),
    /** True: `iso_url` is a bootable disk image, not an installer ISO. */
    disk_image: z.boolean().default(false),
    /** The new image is a qcow2 overlay on its source (kiln's default: cheap and immutable); no meaning for an installer ISO. */
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
    /** The empty disk an installer writes (default 40960 megabytes), or how far a source image's disk grows (never shrinks). Megabytes, or "10G". */
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
    /** How long to wait after QEMU starts before typing boot_command (default 10s). */
    boot_wait: goDuration.optional(),
    /** Keys typed into the guest through QMP (Packer's syntax: `<esc><wait>`, `<enter>`…; `{{ .HTTPIP }}`, `{{ .HTTPPort }}`, `{{ .Name }}`). */
    boot_command: z.array(z.string()).optional(),
    /** Pause after each key event (default: PACKER_KEY_INTERVAL, else 100ms). */
    boot_key_interval: goDuration.optional(),
    /** A directory served to the guest over HTTP during the build (`http://{{ .HTTPIP }}:{{ .HTTPPort }}/`). */
    http_directory: z.string().min(1).optional(),
    /** Files served over HTTP by URL path (`/preseed.cfg`), instead of http_directory. */
    http_content: z.record(z.string(), z.string()).optional(),
    /** Where the HTTP server listens (default 0.0.0.0). */
    http_bind_address: z.string().min(1).optional(),
    /** The HTTP server's port is a free one in [http_port_min, http_port_max) (default 8000-9000). */
    http_port_min: port.optional(),
    http_port_max: port.optional(),
    /** Files and directories put onto a CD-ROM made for the build (xorriso). */
    cd_files: z.array(z.string().min(1)).optional(),
    /** Contents put onto that CD-ROM, by path (`meta-data`, `user-data`). */
    cd_content: z.record(z.string(), z.string()).optional(),
    /** The CD-ROM's volume label (`cidata`). */
    cd_label: z.string().min(1).optional(),
    /** Refused (kiln attaches no floppy drive): use cd_files or http_directory. */
    floppy_files: z.array(z.string()).optional(),
    floppy_dirs: z.array(z.string()).optional(),
    floppy_content: z.record(z.string(), z.string()).optional(),
    floppy_label: z.string().optional(),
    /** Refused: kiln boots with SeaBIOS (UEFI/OVMF is not supported yet). */
    firmware: z.string().optional(),
    efi_boot: z.boolean().optional(),
    efi_firmware_code: z.string().optional(),
    efi_firmware_vars: z.string().optional(),
    /** Refused: kiln uses QEMU's user-mode network. */
    net_bridge: z.string().optional(),
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
    if (urls.length > 0 && c.iso_checksum === undefined) {
      issue.addIssue({
        code: 'custom',
        path: ['iso_checksum'],
        message: 'an iso_checksum must be specified ("none" to skip the check)',
      });
    }
    const installer = urls.length > 0 && !c.disk_image;
    if (c.use_backing_file && c.format !== 'qcow2' && !installer) {
      issue.addIssue({
        code: 'custom',
        path: ['use_backing_file'],
        message: 'use_backing_file can only be enabled for the qcow2 format',
      });
    }
    if (c.http_directory !== undefined && c.http_content !== undefined) {
      issue.addIssue({
        code: 'custom',
        path: ['http_content'],
        message:
          'http_content cannot be used together with http_directory: keep one (put the files in the directory, or list them in http_content)',
      });
    }
    if (
      c.http_port_min !== undefined &&
      c.http_port_max !== undefined &&
      c.http_port_min > c.http_port_max
    ) {
      issue.addIssue({
        code: 'custom',
        path: ['http_port_min'],
        message: `http_port_min (${c.http_port_min}) must not be greater than http_port_max (${c.http_port_max})`,
      });
    }
    for (const k of ['floppy_files', 'floppy_dirs', 'floppy_content', 'floppy_label'] as const) {
      if (c[k] !== undefined) {
        issue.addIssue({
          code: 'custom',
          path: [k],
          message: `${k} is not supported: kiln attaches no floppy drive; put the files on a CD with cd_files/cd_content (and cd_label), or serve them with http_directory`,
        });
      }
    }
    for (const k of ['firmware', 'efi_boot', 'efi_firmware_code', 'efi_firmware_vars'] as const) {
      if (c[k] !== undefined && c[k] !== false) {
        issue.addIssue({
          code: 'custom',
          path: [k],
          message: `${k} is not supported: kiln boots its VMs with SeaBIOS (UEFI with OVMF is not implemented yet); leave ${k} out`,
        });
      }
    }
    if (c.net_bridge !== undefined) {
      issue.addIssue({
        code: 'custom',
        path: ['net_bridge'],
        message:
          "net_bridge is not supported: kiln runs its VMs on QEMU's user-mode network (the guest reaches the host at 10.0.2.2); leave net_bridge out",
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

/** Packer's default size of an installer's empty disk. */
export const DEFAULT_INSTALL_DISK_SIZE = '40960M';

/** The URLs of iso_url and iso_urls, in order. */
export function isoUrls(c: Pick<QemuConfig, 'iso_url' | 'iso_urls'>): string[] {
  return [...(c.iso_url ? [c.iso_url] : []), ...(c.iso_urls ?? [])];
}

/** The build installs from an ISO (booted as a CD-ROM onto an empty disk), as opposed to building on a disk image. */
export function isInstaller(c: QemuConfig): boolean {
  return !c.source_image && !c.disk_image && isoUrls(c).length > 0;
}
