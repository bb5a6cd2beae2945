/**
 * QEMU's command line, built from a VM description, with Packer's `qemuargs` rule: a
 * flag the user gives replaces kiln's default for that flag; other flags are added.
 */
import type { Accelerator } from './accel.js';

export interface PortForward {
  hostPort: number;
  guestPort: number;
}

/** Everything that decides how a VM is started. */
export interface VmSpec {
  name: string;
  accel: Accelerator;
  memoryMb: number;
  cpus: number;
  disk: { file: string; format: string; interface: string };
  /** ISO files attached as IDE CD-ROMs, in order (an installer ISO first). */
  cdroms?: string[];
  /** QEMU's `-boot` value: `once=d` boots the first CD-ROM once, the disk after the guest's reboot. */
  boot?: string;
  /** Direct kernel boot: the image's kernel, initrd and command line. */
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  netDevice: string;
  /** Loopback-only forwards (never all interfaces, unlike Packer). */
  forwards: PortForward[];
  /** A `vmgenid` device: Linux reseeds its random generator when a saved state is restored. */
  vmgenid?: boolean;
  /** systemd credentials passed as SMBIOS OEM strings (type 11). */
  credentials?: Record<string, string>;
  qmpSocket: string;
  serialLog: string;
  /** Packer's `qemuargs`: `[["-m", "2048M"], ["-device", "virtio-rng-pci"]]`. */
  qemuArgs?: string[][];
}

/** QEMU's option syntax doubles commas inside a value. */
export function escapeOptionValue(value: string): string {
  return value.replace(/,/g, ',,');
}

/** Builds the argument list (without the binary). Pure: unit-tested. */
export function buildQemuArgs(spec: VmSpec): string[] {
  const defaults: Array<[string, string | undefined]> = [
    ['-name', spec.name],
    ['-nodefaults', undefined],
    ['-no-user-config', undefined],
    ['-display', 'none'],
    ['-machine', `pc,accel=${spec.accel}`],
  ];
  if (spec.accel === 'kvm') defaults.push(['-cpu', 'host']);
  defaults.push(
    ['-smp', String(spec.cpus)],
    ['-m', `${spec.memoryMb}M`],
    ['-qmp', `unix:${spec.qmpSocket},server=on,wait=off`],
    ['-serial', `file:${spec.serialLog}`],
  );
  const drive = `file=${escapeOptionValue(spec.disk.file)},format=${spec.disk.format},cache=writeback,discard=unmap`;
  const devices: string[] = [];
  switch (spec.disk.interface) {
    case 'virtio-scsi':
    case 'scsi':
      devices.push('virtio-scsi-pci,id=scsi0', 'scsi-hd,bus=scsi0.0,drive=drive0');
      defaults.push(['-drive', `${drive},if=none,id=drive0`]);
      break;
    default:
      defaults.push(['-drive', `${drive},if=${spec.disk.interface}`]);
  }
  for (const iso of spec.cdroms ?? []) {
    defaults.push(['-drive', `file=${escapeOptionValue(iso)},media=cdrom,readonly=on,if=ide`]);
  }
  if (spec.boot) defaults.push(['-boot', spec.boot]);
  const fwd = spec.forwards
    .map((f) => `,hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`)
    .join('');
  defaults.push(['-netdev', `user,id=user.0${fwd}`]);
  devices.push(`${spec.netDevice},netdev=user.0`, 'virtio-rng-pci');
  if (spec.vmgenid) devices.push('vmgenid');
  for (const d of devices) defaults.push(['-device', d]);
  if (spec.kernel) {
    defaults.push(['-kernel', spec.kernel]);
    if (spec.initrd) defaults.push(['-initrd', spec.initrd]);
    if (spec.cmdline) defaults.push(['-append', spec.cmdline]);
  }
  for (const [k, v] of Object.entries(spec.credentials ?? {})) {
    defaults.push(['-smbios', `type=11,value=io.systemd.credential:${k}=${escapeOptionValue(v)}`]);
  }

  const user = new Map<string, string[]>();
  const userOrder: string[] = [];
  for (const arg of spec.qemuArgs ?? []) {
    const [flag, ...rest] = arg;
    if (!flag) continue;
    if (!user.has(flag)) {
      user.set(flag, []);
      userOrder.push(flag);
    }
    // Packer joins the rest of an inner list without a separator.
    const value = rest.join('');
    if (value !== '') user.get(flag)!.push(value);
  }
  // Packer re-adds the network device when a user's -device list lacks it (#6804).
  const userDevices = user.get('-device');
  if (userDevices && !userDevices.some((d) => d.includes(spec.netDevice))) {
    userDevices.push(`${spec.netDevice},netdev=user.0`);
  }

  const out: string[] = [];
  const emitted = new Set<string>();
  for (const [flag, value] of defaults) {
    const override = user.get(flag);
    if (override) {
      if (emitted.has(flag)) continue;
      emitted.add(flag);
      for (const v of override) out.push(flag, v);
      if (override.length === 0) out.push(flag);
      continue;
    }
    out.push(flag);
    if (value !== undefined) out.push(value);
  }
  for (const flag of userOrder) {
    if (emitted.has(flag)) continue;
    const values = user.get(flag)!;
    if (values.length === 0) out.push(flag);
    for (const v of values) out.push(flag, v);
  }
  return out;
}
