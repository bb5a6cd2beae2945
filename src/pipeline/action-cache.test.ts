import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import {
  actionKey,
  checkOutput,
  KEYS_KEPT,
  keepOutput,
  outputStore,
  recordPass,
} from './action-cache.js';
import type { CommandSpec } from './pipeline-file.js';

let dir: string;
let home: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-action-'));
  home = join(dir, 'home');
  mkdirSync(join(dir, 'app/src'), { recursive: true });
  writeFileSync(join(dir, 'app/src/a.ts'), 'a');
  writeFileSync(join(dir, 'app/src/b.ts'), 'b');
  writeFileSync(join(dir, 'app/src/b.test.ts'), 'test');
  writeFileSync(join(dir, 'app/build.sh'), 'echo');
  writeFileSync(join(dir, 'shared.json'), '{}');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const spec = (over: Partial<CommandSpec> = {}): CommandSpec & { inputs: string[] } => ({
  name: 'unit_tests',
  commands: ['npm test'],
  inputs: ['src', 'build.sh', '../shared.json', '!**/*.test.ts'],
  env: ['MODE'],
  ...over,
});
const key = async (s = spec(), env: NodeJS.ProcessEnv = {}) =>
  (await actionKey({ ...s, inputs: s.inputs ?? [] }, join(dir, 'app'), env)).key;

describe('actionKey', () => {
  it('is the same for the same inputs, and counts the files it hashed', async () => {
    const k = await actionKey(spec(), join(dir, 'app'), {});
    expect(k.files).toBe(4);
    expect(k.unmatched).toEqual([]);
    expect(await key()).toBe(k.key);
  });

  it('changes with a file’s bytes, a new file, its executable bit, the command, a named variable', async () => {
    const before = await key();
    const seen = new Set([before]);
    const changed = async (what: string, k: Promise<string>) => {
      const v = await k;
      expect(seen.has(v), what).toBe(false);
      seen.add(v);
    };
    writeFileSync(join(dir, 'app/src/a.ts'), 'a2');
    await changed('file bytes', key());
    writeFileSync(join(dir, 'app/src/c.ts'), 'c');
    await changed('new file', key());
    chmodSync(join(dir, 'app/build.sh'), 0o755);
    await changed('executable bit', key());
    writeFileSync(join(dir, 'shared.json'), '{"x":1}');
    await changed('file outside the directory', key());
    await changed('command', key(spec({ commands: ['npm test -- --run'] })));
    await changed('variable', key(spec(), { MODE: 'ci' }));
  });

  it('ignores excluded files, files not declared, unnamed variables and the artifact', async () => {
    const before = await key(spec({ artifact: 'src/out.deb' }));
    writeFileSync(join(dir, 'app/src/b.test.ts'), 'changed test');
    writeFileSync(join(dir, 'app/README.md'), 'docs');
    writeFileSync(join(dir, 'app/src/out.deb'), 'the output');
    expect(await key(spec({ artifact: 'src/out.deb' }), { OTHER: 'x' })).toBe(before);
  });

  it('names the patterns that match nothing', async () => {
    const k = await actionKey(
      spec({ inputs: ['src', 'nope/**', 'missing.txt'] }),
      join(dir, 'app'),
      {},
    );
    expect(k.unmatched).toEqual(['nope/**', 'missing.txt']);
  });
});

describe('kept outputs', () => {
  it('verifies an artifact in place, restores a lost one from the copy, and refuses a changed one', async () => {
    const deb = join(dir, 'app/dist/app.deb');
    mkdirSync(join(dir, 'app/dist'));
    writeFileSync(deb, 'package bytes');
    const out = await keepOutput(home, 'dist/app.deb', deb);
    expect(out).toMatchObject({ path: 'dist/app.deb', size: 13 });
    expect(readFileSync(join(outputStore(home), out.sha256), 'utf8')).toBe('package bytes');
    const app = join(dir, 'app');
    expect(await checkOutput(home, app, out)).toEqual({ state: 'verified' });

    rmSync(join(dir, 'app/dist'), { recursive: true });
    expect(await checkOutput(home, app, out)).toEqual({ state: 'restored' });
    expect(readFileSync(deb, 'utf8')).toBe('package bytes');

    writeFileSync(deb, 'other bytes!!');
    expect(await checkOutput(home, app, out)).toMatchObject({ state: 'changed' });
    expect(readFileSync(deb, 'utf8')).toBe('other bytes!!');

    // A damaged copy is never restored.
    rmSync(deb);
    writeFileSync(join(outputStore(home), out.sha256), 'damaged copy!');
    expect(await checkOutput(home, app, out)).toMatchObject({ state: 'lost' });
    expect(existsSync(deb)).toBe(false);
  });
});

describe('recordPass', () => {
  it('keeps the most recently used keys of a step and the copies they name', async () => {
    using catalog = Catalog.open(home);
    const deb = join(dir, 'app.deb');
    const digests: string[] = [];
    for (let i = 0; i <= KEYS_KEPT; i++) {
      writeFileSync(deb, `build ${i}`);
      const out = await keepOutput(home, 'app.deb', deb);
      digests.push(out.sha256);
      recordPass(catalog, {
        key: `k${i}`,
        step: 'package',
        pipeline: '/p.json',
        outputs: [out],
        durationMs: 5,
      });
      // Distinct used_at times.
      await new Promise((r) => setTimeout(r, 2));
    }
    const keys = catalog.actions.list().map((a) => a.key);
    expect(keys).toHaveLength(KEYS_KEPT);
    expect(keys).not.toContain('k0');
    expect(existsSync(join(outputStore(home), digests[0]!))).toBe(false);
    expect(existsSync(join(outputStore(home), digests[KEYS_KEPT]!))).toBe(true);
    expect(catalog.actions.get(`k${KEYS_KEPT}`)).toMatchObject({
      step: 'package',
      outputs: [{ path: 'app.deb', sha256: digests[KEYS_KEPT] }],
      durationMs: 5,
    });
  });
});
