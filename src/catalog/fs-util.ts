/** Small file-system helpers the catalog shares between removal and garbage collection. */
import { lstatSync, rmdirSync, rmSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { mountsUnder } from '../lib/mounts.js';

/** True when `path` lies strictly inside `dir` (not `dir` itself), after resolving `..`. */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * Why `path` must not be deleted from a journal entry (a relative path, `/`, a top-level
 * directory, one of `protect`, or a directory with something mounted in it — a dead
 * chroot build's bound /dev must never be deleted through), or undefined when it may be. A journal is written by
 * kiln itself, but a bad entry must never turn into `rm -rf /`.
 */
export function unsafeToRemove(path: string, protect: readonly string[] = []): string | undefined {
  if (!isAbsolute(path)) return 'not an absolute path';
  const abs = resolve(path);
  if (abs.split(sep).filter(Boolean).length < 2) return 'too close to the root of the file system';
  if (protect.some((p) => resolve(p) === abs || isInside(abs, p))) return 'a directory kiln needs';
  const mounted = mountsUnder(abs);
  if (mounted.length > 0) return `${mounted.join(', ')} still mounted in it`;
  return undefined;
}

/**
 * Removes a file, or a directory with everything in it (never one with a mount below it:
 * that throws); true when something was removed, false when already absent.
 */
export function removePath(path: string): boolean {
  let isDir: boolean;
  try {
    isDir = lstatSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const mounted = isDir ? mountsUnder(path) : [];
  if (mounted.length > 0) throw new Error(`not removed: ${mounted.join(', ')} still mounted in it`);
  rmSync(path, { recursive: isDir, force: true });
  return true;
}

/** Removes `dir` when it is empty; leaves it (and says false) otherwise. */
export function removeDirIfEmpty(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}
