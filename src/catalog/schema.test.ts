import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KilnError } from '../lib/errors.js';
import { openDatabase } from './db.js';
import { Catalog } from './index.js';
import { currentVersion, LATEST_VERSION, migrate, migrations } from './schema.js';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-schema-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('migrations', () => {
  it('are numbered 1, 2, … without gaps', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    expect(LATEST_VERSION).toBe(migrations.length);
  });

  it('bring a version-1 catalog up to date at open, keeping its images', () => {
    const home = join(root, 'home');
    mkdirSync(join(home, 'images'), { recursive: true });
    const old = openDatabase(join(home, 'catalog.db'));
    expect(migrate(old, migrations.slice(0, 1))).toEqual([1]);
    old
      .prepare(
        `INSERT INTO images (id, name, builder, files, created_at) VALUES (?, ?, ?, '[]', ?)`,
      )
      .run('img-0123456789abcdef0', 'old', 'qemu', '2025-01-01T00:00:00.000Z');
    old
      .prepare(`INSERT INTO image_tags (tag, image_id) VALUES ('v1', 'img-0123456789abcdef0')`)
      .run();
    old.close();

    const catalog = Catalog.open(home);
    try {
      expect(currentVersion(catalog.database)).toBe(LATEST_VERSION);
      expect(catalog.images.resolve('v1')).toMatchObject({
        name: 'old',
        status: 'ready',
        variables: {},
        metadata: {},
      });
      // The journal tables from migration 2 work.
      catalog.journal.begin('r1', process.pid, 'after migration');
      expect(catalog.journal.orphaned()).toEqual([]);
    } finally {
      catalog.close();
    }
  });

  it('adopt a deploy_history that kiln created on first use before migration 3, keeping its rows', () => {
    const home = join(root, 'home');
    mkdirSync(join(home, 'images'), { recursive: true });
    const old = openDatabase(join(home, 'catalog.db'));
    expect(migrate(old, migrations.slice(0, 2))).toEqual([1, 2]);
    // Exactly what catalog/deployments.ts ran on first use before it became a migration.
    old.exec(`
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
    `);
    old
      .prepare(
        `INSERT INTO deploy_history (backend, group_name, image_id, kind, status, launch_template_id, version, previous_version, created_at)
         VALUES ('aws', 'web-asg', 'ami-0123456789abcdef0', 'deploy', 'succeeded', 'lt-1', 3, 2, '2025-01-01T00:00:00.000Z')`,
      )
      .run();
    old.close();

    using catalog = Catalog.open(home);
    expect(currentVersion(catalog.database)).toBe(LATEST_VERSION);
    expect(catalog.deployments.list({ group: 'web-asg' })).toEqual([
      {
        id: 1,
        backend: 'aws',
        group: 'web-asg',
        imageId: 'ami-0123456789abcdef0',
        kind: 'deploy',
        status: 'succeeded',
        launchTemplateId: 'lt-1',
        version: 3,
        previousVersion: 2,
        createdAt: '2025-01-01T00:00:00.000Z',
      },
    ]);
    const next = catalog.deployments.record({
      backend: 'aws',
      group: 'web-asg',
      imageId: 'ami-0123456789abcdef1',
      kind: 'deploy',
      status: 'succeeded',
    });
    expect(next.id).toBe(2);
  });

  it('create deploy_history in a new catalog', () => {
    using catalog = Catalog.open(join(root, 'fresh'));
    const tables = catalog.database
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
      .pluck()
      .all();
    expect(tables).toContain('deploy_history');
    expect(catalog.deployments.list()).toEqual([]);
  });

  it('roll back entirely when one fails', () => {
    const db = openDatabase(join(root, 'c.db'));
    const broken = [
      ...migrations,
      {
        version: LATEST_VERSION + 1,
        description: 'bad',
        sql: 'CREATE TABLE x (a); SELEC nonsense;',
      },
    ];
    expect(() => migrate(db, broken)).toThrow();
    expect(currentVersion(db)).toBe(0);
    expect(
      db.prepare(`SELECT count(*) FROM sqlite_master WHERE name IN ('images', 'x')`).pluck().get(),
    ).toBe(0);
    db.close();
  });

  it('refuse a catalog written by a newer kiln', () => {
    const home = join(root, 'home');
    mkdirSync(home, { recursive: true });
    const db = new Database(join(home, 'catalog.db'));
    db.pragma(`user_version = ${LATEST_VERSION + 5}`);
    db.close();
    let err: unknown;
    try {
      Catalog.open(home).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).code).toBe('CatalogTooNew');
  });
});
