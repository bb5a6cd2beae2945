/** What a file or a directory tree occupies on disk, as `du` counts it. */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Bytes allocated to `path` and everything under it (blocks, so a sparse file counts what it
 * really uses; symlinks are not followed); undefined when `path` does not exist.
 */
export function diskUsage(path: string): number | undefined {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return undefined;
  let total = st.blocks * 512;
  if (st.isDirectory())
    for (const name of readdirSync(path)) total += diskUsage(join(path, name)) ?? 0;
  return total;
}
