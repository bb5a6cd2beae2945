/**
 * Shared by the QEMU integration tests: a kiln home holding the `debian-12` base (made
 * once with `kiln base`, then reused: set KILN_TEST_HOME to keep it across runs), the
 * compiled CLI, and "nothing left" checks (no QEMU process, no temp dir, no stray image).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../src/catalog/index.js';
import { kiln, ROOT, type Running, startKiln as start } from './helpers/kiln.js';

export { ROOT };
/** Where the debian-12 base is made once and kept (shared with other suites). */
export const SHARED_HOME = process.env.KILN_TEST_HOME ?? join(tmpdir(), 'kiln-test-home');
/** The kiln home the tests of this process use (see usePrivateHome). */
export let HOME = SHARED_HOME;

/**
 * Switches this process's tests to a fresh kiln home holding a copy of the shared
 * debian-12 base (imported with its kernel, initrd and command line), so that other
 * suites using the shared home cannot disturb "nothing left" checks.
 */
export async function usePrivateHome(): Promise<string> {
  await ensureBase();
  const catalog = Catalog.open(SHARED_HOME);
  const base = catalog.images.resolve('debian-12');
  catalog.close();
  const md = base.metadata as Record<string, string>;
  HOME = mkdtempSync(join(tmpdir(), 'kiln-test-private-'));
  const r = await kiln(
    [
      'images',
      'import',
      base.files[0]!,
      '--kernel',
      md.kernel!,
      '--initrd',
      md.initrd!,
      '--cmdline',
      md.cmdline!,
      '--name',
      'debian-12',
      '--tag',
      'debian-12',
    ],
    { home: HOME },
  );
  if (r.code !== 0) throw new Error(`kiln images import failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

/** Makes (or finds) the debian-12 base in the test home; returns its id. */
export async function ensureBase(): Promise<string> {
  const r = await kiln(['base', 'debian-12'], { home: SHARED_HOME, timeoutMs: 900_000 });
  if (r.code !== 0) throw new Error(`kiln base failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

/** A running `kiln …` with its own TMPDIR (key dirs, QMP sockets): empty again when nothing is left. */
export type KilnProcess = Running & { tmp: string };

/** Starts the compiled CLI with KILN_HOME set to the test home and a TMPDIR of its own. */
export function startKiln(args: string[], cwd = ROOT): KilnProcess {
  return start(args, { home: HOME, cwd, ownTmp: true }) as KilnProcess;
}

/** What a build may leave behind, to compare before and after. */
export interface Snapshot {
  /** Images made by these tests (named `kiln-test-…`). */
  imageIds: string[];
  workDirs: string[];
  qemuPids: number[];
  runs: number;
}

/** QEMU processes of builds: their disks are work dirs `<home>/images/.tmp-<id>/` (instances of `kiln run` live elsewhere). */
export function qemuPidsOfHome(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(join(HOME, 'images', '.tmp-')))
        pids.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

export function snapshot(): Snapshot {
  const catalog = Catalog.open(HOME);
  try {
    const imagesDir = catalog.imagesDir;
    return {
      imageIds: catalog.images
        .list()
        .filter((i) => i.name.startsWith('kiln-test-'))
        .map((i) => i.id)
        .sort(),
      workDirs: existsSync(imagesDir)
        ? readdirSync(imagesDir).filter((n) => n.startsWith('.tmp-'))
        : [],
      qemuPids: qemuPidsOfHome(),
      runs: catalog.journal.orphaned().length,
    };
  } finally {
    catalog.close();
  }
}

/** The id in a machine-readable `artifact,0,id,…` line. */
export function artifactId(machineReadable: string): string | undefined {
  return /,artifact,0,id,(img-[0-9a-f]+)/.exec(machineReadable)?.[1];
}

/** Reads files from an image's ext4 file system without booting or mounting it (debugfs on a flattened copy). */
export function readImageFiles(disk: string, paths: string[]): Record<string, string | undefined> {
  const raw = join(tmpdir(), `kiln-test-${process.pid}-${Date.now()}.raw`);
  try {
    const c = spawnSync('qemu-img', ['convert', '-O', 'raw', disk, raw], { encoding: 'utf8' });
    if (c.status !== 0) throw new Error(`qemu-img convert failed: ${c.stderr}`);
    const out: Record<string, string | undefined> = {};
    for (const p of paths) {
      const r = spawnSync('debugfs', ['-R', `cat ${p}`, raw], { encoding: 'utf8' });
      out[p] = /File not found/.test(r.stderr) ? undefined : r.stdout;
    }
    return out;
  } finally {
    spawnSync('rm', ['-f', raw]);
  }
}
