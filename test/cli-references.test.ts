/**
 * Image and instance references as docker takes them (issue 16, item 3): any unique id
 * prefix, with or without `img-`/`i-`, names and tags; an ambiguous one lists the candidates.
 * Through the compiled CLI against a small catalog (no VM).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { kiln as run } from './helpers/kiln.js';
import { type SmallCatalog, smallCatalog } from './helpers/small-catalog.js';

let c: SmallCatalog;
const kiln = (...args: string[]) => run(args, { home: c.home });
const inspected = async (ref: string) => {
  const r = await kiln('images', 'inspect', ref);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Array<{ id: string }>)[0]!.id;
};

beforeEach(() => {
  c = smallCatalog();
});
afterEach(() => rmSync(c.root, { recursive: true, force: true }));

describe('image references', () => {
  it('take any unique id prefix, with or without img-, however short', async () => {
    expect(await inspected('img-0ff9')).toBe(c.base.id);
    expect(await inspected('0ff9')).toBe(c.base.id);
    expect(await inspected('0fe')).toBe(c.build.id);
    expect(await inspected('7')).toBe(c.dev.id);
    expect(await inspected('debian-12')).toBe(c.base.id);
    expect(await inspected('hello-web-build')).toBe(c.build.id);
  });

  it('list the candidates of an ambiguous prefix', async () => {
    const r = await kiln('images', 'inspect', 'img-0f');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('"img-0f" matches 2 images');
    expect(r.stderr).toContain(`${c.base.id} (debian-base)`);
    expect(r.stderr).toContain(`${c.build.id} (hello-web-build)`);
    expect(r.stderr).not.toContain('no image matches');
  });
});

describe('instance references', () => {
  it('take any unique id prefix, with or without i-, and list the candidates of an ambiguous one', async () => {
    const log = join(c.root, 'serial.log');
    writeFileSync(log, 'login: \n');
    {
      using catalog = Catalog.open(c.home);
      for (const id of ['i-0ff9a000000000001', 'i-0fe1b000000000002']) {
        catalog.instances.add({
          id,
          imageId: c.dev.id,
          backend: 'local',
          metadata: { serialLog: log },
        });
        catalog.instances.update(id, { state: 'stopped' });
      }
    }
    const logs = await kiln('logs', '0ff');
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toBe('login: \n');
    expect((await kiln('logs', 'i-0fe')).code).toBe(0);
    const amb = await kiln('logs', 'i-0f');
    expect(amb.code).toBe(1);
    expect(amb.stderr).toContain('"i-0f" matches 2 instances');
    expect(amb.stderr).toContain('i-0ff9a000000000001');
    expect(amb.stderr).toContain('i-0fe1b000000000002');
  });
});
