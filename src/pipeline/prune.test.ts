import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { pruneImages } from './prune.js';

let home: string;
let catalog: Catalog;
const ids: Record<string, string> = {};
const disks: Record<string, string> = {};

function image(label: string, name: string, parent?: string): void {
  const id = catalog.images.newId();
  const dir = join(catalog.imagesDir, id);
  mkdirSync(dir);
  const disk = join(dir, 'disk.qcow2');
  writeFileSync(disk, label);
  catalog.images.register({
    id,
    name,
    builder: 'qemu',
    files: [disk],
    ...(parent ? { parentId: ids[parent]! } : {}),
  });
  ids[label] = id;
  disks[label] = disk;
}

/**
 * base b1 ─┬─ build w1 ─┬─ dev d1
 *          │            └─ prod p1 (running instance)
 *          ├─ build w2 ─── dev d2 (current aws deployment; a later deploy of d3 failed)
 *          ├─ old x1 ───── old-rel y1
 *          └─ old x2 ───── old-rel y2
 * base b2 ─── build w3 ─┬─ dev d3
 *                       └─ prod p2
 */
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'kiln-prune-'));
  catalog = Catalog.open(home);
  image('b1', 'debian-12');
  image('w1', 'web-build', 'b1');
  image('d1', 'web-dev', 'w1');
  image('p1', 'web-prod', 'w1');
  image('w2', 'web-build', 'b1');
  image('d2', 'web-dev', 'w2');
  image('x1', 'old', 'b1');
  image('y1', 'old-rel', 'x1');
  image('x2', 'old', 'b1');
  image('y2', 'old-rel', 'x2');
  image('b2', 'debian-12');
  image('w3', 'web-build', 'b2');
  image('d3', 'web-dev', 'w3');
  image('p2', 'web-prod', 'w3');
  catalog.instances.add({ imageId: ids.p1!, backend: 'local', pid: process.pid, group: 'web' });
  const deploy = { backend: 'aws', group: 'asg-web', region: 'us-east-1', kind: 'deploy' as const };
  catalog.deployments.record({ ...deploy, imageId: ids.d1!, status: 'succeeded' });
  catalog.deployments.record({ ...deploy, imageId: ids.d2!, status: 'succeeded' });
  catalog.deployments.record({ ...deploy, imageId: ids.d3!, status: 'failed' });
});
afterEach(() => catalog.close());

const labels = (entries: Array<{ id: string }>) =>
  entries.map((e) => Object.keys(ids).find((k) => ids[k] === e.id)).sort();

describe('pruneImages', () => {
  it('keeps the newest per lineage and everything something still needs; removes a dead chain leaves first', () => {
    const report = pruneImages(catalog, { keep: 1 });
    expect(labels(report.removed)).toEqual(['d1', 'x1', 'y1']);
    expect(report.failed).toEqual([]);
    const kept = Object.fromEntries(report.protected.map((p) => [labels([p])[0], p.reason]));
    expect(kept).toEqual({
      b1: expect.stringMatching(/^parent of /),
      w1: `parent of ${ids.p1}`,
      w2: `parent of ${ids.d2}`,
      p1: expect.stringMatching(/^running instance i-/),
      d2: 'current deployment of aws:asg-web',
    });
    for (const l of ['d1', 'x1', 'y1']) {
      expect(catalog.images.get(ids[l]!)).toBeUndefined();
      expect(existsSync(disks[l]!)).toBe(false);
    }
    for (const l of ['b1', 'b2', 'w1', 'w2', 'w3', 'd2', 'd3', 'p1', 'p2', 'x2', 'y2']) {
      expect(catalog.images.get(ids[l]!)).toBeDefined();
      expect(existsSync(disks[l]!)).toBe(true);
    }
  });

  it('--dry-run reports the same and removes nothing', () => {
    const report = pruneImages(catalog, { keep: 1, dryRun: true });
    expect(labels(report.removed)).toEqual(['d1', 'x1', 'y1']);
    expect(catalog.images.list()).toHaveLength(14);
    for (const d of Object.values(disks)) expect(existsSync(d)).toBe(true);
  });

  it('frees an image once its instance stops and its group deploys something else', () => {
    catalog.instances.update(catalog.instances.list()[0]!.id, { state: 'stopped' });
    catalog.deployments.record({
      backend: 'aws',
      group: 'asg-web',
      kind: 'deploy',
      imageId: ids.d3!,
      status: 'succeeded',
    });
    const report = pruneImages(catalog, { keep: 1 });
    // p1 and d2 go, then w1 and w2 lose their last children and go too; b1 keeps x2.
    expect(labels(report.removed)).toEqual(['d1', 'd2', 'p1', 'w1', 'w2', 'x1', 'y1']);
    expect(labels(report.protected)).toEqual(['b1']);
  });

  it('keeps everything with a large --keep, and refuses a negative one', () => {
    expect(pruneImages(catalog, { keep: 5 }).removed).toEqual([]);
    expect(() => pruneImages(catalog, { keep: -1 })).toThrow(/whole number/);
  });
});
