/**
 * Warm starts for real (builders/qemu/warm.ts): the first build from a base saves the base's
 * booted state and its own pre-clean state; later builds restore them instead of booting.
 * Checked: restored builds say so, see their parent's files, get a fresh random state and the
 * host's clock, leave no key in their images (whose disks are plain overlays on their
 * sources), fall back to a boot when a state is damaged, and `KILN_WARM=0` boots.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { imageInfo } from '../src/qemu/img.js';
import {
  artifactId,
  HOME,
  readImageFiles,
  snapshot,
  startKiln,
  usePrivateHome,
} from './qemu-helpers.js';

let base: string;
let dir: string;

beforeAll(async () => {
  base = await usePrivateHome();
  dir = mkdtempSync(join(tmpdir(), 'kiln-warm-test-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  rmSync(HOME, { recursive: true, force: true });
});

function template(name: string, source: string, inline: string[]): string {
  const file = join(dir, `${name}.json`);
  const tpl = {
    builders: [
      {
        type: 'qemu',
        source_image: source,
        ssh_username: 'root',
        vm_name: `kiln-warm-${name}`,
        memory: 1024,
        cpus: 2,
      },
    ],
    provisioners: [{ type: 'shell', inline }],
  };
  writeFileSync(file, JSON.stringify(tpl, null, 2));
  return file;
}

async function build(tpl: string, env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const k = startKiln(['build', '--no-cache', '-machine-readable', tpl]);
  process.env = saved;
  const { code } = await k.exit;
  const out = k.output();
  expect(code, out).toBe(0);
  return { out, id: artifactId(out)! };
}

function diskOf(id: string): string {
  const c = Catalog.open(HOME);
  try {
    return c.images.get(id)!.files[0]!;
  } finally {
    c.close();
  }
}

const restored = /restoring the source image/;
// The first command of a restored guest: its random state and its clock.
const probe = [
  'echo "random=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d \' \\n\')"',
  'echo "skew=$(( $(date +%s) - HOSTNOW ))"',
];
function withNow(lines: string[]): string[] {
  return lines.map((l) => l.replace('HOSTNOW', String(Math.floor(Date.now() / 1000))));
}

describe('warm starts', () => {
  let parent: string;

  it('the first build boots and saves two states; a second build from the base restores', async () => {
    const a = await build(template('a', 'debian-12', ['echo from-a > /etc/kiln-warm-a', 'sync']));
    expect(a.out).not.toMatch(restored);
    expect(a.out).toMatch(/VM state saved .*for later builds from the source image/);
    expect(a.out).toMatch(/VM state saved .*for builds from this image/);
    parent = a.id;
    const baseDisk = diskOf(base);
    expect(existsSync(join(dirname(baseDisk), 'warm', 'meta.json'))).toBe(true);
    expect(existsSync(join(dirname(diskOf(a.id)), 'warm', 'meta.json'))).toBe(true);
    // The image's disk is an ordinary overlay on its source's disk, not on a saved layer.
    expect((await imageInfo(diskOf(a.id))).backingFile).toBe(baseDisk);

    const b = await build(template('b', 'debian-12', withNow(probe)));
    expect(b.out).toMatch(restored);
    expect(b.out).not.toMatch(/from-a/);
    const skew = Number(/skew=(-?\d+)/.exec(b.out)?.[1]);
    expect(Math.abs(skew)).toBeLessThan(120);
  });

  it('a build from a built image continues from its saved state, with a fresh random state and no key left', async () => {
    const tpl = (n: string) =>
      template(
        n,
        parent,
        withNow([...probe, 'test "$(cat /etc/kiln-warm-a)" = from-a', 'echo continued-ok']),
      );
    const c1 = await build(tpl('c1'));
    const c2 = await build(tpl('c2'));
    for (const c of [c1, c2]) {
      expect(c.out).toMatch(restored);
      expect(c.out).toMatch(/continued-ok/);
      expect(Math.abs(Number(/skew=(-?\d+)/.exec(c.out)?.[1]))).toBeLessThan(120);
    }
    // Both resumed the same saved RAM: only the vmgenid reseed makes their randomness differ.
    const r1 = /random=([0-9a-f]+)/.exec(c1.out)?.[1];
    const r2 = /random=([0-9a-f]+)/.exec(c2.out)?.[1];
    expect(r1).toMatch(/^[0-9a-f]{32}$/);
    expect(r1).not.toBe(r2);

    const disk = diskOf(c1.id);
    expect((await imageInfo(disk)).backingFile).toBe(diskOf(parent));
    const files = readImageFiles(disk, [
      '/etc/kiln-warm-a',
      '/root/.ssh/authorized_keys',
      '/etc/ssh/ssh_host_ed25519_key',
      '/etc/machine-id',
    ]);
    expect(files['/etc/kiln-warm-a']).toBe('from-a\n');
    expect(files['/root/.ssh/authorized_keys']).toBeUndefined();
    expect(files['/etc/ssh/ssh_host_ed25519_key']).toBeUndefined();
    expect(files['/etc/machine-id']).toBe('');
  });

  it('a damaged state costs a boot, not the build, and is replaced; KILN_WARM=0 boots', async () => {
    const warm = join(dirname(diskOf(parent)), 'warm');
    const state = join(warm, 'state.zst');
    writeFileSync(state, 'not a migration stream');
    const d = await build(template('d', parent, ['test "$(cat /etc/kiln-warm-a)" = from-a']));
    expect(d.out).toMatch(/could not restore the saved VM state/);
    expect(d.out).toMatch(/booting disk image/);
    // The build booted, so it saved a new state of its source, replacing the damaged one.
    expect(d.out).toMatch(/VM state saved .*for later builds from the source image/);
    expect(existsSync(join(warm, 'broken'))).toBe(false);
    expect(existsSync(join(warm, 'meta.json'))).toBe(true);
    const d2 = await build(template('d2', parent, ['test "$(cat /etc/kiln-warm-a)" = from-a']));
    expect(d2.out).toMatch(restored);

    const e = await build(template('e', 'debian-12', ['true']), { KILN_WARM: '0' });
    expect(e.out).not.toMatch(restored);
    expect(e.out).not.toMatch(/VM state saved/);
    expect(existsSync(join(dirname(diskOf(e.id)), 'warm'))).toBe(false);
  });

  it('SIGINT while a state is restored, or while one is saved, leaves nothing', async () => {
    const before = snapshot();
    // Restoring: a build from the base, whose booted state the first test saved.
    const k1 = startKiln(['build', '--no-cache', template('f', 'debian-12', ['sleep 30'])]);
    await k1.waitFor(/restoring the source image/);
    k1.child.kill('SIGINT');
    expect((await k1.exit).code).not.toBe(0);
    // Saving the source's state: the base's state removed, so the build boots and saves it.
    const baseWarm = join(dirname(diskOf(base)), 'warm');
    rmSync(baseWarm, { recursive: true, force: true });
    const k2 = startKiln(['build', '--no-cache', template('g', 'debian-12', ['sleep 30'])]);
    await k2.waitFor(/VM state saved .*for later builds from the source image/);
    k2.child.kill('SIGINT');
    expect((await k2.exit).code).not.toBe(0);
    const after = snapshot();
    expect(after.qemuPids).toEqual([]);
    expect(after.workDirs).toEqual([]);
    expect(after.imageIds).toEqual(before.imageIds);
    expect(after.runs).toBe(0);
    // The source's state is only written once a build succeeds: none, and no half-written one.
    expect(readdirSync(dirname(baseWarm)).filter((e) => e.startsWith('warm'))).toEqual([]);
    for (const k of [k1, k2]) expect(readdirSync(k.tmp)).toEqual([]);
  });

  it('over KILN_WARM_BUDGET, a build evicts the other states but not the one it resumed; a bad budget stops it before any VM', async () => {
    const warmOf = (id: string) => join(dirname(diskOf(id)), 'warm');
    const others = () => {
      const c = Catalog.open(HOME);
      try {
        return c.images
          .list()
          .filter((i) => i.id !== parent && existsSync(join(dirname(i.files[0]!), 'warm')))
          .map((i) => i.id);
      } finally {
        c.close();
      }
    };
    expect(others().length).toBeGreaterThan(0);
    const h = await build(template('h', parent, ['true']), { KILN_WARM_BUDGET: '1' });
    expect(h.out).toMatch(restored);
    expect(h.out).toMatch(/evicted the saved VM state of img-[0-9a-f]{17} .*KILN_WARM_BUDGET/);
    // The state h resumed was in use while h trimmed: kept, above the budget. Every other
    // state went, h's own included (the least recently used go first; it was the newest).
    expect(existsSync(join(warmOf(parent), 'meta.json'))).toBe(true);
    expect(others()).toEqual([]);
    expect(existsSync(warmOf(h.id))).toBe(false);

    const saved = { ...process.env };
    process.env.KILN_WARM_BUDGET = 'lots';
    const k = startKiln(['build', '--no-cache', template('j', parent, ['true'])]);
    process.env = saved;
    const r = await k.exit;
    expect(r.code).toBe(1);
    expect(k.output()).toMatch(/KILN_WARM_BUDGET="lots" is not a size/);
    expect(k.output()).not.toMatch(/Starting VM/);
  });

  it('removing an image removes its saved state', () => {
    const disk = diskOf(parent);
    const c = Catalog.open(HOME);
    try {
      for (const img of c.images.list().filter((i) => i.parentId === parent))
        c.images.remove(img.id);
      c.images.remove(parent);
    } finally {
      c.close();
    }
    expect(existsSync(dirname(disk))).toBe(false);
    expect(readdirSync(dirname(dirname(disk))).filter((e) => e.includes('.tmp-'))).toEqual([]);
  });
});
