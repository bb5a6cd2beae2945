import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KilnError, UserError } from '../lib/errors.js';
import { editDistance, idPrefixOf, isImageId, newId } from './ids.js';
import { Catalog, imageForest } from './index.js';
import { currentVersion, LATEST_VERSION } from './schema.js';

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
    expect(catalog.images.newId('ami')).toMatch(/^ami-[0-9a-f]{17}$/);
    expect(isImageId(catalog.images.newId())).toBe(true);
    expect(isImageId('ami-0123abcd')).toBe(true);
    expect(isImageId('img-0123abcd')).toBe(false);
    expect(isImageId('IMG-0123456789abcdef0')).toBe(false);
  });

  it('accept prefixes of any length, with or without the kind, of the kinds asked for', () => {
    expect(idPrefixOf('img-abcdef')).toEqual({ kind: 'img', hex: 'abcdef' });
    expect(idPrefixOf('abcdef1')).toEqual({ hex: 'abcdef1' });
    expect(idPrefixOf('img-0ff9')).toEqual({ kind: 'img', hex: '0ff9' });
    expect(idPrefixOf('a')).toEqual({ hex: 'a' });
    expect(idPrefixOf('hello')).toBeUndefined();
    expect(idPrefixOf('i-0ff9')).toBeUndefined();
    expect(idPrefixOf('i-0ff9', ['i'])).toEqual({ kind: 'i', hex: '0ff9' });
    expect(idPrefixOf('img-0ff9', ['i'])).toBeUndefined();
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
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
  });
});

describe('registerImage', () => {
  it('records the image, measures it and makes its files read-only', () => {
    const file = imageFile('a', 10_000);
    const image = catalog.images.register({
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
    expect(catalog.images.get(image.id)).toEqual(image);
  });

  it('refuses an unknown parent or a missing file, changing nothing', () => {
    const file = imageFile('b');
    const e1 = thrown(() =>
      catalog.images.register({
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
      catalog.images.register({ name: 'x', builder: 'qemu', files: [join(root, 'nope.qcow2')] }),
    );
    expect(e2.code).toBe('ImageFileMissing');
    expect(catalog.images.list()).toEqual([]);
  });

  it('keeps a given AMI id and refuses it twice', () => {
    const ami = catalog.images.newId('ami');
    const image = catalog.images.register({
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
        catalog.images.register({ id: ami, name: 'web', builder: 'amazon-ebs', files: [] }),
      ).code,
    ).toBe('ImageExists');
  });
});

describe('resolveImage', () => {
  it('finds by id, prefix, tag and name (newest wins)', () => {
    const a = catalog.images.register({
      id: 'img-aaaaaa00000000001',
      name: 'web',
      builder: 'qemu',
      files: [imageFile('a')],
    });
    const b = catalog.images.register({
      id: 'img-aaaaaa00000000002',
      name: 'web',
      builder: 'qemu',
      files: [imageFile('b')],
    });
    const c = catalog.images.register({
      id: 'img-bbbbbb00000000003',
      name: 'db',
      builder: 'qemu',
      files: [imageFile('c')],
      tags: ['prod'],
    });
    expect(catalog.images.resolve(a.id).id).toBe(a.id);
    expect(catalog.images.resolve('img-bbbbbb').id).toBe(c.id);
    expect(catalog.images.resolve('bbbbbb00').id).toBe(c.id);
    expect(catalog.images.resolve('prod').id).toBe(c.id);
    expect(catalog.images.resolve('web').id).toBe(b.id);
    const amb = thrown(() => catalog.images.resolve('img-aaaaaa'));
    expect(amb.code).toBe('AmbiguousImage');
    expect(amb.details.join('\n')).toContain(a.id);
    expect(amb.details.join('\n')).toContain(b.id);
  });

  it('takes any unique prefix, however short, and lists the candidates of an ambiguous one', () => {
    const a = catalog.images.register({
      id: 'img-0ff9a000000000001',
      name: 'web',
      builder: 'qemu',
      files: [imageFile('a')],
    });
    const b = catalog.images.register({
      id: 'img-0fe1b000000000002',
      name: 'db',
      builder: 'qemu',
      files: [imageFile('b')],
    });
    expect(catalog.images.resolve('img-0ff9').id).toBe(a.id);
    expect(catalog.images.resolve('0ff').id).toBe(a.id);
    expect(catalog.images.resolve('0fe').id).toBe(b.id);
    const amb = thrown(() => catalog.images.resolve('img-0f'));
    expect(amb.code).toBe('AmbiguousImage');
    expect(amb.details).toEqual([`${b.id} (db)`, `${a.id} (web)`]);
    expect(thrown(() => catalog.images.resolve('img-0ffa')).code).toBe('ImageNotFound');
  });

  it('names close matches and the ls hint when nothing matches', () => {
    catalog.images.register({ name: 'hello-web-build', builder: 'qemu', files: [imageFile('a')] });
    const e = thrown(() => catalog.images.resolve('hello-web-biuld'));
    expect(e).toBeInstanceOf(UserError);
    expect(e.code).toBe('ImageNotFound');
    expect(e.details.join('\n')).toContain('hello-web-build');
    expect(e.hint).toContain('kiln images ls');
    expect(thrown(() => catalog.images.resolve('zzzzzzzzzzzzzzzzzzzz')).details).toEqual([]);
  });
});

describe('lineage', () => {
  it('follows parents to the root and arranges trees', () => {
    const base = catalog.images.register({
      name: 'base',
      builder: 'base',
      files: [imageFile('base')],
    });
    const build = catalog.images.register({
      name: 'build',
      builder: 'qemu',
      parentId: base.id,
      files: [imageFile('build')],
    });
    const dev = catalog.images.register({
      name: 'dev',
      builder: 'qemu',
      parentId: build.id,
      files: [imageFile('dev')],
    });
    const prod = catalog.images.register({
      name: 'prod',
      builder: 'qemu',
      parentId: build.id,
      files: [imageFile('prod')],
    });
    expect(catalog.images.lineage(dev.id).map((i) => i.name)).toEqual(['dev', 'build', 'base']);
    expect(catalog.images.lineage('img-00000000000000000')).toEqual([]);
    expect(catalog.images.children(build.id).map((i) => i.id)).toEqual([dev.id, prod.id]);
    const forest = imageForest(catalog.images.list());
    expect(forest).toHaveLength(1);
    expect(forest[0]!.image.id).toBe(base.id);
    expect(forest[0]!.children[0]!.children.map((n) => n.image.name)).toEqual(['dev', 'prod']);
  });
});

describe('removeImage', () => {
  it('refuses an image with children or running instances, naming them', () => {
    const base = catalog.images.register({
      name: 'base',
      builder: 'base',
      files: [imageFile('base')],
    });
    const kid = catalog.images.register({
      name: 'kid',
      builder: 'qemu',
      parentId: base.id,
      files: [imageFile('kid')],
    });
    const e = thrown(() => catalog.images.remove(base.id));
    expect(e.code).toBe('ImageHasChildren');
    expect(e.details.join('\n')).toContain(kid.id);
    expect(e.hint).toContain(`kiln images rm ${kid.id} ${base.id}`);
    expect(e.hint).toContain('no --force');
    const inst = catalog.instances.add({ imageId: kid.id, backend: 'local', name: 'web-1' });
    const e2 = thrown(() => catalog.images.remove(kid.id));
    expect(e2.code).toBe('ImageInUse');
    expect(e2.details.join('\n')).toContain(inst.id);
    expect(catalog.images.list()).toHaveLength(2);
    expect(statSync(kid.files[0]!).isFile()).toBe(true);
  });

  it('deletes the row, tags, stopped instances, files and the empty image directory', () => {
    const file = imageFile('gone');
    const image = catalog.images.register({
      name: 'gone',
      builder: 'qemu',
      files: [file],
      tags: ['t1'],
    });
    const overlay = join(root, 'overlay.qcow2');
    writeFileSync(overlay, 'x');
    const inst = catalog.instances.add({ imageId: image.id, backend: 'local', files: [overlay] });
    catalog.instances.update(inst.id, { state: 'stopped', pid: null });
    catalog.images.remove(image.id);
    expect(catalog.images.get(image.id)).toBeUndefined();
    expect(catalog.instances.get(inst.id)).toBeUndefined();
    expect(statSync(file, { throwIfNoEntry: false })).toBeUndefined();
    expect(statSync(join(catalog.imagesDir, 'gone'), { throwIfNoEntry: false })).toBeUndefined();
    expect(statSync(overlay, { throwIfNoEntry: false })).toBeUndefined();
    expect(() => catalog.images.resolve('t1')).toThrow(UserError);
    expect(catalog.database.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(0);
  });
  it('keeps a file that another image still lists', () => {
    const kernel = join(root, 'vmlinuz');
    writeFileSync(kernel, 'kernel');
    const a = catalog.images.register({
      name: 'a',
      builder: 'qemu',
      files: [imageFile('a'), kernel],
    });
    const b = catalog.images.register({
      name: 'b',
      builder: 'qemu',
      files: [imageFile('b'), kernel],
    });
    catalog.images.remove(a.id);
    expect(statSync(kernel).isFile()).toBe(true);
    expect(statSync(a.files[0]!, { throwIfNoEntry: false })).toBeUndefined();
    catalog.images.remove(b.id);
    expect(statSync(kernel, { throwIfNoEntry: false })).toBeUndefined();
  });
});

describe('tags', () => {
  it('move between images and are checked', () => {
    const a = catalog.images.register({ name: 'a', builder: 'qemu', files: [imageFile('a')] });
    const b = catalog.images.register({ name: 'b', builder: 'qemu', files: [imageFile('b')] });
    catalog.images.addTag(a.id, 'live');
    catalog.images.addTag(b.id, 'live');
    expect(catalog.images.get(a.id)!.tags).toEqual([]);
    expect(catalog.images.resolve('live').id).toBe(b.id);
    expect(thrown(() => catalog.images.removeTag(a.id, 'live')).code).toBe('TagNotFound');
    catalog.images.removeTag(b.id, 'live');
    expect(catalog.images.get(b.id)!.tags).toEqual([]);
    expect(thrown(() => catalog.images.addTag(a.id, 'has space')).code).toBe('InvalidTag');
    expect(thrown(() => catalog.images.addTag(a.id, b.id)).code).toBe('InvalidTag');
  });
});

describe('reconciliation at open', () => {
  it('marks an image whose disk is gone as missing, and restores its status when it returns', () => {
    const file = imageFile('r');
    const image = catalog.images.register({ name: 'r', builder: 'qemu', files: [file] });
    catalog.images.setStatus(image.id, 'failed');
    catalog.close();
    rmSync(file);
    catalog = Catalog.open(home);
    expect(catalog.images.get(image.id)!.status).toBe('missing');
    catalog.close();
    writeFileSync(file, 'back');
    catalog = Catalog.open(home);
    expect(catalog.images.get(image.id)!.status).toBe('failed');
  });

  it('lists stray entries under imagesDir that nothing refers to', () => {
    catalog.images.register({ name: 'kept', builder: 'qemu', files: [imageFile('kept')] });
    const stray = join(catalog.imagesDir, 'img-leftover');
    mkdirSync(stray);
    const busy = join(catalog.imagesDir, 'being-built');
    catalog.journal.begin('run-1', process.pid, 'test');
    catalog.journal.record({ runId: 'run-1', kind: 'dir', ref: busy });
    mkdirSync(busy);
    expect(catalog.strayPaths()).toEqual([stray]);
  });
});

describe('read-only', () => {
  it('of a kiln home that does not exist reads as an empty catalog and creates nothing', () => {
    const absent = join(root, 'absent', 'home');
    {
      using ro = Catalog.openReadOnly(absent);
      expect(ro.readonly).toBe(true);
      expect(ro.images.list()).toEqual([]);
      expect(ro.instances.list()).toEqual([]);
      expect(ro.deployments.list()).toEqual([]);
      expect(ro.journal.orphaned()).toEqual([]);
      expect(ro.strayPaths()).toEqual([]);
      expect(thrown(() => ro.images.resolve('debian-12')).code).toBe('ImageNotFound');
      expect(thrown(() => ro.journal.begin('r', process.pid, 'x')).code).toBe('CatalogReadOnly');
    }
    expect(existsSync(join(root, 'absent'))).toBe(false);
  });

  it('refuses every write before its side effects, and migrates nothing', () => {
    const file = imageFile('ro');
    const kept = catalog.images.register({ name: 'kept', builder: 'qemu', files: [file] });
    const other = imageFile('other');
    chmodSync(other, 0o644);
    const before = readdirSync(home).sort();
    using ro = Catalog.openReadOnly(home);
    expect(currentVersion(ro.database)).toBe(LATEST_VERSION);
    expect(ro.images.get(kept.id)!.name).toBe('kept');
    const writes: Array<() => unknown> = [
      () => ro.images.register({ name: 'new', builder: 'qemu', files: [other] }),
      () => ro.images.remove(kept.id),
      () => ro.images.addTag(kept.id, 'x'),
      () => ro.images.setStatus(kept.id, 'failed'),
      () => ro.instances.add({ imageId: kept.id, backend: 'local' }),
      () =>
        ro.deployments.record({
          backend: 'local',
          group: 'g',
          imageId: kept.id,
          kind: 'deploy',
          status: 'succeeded',
        }),
    ];
    for (const write of writes) expect(thrown(write).code).toBe('CatalogReadOnly');
    // register refused before making the file read-only.
    expect(statSync(other).mode & 0o777).toBe(0o644);
    expect(catalog.images.list().map((i) => i.id)).toEqual([kept.id]);
    ro.close();
    // The WAL files a reader needs while open go with it.
    expect(readdirSync(home).sort()).toEqual(before);
  });

  it('sees a lost disk as missing without recording it', () => {
    const file = imageFile('gone');
    const image = catalog.images.register({ name: 'gone', builder: 'qemu', files: [file] });
    rmSync(file);
    {
      using ro = Catalog.openReadOnly(home);
      expect(ro.images.get(image.id)!.status).toBe('missing');
      expect(ro.images.list()[0]!.status).toBe('missing');
      expect(ro.images.findByInputHash('none')).toBeUndefined();
    }
    const row = catalog.database.prepare('SELECT status FROM images WHERE id = ?').pluck();
    expect(row.get(image.id)).toBe('ready');
  });

  it('upgrades a catalog an older kiln wrote (its only write), and refuses a newer one', () => {
    catalog.database.pragma('user_version = 2');
    catalog.database.exec('DROP TABLE deploy_history; DROP TABLE action_cache');
    catalog.close();
    {
      using ro = Catalog.openReadOnly(home);
      expect(currentVersion(ro.database)).toBe(LATEST_VERSION);
      expect(ro.deployments.list()).toEqual([]);
    }
    catalog = Catalog.open(home);
    catalog.database.pragma(`user_version = ${LATEST_VERSION + 1}`);
    expect(thrown(() => Catalog.openReadOnly(home)).code).toBe('CatalogTooNew');
    catalog.database.pragma(`user_version = ${LATEST_VERSION}`);
  });
});

describe('instances', () => {
  it('are recorded, updated and removed', () => {
    const image = catalog.images.register({ name: 'i', builder: 'qemu', files: [imageFile('i')] });
    const inst = catalog.instances.add({
      imageId: image.id,
      backend: 'local',
      pid: 42,
      ports: [{ host: 8080, guest: 8080 }],
    });
    expect(inst.id).toMatch(/^i-[0-9a-f]{17}$/);
    expect(inst.state).toBe('running');
    catalog.instances.update(inst.id, { state: 'stopped', metadata: { exit: 0 } });
    expect(catalog.instances.get(inst.id)).toMatchObject({
      state: 'stopped',
      pid: 42,
      metadata: { exit: 0 },
    });
    expect(catalog.instances.list()).toHaveLength(1);
    catalog.instances.remove(inst.id);
    expect(catalog.instances.list()).toEqual([]);
    expect(
      thrown(() => catalog.instances.add({ imageId: 'img-00000000000000000', backend: 'local' }))
        .code,
    ).toBe('ImageNotFound');
  });
});
