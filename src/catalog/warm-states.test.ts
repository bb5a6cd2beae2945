import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../lib/errors.js';
import { qcow2BackingFile } from '../lib/qcow2.js';
import { collectGarbage } from './gc.js';
import { Catalog } from './index.js';
import {
  DEFAULT_WARM_BUDGET,
  enforceWarmBudget,
  listWarmStates,
  markWarmInUse,
  warmBudget,
} from './warm-states.js';

let root: string;
let catalog: Catalog;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-warm-states-'));
  catalog = Catalog.open(join(root, 'home'));
});
afterEach(() => {
  catalog.close();
  rmSync(root, { recursive: true, force: true });
});

/** A qcow2 header naming `backing` (what qcow2BackingFile reads), padded to `bytes`. */
function qcow2(path: string, backing: string | undefined, bytes: number): void {
  const buf = Buffer.alloc(Math.max(bytes, 1024));
  buf.writeUInt32BE(0x514649fb, 0);
  buf.writeUInt32BE(3, 4);
  if (backing) {
    buf.writeBigUInt64BE(512n, 8);
    buf.writeUInt32BE(Buffer.byteLength(backing), 16);
    buf.write(backing, 512);
  }
  writeFileSync(path, buf);
}

/** An image with a saved state of `bytes` whose layer is backed by `below`'s layer; `usedAgo` seconds since its last use. */
function imageWithState(
  name: string,
  opts: { below?: string; bytes?: number; usedAgo?: number; complete?: boolean } = {},
): { id: string; dir: string } {
  const imageDir = join(catalog.imagesDir, name);
  mkdirSync(imageDir);
  writeFileSync(join(imageDir, 'disk.qcow2'), 'disk');
  const image = catalog.images.register({
    name,
    builder: 'qemu',
    files: [join(imageDir, 'disk.qcow2')],
  });
  const dir = join(imageDir, 'warm');
  mkdirSync(dir);
  qcow2(
    join(dir, 'layer.qcow2'),
    opts.below ? join(opts.below, 'layer.qcow2') : join(imageDir, 'disk.qcow2'),
    opts.bytes ?? 100_000,
  );
  if (opts.complete !== false) {
    writeFileSync(join(dir, 'meta.json'), '{}');
    const t = new Date(Date.now() - (opts.usedAgo ?? 0) * 1000);
    utimesSync(join(dir, 'meta.json'), t, t);
  }
  return { id: image.id, dir };
}

describe('listWarmStates', () => {
  it('lists each image’s state with its size, the states it is layered on, and its last use', () => {
    const base = imageWithState('base', { usedAgo: 3600 });
    const build = imageWithState('build', { below: base.dir, usedAgo: 60 });
    const rel = imageWithState('release', { below: build.dir, usedAgo: 600 });
    const states = new Map(listWarmStates(catalog).map((s) => [s.imageId, s]));
    expect(states.get(rel.id)!.below).toEqual([build.dir, base.dir]);
    expect(states.get(base.id)!.below).toEqual([]);
    expect(states.get(build.id)!.sizeBytes).toBeGreaterThanOrEqual(100_000);
    // The base was used whenever a state above it was: as recently as the build's.
    expect(states.get(base.id)!.lastUsedMs).toBe(states.get(build.id)!.lastUsedMs);
    expect(states.get(rel.id)!.lastUsedMs).toBeLessThan(states.get(build.id)!.lastUsedMs);
  });
});

describe('enforceWarmBudget', () => {
  it('does nothing under the budget', () => {
    imageWithState('a');
    expect(enforceWarmBudget(catalog, 10 * 1024 ** 2).evicted).toEqual([]);
  });

  it('evicts least recently used first until the rest fit, then stops', () => {
    const old = imageWithState('old', { usedAgo: 7200 });
    const mid = imageWithState('mid', { usedAgo: 3600 });
    const fresh = imageWithState('fresh', { usedAgo: 1 });
    const size = listWarmStates(catalog)[0]!.sizeBytes;
    const r = enforceWarmBudget(catalog, size * 2);
    expect(r.evicted.map((e) => e.imageId)).toEqual([old.id]);
    expect(existsSync(old.dir)).toBe(false);
    expect(existsSync(mid.dir) && existsSync(fresh.dir)).toBe(true);
    expect(r.totalBytes).toBeLessThanOrEqual(size * 2);
  });

  it('evicts a state with the states layered on it, and an incomplete one first', () => {
    const base = imageWithState('base', { usedAgo: 7200 });
    const build = imageWithState('build', { below: base.dir, usedAgo: 7000 });
    const other = imageWithState('other', { usedAgo: 100 });
    const half = imageWithState('half', { complete: false });
    const size = listWarmStates(catalog).find((s) => s.imageId === other.id)!.sizeBytes;
    const r = enforceWarmBudget(catalog, size);
    expect(r.evicted.map((e) => e.imageId).sort()).toEqual([base.id, build.id, half.id].sort());
    expect(r.evicted[0]!.imageId).toBe(half.id);
    expect(existsSync(other.dir)).toBe(true);
  });

  it('never evicts a state a live build restored, nor the states below it, even above the budget', () => {
    const base = imageWithState('base', { usedAgo: 7200 });
    const build = imageWithState('build', { below: base.dir, usedAgo: 7000 });
    const loose = imageWithState('loose', { usedAgo: 10 });
    const release = markWarmInUse(build.dir);
    // A second build of the same process (a pipeline's releases run side by side).
    const other = markWarmInUse(build.dir);
    other();
    try {
      const r = enforceWarmBudget(catalog, 0);
      expect(r.evicted.map((e) => e.imageId)).toEqual([loose.id]);
      expect(existsSync(base.dir) && existsSync(build.dir)).toBe(true);
    } finally {
      release();
    }
    // Marked used just now: the base goes last once nothing uses them.
    expect(
      enforceWarmBudget(catalog, 0)
        .evicted.map((e) => e.imageId)
        .sort(),
    ).toEqual([base.id, build.id].sort());
  });

  it('with dryRun only says what it would evict', () => {
    const old = imageWithState('old', { usedAgo: 7200 });
    imageWithState('fresh', { usedAgo: 1 });
    expect(enforceWarmBudget(catalog, 0, { dryRun: true }).evicted).toHaveLength(2);
    expect(listWarmStates(catalog)).toHaveLength(2);
    expect(existsSync(old.dir)).toBe(true);
  });

  it('kiln gc applies the budget: a dry run lists the states, a run evicts them, the rest stay', async () => {
    const old = imageWithState('old', { usedAgo: 7200 });
    const fresh = imageWithState('fresh', { usedAgo: 1 });
    const size = listWarmStates(catalog)[0]!.sizeBytes;
    const dry = await collectGarbage(catalog, { dryRun: true, warmBudgetBytes: size });
    expect(dry.actions).toEqual([
      expect.objectContaining({ kind: 'warm-state', ref: old.dir, outcome: 'would-remove' }),
    ]);
    expect(dry.actions[0]!.detail).toMatch(new RegExp(`^${old.id} \\(old, .* MiB\\): .*budget`));
    expect(existsSync(old.dir)).toBe(true);
    const run = await collectGarbage(catalog, { warmBudgetBytes: size });
    expect(run.actions).toEqual([
      expect.objectContaining({ kind: 'warm-state', ref: old.dir, outcome: 'removed' }),
    ]);
    expect(existsSync(old.dir)).toBe(false);
    expect(existsSync(fresh.dir)).toBe(true);
    // Without a budget gc leaves every state.
    expect((await collectGarbage(catalog, { warmBudgetBytes: undefined })).actions).toEqual([]);
  });

  it('ignores the marker of a build that died', () => {
    const a = imageWithState('a');
    mkdirSync(join(a.dir, 'users'));
    writeFileSync(join(a.dir, 'users', '999999999.json'), '{}');
    expect(enforceWarmBudget(catalog, 0).evicted.map((e) => e.imageId)).toEqual([a.id]);
  });
});

describe('warmBudget', () => {
  it('reads sizes with units, bytes and 0; unset is the default', () => {
    expect(warmBudget({})).toBe(DEFAULT_WARM_BUDGET);
    expect(warmBudget({ KILN_WARM_BUDGET: '2G' })).toBe(2 * 1024 ** 3);
    expect(warmBudget({ KILN_WARM_BUDGET: '500MiB' })).toBe(500 * 1024 ** 2);
    expect(warmBudget({ KILN_WARM_BUDGET: '1.5g' })).toBe(1.5 * 1024 ** 3);
    expect(warmBudget({ KILN_WARM_BUDGET: '12345' })).toBe(12345);
    expect(warmBudget({ KILN_WARM_BUDGET: '0' })).toBe(0);
  });

  it('refuses what is not a size, naming the variable', () => {
    expect(() => warmBudget({ KILN_WARM_BUDGET: 'lots' })).toThrow(UserError);
    expect(() => warmBudget({ KILN_WARM_BUDGET: '-1G' })).toThrow(
      /KILN_WARM_BUDGET="-1G" is not a size/,
    );
  });
});

describe('qcow2BackingFile', () => {
  it('reads the backing file qemu-img wrote, relative names resolved against the file', async () => {
    const run = (args: string[]) =>
      new Promise<void>((res, rej) =>
        spawn('qemu-img', args, { stdio: 'ignore' }).on('exit', (c) =>
          c === 0 ? res() : rej(new Error(`qemu-img ${c}`)),
        ),
      );
    await run(['create', '-q', '-f', 'qcow2', join(root, 'base.qcow2'), '1M']);
    await run([
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      'base.qcow2',
      '-F',
      'qcow2',
      join(root, 'top.qcow2'),
    ]);
    expect(qcow2BackingFile(join(root, 'top.qcow2'))).toBe(join(root, 'base.qcow2'));
    expect(qcow2BackingFile(join(root, 'base.qcow2'))).toBeUndefined();
    expect(qcow2BackingFile(join(root, 'missing.qcow2'))).toBeUndefined();
  });
});
