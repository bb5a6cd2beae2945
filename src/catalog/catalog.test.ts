import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KilnError, UserError } from '../core/errors.js';
import { editDistance, idPrefixOf, isImageId, newId } from './ids.js';
import { Catalog, imageForest } from './index.js';

let root: string;
let home: string;
let catalog: Catalog;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-catalog-'));
  home = join(root, 'home');
  catalog = Catalog.open(home);
});

afterEach(() => {
  catalog.close();
  rmSync(root, { recursive: true, force: true });
});

/** Writes a file of `bytes` bytes under the images dir (in its own directory) and returns its path. */
function imageFile(dir: string, bytes = 10_000): string {
  const d = join(catalog.imagesDir, dir);
  mkdirSync(d, { recursive: true });
  const f = join(d, 'disk.qcow2');
  writeFileSync(f, Buffer.alloc(bytes, 1));
  return f;
}

function thrown(fn: () => unknown): KilnError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KilnError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('ids', () => {
  it('are img- or ami- plus 17 lowercase hex digits, and differ', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId('img')));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^img-[0-9a-f]{17}$/);
    expect(catalog.newImageId('ami')).toMatch(/^ami-[0-9a-f]{17}$/);
    expect(isImageId(catalog.newImageId())).toBe(true);
    expect(isImageId('ami-0123abcd')).toBe(true);
    expect(isImageId('img-0123abcd')).toBe(false);
    expect(isImageId('IMG-0123456789abcdef0')).toBe(false);
  });

  it('accept prefixes of at least six hex digits', () => {
    expect(idPrefixOf('img-abcdef')).toEqual({ kind: 'img', hex: 'abcdef' });
    expect(idPrefixOf('abcdef1')).toEqual({ hex: 'abcdef1' });
    expect(idPrefixOf('img-abcde')).toBeUndefined();
    expect(idPrefixOf('hello')).toBeUndefined();
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});

describe('open', () => {
  it('creates home and images 0700 with WAL, foreign keys and the latest schema', () => {
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(statSync(catalog.imagesDir).mode & 0o777).toBe(0o700);
    const db = catalog.database;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
  });
});

describe('registerImage', () => {
  it('records the image, measures it and makes its files read-only', () => {
    const file = imageFile('a', 10_000);
    const image = catalog.registerImage({
      name: 'base',
      builder: 'base',
      files: [file],
      tags: ['stable'],
    });
    expect(image.id).toMatch(/^img-[0-9a-f]{17}$/);
    expect(image.status).toBe('ready');
    expect(image.tags).toEqual(['stable']);
    expect(image.sizeBytes).toBe(statSync(file).blocks * 512);
    expect(image.sizeBytes).toBeGreaterThanOrEqual(10_000);
    expect(statSync(file).mode & 0o777).toBe(0o444);
    expect(catalog.getImage(image.id)).toEqual(image);
  });

  it('refuses an unknown parent or a missing file, changing nothing', () => {
    const file = imageFile('b');
    const e1 = thrown(() =>
      catalog.registerImage({
        name: 'x',
        builder: 'qemu',
        files: [file],
        parentId: 'img-00000000000000000',
      }),
    );
    expect(e1).toBeInstanceOf(UserError);
    expect(e1.code).toBe('ParentImageNotFound');
    expect(statSync(file).mode & 0o200).toBe(0o200);
    const e2 = thrown(() =>
      catalog.registerImage({ name: 'x', builder: 'qemu', files: [join(root, 'nope.qcow2')] }),
    );
    expect(e2.code).toBe('ImageFileMissing');
    expect(catalog.listImages()).toEqual([]);
  });

  it('keeps a given AMI id and refuses it twice', () => {
    const ami = catalog.newImageId('ami');
    const image = catalog.registerImage({
      id: ami,
      name: 'web',
      builder: 'amazon-ebs',
      files: [],
      sizeBytes: 8e9,
    });
    expect(image.id).toBe(ami);
    expect(image.sizeBytes).toBe(8e9);
    expect(
      thrown(() =>
        catalog.registerImage({ id: ami, name: 'web', builder: 'amazon-ebs', files: [] }),
      ).code,
    ).toBe('ImageExists');
  });
});

describe('resolveImage', () => {
  it('finds by id, prefix, tag and name (newest wins)', () => {
    const a = catalog.registerImage({
      id: 'img-aaaaaa00000000001',
      name: 'web',
      builder: 'qemu',
      files: [imageFile('a')],
    });
    const b = catalog.registerImage({
      id: 'img-aaaaaa00000000002',
      name: 'web',
      builder: 'qemu',
      files: [imageFile('b')],
    });
    const c = catalog.registerImage({
      id: 'img-bbbbbb00000000003',
      name: 'db',
      builder: 'qemu',
      files: [imageFile('c')],
      tags: ['prod'],
    });
    expect(catalog.resolveImage(a.id).id).toBe(a.id);
    expect(catalog.resolveImage('img-bbbbbb').id).toBe(c.id);
    expect(catalog.resolveImage('bbbbbb00').id).toBe(c.id);
    expect(catalog.resolveImage('prod').id).toBe(c.id);
    expect(catalog.resolveImage('web').id).toBe(b.id);
    const amb = thrown(() => catalog.resolveImage('img-aaaaaa'));
    expect(amb.code).toBe('AmbiguousImage');
    expect(amb.details.join('\n')).toContain(a.id);
    expect(amb.details.join('\n')).toContain(b.id);
  });

  it('names close matches and the ls hint when nothing matches', () => {
    catalog.registerImage({ name: 'hello-web-build', builder: 'qemu', files: [imageFile('a')] });
    const e = thrown(() => catalog.resolveImage('hello-web-biuld'));
    expect(e).toBeInstanceOf(UserError);
    expect(e.code).toBe('ImageNotFound');
    expect(e.details.join('\n')).toContain('hello-web-build');
    expect(e.hint).toContain('kiln images ls');
    expect(thrown(() => catalog.resolveImage('zzzzzzzzzzzzzzzzzzzz')).details).toEqual([]);
  });
});

describe('lineage', () => {
  it('follows parents to the root and arranges trees', () => {
    const base = catalog.registerImage({
      name: 'base',
      builder: 'base',
      files: [imageFile('base')],
    });
    const build = catalog.registerImage({
      name: 'build',
      builder: 'qemu',
      parentId: base.id,
      files: [imageFile('build')],
    });
    const dev = catalog.registerImage({
      name: 'dev',
      builder: 'qemu',
      parentId: build.id,
      files: [imageFile('dev')],
    });
    const prod = catalog.registerImage({
      name: 'prod',
      builder: 'qemu',
      parentId: build.id,
      files: [imageFile('prod')],
    });
    expect(catalog.lineage(dev.id).map((i) => i.name)).toEqual(['dev', 'build', 'base']);
    expect(catalog.lineage('img-00000000000000000')).toEqual([]);
    expect(catalog.children(build.id).map((i) => i.id)).toEqual([dev.id, prod.id]);
    const forest = imageForest(catalog.listImages());
    expect(forest).toHaveLength(1);
    expect(forest[0]!.image.id).toBe(base.id);
    expect(forest[0]!.children[0]!.children.map((n) => n.image.name)).toEqual(['dev', 'prod']);
  });
});

describe('removeImage', () => {
  it('refuses an image with children or running instances, naming them', () => {
    const base = catalog.registerImage({
      name: 'base',
      builder: 'base',
      files: [imageFile('base')],
    });
    const kid = catalog.registerImage({
      name: 'kid',
      builder: 'qemu',
      parentId: base.id,
      files: [imageFile('kid')],
    });
    const e = thrown(() => catalog.removeImage(base.id));
    expect(e.code).toBe('ImageHasChildren');
    expect(e.details.join('\n')).toContain(kid.id);
    expect(e.hint).toContain(`kiln images rm ${kid.id} ${base.id}`);
    expect(e.hint).toContain('no --force');
    const inst = catalog.addInstance({ imageId: kid.id, backend: 'local', name: 'web-1' });
    const e2 = thrown(() => catalog.removeImage(kid.id));
    expect(e2.code).toBe('ImageInUse');
    expect(e2.details.join('\n')).toContain(inst.id);
    expect(catalog.listImages()).toHaveLength(2);
    expect(statSync(kid.files[0]!).isFile()).toBe(true);
  });

  it('deletes the row, tags, stopped instances, files and the empty image directory', () => {
    const file = imageFile('gone');
    const image = catalog.registerImage({
      name: 'gone',
      builder: 'qemu',
      files: [file],
      tags: ['t1'],
    });
    const overlay = join(root, 'overlay.qcow2');
    writeFileSync(overlay, 'x');
    const inst = catalog.addInstance({ imageId: image.id, backend: 'local', files: [overlay] });
    catalog.updateInstance(inst.id, { state: 'stopped', pid: null });
    catalog.removeImage(image.id);
    expect(catalog.getImage(image.id)).toBeUndefined();
    expect(catalog.getInstance(inst.id)).toBeUndefined();
    expect(statSync(file, { throwIfNoEntry: false })).toBeUndefined();
    expect(statSync(join(catalog.imagesDir, 'gone'), { throwIfNoEntry: false })).toBeUndefined();
    expect(statSync(overlay, { throwIfNoEntry: false })).toBeUndefined();
    expect(() => catalog.resolveImage('t1')).toThrow(UserError);
    expect(catalog.database.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(0);
  });
  it('keeps a file that another image still lists', () => {
    const kernel = join(root, 'vmlinuz');
    writeFileSync(kernel, 'kernel');
    const a = catalog.registerImage({
      name: 'a',
      builder: 'qemu',
      files: [imageFile('a'), kernel],
    });
    const b = catalog.registerImage({
      name: 'b',
      builder: 'qemu',
      files: [imageFile('b'), kernel],
    });
    catalog.removeImage(a.id);
    expect(statSync(kernel).isFile()).toBe(true);
    expect(statSync(a.files[0]!, { throwIfNoEntry: false })).toBeUndefined();
    catalog.removeImage(b.id);
    expect(statSync(kernel, { throwIfNoEntry: false })).toBeUndefined();
  });
});

describe('tags', () => {
  it('move between images and are checked', () => {
    const a = catalog.registerImage({ name: 'a', builder: 'qemu', files: [imageFile('a')] });
    const b = catalog.registerImage({ name: 'b', builder: 'qemu', files: [imageFile('b')] });
    catalog.addTag(a.id, 'live');
    catalog.addTag(b.id, 'live');
    expect(catalog.getImage(a.id)!.tags).toEqual([]);
    expect(catalog.resolveImage('live').id).toBe(b.id);
    expect(thrown(() => catalog.removeTag(a.id, 'live')).code).toBe('TagNotFound');
    catalog.removeTag(b.id, 'live');
    expect(catalog.getImage(b.id)!.tags).toEqual([]);
    expect(thrown(() => catalog.addTag(a.id, 'has space')).code).toBe('InvalidTag');
    expect(thrown(() => catalog.addTag(a.id, b.id)).code).toBe('InvalidTag');
  });
});

describe('reconciliation at open', () => {
  it('marks an image whose disk is gone as missing, and restores its status when it returns', () => {
    const file = imageFile('r');
    const image = catalog.registerImage({ name: 'r', builder: 'qemu', files: [file] });
    catalog.setStatus(image.id, 'failed');
    catalog.close();
    rmSync(file);
    catalog = Catalog.open(home);
    expect(catalog.getImage(image.id)!.status).toBe('missing');
    catalog.close();
    writeFileSync(file, 'back');
    catalog = Catalog.open(home);
    expect(catalog.getImage(image.id)!.status).toBe('failed');
  });

  it('lists stray entries under imagesDir that nothing refers to', () => {
    catalog.registerImage({ name: 'kept', builder: 'qemu', files: [imageFile('kept')] });
    const stray = join(catalog.imagesDir, 'img-leftover');
    mkdirSync(stray);
    const busy = join(catalog.imagesDir, 'being-built');
    catalog.beginRun('run-1', process.pid, 'test');
    catalog.recordResource({ runId: 'run-1', kind: 'dir', ref: busy });
    mkdirSync(busy);
    expect(catalog.strayPaths()).toEqual([stray]);
  });
});

describe('instances', () => {
  it('are recorded, updated and removed', () => {
    const image = catalog.registerImage({ name: 'i', builder: 'qemu', files: [imageFile('i')] });
    const inst = catalog.addInstance({
      imageId: image.id,
      backend: 'local',
      pid: 42,
      ports: [{ host: 8080, guest: 8080 }],
    });
    expect(inst.id).toMatch(/^i-[0-9a-f]{17}$/);
    expect(inst.state).toBe('running');
    catalog.updateInstance(inst.id, { state: 'stopped', metadata: { exit: 0 } });
    expect(catalog.getInstance(inst.id)).toMatchObject({
      state: 'stopped',
      pid: 42,
      metadata: { exit: 0 },
    });
    expect(catalog.listInstances()).toHaveLength(1);
    catalog.removeInstance(inst.id);
    expect(catalog.listInstances()).toEqual([]);
    expect(
      thrown(() => catalog.addInstance({ imageId: 'img-00000000000000000', backend: 'local' }))
        .code,
    ).toBe('ImageNotFound');
  });
});
