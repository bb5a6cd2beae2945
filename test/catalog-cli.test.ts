/**
 * `kiln images …` and `kiln gc` through the compiled CLI (npm run build first), against a
 * catalog in a temp KILN_HOME holding a base → build → two releases chain.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog, type ImageRecord } from '../src/catalog/index.js';
import { type RunResult, kiln as run } from './helpers/kiln.js';

const REPO = resolve(import.meta.dirname, '..');

let root: string;
let home: string;
let base: ImageRecord;
let build: ImageRecord;
let dev: ImageRecord;
let prod: ImageRecord;

function kiln(...args: string[]): Promise<RunResult> {
  return kilnIn(home, ...args);
}

function kilnIn(kilnHome: string, ...args: string[]): Promise<RunResult> {
  return run(args, { home: kilnHome });
}

beforeEach(() => {
  if (!existsSync(join(REPO, 'dist/cli/commands/images.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  root = mkdtempSync(join(tmpdir(), 'kiln-cli-'));
  home = join(root, 'home');
  const catalog = Catalog.open(home);
  const file = (name: string, bytes: number) => {
    const dir = join(catalog.imagesDir, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'disk.qcow2'), Buffer.alloc(bytes, 1));
    return join(dir, 'disk.qcow2');
  };
  base = catalog.images.register({
    name: 'debian-base',
    builder: 'base',
    files: [file('base', 2_000_000)],
    tags: ['bookworm'],
  });
  build = catalog.images.register({
    name: 'hello-build',
    builder: 'qemu',
    parentId: base.id,
    files: [file('build', 300_000)],
  });
  dev = catalog.images.register({
    name: 'hello-dev',
    builder: 'qemu',
    parentId: build.id,
    files: [file('dev', 50_000)],
    tags: ['dev'],
  });
  prod = catalog.images.register({
    name: 'hello-prod',
    builder: 'qemu',
    parentId: build.id,
    files: [file('prod', 50_000)],
    tags: ['prod'],
  });
  catalog.close();
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('kiln images', () => {
  it('ls prints a table newest first, and JSON with --json', async () => {
    const r = await kiln('images', 'ls');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+BUILDER\s+PARENT\s+SIZE\s+CREATED\s+TAGS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([
      prod.id,
      dev.id,
      build.id,
      base.id,
    ]);
    expect(lines[4]).toMatch(
      new RegExp(`^${base.id}\\s+debian-base\\s+base\\s+-\\s+2MB\\s+\\S.*bookworm$`),
    );
    const json = JSON.parse((await kiln('images', 'ls', '--json')).stdout) as ImageRecord[];
    expect(json.map((i) => i.id)).toEqual([prod.id, dev.id, build.id, base.id]);
    expect(json[0]).toMatchObject({ name: 'hello-prod', parentId: build.id, tags: ['prod'] });
  });

  it('tree draws the lineage with box-drawing characters', async () => {
    const r = await kiln('images', 'tree');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        `${base.id} debian-base [bookworm] 2MB (base)`,
        `└── ${build.id} hello-build 303kB (qemu)`,
        `    ├── ${dev.id} hello-dev [dev] 53.2kB (qemu)`,
        `    └── ${prod.id} hello-prod [prod] 53.2kB (qemu)`,
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await kiln('images', 'tree', '--json')).stdout);
    expect(json[0].children[0].children.map((c: ImageRecord) => c.name)).toEqual([
      'hello-dev',
      'hello-prod',
    ]);
  });

  it('inspect resolves names, tags and prefixes, and names close matches when nothing fits', async () => {
    const r = await kiln('images', 'inspect', 'prod', build.id.slice(0, 10));
    expect(r.code, r.stderr).toBe(0);
    const [p, b] = JSON.parse(r.stdout);
    expect(p).toMatchObject({ id: prod.id, lineage: [prod.id, build.id, base.id], children: [] });
    expect(b).toMatchObject({ id: build.id, children: [dev.id, prod.id] });
    const miss = await kiln('images', 'inspect', 'hello-prd');
    expect(miss.code).toBe(1);
    expect(miss.stdout).toBe('');
    expect(miss.stderr).toContain('no image matches "hello-prd"');
    expect(miss.stderr).toContain('hello-prod');
    expect(miss.stderr).toContain('kiln images ls');
  });

  it('tag and untag', async () => {
    expect((await kiln('images', 'tag', 'hello-dev', 'candidate')).code).toBe(0);
    expect((await kiln('images', 'inspect', 'candidate')).stdout).toContain(dev.id);
    expect((await kiln('images', 'untag', dev.id, 'candidate')).code).toBe(0);
    const again = await kiln('images', 'untag', dev.id, 'candidate');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no tag "candidate"');
  });

  it('rm refuses a parent, naming its children, and removes a whole branch when asked', async () => {
    const refused = await kiln('images', 'rm', 'debian-base');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(build.id);
    expect(refused.stderr).toContain('no --force');
    expect(JSON.parse((await kiln('images', 'ls', '--json')).stdout)).toHaveLength(4);

    const r = await kiln('images', 'rm', 'debian-base', 'hello-build', 'dev', 'prod');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').slice(-1)).toEqual([base.id]);
    expect(JSON.parse((await kiln('images', 'ls', '--json')).stdout)).toEqual([]);
    expect(existsSync(base.files[0]!)).toBe(false);
    expect((await kiln('gc', '--dry-run')).stdout).toBe('nothing to remove\n');
  });

  it('ls reports an image whose file vanished; gc removes a stray directory', async () => {
    rmSync(dev.files[0]!);
    mkdirSync(join(home, 'images', 'half-written'));
    const r = await kiln('images', 'ls');
    expect(r.stdout.split('\n')[0]).toMatch(/STATUS$/);
    expect(r.stdout).toMatch(new RegExp(`${dev.id}.*missing`));
    expect(r.stderr).toContain(dev.id);
    expect(r.stderr).toContain('1 stray entry');
    const gc = await kiln('gc');
    expect(gc.stdout).toContain(`removed stray ${join(home, 'images', 'half-written')}`);
    expect(existsSync(join(home, 'images', 'half-written'))).toBe(false);
    expect(existsSync(join(home, 'images', 'prod'))).toBe(true);
  });
});

describe('commands that only read', () => {
  it('create nothing in an empty kiln home: validate, inspect, images ls|tree|inspect, ps', async () => {
    const empty = join(root, 'empty', 'home');
    const qemu = join(root, 'qemu.json');
    writeFileSync(
      qemu,
      JSON.stringify({
        builders: [{ type: 'qemu', source_image: 'debian-12', communicator: 'none' }],
      }),
    );
    const file = join(root, 'file.json');
    writeFileSync(
      file,
      JSON.stringify({
        builders: [{ type: 'file', target: join(root, 'out.txt'), content: 'x' }],
      }),
    );

    const valid = await kilnIn(empty, 'validate', file);
    expect(valid.code, valid.stderr).toBe(0);
    expect(valid.stdout).toBe('Template validated successfully.\n');
    // The qemu builder's prepare looks its source image up: an empty catalog has none.
    const invalid = await kilnIn(empty, 'validate', qemu);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('source image "debian-12" is not in the catalog');
    expect((await kilnIn(empty, 'validate', '--syntax-only', qemu)).code).toBe(0);
    const inspect = await kilnIn(empty, 'inspect', qemu);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toContain('qemu');
    const ls = await kilnIn(empty, 'images', 'ls', '--json');
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([]);
    expect((await kilnIn(empty, 'images', 'tree')).code).toBe(0);
    expect((await kilnIn(empty, 'images', 'inspect', 'debian-12')).stderr).toContain(
      'no image matches "debian-12"',
    );
    const ps = await kilnIn(empty, 'ps', '--json');
    expect(ps.code, ps.stderr).toBe(0);
    expect(JSON.parse(ps.stdout)).toEqual([]);

    expect(existsSync(join(root, 'empty'))).toBe(false);
    expect(existsSync(join(root, 'out.txt'))).toBe(false);
  });

  it('leave an existing catalog as it was: ls does not record a lost disk', async () => {
    rmSync(dev.files[0]!);
    const ls = await kiln('images', 'ls', '--json');
    const listed = JSON.parse(ls.stdout) as ImageRecord[];
    expect(listed.find((i) => i.id === dev.id)!.status).toBe('missing');
    using catalog = Catalog.openReadOnly(home);
    const status = catalog.database.prepare('SELECT status FROM images WHERE id = ?').pluck();
    expect(status.get(dev.id)).toBe('ready');
  });
});
