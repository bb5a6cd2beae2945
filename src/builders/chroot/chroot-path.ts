/**
 * Host paths of places inside the mounted image, checked so that nothing the builder
 * mounts or writes there can land outside it: no component below the root may be a
 * symlink (an image's `/etc/resolv.conf -> /run/…` would otherwise point at the host's).
 */
import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { UserError } from '../../lib/errors.js';

/** The host path of `inside` (absolute, in the image) under `root`, and whether it exists; refuses symlinks on the way. */
export async function chrootPath(
  root: string,
  inside: string,
  where: string,
): Promise<{ path: string; exists: boolean; isDir: boolean }> {
  const parts = posix.normalize(inside).split('/').filter(Boolean);
  let path = root;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    const st = await lstat(path).catch(() => undefined);
    if (!st) return { path: join(root, ...parts), exists: false, isDir: false };
    if (st.isSymbolicLink()) {
      throw new UserError(
        'ChrootPathSymlink',
        `/${parts.slice(0, i + 1).join('/')} is a symlink in the image: kiln does not mount or write through it`,
        { where, hint: 'name the path it points to instead' },
      );
    }
    if (i === parts.length - 1) return { path, exists: true, isDir: st.isDirectory() };
  }
  return { path: root, exists: true, isDir: true };
}
