/**
 * What a push remembers about the layers it made, in `<home>/registry/layers.json`: for
 * each image file (keyed by its path, size, mtime and inode: image files are read-only once
 * registered) the compressed blob's digest and size and the digest of its content, and the
 * repositories it was pushed to. A later push then asks the registry about the blob before
 * compressing anything, and mounts it from a repository that has it: a second push of the
 * same chain reads no image file at all. Only a cache: a lost or stale entry costs one
 * compression.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerBlob } from '../registry/index.js';

interface Entry extends Required<Pick<LayerBlob, 'digest' | 'size' | 'diffId' | 'diffSize'>> {
  fileSize: number;
  mtimeMs: number;
  ino: number;
  /** `registry/repository` names that received the blob. */
  repositories: string[];
}

/** The layer cache of one kiln home. */
export class LayerCache {
  private readonly file: string;

  constructor(private readonly home: string) {
    this.file = join(home, 'registry', 'layers.json');
  }

  private read(): Record<string, Entry> {
    try {
      const v = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, Entry>) : {};
    } catch {
      return {};
    }
  }

  /** The layer made from `path` as it is now, and where it was pushed; undefined when unknown or stale. */
  get(path: string): { layer: LayerBlob; repositories: string[] } | undefined {
    const e = this.read()[path];
    if (!e) return undefined;
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st || st.size !== e.fileSize || st.mtimeMs !== e.mtimeMs || st.ino !== e.ino)
      return undefined;
    return {
      layer: { digest: e.digest, size: e.size, diffId: e.diffId, diffSize: e.diffSize },
      repositories: e.repositories,
    };
  }

  /** Remembers that `path` compresses to `layer`, now in `repository` (best effort). */
  async put(path: string, layer: LayerBlob, repository: string): Promise<void> {
    try {
      await mkdir(join(this.home, 'registry'), { recursive: true, mode: 0o700 });
      const st = statSync(path);
      const all = this.read();
      const old = all[path];
      const repositories =
        old && old.digest === layer.digest
          ? [...new Set([...old.repositories, repository])]
          : [repository];
      all[path] = {
        digest: layer.digest,
        size: layer.size,
        diffId: layer.diffId,
        diffSize: layer.diffSize,
        fileSize: st.size,
        mtimeMs: st.mtimeMs,
        ino: st.ino,
        repositories,
      };
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(all), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // The cache only saves time.
    }
  }
}
