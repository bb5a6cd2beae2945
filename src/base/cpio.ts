/**
 * A writer for the cpio "newc" format, the one the Linux kernel unpacks as an initramfs.
 * kiln builds its own tiny initrd (a few kilobytes of klibc tools and the virtio
 * modules) instead of Debian's 15 MB one: under TCG every megabyte unpacked and every
 * process started in the initrd costs boot time.
 */

/** One entry of an archive: a directory, a regular file, a symlink or a character device. */
export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** Serialises entries (in the order given: parents before children) into a newc archive with its trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    let mode: number;
    let data: Buffer = Buffer.alloc(0);
    let rmaj = 0;
    let rmin = 0;
    switch (e.type) {
      case 'dir':
        mode = S_IFDIR | (e.mode ?? 0o755);
        break;
      case 'file':
        mode = S_IFREG | (e.mode ?? 0o644);
        data = e.data;
        break;
      case 'symlink':
        mode = S_IFLNK | 0o777;
        data = Buffer.from(e.target);
        break;
      case 'chardev':
        mode = S_IFCHR | (e.mode ?? 0o600);
        rmaj = e.major;
        rmin = e.minor;
        break;
    }
    parts.push(...record(name, mode, data, ino++, rmaj, rmin, e.type === 'dir' ? 2 : 1));
  }
  parts.push(...record('TRAILER!!!', 0, Buffer.alloc(0), 0, 0, 0, 1));
  const out = Buffer.concat(parts);
  // The kernel does not need it, but cpio tools expect a 512-byte multiple.
  const padTo = Math.ceil(out.length / 512) * 512;
  return Buffer.concat([out, Buffer.alloc(padTo - out.length)]);
}

function record(
  name: string,
  mode: number,
  data: Buffer,
  ino: number,
  rmaj: number,
  rmin: number,
  nlink: number,
): Buffer[] {
  const nameBuf = Buffer.from(`${name}\0`);
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  const header = Buffer.from(
    `070701${hex(ino)}${hex(mode)}${hex(0)}${hex(0)}${hex(nlink)}${hex(0)}${hex(data.length)}` +
      `${hex(0)}${hex(0)}${hex(rmaj)}${hex(rmin)}${hex(nameBuf.length)}${hex(0)}`,
  );
  return [header, nameBuf, pad(110 + nameBuf.length), data, pad(data.length)];
}

function pad(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}
