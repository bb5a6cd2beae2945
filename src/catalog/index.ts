/**
 * The local image catalog: one SQLite file at `<home>/catalog.db` shared by every kiln
 * process on the machine. Images are immutable once registered (files made read-only);
 * an image with children or running instances cannot be removed; a journal of runs lets
 * `kiln gc` clean up after a process that died without running its cleanups.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { KilnError, SystemError, UserError } from '../core/errors.js';
import { defaultKilnHome } from '../core/paths.js';
import { type Db, openDatabase, writeTx } from './db.js';
import { isInside, removeDirIfEmpty, removePath } from './fs-util.js';
import { editDistance, idPrefixOf, isImageId, newId } from './ids.js';
import { isSameProcessAlive, processCmdline, processIdentity } from './process-info.js';
import { migrate } from './schema.js';
import type {
  CatalogApi,
  ImageRecord,
  InstanceRecord,
  NewImage,
  NewInstance,
  RunResource,
} from './types.js';

export type {
  CatalogApi,
  ImageRecord,
  InstanceRecord,
  NewImage,
  NewInstance,
  RunResource,
} from './types.js';

/** An orphaned run as `orphanedRuns()` reports it. */
export interface OrphanedRun {
  runId: string;
  pid: number;
  description: string;
  resources: RunResource[];
}

interface ImageRow {
  id: string;
  name: string;
  builder: string;
  parent_id: string | null;
  files: string;
  format: string | null;
  input_hash: string | null;
  template_path: string | null;
  variables: string;
  size_bytes: number;
  sha256: string | null;
  metadata: string;
  status: string;
  status_before_missing: string | null;
  created_at: string;
}

interface InstanceRow {
  id: string;
  image_id: string;
  name: string | null;
  backend: string;
  pid: number | null;
  ports: string;
  files: string;
  group_name: string | null;
  metadata: string;
  state: string;
  created_at: string;
}

interface RunRow {
  id: string;
  pid: number;
  start_time: string | null;
  boot_id: string | null;
  host: string;
  description: string;
}

interface ResourceRow {
  run_id: string;
  kind: string;
  ref: string;
  metadata: string;
}

/** Tags are short words; they must not look like an id, or `resolveImage` would be ambiguous. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const LS_HINT = 'run `kiln images ls` to see the images in the catalog';

export class Catalog implements CatalogApi {
  readonly imagesDir: string;
  private readonly db: Db;

  private constructor(
    readonly home: string,
    db: Db,
  ) {
    this.db = db;
    this.imagesDir = join(home, 'images');
  }

  /** Opens (creating when absent) the catalog under `home`, migrates its schema and reconciles it with the disk. */
  static open(home: string = defaultKilnHome()): Catalog {
    const abs = resolve(home);
    mkdirSync(abs, { recursive: true, mode: 0o700 });
    mkdirSync(join(abs, 'images'), { recursive: true, mode: 0o700 });
    const db = openDatabase(join(abs, 'catalog.db'));
    try {
      migrate(db);
      const catalog = new Catalog(abs, db);
      catalog.reconcile();
      return catalog;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** A fresh `img-`/`ami-` + 17 hex id (not yet recorded). */
  newImageId(prefix: 'img' | 'ami' = 'img'): string {
    return newId(prefix);
  }

  /** Records an image; its files become read-only. Throws a UserError for an unknown parent, a missing file or a bad tag. */
  registerImage(image: NewImage): ImageRecord {
    // Validation first: nothing is changed for an image that cannot be recorded.
    if (!image.name?.trim()) throw new UserError('InvalidImage', 'an image needs a name');
    if (!image.builder?.trim())
      throw new UserError('InvalidImage', `image "${image.name}" needs a builder type`);
    if (image.id !== undefined && !isImageId(image.id)) {
      throw new UserError('InvalidImageId', `"${image.id}" is not an image id`, {
        hint: 'an id is `img-` + 17 hex digits, or an AMI id; leave it out to have one generated',
      });
    }
    const tags = image.tags ?? [];
    for (const tag of tags) checkTag(tag);
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
    if (image.parentId !== undefined && !this.exists(image.parentId)) {
      throw new UserError(
        'ParentImageNotFound',
        `parent image ${image.parentId} is not in the catalog`,
        {
          where: image.name,
          hint: LS_HINT,
        },
      );
    }
    // Immutable from here on: even a crash before the row is written leaves nothing writable behind.
    for (const file of image.files) chmodSync(file, 0o444);

    const id = image.id ?? newId('img');
    const createdAt = new Date().toISOString();
    writeTx(this.db, () => {
      // Checked again under the write lock: another process may have removed the parent meanwhile.
      if (image.parentId !== undefined && !this.exists(image.parentId)) {
        throw new UserError(
          'ParentImageNotFound',
          `parent image ${image.parentId} is not in the catalog`,
          {
            where: image.name,
            hint: LS_HINT,
          },
        );
      }
      if (this.exists(id)) {
        throw new UserError('ImageExists', `image ${id} is already in the catalog`, {
          hint: LS_HINT,
        });
      }
      this.db
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
      for (const tag of tags) this.putTag(id, tag);
      // Hand the files over from the run that made them, in the same transaction: a crash after
      // this commit must not let `kiln gc` delete what the catalog now points to.
      const handOver = this.db.prepare(
        `DELETE FROM run_resources WHERE kind IN ('file', 'dir') AND ref = ?`,
      );
      for (const file of image.files) {
        handOver.run(file);
        if (isInside(this.imagesDir, dirname(file))) handOver.run(dirname(file));
      }
    });
    return this.getImage(id)!;
  }

  /** The image with exactly this id, or undefined. */
  getImage(id: string): ImageRecord | undefined {
    const row = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as
      | ImageRow
      | undefined;
    return row ? this.toImage(row, this.tagsOf(id)) : undefined;
  }

  /** By id, unique id prefix, tag or name (newest); a UserError naming close matches otherwise. */
  resolveImage(ref: string): ImageRecord {
    const wanted = ref.trim();
    if (!wanted) throw new UserError('ImageNotFound', 'no image given', { hint: LS_HINT });
    const exact = this.getImage(wanted);
    if (exact) return exact;
    const tagged = this.db
      .prepare('SELECT image_id FROM image_tags WHERE tag = ?')
      .pluck()
      .get(wanted) as string | undefined;
    if (tagged) return this.getImage(tagged)!;
    const named = this.db
      .prepare('SELECT * FROM images WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1')
      .get(wanted) as ImageRow | undefined;
    if (named) return this.toImage(named, this.tagsOf(named.id));
    const prefix = idPrefixOf(wanted);
    if (prefix) {
      const patterns = prefix.kind
        ? [`${prefix.kind}-${prefix.hex}%`]
        : [`img-${prefix.hex}%`, `ami-${prefix.hex}%`];
      const ids = patterns.flatMap(
        (p) =>
          this.db
            .prepare('SELECT id FROM images WHERE id LIKE ? ORDER BY id')
            .pluck()
            .all(p) as string[],
      );
      if (ids.length === 1) return this.getImage(ids[0]!)!;
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
    const row = this.db
      .prepare(
        `SELECT * FROM images WHERE input_hash = ? AND status = 'ready'
         ORDER BY created_at DESC, rowid DESC LIMIT 1`,
      )
      .get(hash) as ImageRow | undefined;
    return row ? this.toImage(row, this.tagsOf(row.id)) : undefined;
  }

  /** Every image, oldest first. */
  listImages(): ImageRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM images ORDER BY created_at, rowid')
      .all() as ImageRow[];
    const tags = new Map<string, string[]>();
    for (const t of this.db
      .prepare('SELECT tag, image_id FROM image_tags ORDER BY tag')
      .all() as Array<{
      tag: string;
      image_id: string;
    }>) {
      tags.set(t.image_id, [...(tags.get(t.image_id) ?? []), t.tag]);
    }
    return rows.map((r) => this.toImage(r, tags.get(r.id) ?? []));
  }

  /** The images whose parent is `id`, oldest first. */
  children(id: string): ImageRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM images WHERE parent_id = ? ORDER BY created_at, rowid')
      .all(id) as ImageRow[];
    return rows.map((r) => this.toImage(r, this.tagsOf(r.id)));
  }

  /** The image, its parent, … up to its root (image first); empty when `id` is unknown. */
  lineage(id: string): ImageRecord[] {
    const chain: ImageRecord[] = [];
    const seen = new Set<string>();
    let next: string | null = id;
    while (next !== null && !seen.has(next)) {
      seen.add(next);
      const image = this.getImage(next);
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
  removeImage(id: string): void {
    const image = this.getImage(id);
    if (!image)
      throw new UserError('ImageNotFound', `image ${id} is not in the catalog`, { hint: LS_HINT });
    const runId = `rm-${id}-${newId('i').slice(2, 10)}`;
    const doomed: string[] = [];
    writeTx(this.db, () => {
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
      const instances = this.db
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
      this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
      // A file another image still lists (e.g. a shared kernel) stays.
      const files = [...image.files, ...instances.flatMap((i) => parseJson<string[]>(i.files, []))];
      doomed.length = 0; // the transaction may be retried after SQLITE_BUSY
      doomed.push(...new Set(files.filter((f) => this.usersOf(f).length === 0)));
      // A saved VM state (builders/qemu/warm.ts) lives beside the disk and goes with it.
      const disk = image.files[0];
      if (disk && isInside(this.imagesDir, dirname(disk))) {
        const warm = join(dirname(disk), 'warm');
        if (existsSync(warm)) doomed.push(warm);
      }
      this.insertRun(runId, process.pid, `kiln images rm ${id}`);
      for (const path of doomed) this.putResource({ runId, kind: 'file', ref: path });
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
    if (disk && isInside(this.imagesDir, dirname(disk))) removeDirIfEmpty(dirname(disk));
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
    this.endRun(runId);
  }

  /** Sets an image's status (`ready`, `failed`, …); throws when the image is unknown. */
  setStatus(id: string, status: string): void {
    const changed = writeTx(this.db, () =>
      this.db
        .prepare('UPDATE images SET status = ?, status_before_missing = NULL WHERE id = ?')
        .run(status, id),
    );
    if (changed.changes === 0)
      throw new UserError('ImageNotFound', `image ${id} is not in the catalog`, { hint: LS_HINT });
  }

  /** Puts `tag` on the image, moving it from whichever image had it. */
  addTag(id: string, tag: string): void {
    checkTag(tag);
    writeTx(this.db, () => {
      if (!this.exists(id))
        throw new UserError('ImageNotFound', `image ${id} is not in the catalog`, {
          hint: LS_HINT,
        });
      this.putTag(id, tag);
    });
  }

  /** Takes `tag` off the image; a UserError when the image does not carry it. */
  removeTag(id: string, tag: string): void {
    const r = writeTx(this.db, () =>
      this.db.prepare('DELETE FROM image_tags WHERE image_id = ? AND tag = ?').run(id, tag),
    );
    if (r.changes === 0) {
      const has = this.tagsOf(id);
      throw new UserError('TagNotFound', `image ${id} has no tag "${tag}"`, {
        hint: has.length > 0 ? `its tags are: ${has.join(', ')}` : 'it has no tags',
      });
    }
  }

  /** Records an instance of a catalogued image (state `running`); its id is `i-` + 17 hex unless given. */
  addInstance(instance: NewInstance): InstanceRecord {
    const id = instance.id ?? newId('i');
    writeTx(this.db, () => {
      if (!this.exists(instance.imageId)) {
        throw new UserError('ImageNotFound', `image ${instance.imageId} is not in the catalog`, {
          hint: LS_HINT,
        });
      }
      this.db
        .prepare(
          `INSERT INTO instances (id, image_id, name, backend, pid, ports, files, group_name, metadata, state, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
        )
        .run(
          id,
          instance.imageId,
          instance.name ?? null,
          instance.backend,
          instance.pid ?? null,
          JSON.stringify(instance.ports ?? []),
          JSON.stringify(instance.files ?? []),
          instance.group ?? null,
          JSON.stringify(instance.metadata ?? {}),
          new Date().toISOString(),
        );
    });
    return this.getInstance(id)!;
  }

  /** The instance with this id, or undefined. */
  getInstance(id: string): InstanceRecord | undefined {
    const row = this.db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as
      | InstanceRow
      | undefined;
    return row ? toInstance(row) : undefined;
  }

  /** Every instance, oldest first. */
  listInstances(): InstanceRecord[] {
    return (
      this.db.prepare('SELECT * FROM instances ORDER BY created_at, rowid').all() as InstanceRow[]
    ).map(toInstance);
  }

  /** Changes an instance's state, pid or metadata (metadata is replaced, not merged). */
  updateInstance(
    id: string,
    patch: Partial<Pick<InstanceRecord, 'state' | 'pid' | 'metadata'>>,
  ): void {
    const r = writeTx(this.db, () => {
      const row = this.db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as
        | InstanceRow
        | undefined;
      if (!row) return undefined;
      this.db
        .prepare('UPDATE instances SET state = ?, pid = ?, metadata = ? WHERE id = ?')
        .run(
          patch.state ?? row.state,
          patch.pid === undefined ? row.pid : patch.pid,
          patch.metadata === undefined ? row.metadata : JSON.stringify(patch.metadata),
          id,
        );
      return row;
    });
    if (!r) throw new UserError('InstanceNotFound', `instance ${id} is not in the catalog`);
  }

  /** Forgets an instance (the row only: its process and files are the runtime's to stop and delete). */
  removeInstance(id: string): void {
    writeTx(this.db, () => this.db.prepare('DELETE FROM instances WHERE id = ?').run(id));
  }

  /** Journal: announces a run by the process `pid` (with its start time, so a reused pid is not mistaken for it). */
  beginRun(runId: string, pid: number, description: string): void {
    writeTx(this.db, () => {
      if (this.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(runId)) {
        throw new KilnError('RunExists', `run ${runId} is already in the journal`);
      }
      this.insertRun(runId, pid, description);
    });
  }

  /**
   * Journal: records a resource *before* it is created (a process right after spawn). For a
   * `process`, its command line and start time are read from /proc when not given, so that
   * `kiln gc` can check it is still the same process before killing it.
   */
  recordResource(resource: RunResource): void {
    writeTx(this.db, () => {
      if (!this.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(resource.runId)) {
        throw new KilnError(
          'RunNotFound',
          `run ${resource.runId} is not in the journal; call beginRun first`,
        );
      }
      this.putResource(resource);
    });
  }

  /** Journal: the resource is gone (or handed over, e.g. to an image), so a crash must not delete it. */
  forgetResource(runId: string, ref: string): void {
    writeTx(this.db, () =>
      this.db.prepare('DELETE FROM run_resources WHERE run_id = ? AND ref = ?').run(runId, ref),
    );
  }

  /** Journal: the run finished (its cleanups ran); it and whatever it still lists are forgotten. */
  endRun(runId: string): void {
    writeTx(this.db, () => this.db.prepare('DELETE FROM runs WHERE id = ?').run(runId));
  }

  /** Runs of this host whose process is gone (or whose pid now belongs to another process), with what they left. */
  orphanedRuns(): OrphanedRun[] {
    const runs = this.db
      .prepare('SELECT * FROM runs WHERE host = ? ORDER BY started_at')
      .all(hostname()) as RunRow[];
    const orphans: OrphanedRun[] = [];
    for (const run of runs) {
      const identity = {
        ...(run.start_time ? { startTime: run.start_time } : {}),
        ...(run.boot_id ? { bootId: run.boot_id } : {}),
      };
      if (isSameProcessAlive(run.pid, identity)) continue;
      const resources = (
        this.db
          .prepare('SELECT * FROM run_resources WHERE run_id = ? ORDER BY created_at, rowid')
          .all(run.id) as ResourceRow[]
      ).map((r) => ({
        runId: r.run_id,
        kind: r.kind,
        ref: r.ref,
        metadata: parseJson<Record<string, unknown>>(r.metadata, {}),
      }));
      orphans.push({ runId: run.id, pid: run.pid, description: run.description, resources });
    }
    return orphans;
  }

  /**
   * Marks images whose disk file is gone as `missing` (and back when it returns): one stat per
   * image. Runs at open; returns the ids whose status changed.
   */
  reconcile(): string[] {
    const rows = this.db.prepare('SELECT id, files, status FROM images').all() as Array<
      Pick<ImageRow, 'id' | 'files' | 'status'>
    >;
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
    writeTx(this.db, () => {
      const markLost = this.db.prepare(
        `UPDATE images SET status_before_missing = status, status = 'missing' WHERE id = ? AND status != 'missing'`,
      );
      const markFound = this.db.prepare(
        `UPDATE images SET status = COALESCE(status_before_missing, 'ready'), status_before_missing = NULL
         WHERE id = ? AND status = 'missing'`,
      );
      for (const id of lost) markLost.run(id);
      for (const id of found) markFound.run(id);
    });
    return [...lost, ...found];
  }

  /**
   * Entries directly under `imagesDir` that no image, instance or journalled run refers to:
   * what a crash between writing an image and recording it leaves behind.
   */
  strayPaths(): string[] {
    let entries: string[];
    try {
      entries = readdirSync(this.imagesDir);
    } catch {
      return [];
    }
    const used = new Set<string>();
    const note = (path: string) => {
      if (!isInside(this.imagesDir, path)) return;
      const top = relative(this.imagesDir, resolve(path)).split(sep)[0];
      if (top) used.add(top);
    };
    for (const files of this.db
      .prepare('SELECT files FROM images UNION ALL SELECT files FROM instances')
      .pluck()
      .all() as string[]) {
      for (const f of parseJson<string[]>(files, [])) note(f);
    }
    for (const ref of this.db
      .prepare(`SELECT ref FROM run_resources WHERE kind IN ('file', 'dir')`)
      .pluck()
      .all() as string[]) {
      note(ref);
    }
    return entries.filter((e) => !used.has(e)).map((e) => join(this.imagesDir, e));
  }

  /** The underlying database, for diagnostics and tests (e.g. `PRAGMA integrity_check`). */
  get database(): Db {
    return this.db;
  }

  /** Closes the database; the object must not be used afterwards. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  private exists(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM images WHERE id = ?').get(id) !== undefined;
  }

  /** Ids of images (and instances) with a file at `path` or under it: what must not be deleted with it. */
  usersOf(path: string): string[] {
    const abs = resolve(path);
    const users: string[] = [];
    const rows = this.db
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
    const rows = this.db
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
    return this.db
      .prepare('SELECT tag FROM image_tags WHERE image_id = ? ORDER BY tag')
      .pluck()
      .all(id) as string[];
  }

  private putTag(id: string, tag: string): void {
    this.db
      .prepare(
        'INSERT INTO image_tags (tag, image_id) VALUES (?, ?) ON CONFLICT(tag) DO UPDATE SET image_id = excluded.image_id',
      )
      .run(tag, id);
  }

  private insertRun(runId: string, pid: number, description: string): void {
    const identity = processIdentity(pid);
    this.db
      .prepare(
        'INSERT INTO runs (id, pid, start_time, boot_id, host, description, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        runId,
        pid,
        identity.startTime ?? null,
        identity.bootId ?? null,
        hostname(),
        description,
        new Date().toISOString(),
      );
  }

  private putResource(resource: RunResource): void {
    let metadata = resource.metadata ?? {};
    if (resource.kind === 'process') {
      const pid = Number(resource.ref);
      const identity = processIdentity(pid);
      const cmdline = processCmdline(pid);
      metadata = {
        ...(cmdline ? { cmdline } : {}),
        ...(identity.startTime ? { startTime: identity.startTime } : {}),
        ...(identity.bootId ? { bootId: identity.bootId } : {}),
        ...metadata,
      };
    }
    this.db
      .prepare(
        `INSERT INTO run_resources (run_id, kind, ref, metadata, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(run_id, ref) DO UPDATE SET kind = excluded.kind, metadata = excluded.metadata`,
      )
      .run(
        resource.runId,
        resource.kind,
        resource.ref,
        JSON.stringify(metadata),
        new Date().toISOString(),
      );
  }

  /** `img-… (name)` for messages. */
  private describe(id: string): string {
    const name = this.db.prepare('SELECT name FROM images WHERE id = ?').pluck().get(id) as
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
    const rows = this.db
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
    for (const t of this.db.prepare('SELECT tag, image_id FROM image_tags').all() as Array<{
      tag: string;
      image_id: string;
    }>) {
      consider(t.tag, `${t.tag} (tag of ${t.image_id})`);
    }
    scored.sort((a, b) => a.score - b.score);
    return [...new Set(scored.map((s) => s.text))].slice(0, 5);
  }

  private toImage(row: ImageRow, tags: string[]): ImageRecord {
    return {
      id: row.id,
      name: row.name,
      builder: row.builder,
      parentId: row.parent_id,
      files: parseJson<string[]>(row.files, []),
      format: row.format,
      inputHash: row.input_hash,
      templatePath: row.template_path,
      variables: parseJson<Record<string, string>>(row.variables, {}),
      tags,
      sizeBytes: row.size_bytes,
      sha256: row.sha256,
      metadata: parseJson<Record<string, unknown>>(row.metadata, {}),
      status: row.status,
      createdAt: row.created_at,
    };
  }
}

/** Builds lineage trees: every image under its parent, roots first, oldest first at each level. */
export interface ImageNode {
  image: ImageRecord;
  children: ImageNode[];
}

/** Arranges images into trees by parent; an image whose parent is not in `images` becomes a root. */
export function imageForest(images: readonly ImageRecord[]): ImageNode[] {
  const nodes = new Map(images.map((image) => [image.id, { image, children: [] as ImageNode[] }]));
  const roots: ImageNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.image.parentId ? nodes.get(node.image.parentId) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
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

function toInstance(row: InstanceRow): InstanceRecord {
  return {
    id: row.id,
    imageId: row.image_id,
    name: row.name,
    backend: row.backend,
    pid: row.pid,
    ports: parseJson<Array<{ host: number; guest: number }>>(row.ports, []),
    files: parseJson<string[]>(row.files, []),
    group: row.group_name,
    metadata: parseJson<Record<string, unknown>>(row.metadata, {}),
    state: row.state,
    createdAt: row.created_at,
  };
}

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
