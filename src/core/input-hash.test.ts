import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Catalog } from '../catalog/index.js';
import { registry } from '../plugins.js';
import { loadTemplate } from '../template/index.js';
import { runBuilds } from './build.js';
import { MemoryUi } from './events.js';
import { canonicalJson, computeInputHash, hashPath, makesCatalogImages } from './input-hash.js';
import type { BuildContext, BuilderPlugin } from './plugin.js';
import { Secrets } from './secrets.js';

let dir: string;
let home: string;
let catalog: Catalog;

function registerBase(name: string): string {
  const d = mkdtempSync(join(dir, 'img-'));
  const disk = join(d, 'disk.qcow2');
  writeFileSync(disk, `disk of ${d}`);
  return catalog.images.register({ name, builder: 'base', files: [disk], format: 'qcow2' }).id;
}

const template = (extra: Record<string, unknown> = {}) => ({
  variables: { port: '8080', password: 'hunter2', stamp: '{{timestamp}}' },
  'sensitive-variables': ['password'],
  builders: [
    {
      type: 'qemu',
      source_image: 'base-a',
      vm_name: 'web-{{user `port`}}-{{timestamp}}-{{user `stamp`}}',
      accelerator: 'tcg',
      ssh_username: 'root',
      ...extra,
    },
  ],
  provisioners: [
    { type: 'file', source: '{{template_dir}}/app.deb', destination: '/tmp/app.deb' },
    { type: 'shell', script: '{{template_dir}}/setup.sh' },
    { type: 'ansible', playbook_file: '{{template_dir}}/site.yml', user: 'root' },
  ],
});

async function hashOf(
  tpl: unknown,
  opts: { vars?: Array<[string, string]>; time?: Date; tplDir?: string } = {},
) {
  const tdir = opts.tplDir ?? dir;
  const path = join(tdir, 'template.json');
  writeFileSync(path, JSON.stringify(tpl, null, 2));
  const loaded = await loadTemplate(path, {
    registry,
    catalog,
    vars: opts.vars ?? [],
    initTime: opts.time ?? new Date(),
  }).catch((err) => {
    throw new Error(`${err.message}: ${(err.details ?? []).join('; ')}`);
  });
  return computeInputHash(loaded.builds[0]!, { template: loaded, catalog });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-hash-'));
  home = join(dir, 'home');
  catalog = Catalog.open(home);
  registerBase('base-a');
  writeFileSync(join(dir, 'app.deb'), 'deb v1');
  writeFileSync(join(dir, 'setup.sh'), '#!/bin/sh\necho hi\n');
  writeFileSync(join(dir, 'site.yml'), '- hosts: all\n');
});
afterEach(() => catalog.close());

describe('computeInputHash', () => {
  it('is the same for the same inputs at another time (timestamp in names and variable defaults)', async () => {
    const a = await hashOf(template(), { time: new Date('2020-01-01T00:00:00Z') });
    const b = await hashOf(template(), { time: new Date('2024-06-01T12:34:56Z') });
    expect(a.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.hash).toBe(a.hash);
  });

  it('ignores {{uuid}} in a name', async () => {
    const a = await hashOf(template({ vm_name: 'web-{{uuid}}' }));
    const b = await hashOf(template({ vm_name: 'web-{{uuid}}' }));
    expect(b.hash).toBe(a.hash);
  });

  it('changes when an uploaded file, a script or a playbook changes', async () => {
    const before = (await hashOf(template())).hash;
    writeFileSync(join(dir, 'app.deb'), 'deb v2');
    const deb = (await hashOf(template())).hash;
    expect(deb).not.toBe(before);
    writeFileSync(join(dir, 'setup.sh'), '#!/bin/sh\necho hello\n');
    const script = (await hashOf(template())).hash;
    expect(script).not.toBe(deb);
    writeFileSync(join(dir, 'site.yml'), '- hosts: all\n  gather_facts: false\n');
    expect((await hashOf(template())).hash).not.toBe(script);
  });

  it('changes when a role beside the playbook changes, not when an unrelated file does', async () => {
    mkdirSync(join(dir, 'roles', 'web', 'tasks'), { recursive: true });
    writeFileSync(join(dir, 'roles', 'web', 'tasks', 'main.yml'), '- debug: msg=a\n');
    const before = (await hashOf(template())).hash;
    writeFileSync(join(dir, 'README.md'), 'notes');
    expect((await hashOf(template())).hash).toBe(before);
    writeFileSync(join(dir, 'roles', 'web', 'tasks', 'main.yml'), '- debug: msg=b\n');
    expect((await hashOf(template())).hash).not.toBe(before);
  });

  it('changes when a variable changes, and a -var given over a timestamp default counts', async () => {
    const a = await hashOf(template());
    const b = await hashOf(template(), { vars: [['port', '80']] });
    expect(b.hash).not.toBe(a.hash);
    const c = await hashOf(template(), { vars: [['stamp', 'v1']] });
    const d = await hashOf(template(), { vars: [['stamp', 'v2']] });
    expect(d.hash).not.toBe(c.hash);
  });

  it('hashes a sensitive value without keeping it', async () => {
    const a = await hashOf(template());
    const b = await hashOf(template(), { vars: [['password', 'correct horse']] });
    expect(b.hash).not.toBe(a.hash);
    expect(JSON.stringify(b)).not.toContain('correct horse');
  });

  it('changes when the source image is rebuilt under the same name', async () => {
    const a = await hashOf(template());
    registerBase('base-a');
    const b = await hashOf(template());
    expect(b.hash).not.toBe(a.hash);
    expect(b.source?.id).not.toBe(a.source?.id);
  });

  it('is the same whether the source image is named by id, id prefix, name, tag or a -var', async () => {
    const base = catalog.images.resolve('base-a');
    catalog.images.addTag(base.id, 'debian-12');
    const byName = await hashOf(template());
    const other = [base.id, base.id.slice(0, 8), 'debian-12'];
    for (const ref of other)
      expect((await hashOf(template({ source_image: ref }))).hash, ref).toBe(byName.hash);
    const viaVar = (value: string) => {
      const t = template({ source_image: '{{user `source_image`}}' });
      return hashOf(
        { ...t, variables: { ...t.variables, source_image: 'base-a' } },
        { vars: [['source_image', value]] },
      );
    };
    const varName = await viaVar('base-a');
    expect((await viaVar(base.id)).hash).toBe(varName.hash);
    expect((await viaVar('debian-12')).hash).toBe(varName.hash);
    registerBase('base-b');
    expect((await viaVar('base-b')).hash).not.toBe(varName.hash);
  });

  it('changes with a builder setting, not with where the template lives', async () => {
    const a = await hashOf(template());
    expect((await hashOf(template({ memory: 2048 }))).hash).not.toBe(a.hash);
    const other = mkdtempSync(join(tmpdir(), 'kiln-hash-moved-'));
    for (const f of ['app.deb', 'setup.sh', 'site.yml'])
      writeFileSync(join(other, f), readFileSync(join(dir, f)));
    expect((await hashOf(template(), { tplDir: other })).hash).toBe(a.hash);
  });

  it('does not change with where the git checkout is when a file sits beside the template folder', async () => {
    // The sample's layout: packer/packer-build.json uploads {{template_dir}}/../dist/app.deb.
    const beside = (root: string) => {
      mkdirSync(join(root, '.git'), { recursive: true });
      mkdirSync(join(root, 'packer'), { recursive: true });
      mkdirSync(join(root, 'dist'), { recursive: true });
      writeFileSync(join(root, 'dist/app.deb'), 'deb v1');
      return join(root, 'packer');
    };
    const tpl = template();
    tpl.provisioners = [
      { type: 'file', source: '{{template_dir}}/../dist/app.deb', destination: '/tmp/app.deb' },
    ];
    const a = await hashOf(tpl, { tplDir: beside(join(dir, 'checkout-a')) });
    const b = await hashOf(tpl, { tplDir: beside(mkdtempSync(join(tmpdir(), 'kiln-hash-ci-'))) });
    expect(a.parts.find((p) => p.what.includes('app.deb'))!.what).toBe(
      'provisioner 0 (file) file {{template_dir}}/../dist/app.deb',
    );
    expect(b.hash).toBe(a.hash);
  });

  it('hashes a file elsewhere on the machine by its absolute path', async () => {
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'kiln-hash-abs-')), 'app.deb');
    writeFileSync(elsewhere, 'deb v1');
    const tpl = template();
    tpl.provisioners = [{ type: 'file', source: elsewhere, destination: '/tmp/app.deb' }];
    const a = await hashOf(tpl);
    expect(a.parts.find((p) => p.what.includes('app.deb'))!.what).toBe(
      `provisioner 0 (file) file ${elsewhere}`,
    );
  });
});

describe("a builder's own inputs", () => {
  // A builder as core sees it: only what it declares (its source image, the files it names).
  const declaring: BuilderPlugin<{ disk?: string; data?: string }> = {
    type: 'declaring',
    builderId: 'test.declaring',
    schema: z.strictObject({ disk: z.string().optional(), data: z.string().optional() }),
    async run() {
      return undefined;
    },
    sourceImage: (c, cat) => (c.disk ? undefined : cat.images.resolve('base-a')),
    inputs: (c) => ({
      files: c.data ? [c.data] : [],
      dirs: [],
      stamped: c.disk ? [c.disk] : [],
    }),
    artifactFor: () => undefined,
  };
  const reg = {
    ...registry,
    builders: { declaring, plain: { ...declaring, artifactFor: undefined } },
  };

  async function load(builder: Record<string, unknown>) {
    const path = join(dir, 'declaring.json');
    writeFileSync(path, JSON.stringify({ builders: [{ type: 'declaring', ...builder }] }));
    return loadTemplate(path, { registry: reg, catalog });
  }
  const hash = async (builder: Record<string, unknown>) => {
    const t = await load(builder);
    return computeInputHash(t.builds[0]!, { template: t, catalog });
  };

  it('hashes a named file by content, a disk image by size and the source image it resolves', async () => {
    writeFileSync(join(dir, 'data'), 'one');
    const a = await hash({ data: join(dir, 'data') });
    expect(a.source?.name).toBe('base-a');
    writeFileSync(join(dir, 'data'), 'two');
    expect((await hash({ data: join(dir, 'data') })).hash).not.toBe(a.hash);
    registerBase('base-a');
    expect((await hash({ data: join(dir, 'data') })).source?.id).not.toBe(a.source?.id);

    writeFileSync(join(dir, 'disk.img'), 'x'.repeat(10));
    const d = await hash({ disk: join(dir, 'disk.img') });
    expect(d.source).toBeUndefined();
    expect(d.parts.map((p) => p.what)).toContain(`source file ${join(dir, 'disk.img')}`);
    writeFileSync(join(dir, 'disk.img'), 'x'.repeat(11));
    expect((await hash({ disk: join(dir, 'disk.img') })).hash).not.toBe(d.hash);
  });

  it('is computed only for a builder that makes catalog images', async () => {
    expect(makesCatalogImages((await load({})).builds[0]!)).toBe(true);
    const path = join(dir, 'plain.json');
    writeFileSync(path, JSON.stringify({ builders: [{ type: 'plain' }] }));
    const plain = await loadTemplate(path, { registry: reg, catalog });
    expect(makesCatalogImages(plain.builds[0]!)).toBe(false);
  });
});

describe('canonicalJson and hashPath', () => {
  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('tells a missing path, a file and a directory apart, and sees a mode change', () => {
    const f = join(dir, 'x.sh');
    expect(hashPath(f)).toBe(hashPath(join(dir, 'nothing')));
    writeFileSync(f, 'echo');
    const plain = hashPath(f);
    expect(plain).not.toBe(hashPath(join(dir, 'nothing')));
    chmodSync(f, 0o755);
    expect(hashPath(f)).not.toBe(plain);
    const d = join(dir, 'd');
    mkdirSync(d);
    const empty = hashPath(d);
    writeFileSync(join(d, 'a'), '1');
    expect(hashPath(d)).not.toBe(empty);
  });
});

describe('runBuilds with the cache', () => {
  // A stand-in for a catalog builder: registers an image with the runner's input hash.
  let runs = 0;
  const stubRegistry = {
    ...registry,
    builders: {
      qemu: {
        type: 'qemu',
        builderId: 'stub.qemu',
        schema: z.strictObject({ size: z.number().optional() }),
        async run(_c: unknown, ctx: BuildContext) {
          runs++;
          const d = mkdtempSync(join(dir, 'img-'));
          writeFileSync(join(d, 'disk'), 'x');
          const image = ctx.catalog.images.register({
            name: 'web',
            builder: 'qemu',
            files: [join(d, 'disk')],
            ...(ctx.inputHash ? { inputHash: ctx.inputHash } : {}),
          });
          return { builderId: 'stub.qemu', id: image.id, string: 'made', files: image.files };
        },
        artifactFor(image: { id: string; files: string[] }) {
          return { builderId: 'stub.qemu', id: image.id, string: 'made', files: image.files };
        },
      },
    },
  };

  async function build(noCache = false) {
    const path = join(dir, 'stub.json');
    writeFileSync(path, JSON.stringify({ builders: [{ type: 'qemu', name: 'web', size: 1 }] }));
    const loaded = await loadTemplate(path, { registry: stubRegistry, catalog });
    const ui = new MemoryUi(new Secrets());
    const result = await runBuilds(loaded, { ui, catalog, noCache });
    const artifacts = ui.events.filter((e) => e.type === 'artifact');
    const says = ui.events.flatMap((e) => (e.type === 'ui' && e.build ? [e.text] : []));
    return { outcome: result.builds[0]!, artifacts, says };
  }

  it('reuses a ready image with the same inputs, with the same artifact lines; --no-cache and a failed image rebuild', async () => {
    runs = 0;
    const a = await build();
    expect(runs).toBe(1);
    expect(a.outcome.reusedImageId).toBeUndefined();
    const b = await build();
    expect(runs).toBe(1);
    expect(b.outcome.reusedImageId).toBe(a.outcome.artifacts![0]!.id);
    expect(b.artifacts).toEqual(a.artifacts);
    expect(b.says[0]).toMatch(
      /^Reusing img-[0-9a-f]{17} \(inputs unchanged: sha256 [0-9a-f]{12}\)$/,
    );
    const c = await build(true);
    expect(runs).toBe(2);
    expect(c.outcome.reusedImageId).toBeUndefined();
    // Both images carry the hash; a failed one is never reused, the other ready one is.
    catalog.images.setStatus(c.outcome.artifacts![0]!.id, 'failed');
    const d = await build();
    expect(d.outcome.reusedImageId).toBe(a.outcome.artifacts![0]!.id);
    catalog.images.setStatus(a.outcome.artifacts![0]!.id, 'failed');
    const e = await build();
    expect(runs).toBe(3);
    expect(e.outcome.reusedImageId).toBeUndefined();
  });
});
