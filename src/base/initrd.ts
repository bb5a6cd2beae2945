/**
 * A lean initrd for direct kernel boot of a Debian tree: klibc's shell, insmod, mount and
 * run-init, the virtio modules, and a 20-line /init. Debian's cloud kernel has ext4 built
 * in but virtio as modules, so an initrd is needed; Debian's own is 15 MB and starts udev,
 * which costs ~3 s under TCG. This one is a few hundred kilobytes.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../lib/errors.js';
import { type CpioEntry, writeCpio } from './cpio.js';

/** Modules the initrd loads, in order; their dependencies are added from modules.dep. */
export const INITRD_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_rng'] as const;

const KLIBC_TOOLS = ['sh', 'insmod', 'mount', 'run-init', 'sleep', 'poweroff', 'cat', 'ipconfig'];

/** The /init script (klibc sh): load modules, wait for the root device, mount it, switch to systemd. */
export function initScript(modules: readonly string[]): string {
  return `#!/bin/sh
# kiln's lean initrd: load virtio, mount root, exec the real init.
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
exec </dev/console >/dev/console 2>&1
root=/dev/vda
fstype=ext4
mode=rw
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="\${arg#root=}" ;;
    rootfstype=*) fstype="\${arg#rootfstype=}" ;;
    ro) mode=ro ;;
    rw) mode=rw ;;
    ip=*) ip="\${arg#ip=}" ;;
  esac
done
for m in ${modules.map((m) => `/lib/modules/${m}.ko`).join(' ')}; do
  insmod "$m" 2>/dev/null
done
# ip= (the kernel's syntax): the address is set here, before systemd, so that no network
# daemon has to start on the boot's critical path (systemd-networkd skips itself then).
if [ -n "\${ip:-}" ]; then
  ipconfig -t 5 -d "$ip" >/dev/null || echo "kiln-initrd: ipconfig $ip failed"
fi
n=0
while [ ! -b "$root" ]; do
  n=$((n + 1))
  if [ "$n" -gt 200 ]; then
    echo "kiln-initrd: root device $root did not appear; powering off"
    poweroff -f
  fi
  sleep 0.05
done
if ! mount -t "$fstype" -o "$mode" "$root" /root; then
  echo "kiln-initrd: cannot mount $root ($fstype); powering off"
  poweroff -f
fi
mount -o move /dev /root/dev
mount -o move /proc /root/proc
exec run-init /root /sbin/init "$@"
`;
}

/**
 * Builds the lean initrd from a Debian tree (klibc-utils and a kernel installed) and
 * returns it as an uncompressed cpio archive. Throws a UserError when the tree lacks what it needs.
 */
export async function buildLeanInitrd(rootfs: string, kernelVersion: string): Promise<Buffer> {
  const klibcSo = (await readdir(join(rootfs, 'usr/lib')).catch(() => [] as string[])).find((f) =>
    /^klibc-.*\.so$/.test(f),
  );
  if (!klibcSo) {
    throw new UserError('InitrdNoKlibc', `no klibc in ${rootfs}/usr/lib`, {
      hint: 'install klibc-utils in the tree (Debian: it comes with initramfs-tools)',
    });
  }
  const modDir = join(rootfs, 'lib/modules', kernelVersion);
  const depText = await readFile(join(modDir, 'modules.dep'), 'utf8').catch(() => {
    throw new UserError('InitrdNoModules', `no modules.dep in ${modDir}`, {
      hint: 'is the kernel installed in the tree?',
    });
  });
  const order = moduleLoadOrder(depText, INITRD_MODULES);

  const entries: CpioEntry[] = [
    { type: 'dir', path: 'bin' },
    { type: 'dir', path: 'dev' },
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { type: 'dir', path: 'lib' },
    { type: 'dir', path: 'lib/modules' },
    { type: 'dir', path: 'proc' },
    { type: 'dir', path: 'root' },
    {
      type: 'file',
      path: `lib/${klibcSo}`,
      data: await readFile(join(rootfs, 'usr/lib', klibcSo)),
      mode: 0o755,
    },
  ];
  for (const tool of KLIBC_TOOLS) {
    entries.push({
      type: 'file',
      path: `bin/${tool}`,
      data: await readFile(join(rootfs, 'usr/lib/klibc/bin', tool)),
      mode: 0o755,
    });
  }
  for (const m of order) {
    entries.push({
      type: 'file',
      path: `lib/modules/${m.name}.ko`,
      data: await readFile(join(modDir, m.path)),
    });
  }
  entries.push({
    type: 'file',
    path: 'init',
    data: Buffer.from(initScript(order.map((m) => m.name))),
    mode: 0o755,
  });
  return writeCpio(entries);
}

/** Resolves modules and their dependencies (from modules.dep) into a load order, dependencies first. */
export function moduleLoadOrder(
  depText: string,
  wanted: readonly string[],
): Array<{ name: string; path: string }> {
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of depText.split('\n')) {
    const [path, rest] = line.split(':');
    if (!path || rest === undefined) continue;
    deps.set(nameOf(path), {
      path,
      deps: rest.trim() === '' ? [] : rest.trim().split(/\s+/).map(nameOf),
    });
  }
  const out: Array<{ name: string; path: string }> = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const d = deps.get(name);
    if (!d)
      throw new UserError('InitrdModuleMissing', `kernel module ${name} not found in modules.dep`);
    // modules.dep lists a module's dependencies nearest first; load the farthest first.
    for (const dep of [...d.deps].reverse()) visit(dep);
    out.push({ name, path: d.path });
  };
  for (const w of wanted) visit(w);
  return out;
}

function nameOf(path: string): string {
  return path
    .split('/')
    .at(-1)!
    .replace(/\.ko(\.\w+)?$/, '')
    .replace(/-/g, '_');
}
