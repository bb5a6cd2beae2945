/**
 * The local image catalog: one SQLite file at `<home>/catalog.db` shared by every kiln
 * process on the machine, opened once per command and disposed with `using`. The handle
 * exposes one object per concern over the same connection: `images` (with tags and
 * lineage), `instances`, `journal` (runs, for crash-safe cleanup), `deployments` and `actions`
 * (the pipeline's action cache).
 * A read-only handle creates nothing on disk and writes nothing, not even reconciliation.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { defaultKilnHome } from '../lib/paths.js';
import { Actions } from './actions.js';
import { CatalogDb, type Db, openDatabase, openDatabaseReadOnly, openEmptyDatabase } from './db.js';
import { Deployments } from './deployments.js';
import { isInside } from './fs-util.js';
import { Images } from './images.js';
import { Instances } from './instances.js';
import { Journal } from './journal.js';
import { parseJson } from './rows.js';
import { currentVersion, LATEST_VERSION, migrate, refuseNewer } from './schema.js';
import type { CatalogApi } from './types.js';

export { sqliteVersion } from './db.js';
export type { ImageNode } from './tree.js';
export { imageForest } from './tree.js';
export type {
  ActionOutput,
  ActionRecord,
  CatalogApi,
  DeploymentRecord,
  ImageRecord,
  InstanceRecord,
  NewDeployment,
  NewImage,
  NewInstance,
  OrphanedRun,
  RunResource,
} from './types.js';

/** How to open the catalog. */
export interface OpenOptions {
  /** Only read: no directory, file, migration or reconciliation is written (default false). */
  readonly?: boolean;
}

/** An open catalog: dispose it (`using catalog = Catalog.open()`) or call `close()`. */
export class Catalog implements CatalogApi {
  readonly images: Images;
  readonly instances: Instances;
  readonly journal: Journal;
  readonly deployments: Deployments;
  readonly actions: Actions;

  private constructor(private readonly h: CatalogDb) {
    this.journal = new Journal(h);
    this.images = new Images(h, this.journal);
    this.instances = new Instances(h);
    this.deployments = new Deployments(h);
    this.actions = new Actions(h);
  }

  /**
   * Opens the catalog under `home`. Read-write (the default) creates it when absent, migrates
   * its schema and reconciles it with the disk; read-only does neither, and reads a home
   * without a catalog as an empty one.
   */
  static open(home: string = defaultKilnHome(), opts: OpenOptions = {}): Catalog {
    const abs = resolve(home);
    const db = opts.readonly ? openForReading(abs) : openForWriting(abs);
    const catalog = new Catalog(new CatalogDb(db, abs, opts.readonly === true));
    try {
      catalog.images.reconcile();
      return catalog;
    } catch (err) {
      catalog.close();
      throw err;
    }
  }

  /** `Catalog.open(home, { readonly: true })`: for commands that only read. */
  static openReadOnly(home: string = defaultKilnHome()): Catalog {
    return Catalog.open(home, { readonly: true });
  }

  /** The kiln home the catalog lives in. */
  get home(): string {
    return this.h.home;
  }

  /** `<home>/images`: where image files live (0700). */
  get imagesDir(): string {
    return this.h.imagesDir;
  }

  /** True when opened read-only: every write is refused. */
  get readonly(): boolean {
    return this.h.readonly;
  }

  /** The underlying database, for diagnostics and tests (e.g. `PRAGMA integrity_check`). */
  get database(): Db {
    return this.h.db;
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
    for (const files of this.h.db
      .prepare('SELECT files FROM images UNION ALL SELECT files FROM instances')
      .pluck()
      .all() as string[]) {
      for (const f of parseJson<string[]>(files, [])) note(f);
    }
    for (const ref of this.journal.journalledPaths()) note(ref);
    return entries.filter((e) => !used.has(e)).map((e) => join(this.imagesDir, e));
  }

  /** Closes the database; the object must not be used afterwards. Safe to call twice. */
  close(): void {
    this.h.close();
  }

  /** For `using`: closes the database. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function openForWriting(home: string): Db {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  mkdirSync(join(home, 'images'), { recursive: true, mode: 0o700 });
  const db = openDatabase(join(home, 'catalog.db'));
  try {
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function openForReading(home: string): Db {
  const file = join(home, 'catalog.db');
  if (!existsSync(file)) {
    // Nothing to read yet: an empty catalog in memory, so that reading creates nothing.
    const db = openEmptyDatabase();
    migrate(db);
    db.pragma('query_only = ON');
    return db;
  }
  let db = openDatabaseReadOnly(file);
  if (currentVersion(db) < LATEST_VERSION) {
    // Written by an older kiln: this kiln's queries need the current schema. The one
    // upgrade is the only write a read-only open ever makes, and only to an existing file.
    db.close();
    openForWriting(home).close();
    db = openDatabaseReadOnly(file);
  }
  try {
    refuseNewer(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
