import { describe, expect, it } from 'vitest';
import { writeCpio } from './cpio.js';

/** Reads a newc archive back (enough of the format to check what the kernel will see). */
function readCpio(
  buf: Buffer,
): Array<{ name: string; mode: number; data: Buffer; rdev: [number, number] }> {
  const out: Array<{ name: string; mode: number; data: Buffer; rdev: [number, number] }> = [];
  let off = 0;
  const al = (n: number) => (n + 3) & ~3;
  for (;;) {
    const h = buf.subarray(off, off + 110).toString('ascii');
    expect(h.slice(0, 6)).toBe('070701');
    const f = (i: number) => Number.parseInt(h.slice(6 + i * 8, 14 + i * 8), 16);
    const nameLen = f(11);
    const size = f(6);
    const name = buf.subarray(off + 110, off + 110 + nameLen - 1).toString();
    off = al(off + 110 + nameLen);
    const data = buf.subarray(off, off + size);
    off = al(off + size);
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode: f(1), data, rdev: [f(9), f(10)] });
  }
  return out;
}

describe('writeCpio', () => {
  it('writes newc entries the kernel can unpack: dirs, files, symlinks, device nodes', () => {
    const buf = writeCpio([
      { type: 'dir', path: 'dev' },
      { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
      { type: 'file', path: '/init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
      { type: 'symlink', path: 'sbin', target: 'bin' },
    ]);
    expect(buf.length % 512).toBe(0);
    const entries = readCpio(buf);
    expect(entries.map((e) => e.name)).toEqual(['dev', 'dev/console', 'init', 'sbin']);
    expect(entries[1]!.mode).toBe(0o020600);
    expect(entries[1]!.rdev).toEqual([5, 1]);
    expect(entries[2]!.mode).toBe(0o100755);
    expect(entries[2]!.data.toString()).toBe('#!/bin/sh\n');
    expect(entries[3]!.data.toString()).toBe('bin');
  });
});
