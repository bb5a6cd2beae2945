/**
 * Images in the catalog, with their tags and lineage. Images are immutable once registered
 * (files made read-only); an image with children or running instances cannot be removed; a
 * removal journals the files it deletes, so a crash halfway leaves work for `kiln gc`.
 */
import { chmodSync, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { SystemError, UserError } from '../lib/errors.js';
import type { CatalogDb } from './db.js';
import { isInside, removeDirIfEmpty, removePath } from './fs-util.js';
import { editDistance, idPrefixOf, isImageId, newId } from './ids.js';
import type { Journal } from './journal.js';
import { type ImageRow, type InstanceRow, parseJson, toImage } from './rows.js';
import type { ImageRecord, ImagesApi, NewImage } from './types.js';

/** Tags are short words; they must not look like an id, or `resolve` would be ambiguous. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const LS_HINT = 'run `kiln images ls` to see the images in the catalog';

/** The `images` and `image_tags` tables. */
export class Images implements ImagesApi {
  /**
   * Statuses found on disk but not written (a read-only catalog): an image whose disk is gone
   * reads as `missing` without the catalog being changed.
   */
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly h: CatalogDb,
    private readonly journal: Journal,
  ) {}

  /** A fresh `img-`/`ami-` + 17 hex id (not yet recorded). */
  newId(prefix: 'img' | 'ami' = 'img'): string {
    return newId(prefix);
  }

  /** Records an image; its files become read-only. Throws a UserError for an unknown parent, a missing file or a bad tag. */
  register(image: NewImage): ImageRecord {
    // Validation first: nothing is changed for an image that cannot be recorded.
    const measured = this.check(image);
    if (image.parentId !== undefined && !this.exists(image.parentId)) throw parentNotFound(image);
    this.h.assertWritable();
    // Immutable from here on: even a crash before the row is written leaves nothing writable behind.
    for (const file of image.files) chmodSync(file, 0o444);

    const id = image.id ?? newId('img');
    const createdAt = new Date().toISOString();
    this.h.write(() => {
      // Checked again under the write lock: another process may have removed the parent meanwhile.
      if (image.parentId !== undefined && !this.exists(image.parentId)) throw parentNotFound(image);
      this.insert(image, id, createdAt, measured);
    });
    return this.get(id)!;
  }

  /**
   * Records a chain of images made elsewhere (a pull), parents first, with the ids and
   * creation times they had there, in one transaction: all of them or none. Each image's
   * parent is in the catalog or earlier in the list. Images already in the catalog are
   * refused (the caller leaves them out).
   */
  importChain(images: ReadonlyArray<NewImage & { id: string; createdAt: string }>): ImageRecord[] {
    const incoming = new Set<string>();
    const measured = images.map((image) => {
      const size = this.check(image);
      if (
        image.parentId !== undefined &&
        !incoming.has(image.parentId) &&
        !this.exists(image.parentId)
      )
        throw parentNotFound(image);
      incoming.add(image.id);
      return size;
    });
    this.h.assertWritable();
    for (const image of images) for (const file of image.files) chmodSync(file, 0o444);
    this.h.write(() => {
      images.forEach((image, i) => {
        if (image.parentId !== undefined && !this.exists(image.parentId))
          throw parentNotFound(image);
        this.insert(image, image.id, image.createdAt, measured[i]!);
      });
    });
    return images.map((image) => this.get(image.id)!);
  }

  /** Checks an image's name, builder, id, tags and files; returns the bytes its files occupy. */
  private check(image: NewImage): number {
    if (!image.name?.trim()) throw new UserError('InvalidImage', 'an image needs a name');
    if (!image.builder?.trim())
      throw new UserError('InvalidImage', `image "${image.name}" needs a builder type`);
    if (image.id !== undefined && !isImageId(image.id)) {
      throw new UserError('InvalidImageId', `"${image.id}" is not an image id`, {
        hint: 'an id is `img-` + 17 hex digits, or an AMI id; leave it out to have one generated',
      });
    }
    for (const tag of image.tags ?? []) checkTag(tag);
    let measured = 0;
    for (const file of image.files) {
      if (!isAbsolute(file)) {
        throw new UserError('InvalidImage', `image file "${file}" is not an absolute path`, {
          where: image.name,
        });
      }
      let st: import('node:fs').Stats;
      try {
        st = statSync(file);
      } catch {
        throw new UserError('ImageFileMissing', `image file ${file} does not exist`, {
          where: image.name,
          hint: 'register an image only after its files are written',
        });
      }
      if (!st.isFile())
        throw new UserError('InvalidImage', `image file ${file} is not a regular file`, {
          where: image.name,
        });
      measured += onDiskSize(st);
    }
    return measured;
  }

  /** Inserts the row and tags, and takes the files over from the run that made them (inside a write). */
  private insert(image: NewImage, id: string, createdAt: string, measured: number): void {
    if (this.exists(id)) {
      throw new UserError('ImageExists', `image ${id} is already in the catalog`, {
        hint: LS_HINT,
      });
    }
    this.h.db
      .prepare(
        `INSERT INTO images (id, name, builder, parent_id, files, format, input_hash, template_path,
           variables, size_bytes, sha256, metadata, status, created_at)
         VALUES (@id, @name, @builder, @parent_id, @files, @format, @input_hash, @template_path,
           @variables, @size_bytes, @sha256, @metadata, 'ready', @created_at)`,
      )
      .run({
        id,
        name: image.name,
        builder: image.builder,
        parent_id: image.parentId ?? null,
        files: JSON.stringify(image.files),
        format: image.format ?? null,
        input_hash: image.inputHash ?? null,
        template_path: image.templatePath ?? null,
        variables: JSON.stringify(image.variables ?? {}),
        size_bytes: image.sizeBytes ?? measured,
        sha256: image.sha256 ?? null,
        metadata: JSON.stringify(image.metadata ?? {}),
        created_at: createdAt,
      });
    for (const tag of image.tags ?? []) this.putTag(id, tag);
    // Hand the files over from the run that made them, in the same transaction: a crash after
    // this commit must not let `kiln gc` delete what the catalog now points to.
    this.journal.handOver(
      image.files.flatMap((file) =>
        isInside(this.h.imagesDir, dirname(file)) ? [file, dirname(file)] : [file],
      ),
    );
  }

  /** The image with exactly this id, or undefined. */
  get(id: string): ImageRecord | undefined {
    const row = this.h.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as
      | ImageRow
      | undefined;
    return row ? this.record(row, this.tagsOf(id)) : undefined;
  }

  /** By id, unique id prefix, tag or name (newest); a UserError naming close matches otherwise. */
  resolve(ref: string): ImageRecord {
    const wanted = ref.trim();
    if (!wanted) throw new UserError('ImageNotFound', 'no image given', { hint: LS_HINT });
    const exact = this.get(wanted);
    if (exact) return exact;
    const tagged = this.h.db
      .prepare('SELECT image_id FROM image_tags WHERE tag = ?')
      .pluck()
      .get(wanted) as string | undefined;
    if (tagged) return this.get(tagged)!;
    const named = this.h.db
      .prepare('SELECT * FROM images WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1')
      .get(wanted) as ImageRow | undefined;
    if (named) return this.record(named, this.tagsOf(named.id));
    const prefix = idPrefixOf(wanted);
    if (prefix) {
      const patterns = prefix.kind
        ? [`${prefix.kind}-${prefix.hex}%`]
        : [`img-${prefix.hex}%`, `ami-${prefix.hex}%`];
      const ids = patterns.flatMap(
        (p) =>
          this.h.db
            .prepare('SELECT id FROM images WHERE id LIKE ? ORDER BY id')
            .pluck()
            .all(p) as string[],
      );
      if (ids.length === 1) return this.get(ids[0]!)!;
      if (ids.length > 1) {
        throw new UserError('AmbiguousImage', `"${wanted}" matches ${ids.length} images`, {
          details: ids.slice(0, 10).map((id) => this.describe(id)),
          hint: 'type more digits of the id',
        });
      }
    }
    const close = this.closeMatches(wanted);
    throw new UserError('ImageNotFound', `no image matches "${wanted}"`, {
      details: close.length > 0 ? ['did you mean:', ...close.map((c) => `  ${c}`)] : [],
      hint: LS_HINT,
    });
  }

  /** The newest ready image built from exactly these inputs, if any. */
  findByInputHash(hash: string): ImageRecord | undefined {
    // Filtered after reading: on a read-only catalog the status on disk may not be the row's.
    const rows = this.h.db
      .prepare(
        `SELECT * FROM images WHERE input_hash = ? AND status IN ('ready', 'missing')
         ORDER BY created_at DESC, rowid DESC`,
      )
      .all(hash) as ImageRow[];
    const row = rows.find((r) => (this.seen.get(r.id) ?? r.status) === 'ready');
    return row ? this.record(row, this.tagsOf(row.id)) : undefined;
  }

  /** Every image, oldest first. */
  list(): ImageRecord[] {
    const rows = this.h.db
      .prepare('SELECT * FROM images ORDER BY created_at, rowid')
      .all() as ImageRow[];
    const tags = new Map<string, string[]>();
    for (const t of this.h.db
      .prepare('SELECT tag, image_id FROM image_tags ORDER BY tag')
      .all() as Array<{
      tag: string;
      image_id: string;
    }>) {
      tags.set(t.image_id, [...(tags.get(t.image_id) ?? []), t.tag]);
    }
    return rows.map((r) => this.record(r, tags.get(r.id) ?? []));
  }

  /** The images whose parent is `id`, oldest first. */
  children(id: string): ImageRecord[] {
    const rows = this.h.db
      .prepare('SELECT * FROM images WHERE parent_id = ? ORDER BY created_at, rowid')
      .all(id) as ImageRow[];
    return rows.map((r) => this.record(r, this.tagsOf(r.id)));
  }

  /** The image, its parent, … up to its root (image first); empty when `id` is unknown. */
  lineage(id: string): ImageRecord[] {
    const chain: ImageRecord[] = [];
    const seen = new Set<string>();
    let next: string | null = id;
    while (next !== null && !seen.has(next)) {
      seen.add(next);
      const image = this.get(next);
      if (!image) break;
      chain.push(image);
      next = image.parentId;
    }
    return chain;
  }

  /**
   * Deletes the image (row, tags, its stopped instances' rows and files) and then its files, and
   * its directory under `imagesDir` when empty. Refuses with a UserError when it has children or
   * running instances. The files to delete are journalled in the same transaction that drops the
   * row, so a crash in between leaves work for `kiln gc`, never a row pointing at a missing file.
   */
  remove(id: string): void {
    const image = this.get(id);
    if (!image)
      throw new UserError('ImageNotFound', `image ${id} is not in the catalog`, { hint: LS_HINT });
    const runId = `rm-${id}-${newId('i').slice(2, 10)}`;
    const doomed: string[] = [];
    this.h.write(() => {
      if (!this.exists(id)) {
        throw new UserError(
          'ImageNotFound',
          `image ${id} is not in the catalog (removed meanwhile)`,
          {
            hint: LS_HINT,
          },
        );
      }
      const kids = this.children(id);
      if (kids.length > 0) {
        throw new UserError(
          'ImageHasChildren',
          `image ${this.describe(id)} has ${kids.length} child image(s)`,
          {
            details: kids.map((k) => this.describe(k.id)),
            hint: `remove its descendants first (kiln images rm ${this.descendants(id).join(' ')} ${id}); images form chains, so there is no --force`,
          },
        );
      }
      const instances = this.h.db
        .prepare('SELECT * FROM instances WHERE image_id = ?')
        .all(id) as InstanceRow[];
      const running = instances.filter((i) => i.state === 'running');
      if (running.length > 0) {
        throw new UserError(
          'ImageInUse',
          `image ${this.describe(id)} has ${running.length} running instance(s)`,
          {
            details: running.map((i) => `${i.id}${i.name ? ` (${i.name})` : ''}`),
            hint: 'stop them first (kiln stop <instance>)',
          },
        );
      }
      this.h.db.prepare('DELETE FROM images WHERE id = ?').run(id);
      // A file another image still lists (e.g. a shared kernel) stays.
      const files = [...image.files, ...instances.flatMap((i) => parseJson<string[]>(i.files, []))];
      doomed.length = 0; // the transaction may be retried after SQLITE_BUSY
      doomed.push(...new Set(files.filter((f) => this.usersOf(f).length === 0)));
      // A saved VM state (builders/qemu/warm.ts) lives beside the disk and goes with it.
      const disk = image.files[0];
      if (disk && isInside(this.h.imagesDir, dirname(disk))) {
        const warm = join(dirname(disk), 'warm');
        if (existsSync(warm)) doomed.push(warm);
      }
      this.journal.insertRun(runId, process.pid, `kiln images rm ${id}`);
      for (const path of doomed) this.journal.putResource({ runId, kind: 'file', ref: path });
    });
    const failed: string[] = [];
    for (const path of doomed) {
      try {
        removePath(path);
      } catch (err) {
        failed.push(`${path}: ${(err as Error).message}`);
      }
    }
    const disk = image.files[0];
    if (disk && isInside(this.h.imagesDir, dirname(disk))) removeDirIfEmpty(dirname(disk));
    if (failed.length > 0) {
      // The journal keeps them: `kiln gc` retries once this process has exited.
      throw new SystemError(
        'ImageFilesNotRemoved',
        `image ${id} was removed from the catalog, but not all its files`,
        {
          details: failed,
          hint: 'fix the permissions, then run `kiln gc`',
        },
      );
    }
    this.journal.end(runId);
  }

  /** Sets an image's status (`ready`, `failed`, …); throws when the image is unknown. */
  setStatus(id: string, status: string): void {
    const changed = this.h.write(() =>
      this.h.db
        .prepare('UPDATE images SET status = ?, status_before_missing = NULL WHERE id = ?')
        .run(status, id),
    );
    if (changed.changes === 0)
      throw new UserError('ImageNotFound', `image ${id} is not in the catalog`, { hint: LS_HINT });
  }

  /** Replaces an image's backend facts (e.g. the AMI's region copies after one was restored); throws when the image is unknown. */
  setMetadata(id: string, metadata: Record<string, unknown>): void {
    const changed = this.h.write(() =>
      this.h.db
        .prepare('UPDATE images SET metadata = ? WHERE id = ?')
        .run(JSON.stringify(metadata), id),
    );
    if (changed.changes === 0)
      throw new UserError('ImageNotFound', `image ${id} is not in the catalog`, { hint: LS_HINT });
  }

  /** Puts `tag` on the image, moving it from whichever image had it. */
  addTag(id: string, tag: string): void {
    checkTag(tag);
    this.h.write(() => {
      if (!this.exists(id))
        throw new UserError('ImageNotFound', `image ${id} is not in the catalog`, {
          hint: LS_HINT,
        });
      this.putTag(id, tag);
    });
  }

  /** Takes `tag` off the image; a UserError when the image does not carry it. */
  removeTag(id: string, tag: string): void {
    const r = this.h.write(() =>
      this.h.db.prepare('DELETE FROM image_tags WHERE image_id = ? AND tag = ?').run(id, tag),
    );
    if (r.changes === 0) {
      const has = this.tagsOf(id);
      throw new UserError('TagNotFound', `image ${id} has no tag "${tag}"`, {
        hint: has.length > 0 ? `its tags are: ${has.join(', ')}` : 'it has no tags',
      });
    }
  }

  /** Ids of images (and instances) with a file at `path` or under it: what must not be deleted with it. */
  usersOf(path: string): string[] {
    const abs = resolve(path);
    const users: string[] = [];
    const rows = this.h.db
      .prepare('SELECT id, files FROM images UNION ALL SELECT id, files FROM instances')
      .all() as Array<{ id: string; files: string }>;
    for (const row of rows) {
      if (parseJson<string[]>(row.files, []).some((f) => resolve(f) === abs || isInside(abs, f)))
        users.push(row.id);
    }
    return users;
  }

  /** Every image below `id`, deepest first: the order in which they can be removed. */
  descendants(id: string): string[] {
    const rows = this.h.db
      .prepare(
        `WITH RECURSIVE below(id, depth) AS (
           SELECT id, 1 FROM images WHERE parent_id = ?
           UNION SELECT images.id, below.depth + 1 FROM images JOIN below ON images.parent_id = below.id
         )
         SELECT id FROM below ORDER BY depth DESC, id`,
      )
      .pluck()
      .all(id) as string[];
    return rows;
  }

  private tagsOf(id: string): string[] {
    return this.h.db
      .prepare('SELECT tag FROM image_tags WHERE image_id = ? ORDER BY tag')
      .pluck()
      .all(id) as string[];
  }

  private putTag(id: string, tag: string): void {
    this.h.db
      .prepare(
        'INSERT INTO image_tags (tag, image_id) VALUES (?, ?) ON CONFLICT(tag) DO UPDATE SET image_id = excluded.image_id',
      )
      .run(tag, id);
  }

  /** `img-… (name)` for messages. */
  private describe(id: string): string {
    const name = this.h.db.prepare('SELECT name FROM images WHERE id = ?').pluck().get(id) as
      | string
      | undefined;
    return name ? `${id} (${name})` : id;
  }

  /** Up to five ids, names or tags close to what was typed, best first. */
  private closeMatches(ref: string): string[] {
    const scored: Array<{ text: string; score: number }> = [];
    const lower = ref.toLowerCase();
    const limit = Math.max(2, Math.floor(ref.length / 3));
    const consider = (candidate: string, text: string) => {
      const c = candidate.toLowerCase();
      // Ids are compared by their start: a typo in a prefix should still find the id.
      const d = isImageId(candidate)
        ? editDistance(lower, c.slice(0, lower.length))
        : editDistance(lower, c);
      const contains = !isImageId(candidate) && lower.length >= 3 && c.includes(lower);
      if (d <= limit || contains) scored.push({ text, score: contains ? Math.min(d, 1) : d });
    };
    const rows = this.h.db
      .prepare('SELECT id, name FROM images ORDER BY created_at DESC')
      .all() as Array<{ id: string; name: string }>;
    const seenNames = new Set<string>();
    for (const r of rows) {
      consider(r.id, `${r.id} (${r.name})`);
      if (!seenNames.has(r.name)) {
        seenNames.add(r.name);
        consider(r.name, `${r.name} (newest: ${r.id})`);
      }
    }
    for (const t of this.h.db.prepare('SELECT tag, image_id FROM image_tags').all() as Array<{
      tag: string;
      image_id: string;
    }>) {
      consider(t.tag, `${t.tag} (tag of ${t.image_id})`);
    }
    scored.sort((a, b) => a.score - b.score);
    return [...new Set(scored.map((s) => s.text))].slice(0, 5);
  }

  /**
   * Marks images whose disk file is gone as `missing` (and back when it returns): one stat per
   * image. On a read-only catalog the statuses are only held in memory. Returns the ids whose
   * status changed.
   */
  reconcile(): string[] {
    const rows = this.h.db
      .prepare('SELECT id, files, status, status_before_missing FROM images')
      .all() as Array<Pick<ImageRow, 'id' | 'files' | 'status' | 'status_before_missing'>>;
    const lost: string[] = [];
    const found: string[] = [];
    for (const row of rows) {
      const disk = parseJson<string[]>(row.files, [])[0];
      if (!disk) continue;
      const present = statSync(disk, { throwIfNoEntry: false }) !== undefined;
      if (!present && row.status !== 'missing') lost.push(row.id);
      if (present && row.status === 'missing') found.push(row.id);
    }
    if (lost.length === 0 && found.length === 0) return [];
    if (this.h.readonly) {
      const before = new Map(rows.map((r) => [r.id, r.status_before_missing]));
      for (const id of lost) this.seen.set(id, 'missing');
      for (const id of found) this.seen.set(id, before.get(id) ?? 'ready');
      return [...lost, ...found];
    }
    this.h.write(() => {
      const markLost = this.h.db.prepare(
        `UPDATE images SET status_before_missing = status, status = 'missing' WHERE id = ? AND status != 'missing'`,
      );
      const markFound = this.h.db.prepare(
        `UPDATE images SET status = COALESCE(status_before_missing, 'ready'), status_before_missing = NULL
         WHERE id = ? AND status = 'missing'`,
      );
      for (const id of lost) markLost.run(id);
      for (const id of found) markFound.run(id);
    });
    return [...lost, ...found];
  }

  private exists(id: string): boolean {
    return this.h.db.prepare('SELECT 1 FROM images WHERE id = ?').get(id) !== undefined;
  }

  /** A row as a record, with the status reconciliation found when it could not write it. */
  private record(row: ImageRow, tags: string[]): ImageRecord {
    return toImage(row, tags, this.seen.get(row.id) ?? row.status);
  }
}

function parentNotFound(image: NewImage): UserError {
  return new UserError(
    'ParentImageNotFound',
    `parent image ${image.parentId} is not in the catalog`,
    {
      where: image.name,
      hint: LS_HINT,
    },
  );
}

function checkTag(tag: string): void {
  if (!TAG.test(tag) || isImageId(tag)) {
    throw new UserError('InvalidTag', `"${tag}" is not a valid tag`, {
      hint: 'a tag is up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`, and not shaped like an image id',
    });
  }
}

/** Bytes the file occupies on disk (allocated blocks), which is what a sparse raw image really costs. */
function onDiskSize(st: import('node:fs').Stats): number {
  return typeof st.blocks === 'number' && st.blocks >= 0 ? st.blocks * 512 : st.size;
}
