/**
 * Image integrity: the sha256 of an image's disk is recorded when it is registered and
 * checked before the image is used as a source, so a disk changed or damaged behind the
 * catalog's back is refused with a clear error instead of being built on. Hashing a
 * ~500 MB base costs seconds, so a verified digest is remembered per file (keyed by its
 * size, mtime and inode) in `<home>/digests.json`: a repeat use costs one stat. That cache
 * guards against accidents (a truncated copy, a disk written by hand or by a stray VM), not
 * against someone who also restores the mtime.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SystemError } from '../lib/errors.js';
import type { ImageRecord } from './types.js';

interface CacheEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
}

const CACHE_FILE = 'digests.json';

/** The sha256 (hex) of a file's bytes, streamed. */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function readCache(home: string): Record<string, CacheEntry> {
  try {
    const v = JSON.parse(readFileSync(join(home, CACHE_FILE), 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, CacheEntry>) : {};
  } catch {
    return {};
  }
}

/** Remembers that `path`, as it is now, has digest `sha256` (best effort: a full disk only loses the cache). */
export function rememberDigest(home: string, path: string, sha256: string): void {
  try {
    const st = statSync(path);
    const cache = readCache(home);
    cache[path] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256 };
    const tmp = join(home, `.${CACHE_FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(cache), { mode: 0o600 });
    renameSync(tmp, join(home, CACHE_FILE));
  } catch {
    // The cache only saves time.
  }
}

/** Computes a file's sha256 and remembers it as verified (for an image about to be registered). */
export async function digestForRegistration(
  home: string,
  path: string,
  signal?: AbortSignal,
): Promise<string> {
  const sha = await sha256File(path, signal);
  rememberDigest(home, path, sha);
  return sha;
}

/**
 * Checks the disk of each image against its recorded sha256 (images without one are
 * skipped); throws a SystemError naming the image and file on a mismatch.
 */
export async function verifyImageDigests(
  home: string,
  images: readonly ImageRecord[],
  signal?: AbortSignal,
): Promise<void> {
  for (const image of images) {
    const disk = image.files[0];
    if (!image.sha256 || !disk) continue;
    const st = statSync(disk);
    const cached = readCache(home)[disk];
    if (
      cached &&
      cached.sha256 === image.sha256 &&
      cached.size === st.size &&
      cached.mtimeMs === st.mtimeMs &&
      cached.ino === st.ino
    )
      continue;
    const got = await sha256File(disk, signal);
    if (got !== image.sha256) {
      throw new SystemError(
        'ImageDigestMismatch',
        `the disk of image ${image.id} (${image.name}) does not match its recorded sha256`,
        {
          where: disk,
          details: [`recorded ${image.sha256}`, `found    ${got}`],
          hint: 'the file was changed or damaged after it was registered: rebuild the image (or remove it with `kiln images rm`)',
        },
      );
    }
    rememberDigest(home, disk, got);
  }
}
