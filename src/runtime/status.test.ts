import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { KilnError } from '../lib/errors.js';
import { resolveInstance } from './status.js';

let root: string;
let catalog: Catalog;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-status-'));
  catalog = Catalog.open(join(root, 'home'));
  const dir = join(catalog.imagesDir, 'a');
  mkdirSync(dir);
  writeFileSync(join(dir, 'disk.qcow2'), 'disk');
  const image = catalog.images.register({
    name: 'web',
    builder: 'qemu',
    files: [join(dir, 'disk.qcow2')],
  });
  const add = (id: string, name?: string) =>
    catalog.instances.add({ id, imageId: image.id, backend: 'local', ...(name ? { name } : {}) });
  add('i-0ff9a000000000001', 'web-1');
  add('i-0fe1b000000000002', 'web-2');
  add('i-77aa0000000000003', 'dup');
  add('i-77bb0000000000004', 'dup');
});

afterEach(() => {
  catalog.close();
  rmSync(root, { recursive: true, force: true });
});

function thrown(fn: () => unknown): KilnError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KilnError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('resolveInstance', () => {
  it('takes an id, a name or any unique id prefix, with or without i-', () => {
    expect(resolveInstance(catalog, 'i-0fe1b000000000002').name).toBe('web-2');
    expect(resolveInstance(catalog, 'web-1').id).toBe('i-0ff9a000000000001');
    expect(resolveInstance(catalog, 'i-0ff').id).toBe('i-0ff9a000000000001');
    expect(resolveInstance(catalog, '0fe').id).toBe('i-0fe1b000000000002');
    expect(resolveInstance(catalog, '77a').id).toBe('i-77aa0000000000003');
  });

  it('lists the candidates of an ambiguous prefix or name', () => {
    const prefix = thrown(() => resolveInstance(catalog, '0f'));
    expect(prefix.code).toBe('AmbiguousInstance');
    expect(prefix.details).toEqual([
      'i-0ff9a000000000001 (web-1) running',
      'i-0fe1b000000000002 (web-2) running',
    ]);
    const name = thrown(() => resolveInstance(catalog, 'dup'));
    expect(name.code).toBe('AmbiguousInstance');
    expect(name.details).toHaveLength(2);
    expect(thrown(() => resolveInstance(catalog, 'i-0ffa')).code).toBe('InstanceNotFound');
  });
});
