/**
 * A small catalog in a temp KILN_HOME for CLI tests that need images but no VM: a base →
 * build → dev chain of real (small) files, with fixed ids so prefixes can be chosen.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog, type ImageRecord, type NewImage } from '../../src/catalog/index.js';

export interface SmallCatalog {
  root: string;
  home: string;
  base: ImageRecord;
  build: ImageRecord;
  dev: ImageRecord;
}

/** Registers `debian-base` (tag debian-12), `hello-web-build` and `hello-web-dev` (tag dev). */
export function smallCatalog(
  extra: Partial<Record<'base' | 'build' | 'dev', Partial<NewImage>>> = {},
): SmallCatalog {
  const root = mkdtempSync(join(tmpdir(), 'kiln-small-'));
  const home = join(root, 'home');
  const catalog = Catalog.open(home);
  try {
    const file = (name: string, bytes: number) => {
      const dir = join(catalog.imagesDir, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'disk.qcow2'), Buffer.alloc(bytes, 1));
      return join(dir, 'disk.qcow2');
    };
    const base = catalog.images.register({
      id: 'img-0ff9a1b2c3d4e5f60',
      name: 'debian-base',
      builder: 'base',
      files: [file('base', 200_000)],
      tags: ['debian-12'],
      ...extra.base,
    });
    const build = catalog.images.register({
      id: 'img-0fe123456789abcde',
      name: 'hello-web-build',
      builder: 'qemu',
      parentId: base.id,
      files: [file('build', 30_000)],
      ...extra.build,
    });
    const dev = catalog.images.register({
      id: 'img-7a1234567890abcde',
      name: 'hello-web-dev',
      builder: 'qemu',
      parentId: build.id,
      files: [file('dev', 5_000)],
      tags: ['dev'],
      ...extra.dev,
    });
    return { root, home, base, build, dev };
  } finally {
    catalog.close();
  }
}
