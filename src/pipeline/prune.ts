/**
 * `kiln images prune --keep N`: per lineage (images of one name: a template's build, one
 * environment's release, a base), keeps the N newest and removes the rest — except any
 * image that still has children, running instances, or is a group's current deployment
 * (local or AWS). Removal goes leaves first, so an old chain whose last child goes can go
 * too; removing an image removes its files (`Catalog.removeImage`).
 */

import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import { UserError } from '../lib/errors.js';

export interface PruneOptions {
  keep: number;
  dryRun?: boolean;
}

export interface PruneEntry {
  id: string;
  name: string;
  /** Why an old image is kept, or why its removal failed. */
  reason?: string;
}

export interface PruneReport {
  /** Removed (or, with dryRun, would be). */
  removed: PruneEntry[];
  /** Old enough to go, but kept: each with why. */
  protected: PruneEntry[];
  /** Removal attempted and refused (the catalog changed meanwhile). */
  failed: PruneEntry[];
}

/** The image of each group's latest successful deploy: what that group runs now. */
export function currentDeployments(catalog: CatalogApi): Map<string, string> {
  const current = new Map<string, string>();
  const seen = new Set<string>();
  // Newest first: the first succeeded record of each group is its current release.
  for (const d of catalog.deployments.list()) {
    const key = `${d.backend}:${d.group}`;
    if (seen.has(key) || d.status !== 'succeeded') continue;
    seen.add(key);
    current.set(d.imageId, `${current.has(d.imageId) ? `${current.get(d.imageId)}, ` : ''}${key}`);
  }
  return current;
}

/** Decides and (unless dryRun) removes; never removes an image something still needs. */
export function pruneImages(catalog: CatalogApi, opts: PruneOptions): PruneReport {
  if (!Number.isInteger(opts.keep) || opts.keep < 0)
    throw new UserError(
      'BadFlag',
      `--keep ${opts.keep}: give a whole number of images to keep per lineage`,
      {
        hint: 'kiln images prune --keep 3 --dry-run',
      },
    );
  const images = catalog.images.list();
  const byName = new Map<string, ImageRecord[]>();
  for (const i of images) byName.set(i.name, [...(byName.get(i.name) ?? []), i]);
  const old = new Set<string>();
  for (const list of byName.values()) {
    const newestFirst = [...list].sort(
      (a, b) => b.createdAt.localeCompare(a.createdAt) || images.indexOf(b) - images.indexOf(a),
    );
    for (const i of newestFirst.slice(opts.keep)) old.add(i.id);
  }

  const running = new Map<string, string[]>();
  for (const inst of catalog.instances.list()) {
    if (inst.state !== 'running') continue;
    running.set(inst.imageId, [...(running.get(inst.imageId) ?? []), inst.id]);
  }
  const deployed = currentDeployments(catalog);
  const childrenOf = new Map<string, Set<string>>();
  for (const i of images) {
    if (!i.parentId) continue;
    const set = childrenOf.get(i.parentId) ?? new Set<string>();
    set.add(i.id);
    childrenOf.set(i.parentId, set);
  }

  const report: PruneReport = { removed: [], protected: [], failed: [] };
  const removed = new Set<string>();
  const attempted = new Set<string>();
  const byId = new Map(images.map((i) => [i.id, i]));
  const liveKids = (id: string) => [...(childrenOf.get(id) ?? [])].filter((k) => !removed.has(k));
  // Leaves first, repeatedly: a parent becomes removable once its last child is removed.
  let changed = true;
  while (changed) {
    changed = false;
    for (const id of old) {
      if (attempted.has(id)) continue;
      if (liveKids(id).length > 0 || running.has(id) || deployed.has(id)) continue;
      attempted.add(id);
      const image = byId.get(id)!;
      if (!opts.dryRun) {
        try {
          catalog.images.remove(id);
        } catch (err) {
          report.failed.push({ id, name: image.name, reason: (err as Error).message });
          continue;
        }
      }
      removed.add(id);
      report.removed.push({ id, name: image.name });
      changed = true;
    }
  }
  for (const id of old) {
    if (attempted.has(id)) continue;
    const reasons: string[] = [];
    const kids = liveKids(id);
    if (kids.length > 0) reasons.push(`parent of ${kids.join(', ')}`);
    if (running.has(id)) reasons.push(`running instance ${running.get(id)!.join(', ')}`);
    if (deployed.has(id)) reasons.push(`current deployment of ${deployed.get(id)}`);
    report.protected.push({ id, name: byId.get(id)!.name, reason: reasons.join('; ') });
  }
  return report;
}
