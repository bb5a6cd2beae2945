/**
 * Deploy history in the catalog database (`deploy_history`): each `kiln deploy aws` and
 * rollback, what it set and what it replaced, so `--rollback` knows the previous release.
 * Kept in its own table, created on first use, so it adds to the catalog's schema without
 * touching its numbered migrations (the catalog may adopt it as a migration later).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Db, openDatabase, writeTx } from './db.js';

export interface NewDeployment {
  /** `aws` (an Auto Scaling group) — or `local` for a local rolling deploy. */
  backend: string;
  /** The Auto Scaling group (or local group). */
  group: string;
  region?: string;
  imageId: string;
  /** `deploy` or `rollback`. */
  kind: 'deploy' | 'rollback';
  /** `succeeded`, `failed` (rolled back), `rollback-failed`, `cancelled`. */
  status: string;
  launchTemplateId?: string;
  /** The launch template version this deploy made default. */
  version?: number;
  /** The default version it replaced (what a rollback returns to). */
  previousVersion?: number;
  refreshId?: string;
  reason?: string;
}

export interface DeploymentRecord extends NewDeployment {
  id: number;
  /** ISO 8601. */
  createdAt: string;
}

const SQL = `
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
`;

function open(home: string): Db {
  const abs = resolve(home);
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  const db = openDatabase(join(abs, 'catalog.db'));
  try {
    writeTx(db, () => db.exec(SQL));
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Appends one deploy to the history under `home`; returns it with its id and time. */
export function recordDeployment(home: string, d: NewDeployment): DeploymentRecord {
  const db = open(home);
  try {
    const createdAt = new Date().toISOString();
    const id = writeTx(
      db,
      () =>
        db
          .prepare(
            `INSERT INTO deploy_history (backend, group_name, region, image_id, kind, status, launch_template_id,
             version, previous_version, refresh_id, reason, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            d.backend,
            d.group,
            d.region ?? null,
            d.imageId,
            d.kind,
            d.status,
            d.launchTemplateId ?? null,
            d.version ?? null,
            d.previousVersion ?? null,
            d.refreshId ?? null,
            d.reason ?? null,
            createdAt,
          ).lastInsertRowid,
    );
    return { ...d, id: Number(id), createdAt };
  } finally {
    db.close();
  }
}

/** The deploys of one group (newest first), or of every group. */
export function listDeployments(
  home: string,
  filter: { backend?: string; group?: string } = {},
): DeploymentRecord[] {
  const db = open(home);
  try {
    const rows = db
      .prepare(
        `SELECT * FROM deploy_history WHERE (? IS NULL OR backend = ?) AND (? IS NULL OR group_name = ?) ORDER BY id DESC`,
      )
      .all(
        filter.backend ?? null,
        filter.backend ?? null,
        filter.group ?? null,
        filter.group ?? null,
      ) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: Number(r.id),
      backend: String(r.backend),
      group: String(r.group_name),
      ...(r.region != null ? { region: String(r.region) } : {}),
      imageId: String(r.image_id),
      kind: r.kind === 'rollback' ? 'rollback' : 'deploy',
      status: String(r.status),
      ...(r.launch_template_id != null ? { launchTemplateId: String(r.launch_template_id) } : {}),
      ...(r.version != null ? { version: Number(r.version) } : {}),
      ...(r.previous_version != null ? { previousVersion: Number(r.previous_version) } : {}),
      ...(r.refresh_id != null ? { refreshId: String(r.refresh_id) } : {}),
      ...(r.reason != null ? { reason: String(r.reason) } : {}),
      createdAt: String(r.created_at),
    }));
  } finally {
    db.close();
  }
}
