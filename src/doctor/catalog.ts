/** The catalog: its SQLite module loads, and the database under the kiln home opens and is sound. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Catalog, sqliteVersion } from '../catalog/index.js';
import { formatError, KilnError } from '../lib/errors.js';
import type { DoctorCheck } from './check.js';

/** Where kiln is installed (this file is `<root>/dist/doctor/catalog.js`): where npm must run. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** better-sqlite3 and its native binding load. */
export function checkSqliteModule(): DoctorCheck {
  try {
    return {
      name: 'sqlite module',
      status: 'ok',
      detail: `better-sqlite3 (SQLite ${sqliteVersion()})`,
    };
  } catch (err) {
    return {
      name: 'sqlite module',
      status: 'fail',
      detail: err instanceof Error ? err.message : String(err),
      fix: `cd ${ROOT} && npm rebuild better-sqlite3 (or npm ci)`,
    };
  }
}

/** The catalog opens read-only and passes SQLite's quick check; lost disks and stray files are warnings. */
export function checkCatalog(home: string): DoctorCheck[] {
  if (!existsSync(join(home, 'catalog.db')))
    return [{ name: 'catalog', status: 'ok', detail: 'none yet (the first build creates it)' }];
  let catalog: Catalog;
  try {
    catalog = Catalog.openReadOnly(home);
  } catch (err) {
    return [
      {
        name: 'catalog',
        status: 'fail',
        detail: formatError(err).split('\n')[0]!,
        fix:
          err instanceof KilnError && err.hint
            ? err.hint
            : `move ${join(home, 'catalog.db')} aside and rebuild the images`,
      },
    ];
  }
  try {
    const integrity = String(catalog.database.pragma('quick_check', { simple: true }));
    if (integrity !== 'ok')
      return [
        {
          name: 'catalog',
          status: 'fail',
          detail: `${join(home, 'catalog.db')} is damaged: ${integrity}`,
          fix: `sqlite3 ${join(home, 'catalog.db')} .recover (or move it aside and rebuild the images)`,
        },
      ];
    const images = catalog.images.list();
    const checks: DoctorCheck[] = [
      {
        name: 'catalog',
        status: 'ok',
        detail: `${images.length} image(s), ${catalog.instances.list().length} instance(s)`,
      },
    ];
    const lost = images.filter((i) => i.status === 'missing');
    if (lost.length > 0)
      checks.push({
        name: 'catalog images',
        status: 'warn',
        detail: `${lost.length} image(s) lost their disk file: ${lost.map((i) => i.id).join(', ')}`,
        fix: `kiln images rm ${lost.map((i) => i.id).join(' ')}`,
      });
    const strays = catalog.strayPaths();
    if (strays.length > 0)
      checks.push({
        name: 'catalog files',
        status: 'warn',
        detail: `${strays.length} entr${strays.length === 1 ? 'y' : 'ies'} under ${catalog.imagesDir} belong to no image`,
        fix: 'kiln gc',
      });
    return checks;
  } finally {
    catalog.close();
  }
}
