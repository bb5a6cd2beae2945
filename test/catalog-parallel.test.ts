/**
 * RELIABILITY #13: 20 separate Node processes open one brand-new catalog at the same moment
 * (racing on its creation, the switch to WAL and the migrations) and each registers an image
 * and moves one shared tag. Every row must be there, the database intact, and no process may
 * see SQLITE_BUSY. Runs against the compiled library in dist/ (npm run build first).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';

const DIST = resolve(import.meta.dirname, '../dist/catalog/index.js');
const N = 20;

const WORKER = `
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
const [, , distUrl, home, n, barrier] = process.argv;
const { Catalog } = await import(distUrl);
const { busyStats } = await import(new URL('./db.js', distUrl).href);
writeFileSync(join(barrier, 'ready-' + n), '');
while (!existsSync(join(barrier, 'go'))) await new Promise((r) => setTimeout(r, 5));
const t0 = performance.now();
const catalog = Catalog.open(home);
const dir = join(catalog.imagesDir, 'worker-' + n);
mkdirSync(dir, { recursive: true });
const disk = join(dir, 'disk.qcow2');
writeFileSync(disk, Buffer.alloc(4096 * (1 + Number(n)), 7));
const image = catalog.images.register({ name: 'parallel-' + n, builder: 'qemu', files: [disk], format: 'qcow2',
  inputHash: 'hash-' + n, variables: { n }, tags: ['worker-' + n] });
catalog.images.addTag(image.id, 'latest');
catalog.close();
process.stdout.write(JSON.stringify({ id: image.id, ms: performance.now() - t0, retries: busyStats.retries }) + '\\n');
`;

let root: string;

beforeAll(() => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build\` first`);
  root = mkdtempSync(join(tmpdir(), 'kiln-parallel-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('catalog under 20 parallel writers', () => {
  it('keeps every row, stays intact and never shows SQLITE_BUSY', async () => {
    const home = join(root, 'home');
    const barrier = join(root, 'barrier');
    const script = join(root, 'worker.mjs');
    writeFileSync(script, WORKER);
    rmSync(barrier, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(barrier);

    const outcomes = Array.from(
      { length: N },
      (_, n) =>
        new Promise<Outcome>((done) => {
          const child = spawn(
            process.execPath,
            [script, pathToFileURL(DIST).href, home, String(n), barrier],
            {
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d) => (stdout += d));
          child.stderr.on('data', (d) => (stderr += d));
          child.on('close', (code) => done({ code, stdout, stderr }));
        }),
    );
    // Release them together once all have loaded, so the writes really overlap.
    while (readdirSync(barrier).length < N) await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    writeFileSync(join(barrier, 'go'), '');
    const results = await Promise.all(outcomes);
    const wallMs = performance.now() - t0;

    for (const r of results) {
      expect(r.stderr).not.toMatch(/SQLITE_BUSY|database is locked/i);
      expect(r.code, r.stderr).toBe(0);
    }
    const reports = results.map(
      (r) => JSON.parse(r.stdout) as { id: string; ms: number; retries: number },
    );
    const retries = reports.reduce((s, r) => s + r.retries, 0);
    const slowest = Math.max(...reports.map((r) => r.ms));
    // A measurement for the record, not an assertion.
    console.log(
      `20 parallel registrations: ${wallMs.toFixed(0)} ms wall (slowest process ${slowest.toFixed(0)} ms), ${retries} busy retries`,
    );

    const catalog = Catalog.open(home);
    try {
      expect(catalog.database.pragma('integrity_check', { simple: true })).toBe('ok');
      const images = catalog.images.list();
      expect(images).toHaveLength(N);
      expect(new Set(images.map((i) => i.id))).toEqual(new Set(reports.map((r) => r.id)));
      for (let n = 0; n < N; n++) {
        const image = catalog.images.resolve(`worker-${n}`);
        expect(image.name).toBe(`parallel-${n}`);
        expect(catalog.images.findByInputHash(`hash-${n}`)?.id).toBe(image.id);
      }
      // The shared tag moved from writer to writer and ended on exactly one image.
      expect(images.filter((i) => i.tags.includes('latest'))).toHaveLength(1);
    } finally {
      catalog.close();
    }
  });
});
