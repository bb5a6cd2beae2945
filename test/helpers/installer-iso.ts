/**
 * An installer-like ISO and its HTTP directory, made from the debian-12 test base, for
 * the qemu builder's installer path. The ISO boots isolinux to a `boot:` prompt (no
 * timeout: nothing happens until keys are typed); its `install` entry boots the base's
 * kernel with an initrd (the base's lean one, plus busybox, extlinux and an installer
 * script as `rdinit`) that reads the typed kernel command line, brings the network up,
 * fetches the answer file whose URL was typed (`url=`) from the builder's HTTP server and
 * runs it. The answer file (`answer.sh` in the HTTP directory) makes an ext2 file system
 * on the empty disk, unpacks the base's root file system into it (`rootfs.tar`, fetched
 * from the same server), records the command line it was installed with in
 * /etc/kiln-installed, installs extlinux on the disk, and the installer reboots into it.
 */

import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CpioEntry, writeCpio } from '../../src/base/cpio.js';
import { run } from './kiln.js';

/** The base image's boot files (from the catalog record of debian-12). */
export interface BaseBoot {
  disk: string;
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** What the tests hand to the qemu builder. */
export interface InstallerMedia {
  iso: string;
  isoSha256: string;
  httpDir: string;
}

// The installer (busybox sh): the lean initrd's /init names the virtio modules in order.
const INSTALLER = `#!/bb/busybox sh
/bb/busybox mkdir -p /bb /sys /target
/bb/busybox --install -s /bb
export PATH=/bb
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
exec </dev/console >/dev/console 2>&1
echo "kiln-installer: command line: $(cat /proc/cmdline)"
for m in $(grep -o '/lib/modules/[^ ;]*\\.ko' /init); do insmod "$m"; done
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
url=
for a in $(cat /proc/cmdline); do
  case "$a" in url=*) url="\${a#url=}" ;; esac
done
fail() { echo "kiln-installer: $*"; poweroff -f; sleep 60; }
[ -n "$url" ] || fail "no url= on the command line"
wget -q -O /answer.sh "$url" || fail "cannot fetch $url"
echo "kiln-installer: running the answer file from $url"
export url
sh -e /answer.sh || fail "the answer file failed"
echo "kiln-installer: installed; rebooting"
sync
reboot -f
sleep 60
`;

/** The answer file: what to install, and how the installed system boots. */
function answerFile(cmdline: string): string {
  return `# kiln's test answer file, run by the installer with sh -e
base=\${url%/*}
n=0
while [ ! -b /dev/vda ]; do sleep 0.05; n=$((n + 1)); [ $n -lt 200 ]; done
mke2fs -F -b 4096 -L root /dev/vda
mount -t ext4 /dev/vda /target
wget -q -O - "$base/rootfs.tar" | tar -x -C /target
test -x /target/usr/sbin/sshd
wget -q -O /target/boot/vmlinuz "$base/vmlinuz"
wget -q -O /target/boot/initrd.img "$base/initrd.img"
cat /proc/cmdline > /target/etc/kiln-installed
mkdir -p /target/boot/extlinux
cat > /target/boot/extlinux/extlinux.conf <<'EOF'
SERIAL 0 115200
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
  LINUX /boot/vmlinuz
  INITRD /boot/initrd.img
  APPEND ${cmdline}
EOF
extlinux --install /target/boot/extlinux
umount /target
`;
}

const ISOLINUX_CFG = `SERIAL 0 115200
PROMPT 1
TIMEOUT 0
DEFAULT install
LABEL install
  KERNEL /vmlinuz
  APPEND initrd=/initrd.img rdinit=/installer console=ttyS0 quiet
`;

async function must(file: string, args: string[]): Promise<void> {
  const r = await run(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

/** Makes the ISO and the HTTP directory under `dir`. Needs root (debugfs keeps owners), xorriso, isolinux, busybox-static, extlinux. */
export async function makeInstallerMedia(dir: string, base: BaseBoot): Promise<InstallerMedia> {
  const isoDir = join(dir, 'iso-tree');
  const httpDir = join(dir, 'http');
  const rootfs = join(dir, 'rootfs');
  const raw = join(dir, 'base.raw');
  await mkdir(join(isoDir, 'isolinux'), { recursive: true });
  await mkdir(httpDir, { recursive: true });
  await mkdir(rootfs, { recursive: true });

  // The base's root file system as a tarball: read from its ext4 without mounting it.
  await must('qemu-img', ['convert', '-O', 'raw', base.disk, raw]);
  await must('debugfs', ['-R', `rdump / ${rootfs}`, raw]);
  await rm(raw, { force: true });
  await must('tar', ['-C', rootfs, '-cf', join(httpDir, 'rootfs.tar'), '.']);
  await rm(rootfs, { recursive: true, force: true });
  await copyFile(base.kernel, join(httpDir, 'vmlinuz'));
  await copyFile(base.initrd, join(httpDir, 'initrd.img'));
  await writeFile(join(httpDir, 'answer.sh'), answerFile(base.cmdline));

  // The installer's initrd: the lean one, then an archive the kernel unpacks over it.
  const file = async (path: string, from: string, mode = 0o755): Promise<CpioEntry> => ({
    type: 'file',
    path,
    data: await readFile(from),
    mode,
  });
  const overlay = writeCpio([
    { type: 'dir', path: 'bb' },
    { type: 'dir', path: 'sys' },
    { type: 'dir', path: 'target' },
    { type: 'dir', path: 'lib64' },
    { type: 'dir', path: 'lib' },
    { type: 'dir', path: 'lib/x86_64-linux-gnu' },
    await file('bb/busybox', '/bin/busybox'),
    await file('bb/extlinux', '/usr/bin/extlinux'),
    await file('lib64/ld-linux-x86-64.so.2', '/lib64/ld-linux-x86-64.so.2'),
    await file('lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6'),
    { type: 'file', path: 'installer', data: Buffer.from(INSTALLER), mode: 0o755 },
  ]);
  await writeFile(
    join(isoDir, 'initrd.img'),
    Buffer.concat([await readFile(base.initrd), overlay]),
  );
  await copyFile(base.kernel, join(isoDir, 'vmlinuz'));
  await copyFile('/usr/lib/ISOLINUX/isolinux.bin', join(isoDir, 'isolinux/isolinux.bin'));
  await copyFile(
    '/usr/lib/syslinux/modules/bios/ldlinux.c32',
    join(isoDir, 'isolinux/ldlinux.c32'),
  );
  await writeFile(join(isoDir, 'isolinux/isolinux.cfg'), ISOLINUX_CFG);
  const iso = join(dir, 'installer.iso');
  await must('xorriso', [
    '-as',
    'mkisofs',
    '-quiet',
    '-o',
    iso,
    '-V',
    'KILN_INSTALLER',
    '-b',
    'isolinux/isolinux.bin',
    '-c',
    'isolinux/boot.cat',
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-boot-info-table',
    '-R',
    '-J',
    isoDir,
  ]);
  await rm(isoDir, { recursive: true, force: true });
  const isoSha256 = createHash('sha256')
    .update(await readFile(iso))
    .digest('hex');
  return { iso, isoSha256, httpDir };
}
