/**
 * The saved VM states kept beside catalog images (`<image dir>/warm/`, written by the qemu
 * builder: builders/qemu/warm.ts), as the store sees them: listed with their size on disk,
 * marked when a build restores one, and evicted least recently used first once together
 * they exceed a size budget (`KILN_WARM_BUDGET`, default 2 GiB).
 *
 * A state's disk layer may be backed by another image's state (a build restored from its
 * source's state and saved its own on top of it): evicting a state therefore evicts every
 * state layered on it, and using a state counts as using the ones below it. A state that a
 * live build restored (a marker `users/<pid>-<random>.json` in it) is never evicted, nor any state
 * below it. Eviction removes `meta.json` first, so a half-removed state is never used; a
 * directory left without it is incomplete and goes first. Evicting only costs the next build
 * from that image a boot.
 */

import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { diskUsage } from '../lib/disk-usage.js';
import { UserError } from '../lib/errors.js';
import { qcow2BackingFile } from '../lib/qcow2.js';
import { isInside } from './fs-util.js';
import { isSameProcessAlive, type ProcessIdentity, processIdentity } from './process-info.js';
import type { CatalogApi, ImageRecord } from './types.js';

/** The directory beside an image's disk that holds its saved VM state. */
export const WARM_DIR = 'warm';
/** Written last when a state is saved and removed first when it is evicted: no meta, no state. */
const META = 'meta.json';
const LAYER = 'layer.qcow2';
/** Its mtime is when a build last restored the state. */
const USED = 'used';
/** `<pid>-<random>.json` per live build that restored the state (one process may run several). */
const USERS = 'users';

/** The environment variable that sets the budget. */
export const WARM_BUDGET_ENV = 'KILN_WARM_BUDGET';
/** The budget when `KILN_WARM_BUDGET` is unset. */
export const DEFAULT_WARM_BUDGET = 2 * 1024 ** 3;

/** One saved VM state in the store. */
export interface WarmState {
  imageId: string;
  imageName: string;
  dir: string;
  /** Allocated bytes of the whole directory. */
  sizeBytes: number;
  /** Milliseconds since the epoch: last restored, else saved (0: incomplete). */
  lastUsedMs: number;
  /** False for a directory without meta.json (a save or an eviction cut short). */
  complete: boolean;
  /** The states this one's disk layer is backed by, nearest first. */
  below: string[];
  /** A live build restored it. */
  inUse: boolean;
}

/** The state directory of an image whose disk lives in the kiln home; undefined otherwise. */
export function warmDirOf(
  catalog: Pick<CatalogApi, 'imagesDir'>,
  image: ImageRecord,
): string | undefined {
  const disk = image.files[0];
  if (!disk || image.format === 'ami' || !isInside(catalog.imagesDir, disk)) return undefined;
  return join(dirname(disk), WARM_DIR);
}

/**
 * Every saved VM state beside the catalog's images. Only reads (a read-only command may
 * call it); `prune` also removes the markers of builds that died.
 */
export function listWarmStates(
  catalog: Pick<CatalogApi, 'imagesDir' | 'images'>,
  opts: { prune?: boolean } = {},
): WarmState[] {
  const states: WarmState[] = [];
  for (const image of catalog.images.list()) {
    const dir = warmDirOf(catalog, image);
    if (!dir || !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
    const meta = statSync(join(dir, META), { throwIfNoEntry: false });
    const used = statSync(join(dir, USED), { throwIfNoEntry: false });
    states.push({
      imageId: image.id,
      imageName: image.name,
      dir,
      sizeBytes: diskUsage(dir) ?? 0,
      lastUsedMs: meta ? Math.max(meta.mtimeMs, used?.mtimeMs ?? 0) : 0,
      complete: meta !== undefined,
      below: [],
      inUse: liveUsers(dir, opts.prune === true) > 0,
    });
  }
  const byDir = new Map(states.map((s) => [s.dir, s]));
  for (const s of states) {
    let layer: string | undefined = join(s.dir, LAYER);
    for (let hops = 0; hops < 64 && layer; hops++) {
      layer = qcow2BackingFile(layer);
      if (layer && basename(layer) === LAYER && byDir.has(dirname(layer)))
        s.below.push(dirname(layer));
    }
  }
  // Using a state uses the ones below it: they count as recently used and in use as well.
  for (const s of states)
    for (const d of s.below) {
      const b = byDir.get(d)!;
      b.lastUsedMs = Math.max(b.lastUsedMs, s.lastUsedMs);
      b.inUse ||= s.inUse;
    }
  return states;
}

/**
 * Marks a state as restored by this process (its `used` time, and a `users/<pid>.json`
 * marker that keeps it from eviction); returns the function that takes the marker away.
 */
export function markWarmInUse(dir: string): () => void {
  const now = new Date();
  const marker = join(dir, USERS, `${process.pid}-${randomBytes(4).toString('hex')}.json`);
  try {
    writeFileSync(join(dir, USED), '');
    utimesSync(join(dir, USED), now, now);
    mkdirSync(join(dir, USERS), { recursive: true, mode: 0o700 });
    writeFileSync(marker, JSON.stringify(processIdentity(process.pid)), { mode: 0o600 });
  } catch {
    // Best effort: a state that cannot be marked is only less protected.
  }
  return () => rmSync(marker, { force: true });
}

/** Live builds that restored the state; with `prune`, markers of dead ones are removed. */
function liveUsers(dir: string, prune: boolean): number {
  let names: string[];
  try {
    names = readdirSync(join(dir, USERS));
  } catch {
    return 0;
  }
  let live = 0;
  for (const n of names) {
    const pid = Number(/^(\d+)/.exec(n)?.[1]);
    let id: ProcessIdentity = {};
    try {
      id = JSON.parse(readFileSync(join(dir, USERS, n), 'utf8')) as ProcessIdentity;
    } catch {}
    if (isSameProcessAlive(pid, id)) live++;
    else if (prune) rmSync(join(dir, USERS, n), { force: true });
  }
  return live;
}

/**
 * The budget `KILN_WARM_BUDGET` sets, in bytes: a size such as `2G`, `500M`, `1.5GiB`,
 * a number of bytes, or `0` (keep no state); unset: DEFAULT_WARM_BUDGET. A UserError when
 * it cannot be read.
 */
export function warmBudget(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[WARM_BUDGET_ENV]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_WARM_BUDGET;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?$/i.exec(raw);
  if (!m)
    throw new UserError('BadWarmBudget', `${WARM_BUDGET_ENV}="${raw}" is not a size`, {
      hint: `give bytes or a size with a unit, e.g. ${WARM_BUDGET_ENV}=2G (0 keeps no saved VM state)`,
    });
  const pow = { '': 0, K: 1, M: 2, G: 3, T: 4 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.floor(Number(m[1]) * 1024 ** pow);
}

/** How an eviction is told: the image, the state's size, the budget it went over. */
export function describeEviction(e: WarmState, budgetBytes: number): string {
  const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${e.imageId} (${e.imageName}, ${mib(e.sizeBytes)}): saved VM states over their budget (${mib(budgetBytes)}, ${WARM_BUDGET_ENV})`;
}

/** What `enforceWarmBudget` did. */
export interface WarmEviction {
  evicted: WarmState[];
  /** Bytes of the states left. */
  totalBytes: number;
  budgetBytes: number;
}

/**
 * Evicts states, least recently used first (each with the states layered on it), until the
 * rest fit in `budgetBytes`. States in use, and those below them, stay even above the budget.
 * With `dryRun`, only says what it would evict.
 */
export function enforceWarmBudget(
  catalog: Pick<CatalogApi, 'imagesDir' | 'images'>,
  budgetBytes: number,
  opts: { dryRun?: boolean } = {},
): WarmEviction {
  const states = listWarmStates(catalog, { prune: opts.dryRun !== true });
  let total = states.reduce((n, s) => n + s.sizeBytes, 0);
  const evicted: WarmState[] = [];
  if (total <= budgetBytes) return { evicted, totalBytes: total, budgetBytes };
  const gone = new Set<string>();
  const order = [...states].sort(
    (a, b) => Number(a.complete) - Number(b.complete) || a.lastUsedMs - b.lastUsedMs,
  );
  for (const s of order) {
    if (total <= budgetBytes) break;
    if (gone.has(s.dir)) continue;
    // The state and every state layered on it, which would be useless without it.
    const group = states.filter((x) => !gone.has(x.dir) && (x === s || x.below.includes(s.dir)));
    if (group.some((x) => x.inUse)) continue;
    for (const x of group) {
      if (!opts.dryRun) {
        // The marker first: a state without it is incomplete, never restored.
        rmSync(join(x.dir, META), { force: true });
        rmSync(x.dir, { recursive: true, force: true });
      }
      gone.add(x.dir);
      total -= x.sizeBytes;
      evicted.push(x);
    }
  }
  return { evicted, totalBytes: total, budgetBytes };
}
