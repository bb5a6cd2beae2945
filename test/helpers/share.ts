/**
 * For the push/pull tests: kiln homes that hold a small image chain made without a VM (a
 * random-data qcow2 imported with a kernel and initrd, and an overlay on it registered as
 * its child), Docker config directories with given credentials, and the check that a
 * failed pull left nothing in a home.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Catalog } from '../../src/catalog/index.js';
import { run } from '../../src/lib/exec.js';
import { kiln } from './kiln.js';

/** A two-image chain in a kiln home: the ids, and the files they were made from. */
export interface TinyChain {
  home: string;
  base: string;
  child: string;
}

/**
 * Makes a kiln home with `tiny-base` (6 MiB of random data, so its layer stays ~6 MiB
 * compressed, with a kernel and initrd) and `tiny-release`, an overlay on it.
 */
export async function tinyChain(env: Record<string, string>): Promise<TinyChain> {
  const home = await mkdtemp(join(tmpdir(), 'kiln-test-share-home-'));
  const src = await mkdtemp(join(tmpdir(), 'kiln-test-share-src-'));
  writeFileSync(join(src, 'base.raw'), randomBytes(6 << 20));
  await run('qemu-img', [
    'convert',
    '-q',
    '-f',
    'raw',
    '-O',
    'qcow2',
    join(src, 'base.raw'),
    join(src, 'base.qcow2'),
  ]);
  writeFileSync(join(src, 'vmlinuz'), randomBytes(64 << 10));
  writeFileSync(join(src, 'initrd.img'), randomBytes(32 << 10));
  const r = await kiln(
    [
      'images',
      'import',
      join(src, 'base.qcow2'),
      '--kernel',
      join(src, 'vmlinuz'),
      '--initrd',
      join(src, 'initrd.img'),
      '--name',
      'tiny-base',
    ],
    { home, env },
  );
  if (r.code !== 0) throw new Error(`kiln images import failed: ${r.stderr}`);
  const base = r.stdout.trim();
  using catalog = Catalog.open(home);
  const baseRec = catalog.images.get(base)!;
  const child = catalog.images.newId();
  const dir = join(catalog.imagesDir, child);
  mkdirSync(dir, { mode: 0o700 });
  const disk = join(dir, 'disk.qcow2');
  await run('qemu-img', [
    'create',
    '-q',
    '-f',
    'qcow2',
    '-b',
    baseRec.files[0]!,
    '-F',
    'qcow2',
    disk,
  ]);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 1M 1M', disk]);
  const md = baseRec.metadata as Record<string, unknown>;
  catalog.images.register({
    id: child,
    name: 'tiny-release',
    builder: 'qemu',
    parentId: base,
    files: [disk],
    format: 'qcow2',
    inputHash: `sha256:${'ab'.repeat(32)}`,
    tags: ['tiny-release'],
    metadata: { kernel: md.kernel, initrd: md.initrd, cmdline: md.cmdline, cpus: 1, memoryMb: 512 },
  });
  await run('rm', ['-rf', src]);
  return { home, base, child };
}

/** A Docker config directory whose `auths` give `registry` these credentials (none: empty). */
export async function dockerConfig(
  auths: Record<string, { username: string; password: string }> = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-test-docker-'));
  const entries = Object.fromEntries(
    Object.entries(auths).map(([reg, c]) => [
      reg,
      { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') },
    ]),
  );
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: entries }));
  return dir;
}

/** Every file under `home` (and image directory) except the catalog database and the caches: what a run left. */
export function filesLeft(home: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        // An image directory, even empty, is something a failed pull must not leave.
        if (dir === join(home, 'images')) out.push(`${relative(home, p)}/`);
        walk(p);
      } else out.push(relative(home, p));
    }
  };
  walk(home);
  return out.filter(
    (f) =>
      !/^catalog\.db(-wal|-shm)?$/.test(f) && f !== 'digests.json' && !f.startsWith('registry/'),
  );
}

/** The catalog of `home` as a failed run must leave it: no image, no unfinished run. */
export function catalogState(home: string): { images: string[]; orphanedRuns: number } {
  using catalog = Catalog.open(home);
  return {
    images: catalog.images.list().map((i) => i.id),
    orphanedRuns: catalog.journal.orphaned().length,
  };
}
