/**
 * The SQLite connection under the catalog: WAL so readers never block the writer,
 * a busy timeout so writers queue instead of failing, and — because SQLite can still
 * answer SQLITE_BUSY without waiting (e.g. a reader upgrading to a writer, or while the
 * journal mode changes) — every write runs as BEGIN IMMEDIATE inside a retry loop with
 * jittered back-off, so many kiln processes sharing one catalog never show it to a user.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { brokenInstallCause } from '../lib/broken-install.js';
import { KilnError, SystemError } from '../lib/errors.js';

export type Db = Database.Database;

type DatabaseOptions = Database.Options;

let sqlite: typeof Database | undefined;

/**
 * A better-sqlite3 connection. The module is loaded on first use rather than imported: while
 * `npm ci` rebuilds node_modules its package or its native binding is missing, and that must
 * read as an install problem with a way out, not crash every command that only imports the
 * catalog (`kiln doctor`, `kiln validate`).
 */
function connect(file: string, opts?: DatabaseOptions): Db {
  try {
    sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    return new sqlite(file, opts);
  } catch (err) {
    const cause = brokenInstallCause(err);
    if (cause === undefined) throw err;
    throw new SystemError(
      'SqliteModuleBroken',
      `the SQLite module (better-sqlite3) does not load: ${cause}`,
      {
        hint: 'kiln’s installation is incomplete (not a bug in kiln): if `npm ci` is running, wait for it; else run `npm rebuild better-sqlite3` in kiln’s folder. `kiln doctor` checks the install.',
        cause: err,
      },
    );
  }
}

/** The SQLite version the catalog's module links (it loads the module: an install problem throws a SystemError). */
export function sqliteVersion(): string {
  const db = connect(':memory:');
  try {
    return String(db.prepare('SELECT sqlite_version()').pluck().get());
  } finally {
    db.close();
  }
}

/** How long a writer waits for the lock inside SQLite before our own retry takes over. */
const BUSY_TIMEOUT_MS = 5_000;
/** Total time a write keeps retrying before it reports the catalog as locked. */
const RETRY_BUDGET_MS = 120_000;

/** Counts retries after SQLITE_BUSY in this process (for tests and diagnostics). */
export const busyStats = { retries: 0 };

/** Opens (creating when absent) the database file with the catalog's pragmas. */
export function openDatabase(file: string): Db {
  const db = withBusyRetry(file, () => connect(file, { timeout: BUSY_TIMEOUT_MS }));
  try {
    withBusyRetry(file, () => {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // Switching to WAL needs a moment alone with the file; it sticks once set.
      if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') {
        db.pragma('journal_mode = WAL');
      }
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
    });
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Opens an existing database file for reading only: SQLite refuses every write on it, so a
 * command that only reads can never change the catalog, whatever code path it takes.
 */
export function openDatabaseReadOnly(file: string): Db {
  const db = withBusyRetry(file, () =>
    connect(file, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS }),
  );
  try {
    withBusyRetry(file, () => db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`));
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** An empty database in memory: what a read-only open of a kiln home that has no catalog yet reads. */
export function openEmptyDatabase(): Db {
  return connect(':memory:');
}

/** Runs `fn` in a BEGIN IMMEDIATE transaction, retried with back-off while the database is busy. */
export function writeTx<T>(db: Db, fn: () => T): T {
  return withBusyRetry(db.name, () => db.transaction(fn).immediate());
}

/** Runs `fn` (which must be safe to repeat) until it stops failing with SQLITE_BUSY or the budget is spent. */
export function withBusyRetry<T>(where: string, fn: () => T): T {
  const start = Date.now();
  let delay = 10;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (Date.now() - start > RETRY_BUDGET_MS) {
        throw new SystemError(
          'CatalogLocked',
          `the catalog stayed locked for ${RETRY_BUDGET_MS / 1000} s`,
          {
            where,
            hint: 'another kiln process holds the catalog; wait for it to finish or stop it',
            cause: err,
          },
        );
      }
      busyStats.retries++;
      sleepSync(delay / 2 + Math.random() * delay);
      delay = Math.min(delay * 2, 1_000);
    }
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  );
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread: better-sqlite3 is synchronous, so its retries are too. */
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * The one database handle a `Catalog` and its concerns share. A read-only handle refuses
 * every write before it starts (a clear internal error instead of SQLite's SQLITE_READONLY
 * halfway through, e.g. after image files were made read-only).
 */
export class CatalogDb {
  /** `<home>/images`: where image files live (0700). */
  readonly imagesDir: string;

  constructor(
    readonly db: Db,
    readonly home: string,
    readonly readonly: boolean,
  ) {
    this.imagesDir = join(home, 'images');
  }

  /** Runs `fn` as one IMMEDIATE write transaction (retried while busy); refused on a read-only handle. */
  write<T>(fn: () => T): T {
    this.assertWritable();
    return writeTx(this.db, fn);
  }

  /** Throws unless writes are allowed: call before any side effect of a write. */
  assertWritable(): void {
    if (this.readonly) {
      throw new KilnError(
        'CatalogReadOnly',
        `the catalog at ${this.home} was opened read-only and cannot be changed`,
      );
    }
  }

  /** Closes the connection; the handle must not be used afterwards. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}
