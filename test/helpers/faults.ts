/**
 * Fault injection for the reliability tests: kiln homes that share the test base image
 * without copying it (a catalog row pointing at the shared disk), the compiled CLI run
 * with its own TMPDIR, and one "nothing left" snapshot used everywhere: QEMU processes of
 * the home, work dirs and stray entries under its images dir, files in the run's TMPDIR,
 * journal runs, and a dump of every catalog table.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../../src/catalog/index.js';
import { ROOT, type Running, type RunResult, startKiln as start } from './kiln.js';

export { ROOT };
/** Where the debian-12 base is made once and kept (the same home the QEMU and runtime tests use). */
export const SHARED_HOME = process.env.KILN_TEST_HOME ?? join(tmpdir(), 'kiln-test-home');

/** Makes (or finds) the debian-12 base in the shared test home; returns its record's essentials. */
export async function sharedBase(): Promise<{
  id: string;
  files: string[];
  metadata: Record<string, unknown>;
}> {
  const r = await start(['base', 'debian-12'], { home: SHARED_HOME, timeoutMs: 900_000 }).exit;
  if (r.code !== 0) throw new Error(`kiln base failed (${r.code}): ${r.stderr}`);
  const catalog = Catalog.open(SHARED_HOME);
  try {
    const base = catalog.images.resolve('debian-12');
    return { id: base.id, files: base.files, metadata: base.metadata as Record<string, unknown> };
  } finally {
    catalog.close();
  }
}

/**
 * A kiln home (made under `dir`, or a fresh temp dir) whose catalog has the shared debian-12
 * base registered by reference: builds use it as a backing file, nothing is copied. Never
 * remove that image from such a home (it would delete the shared disk).
 */
export async function homeWithBase(dir?: string): Promise<{ home: string; baseId: string }> {
  const base = await sharedBase();
  const home = dir ?? mkdtempSync(join(tmpdir(), 'kiln-rel-home-'));
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const catalog = Catalog.open(home);
  try {
    const found = catalog.images.list().find((i) => i.name === 'debian-12');
    if (found) return { home, baseId: found.id };
    const image = catalog.images.register({
      name: 'debian-12',
      builder: 'base',
      files: base.files,
      format: 'qcow2',
      tags: ['debian-12'],
      metadata: base.metadata,
    });
    return { home, baseId: image.id };
  } finally {
    catalog.close();
  }
}

/** A running `kiln …` with its output collected and a TMPDIR of its own (key dirs, QMP sockets). */
export type KilnRun = Running & { tmp: string };

/** Starts the compiled CLI with KILN_HOME=`home` and a TMPDIR of its own. */
export function startKiln(
  home: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): KilnRun {
  return start(args, {
    home,
    ownTmp: true,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    env: { NO_COLOR: '1', ...opts.env },
  }) as KilnRun;
}

/** Runs the compiled CLI to completion (KILN_HOME=`home`, a TMPDIR of its own). */
export function kiln(
  home: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<RunResult & { tmp: string }> {
  return startKiln(home, args, opts).exit as Promise<RunResult & { tmp: string }>;
}

/** QEMU processes whose command line names a file under `home` (builds and instances of that home). */
export function qemuPidsOf(home: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(`${home}/`)) pids.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Every table of the catalog, row by row (sorted), for "the catalog is unchanged" checks. */
export function dumpCatalog(home: string): Record<string, unknown[]> {
  const catalog = Catalog.open(home);
  try {
    const db = catalog.database;
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
      .pluck()
      .all() as string[];
    const out: Record<string, unknown[]> = {};
    for (const t of tables.sort()) {
      out[t] = (db.prepare(`SELECT * FROM "${t}"`).all() as unknown[])
        .map((r) => JSON.stringify(r))
        .sort();
    }
    return out;
  } finally {
    catalog.close();
  }
}

/** What a run may leave behind, to compare before and after. */
export interface Leftovers {
  qemuPids: number[];
  /** `.tmp-*` work dirs under the images dir. */
  workDirs: string[];
  /** Entries under the images dir that nothing in the catalog refers to (half-written images). */
  strays: string[];
  /** Files left in the given run TMPDIRs (key dirs, QMP sockets, consoles). */
  tmpFiles: string[];
  /** Runs in the journal whose process is gone. */
  orphanedRuns: string[];
  /** Every catalog table except the journal (compared whole). */
  catalog: Record<string, unknown[]>;
}

/** Takes the "nothing left" snapshot of `home` (and of the TMPDIRs of the runs given). */
export function leftovers(home: string, tmps: readonly string[] = []): Leftovers {
  const catalog = Catalog.open(home);
  let strays: string[];
  let orphanedRuns: string[];
  try {
    strays = catalog.strayPaths();
    orphanedRuns = catalog.journal.orphaned().map((r) => r.runId);
  } finally {
    catalog.close();
  }
  const images = join(home, 'images');
  const dump = dumpCatalog(home);
  delete dump.runs;
  delete dump.run_resources;
  return {
    qemuPids: qemuPidsOf(home),
    workDirs: existsSync(images) ? readdirSync(images).filter((n) => n.startsWith('.tmp-')) : [],
    strays,
    tmpFiles: tmps.flatMap((t) =>
      existsSync(t) ? readdirSync(t, { recursive: true }).map((f) => join(t, String(f))) : [],
    ),
    orphanedRuns,
    catalog: dump,
  };
}

/** The differences that mean something was left (empty when nothing was). */
export function whatWasLeft(before: Leftovers, after: Leftovers): string[] {
  const left: string[] = [];
  for (const pid of after.qemuPids)
    if (!before.qemuPids.includes(pid)) left.push(`QEMU pid ${pid}`);
  for (const d of after.workDirs) if (!before.workDirs.includes(d)) left.push(`work dir ${d}`);
  for (const s of after.strays) if (!before.strays.includes(s)) left.push(`stray ${s}`);
  for (const f of after.tmpFiles) left.push(`temp file ${f}`);
  for (const r of after.orphanedRuns)
    if (!before.orphanedRuns.includes(r)) left.push(`journal run ${r}`);
  if (JSON.stringify(after.catalog) !== JSON.stringify(before.catalog))
    left.push(`catalog changed: ${diffTables(before.catalog, after.catalog)}`);
  return left;
}

function diffTables(a: Record<string, unknown[]>, b: Record<string, unknown[]>): string {
  const out: string[] = [];
  for (const t of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = new Set((a[t] ?? []).map(String));
    const y = new Set((b[t] ?? []).map(String));
    for (const r of y) if (!x.has(r)) out.push(`+${t} ${r}`);
    for (const r of x) if (!y.has(r)) out.push(`-${t} ${r}`);
  }
  return out.join('; ');
}

/** Free bytes on the file system holding `path`. */
export function freeBytes(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

/** Writes a qemu template using the debian-12 base (small VM, TCG) into `dir`; returns its path. */
export function qemuTemplate(
  dir: string,
  name: string,
  builder: Record<string, unknown> = {},
  provisioners: unknown[] = [],
  extra: Record<string, unknown> = {},
): string {
  const file = join(dir, `${name}.json`);
  const tpl = {
    ...extra,
    builders: [
      {
        type: 'qemu',
        source_image: 'debian-12',
        ssh_username: 'root',
        vm_name: `kiln-rel-${name}`,
        memory: 1024,
        cpus: 2,
        ...builder,
      },
    ],
    provisioners,
  };
  writeFileSync(file, JSON.stringify(tpl, null, 2));
  return file;
}

/** Waits until `check` holds, polling; throws after `ms`. */
export async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
