/** What a qcow2 file's header says, read without qemu-img (a stat-cheap look-up). */
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * The backing file a qcow2 file names (absolute: a relative name is relative to the file's
 * directory, as QEMU reads it); undefined when it has none or is not a qcow2 file.
 */
export function qcow2BackingFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(20);
    if (readSync(fd, head, 0, 20, 0) < 20) return undefined;
    // Magic "QFI\xfb", version, backing_file_offset (u64), backing_file_size (u32), big-endian.
    if (head.readUInt32BE(0) !== 0x514649fb) return undefined;
    const offset = Number(head.readBigUInt64BE(8));
    const size = head.readUInt32BE(16);
    if (offset === 0 || size === 0 || size > 4096) return undefined;
    const name = Buffer.alloc(size);
    if (readSync(fd, name, 0, size, offset) < size) return undefined;
    return resolve(dirname(path), name.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}
