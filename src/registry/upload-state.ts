/**
 * Where an unfinished upload is remembered between runs: one small file per
 * (registry, repository, digest) holding the upload session's URL. A later push asks the
 * registry how far that session got and sends only the rest.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Saves, loads and forgets the session URL of an upload in progress. */
export interface UploadStateStore {
  load(key: string): Promise<string | undefined>;
  save(key: string, location: string): Promise<void>;
  clear(key: string): Promise<void>;
}

/** The key of one blob's upload to one repository. */
export function uploadKey(registry: string, repo: string, digest: string): string {
  return `${registry}/${repo}@${digest}`;
}

/** Upload sessions kept as files in a directory (e.g. under the kiln home). */
export class FileUploadState implements UploadStateStore {
  constructor(private readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  }

  async load(key: string): Promise<string | undefined> {
    try {
      const v = JSON.parse(await readFile(this.file(key), 'utf8')) as {
        key?: string;
        location?: string;
      };
      return v.key === key ? v.location : undefined;
    } catch {
      return undefined;
    }
  }

  async save(key: string, location: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const f = this.file(key);
    // The session URL may carry a signed state token: keep it private to the user.
    await writeFile(`${f}.tmp`, JSON.stringify({ key, location }), { mode: 0o600 });
    await rename(`${f}.tmp`, f);
  }

  async clear(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
}
