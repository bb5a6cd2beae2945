/**
 * RELIABILITY row 11 (disk full while the image is written) with `$KILN_HOME` on a small
 * tmpfs, and the image integrity rule (an image's sha256 is checked before it is used as
 * a source). Needs root (mount).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import {
  dumpCatalog,
  freeBytes,
  homeWithBase,
  kiln,
  leftovers,
  qemuPidsOf,
  qemuTemplate,
  whatWasLeft,
} from './helpers/faults.js';

let dir: string;
let small: string;
let home: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-rel-disk-'));
  small = join(dir, 'small');
  mkdirSync(small);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96m,mode=0700', 'tmpfs', small], {
    encoding: 'utf8',
  });
  if (m.status !== 0) throw new Error(`mounting a tmpfs needs root: ${m.stderr}`);
  home = (await homeWithBase(join(small, 'home'))).home;
});

afterAll(async () => {
  if (home) await kiln(home, ['gc']);
  for (const pid of home ? qemuPidsOf(home) : []) process.kill(pid, 'SIGKILL');
  spawnSync('umount', [small]);
  rmSync(dir, { recursive: true, force: true });
});

describe('disk full and integrity', () => {
  it('row 11: disk full while the image is written: reported, partial file removed, catalog unchanged, no space leaks across two runs', async () => {
    const before = leftovers(home);
    // The catalog's WAL settles after the first open; measure from there.
    const free0 = freeBytes(small);
    // Run 1: the guest writes more than the file system holds into the build's overlay.
    const fill = qemuTemplate(dir, 'fill', {}, [
      {
        type: 'shell',
        inline: ['dd if=/dev/urandom of=/var/tmp/fill bs=1M count=300 status=none', 'sync'],
      },
    ]);
    const r1 = await kiln(home, ['build', '--no-cache', fill], { cwd: dir });
    console.info(`row 11, run 1:\n${r1.stderr}`);
    expect(r1.code, r1.output).toBe(1);
    expect(r1.stderr).toMatch(/no space left on the host for the build's disk/);
    expect(whatWasLeft(before, leftovers(home, [r1.tmp]))).toEqual([]);
    const free1 = freeBytes(small);
    // Run 2: a full copy of the source (use_backing_file false) does not fit either.
    const copy = qemuTemplate(dir, 'copy', { use_backing_file: false });
    const r2 = await kiln(home, ['build', '--no-cache', copy], { cwd: dir });
    expect(r2.code, r2.output).toBe(1);
    expect(r2.stderr).toMatch(/No space left on device/i);
    expect(r2.output).not.toMatch(/Starting VM/);
    expect(whatWasLeft(before, leftovers(home, [r2.tmp]))).toEqual([]);
    const free2 = freeBytes(small);
    // No space leaks: what the runs wrote is gone (1 MiB of slack for the catalog's WAL).
    expect(free0 - free1).toBeLessThan(1 << 20);
    expect(free0 - free2).toBeLessThan(1 << 20);
  });

  it('an image whose disk changed after registration is refused before it is used as a source', async () => {
    const catalog = Catalog.open(home);
    const base = catalog.images.resolve('debian-12');
    // A small child image: a qcow2 overlay on the base, registered with its sha256 as a build would.
    const imgDir = join(catalog.imagesDir, 'img-0123456789abcdef0');
    mkdirSync(imgDir, { mode: 0o700 });
    const disk = join(imgDir, 'disk.qcow2');
    const c = spawnSync('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'qcow2',
      '-b',
      base.files[0]!,
      disk,
    ]);
    expect(c.status).toBe(0);
    const { digestForRegistration } = await import('../src/catalog/digest.js');
    const sha256 = await digestForRegistration(home, disk);
    catalog.images.register({
      id: 'img-0123456789abcdef0',
      name: 'kiln-rel-tampered',
      builder: 'qemu',
      parentId: base.id,
      files: [disk],
      format: 'qcow2',
      sha256,
      metadata: base.metadata,
    });
    catalog.close();
    const before = leftovers(home);
    const tpl = qemuTemplate(dir, 'from-tampered', { source_image: 'kiln-rel-tampered' });
    // One byte range changed behind the catalog's back (the file made writable and back).
    chmodSync(disk, 0o644);
    appendFileSync(disk, Buffer.alloc(512, 1));
    chmodSync(disk, 0o444);
    const r = await kiln(home, ['build', '--no-cache', tpl], { cwd: dir });
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toMatch(
      /the disk of image img-0123456789abcdef0 \(kiln-rel-tampered\) does not match its recorded sha256/,
    );
    expect(r.stderr).toMatch(/recorded [0-9a-f]{64}\n\s*found +[0-9a-f]{64}/);
    expect(r.output).not.toMatch(/Starting VM/);
    expect(whatWasLeft(before, leftovers(home, [r.tmp]))).toEqual([]);
    expect(dumpCatalog(home).images!.length).toBe(2);
  });
});
