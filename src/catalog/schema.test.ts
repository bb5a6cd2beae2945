import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KilnError } from '../core/errors.js';
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
      expect(catalog.resolveImage('v1')).toMatchObject({
        name: 'old',
        status: 'ready',
        variables: {},
        metadata: {},
      });
      // The journal tables from migration 2 work.
      catalog.beginRun('r1', process.pid, 'after migration');
      expect(catalog.orphanedRuns()).toEqual([]);
    } finally {
      catalog.close();
    }
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
