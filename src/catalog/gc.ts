/**
 * Local garbage collection: what `kiln gc` does. For every run whose process died (the
 * journal's orphans) it stops the processes the run left — only after checking that the
 * pid still belongs to the recorded process — unmounts what it mounted and detaches its
 * loop devices (a chroot build's), removes its files and directories, and then
 * forgets the run; it also removes stray entries under `imagesDir` that nothing refers to,
 * and evicts saved VM states above their size budget (least recently used first).
 * Every step is recorded in the journal as it completes, so an interrupted gc can be rerun.
 */
import { isAbsolute, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { detachLoop, isMountPoint, loopsOf, stopProcessesIn, unmount } from '../lib/mounts.js';
import { removePath, unsafeToRemove } from './fs-util.js';
import type { Catalog } from './index.js';
import { isSameProcessAlive, processCmdline } from './process-info.js';
import type { RunResource } from './types.js';
import { describeEviction, enforceWarmBudget } from './warm-states.js';

/** One thing gc did, would do (dry run), or could not do. */
export interface GcAction {
  /** The orphaned run the resource belonged to; absent for stray image entries. */
  runId?: string;
  kind: string;
  ref: string;
  /**
   * `removed` (file, dir or stray gone), `killed` (process stopped), `gone` (already absent),
   * `skipped` (not ours any more: pid reused, or unsafe path), `left` (another tool's kind, e.g. AWS),
   * `failed`, or — on a dry run — `would-remove` / `would-kill`.
   */
  outcome:
    | 'removed'
    | 'killed'
    | 'gone'
    | 'skipped'
    | 'left'
    | 'failed'
    | 'would-remove'
    | 'would-kill';
  detail?: string;
}

export interface GcRunReport {
  runId: string;
  pid: number;
  description: string;
  /** True when the run was forgotten (everything it left is handled). */
  cleared: boolean;
}

export interface GcReport {
  runs: GcRunReport[];
  actions: GcAction[];
}

export interface GcOptions {
  dryRun?: boolean;
  /** How long a process gets after SIGTERM before SIGKILL (default 10 s: QEMU flushes its disk). */
  termGraceMs?: number;
  /** Called as each action completes (for progress output). */
  onAction?: (action: GcAction) => void;
  /** Also remove stray entries under `imagesDir` (default true; false: only what dead runs journalled). */
  strays?: boolean;
  /** Evict saved VM states above this many bytes, as a build does after saving one (unset: keep all). */
  warmBudgetBytes?: number;
}

/** Kinds this module can clean; any other kind (AWS resources) is left for the tool that owns it. */
const LOCAL_KINDS = new Set(['mount', 'loop', 'process', 'file', 'dir']);

/** Cleans up after dead runs and removes stray image entries; returns what it did. */
export async function collectGarbage(catalog: Catalog, opts: GcOptions = {}): Promise<GcReport> {
  const report: GcReport = { runs: [], actions: [] };
  const act = (a: GcAction) => {
    report.actions.push(a);
    opts.onAction?.(a);
  };
  const protect = [catalog.home, catalog.imagesDir];

  for (const run of catalog.journal.orphaned()) {
    let clear = true;
    // Mounts first, deepest first (a chroot build's, on a loop device over an export
    // daemon), then loop devices, then processes (they may hold the files), then files,
    // then directories.
    const order = (r: RunResource) =>
      ({ mount: 0, loop: 1, process: 2, file: 3, dir: 4 })[r.kind] ?? 5;
    const resources = [...run.resources].sort(
      (a, b) => order(a) - order(b) || (a.kind === 'mount' ? b.ref.length - a.ref.length : 0),
    );
    for (const res of resources) {
      const action = await cleanResource(catalog, res, protect, opts);
      act({ runId: run.runId, ...action });
      if (action.outcome === 'failed' || action.outcome === 'left' || opts.dryRun) clear = false;
      else if (!opts.dryRun) catalog.journal.forget(run.runId, res.ref);
    }
    if (clear) catalog.journal.end(run.runId);
    report.runs.push({
      runId: run.runId,
      pid: run.pid,
      description: run.description,
      cleared: clear,
    });
  }

  for (const stray of opts.strays === false ? [] : catalog.strayPaths()) {
    if (opts.dryRun) {
      act({ kind: 'stray', ref: stray, outcome: 'would-remove' });
      continue;
    }
    try {
      act({ kind: 'stray', ref: stray, outcome: removePath(stray) ? 'removed' : 'gone' });
    } catch (err) {
      act({ kind: 'stray', ref: stray, outcome: 'failed', detail: (err as Error).message });
    }
  }

  if (opts.warmBudgetBytes !== undefined) {
    const r = enforceWarmBudget(catalog, opts.warmBudgetBytes, { dryRun: opts.dryRun === true });
    for (const e of r.evicted)
      act({
        kind: 'warm-state',
        ref: e.dir,
        outcome: opts.dryRun ? 'would-remove' : 'removed',
        detail: describeEviction(e, r.budgetBytes),
      });
  }
  return report;
}

async function cleanResource(
  catalog: Catalog,
  res: RunResource,
  protect: readonly string[],
  opts: GcOptions,
): Promise<Omit<GcAction, 'runId'>> {
  const base = { kind: res.kind, ref: res.ref };
  if (!LOCAL_KINDS.has(res.kind))
    return { ...base, outcome: 'left', detail: 'not a local resource (see `kiln gc aws`)' };
  if (res.kind === 'process') return stopProcess(res, opts);
  if (res.kind === 'mount' || res.kind === 'loop') return undoMountOrLoop(res, opts);
  const unsafe = unsafeToRemove(res.ref, protect);
  if (unsafe) return { ...base, outcome: 'skipped', detail: `not removed: ${unsafe}` };
  // The run may have died after registering an image but before forgetting its files.
  const users = catalog.images.usersOf(res.ref);
  if (users.length > 0)
    return { ...base, outcome: 'skipped', detail: `kept: in use by ${users.join(', ')}` };
  if (opts.dryRun) return { ...base, outcome: 'would-remove' };
  try {
    return { ...base, outcome: removePath(res.ref) ? 'removed' : 'gone' };
  } catch (err) {
    return { ...base, outcome: 'failed', detail: (err as Error).message };
  }
}

async function stopProcess(res: RunResource, opts: GcOptions): Promise<Omit<GcAction, 'runId'>> {
  const base = { kind: res.kind, ref: res.ref };
  const pid = Number(res.ref);
  const meta = res.metadata ?? {};
  const recordedCmdline = typeof meta.cmdline === 'string' ? meta.cmdline : undefined;
  const identity = {
    ...(typeof meta.startTime === 'string' ? { startTime: meta.startTime } : {}),
    ...(typeof meta.bootId === 'string' ? { bootId: meta.bootId } : {}),
  };
  if (!Number.isInteger(pid) || pid <= 1)
    return { ...base, outcome: 'skipped', detail: 'not a valid pid' };
  if (!isSameProcessAlive(pid, identity)) return { ...base, outcome: 'gone' };
  const cmdline = processCmdline(pid);
  if (!recordedCmdline && !identity.startTime) {
    return {
      ...base,
      outcome: 'skipped',
      detail: `no recorded identity: not killing pid ${pid} (${cmdline ?? '?'}) blindly`,
    };
  }
  if (recordedCmdline && cmdline !== recordedCmdline) {
    return {
      ...base,
      outcome: 'skipped',
      detail: `pid ${pid} now runs "${cmdline ?? '?'}", not "${recordedCmdline}"`,
    };
  }
  const detail = cmdline ?? recordedCmdline;
  if (opts.dryRun) return { ...base, outcome: 'would-kill', ...(detail ? { detail } : {}) };
  try {
    process.kill(pid, 'SIGTERM');
    if (!(await exited(pid, identity, opts.termGraceMs ?? 10_000))) {
      process.kill(pid, 'SIGKILL');
      if (!(await exited(pid, identity, 5_000))) {
        return { ...base, outcome: 'failed', detail: `pid ${pid} survived SIGKILL` };
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') {
      return {
        ...base,
        outcome: 'failed',
        detail: `cannot signal pid ${pid}: ${(err as Error).message}`,
      };
    }
  }
  return { ...base, outcome: 'killed', ...(detail ? { detail } : {}) };
}

/**
 * Unmounts a dead build's mount (after stopping what still runs inside it), or detaches
 * the loop devices over a file (`losetup -j`). Gone ones are fine.
 */
async function undoMountOrLoop(
  res: RunResource,
  opts: GcOptions,
): Promise<Omit<GcAction, 'runId'>> {
  const base = { kind: res.kind, ref: res.ref };
  if (!isAbsolute(res.ref) || resolve(res.ref) === '/')
    return { ...base, outcome: 'skipped', detail: 'not an absolute path below /' };
  try {
    if (res.kind === 'mount') {
      if (!isMountPoint(res.ref)) return { ...base, outcome: 'gone' };
      if (opts.dryRun) return { ...base, outcome: 'would-remove' };
      await stopProcessesIn(res.ref);
      await unmount(res.ref);
      return { ...base, outcome: 'removed' };
    }
    const devices = await loopsOf(res.ref);
    if (devices.length === 0) return { ...base, outcome: 'gone' };
    if (opts.dryRun) return { ...base, outcome: 'would-remove', detail: devices.join(', ') };
    for (const d of devices) await detachLoop(d);
    return { ...base, outcome: 'removed', detail: devices.join(', ') };
  } catch (err) {
    return { ...base, outcome: 'failed', detail: (err as Error).message };
  }
}

/** Polls until the process is gone (a zombie counts as gone); false after `ms`. */
async function exited(
  pid: number,
  identity: { startTime?: string; bootId?: string },
  ms: number,
): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isSameProcessAlive(pid, identity)) return true;
    await delay(50);
  }
  return !isSameProcessAlive(pid, identity);
}
