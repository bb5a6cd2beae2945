/**
 * The catalog's schema as numbered migrations. `PRAGMA user_version` holds the number of
 * the last one applied; `migrate` applies the missing ones at open, all in one IMMEDIATE
 * transaction, so a crash or a second process never sees a half-migrated catalog.
 * Append new migrations; never edit an applied one.
 */
import { SystemError } from '../lib/errors.js';
import { type Db, writeTx } from './db.js';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: 'images, tags and instances',
    sql: `
      CREATE TABLE images (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        builder       TEXT NOT NULL,
        parent_id     TEXT REFERENCES images(id) ON DELETE RESTRICT,
        files         TEXT NOT NULL DEFAULT '[]',   -- JSON array of absolute paths; the first is the disk
        format        TEXT,
        input_hash    TEXT,
        template_path TEXT,
        variables     TEXT NOT NULL DEFAULT '{}',   -- JSON object, secrets already redacted
        size_bytes    INTEGER NOT NULL DEFAULT 0,
        sha256        TEXT,
        metadata      TEXT NOT NULL DEFAULT '{}',   -- JSON object
        status        TEXT NOT NULL DEFAULT 'ready',
        created_at    TEXT NOT NULL
      );
      CREATE INDEX images_input_hash ON images(input_hash);
      CREATE INDEX images_name ON images(name, created_at);
      CREATE INDEX images_parent ON images(parent_id);

      -- A tag names one image at a time (tagging another image moves it), like docker's.
      CREATE TABLE image_tags (
        tag      TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
      );
      CREATE INDEX image_tags_image ON image_tags(image_id);

      CREATE TABLE instances (
        id         TEXT PRIMARY KEY,
        image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        name       TEXT,
        backend    TEXT NOT NULL,
        pid        INTEGER,
        ports      TEXT NOT NULL DEFAULT '[]',
        files      TEXT NOT NULL DEFAULT '[]',
        group_name TEXT,
        metadata   TEXT NOT NULL DEFAULT '{}',
        state      TEXT NOT NULL DEFAULT 'running',
        created_at TEXT NOT NULL
      );
      CREATE INDEX instances_image ON instances(image_id);
    `,
  },
  {
    version: 2,
    description: 'run journal for crash-safe cleanup; status kept across a missing file',
    sql: `
      CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        pid         INTEGER NOT NULL,
        start_time  TEXT,            -- /proc/<pid>/stat field 22, so a reused pid is not mistaken for the run
        boot_id     TEXT,
        host        TEXT NOT NULL,
        description TEXT NOT NULL,
        started_at  TEXT NOT NULL
      );
      CREATE TABLE run_resources (
        run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        ref        TEXT NOT NULL,
        metadata   TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, ref)
      );
      -- What the status was before reconciliation marked the image 'missing'.
      ALTER TABLE images ADD COLUMN status_before_missing TEXT;
    `,
  },
  {
    version: 3,
    description: 'deploy history (kiln deploy aws|local and their rollbacks)',
    // IF NOT EXISTS: kiln before this migration created the same table on first use, so a
    // catalog that has deployed already holds it, with its rows.
    sql: `
      CREATE TABLE IF NOT EXISTS deploy_history (
        id                 INTEGER PRIMARY KEY AUTOINCREMENT,
        backend            TEXT NOT NULL,
        group_name         TEXT NOT NULL,
        region             TEXT,
        image_id           TEXT NOT NULL,
        kind               TEXT NOT NULL,
        status             TEXT NOT NULL,
        launch_template_id TEXT,
        version            INTEGER,
        previous_version   INTEGER,
        refresh_id         TEXT,
        reason             TEXT,
        created_at         TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS deploy_history_group ON deploy_history(backend, group_name, id);
    `,
  },
  {
    version: 4,
    description: 'action cache: pipeline commands whose inputs hashed to a run that passed',
    sql: `
      CREATE TABLE action_cache (
        key         TEXT PRIMARY KEY,   -- sha256 of the step's declared inputs, command and env
        step        TEXT NOT NULL,      -- unit_tests, integration_tests, package
        pipeline    TEXT NOT NULL,      -- the pipeline file (absolute)
        outputs     TEXT NOT NULL DEFAULT '[]', -- JSON [{path, sha256, size}]: what the run made
        duration_ms INTEGER NOT NULL,
        created_at  TEXT NOT NULL,
        used_at     TEXT NOT NULL
      );
      CREATE INDEX action_cache_step ON action_cache(pipeline, step, used_at);
    `,
  },
];

/** The schema version this build of kiln writes. */
export const LATEST_VERSION = migrations.at(-1)!.version;

/** Applies every migration newer than the database's user_version, in one transaction; returns the versions applied. */
export function migrate(db: Db, list: readonly Migration[] = migrations): number[] {
  const latest = list.at(-1)?.version ?? 0;
  // Cheap check without the write lock: most opens find the schema current.
  if (currentVersion(db) === latest) return [];
  return writeTx(db, () => {
    const from = currentVersion(db);
    refuseNewer(db, from, latest);
    const applied: number[] = [];
    for (const m of list) {
      if (m.version <= from) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
      applied.push(m.version);
    }
    return applied;
  });
}

/** Throws CatalogTooNew when the database was written by a kiln with a newer schema. */
export function refuseNewer(db: Db, from = currentVersion(db), latest = LATEST_VERSION): void {
  if (from > latest) {
    throw new SystemError(
      'CatalogTooNew',
      `the catalog has schema version ${from}; this kiln knows up to ${latest}`,
      {
        where: db.name,
        hint: 'upgrade kiln (an older kiln must not write to a newer catalog)',
      },
    );
  }
}

/** The schema version recorded in the database (0 for a new file). */
export function currentVersion(db: Db): number {
  return Number(db.pragma('user_version', { simple: true }));
}
