import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { BuildUi, MemoryUi, type Ui } from '../core/events.js';
import { Secrets } from '../core/secrets.js';
import { CancelledError } from '../lib/errors.js';
import { IMPORT_STEPS, importImage } from './import.js';

let root: string;
let catalog: Catalog;
const ui = () => new BuildUi(new MemoryUi(new Secrets()), 'import');

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-import-'));
  catalog = Catalog.open(join(root, 'home'));
  writeFileSync(join(root, 'disk.raw'), Buffer.alloc(1024 * 1024, 1));
  writeFileSync(join(root, 'vmlinuz'), 'kernel');
});

afterEach(() => {
  catalog.close();
  rmSync(root, { recursive: true, force: true });
});

describe('importImage (steps: real qemu-img and SQLite)', () => {
  it('runs open-journal, create-work-dir, import-disk, register-image; leaves the image and no run', async () => {
    expect(IMPORT_STEPS.map((s) => s.name)).toEqual([
      'open-journal',
      'create-work-dir',
      'import-disk',
      'register-image',
    ]);
    const image = await importImage({
      catalog,
      disk: join(root, 'disk.raw'),
      kernel: join(root, 'vmlinuz'),
      name: 'mine',
      ui: ui(),
      signal: new AbortController().signal,
    });
    expect(image.files.map((f) => f.slice(catalog.imagesDir.length + 1))).toEqual([
      `${image.id}/disk.qcow2`,
      `${image.id}/vmlinuz`,
    ]);
    expect((image.metadata as { kernel: string }).kernel).toBe(image.files[1]);
    expect(readdirSync(catalog.imagesDir)).toEqual([image.id]);
    expect(catalog.database.prepare('SELECT COUNT(*) FROM runs').pluck().get()).toBe(0);
  });

  it('an interrupt while the disk is copied removes the work dir and ends the run', async () => {
    const pending: string[][] = [];
    const ctl = new AbortController();
    // Interrupted as import-disk starts: qemu-img is stopped, then every cleanup runs.
    const interrupting: Ui = {
      secrets: new Secrets(),
      emit(e) {
        if (e.type === 'ui' && e.text.startsWith('Importing')) ctl.abort();
      },
    };
    await expect(
      importImage({
        catalog,
        disk: join(root, 'disk.raw'),
        ui: new BuildUi(interrupting, 'import'),
        signal: ctl.signal,
        onCleanupPending: (p) => pending.push(p),
      }),
    ).rejects.toBeInstanceOf(CancelledError);
    expect(readdirSync(catalog.imagesDir)).toEqual([]);
    expect(catalog.images.list()).toEqual([]);
    expect(catalog.database.prepare('SELECT COUNT(*) FROM runs').pluck().get()).toBe(0);
    expect(pending[0]).toEqual(['create-work-dir', 'open-journal']);
    expect(pending.at(-1)).toEqual([]);
  });
});
