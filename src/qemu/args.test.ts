import { describe, expect, it } from 'vitest';
import { buildQemuArgs, type VmSpec } from './args.js';

const spec: VmSpec = {
  name: 'vm1',
  accel: 'tcg',
  memoryMb: 1024,
  cpus: 2,
  disk: { file: '/img/disk.qcow2', format: 'qcow2', interface: 'virtio' },
  kernel: '/img/vmlinuz',
  initrd: '/img/initrd.img',
  cmdline: 'root=/dev/vda rw console=ttyS0',
  netDevice: 'virtio-net',
  forwards: [{ hostPort: 40022, guestPort: 22 }],
  credentials: { 'kiln.ssh.authorized_keys': 'ssh-ed25519 AAAA a,b' },
  qmpSocket: '/tmp/x/qmp.sock',
  serialLog: '/tmp/x/console.log',
};

function values(args: string[], flag: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === flag) out.push(args[i + 1]!);
  });
  return out;
}

describe('buildQemuArgs', () => {
  it('forwards SSH on loopback only and drives QEMU through QMP without a display', () => {
    const args = buildQemuArgs(spec);
    expect(values(args, '-netdev')).toEqual(['user,id=user.0,hostfwd=tcp:127.0.0.1:40022-:22']);
    expect(values(args, '-qmp')).toEqual(['unix:/tmp/x/qmp.sock,server=on,wait=off']);
    expect(values(args, '-display')).toEqual(['none']);
    expect(args).toContain('-nodefaults');
    expect(values(args, '-machine')).toEqual(['pc,accel=tcg']);
    expect(args).not.toContain('-cpu');
    expect(values(args, '-append')).toEqual(['root=/dev/vda rw console=ttyS0']);
  });

  it('doubles commas inside an SMBIOS credential value', () => {
    const args = buildQemuArgs(spec);
    expect(values(args, '-smbios')).toEqual([
      'type=11,value=io.systemd.credential:kiln.ssh.authorized_keys=ssh-ed25519 AAAA a,,b',
    ]);
  });

  it('uses -cpu host only with KVM', () => {
    expect(values(buildQemuArgs({ ...spec, accel: 'kvm' }), '-cpu')).toEqual(['host']);
  });

  it('lets qemuargs replace a default flag and add new ones (Packer rule)', () => {
    const args = buildQemuArgs({
      ...spec,
      qemuArgs: [['-m', '2048M'], ['-smp', 'cpus=', '4'], ['-no-reboot']],
    });
    expect(values(args, '-m')).toEqual(['2048M']);
    expect(values(args, '-smp')).toEqual(['cpus=4']);
    expect(args).toContain('-no-reboot');
  });

  it('keeps the network device when qemuargs replace -device', () => {
    const args = buildQemuArgs({ ...spec, qemuArgs: [['-device', 'virtio-rng-pci']] });
    expect(values(args, '-device')).toEqual(['virtio-rng-pci', 'virtio-net,netdev=user.0']);
  });

  it('attaches a SCSI disk through virtio-scsi', () => {
    const args = buildQemuArgs({ ...spec, disk: { ...spec.disk, interface: 'virtio-scsi' } });
    expect(values(args, '-drive')[0]).toMatch(/if=none,id=drive0$/);
    expect(values(args, '-device')).toContain('scsi-hd,bus=scsi0.0,drive=drive0');
  });

  it('attaches installer ISOs as read-only IDE CD-ROMs after the disk, and boots the first once', () => {
    const args = buildQemuArgs({
      ...spec,
      kernel: undefined,
      initrd: undefined,
      cmdline: undefined,
      cdroms: ['/c/install,1.iso', '/t/cd.iso'],
      boot: 'once=d',
    });
    expect(values(args, '-drive').slice(1)).toEqual([
      'file=/c/install,,1.iso,media=cdrom,readonly=on,if=ide',
      'file=/t/cd.iso,media=cdrom,readonly=on,if=ide',
    ]);
    expect(values(args, '-boot')).toEqual(['once=d']);
    expect(args).not.toContain('-kernel');
  });
});
