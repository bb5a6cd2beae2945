/**
 * What the catalog shows (issue 16, item 10 of the friction list): `images inspect` gives the
 * template path, the variables (sensitive ones redacted when recorded), the input hash and
 * the saved VM state's size; `images ls --filter` selects as docker's does.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kiln as run } from './helpers/kiln.js';
import { type SmallCatalog, smallCatalog } from './helpers/small-catalog.js';

let c: SmallCatalog;
const kiln = (...args: string[]) => run(args, { home: c.home });

beforeEach(() => {
  c = smallCatalog({
    dev: {
      templatePath: '/src/packer-release.json',
      variables: { port: '8080', api_key: '<sensitive>' },
      inputHash: `sha256:${'ab'.repeat(32)}`,
    },
  });
});
afterEach(() => rmSync(c.root, { recursive: true, force: true }));

describe('images inspect', () => {
  it('shows the template path, variables, input hash and the warm state with its size', async () => {
    const warm = join(dirname(c.dev.files[0]!), 'warm');
    mkdirSync(warm);
    writeFileSync(join(warm, 'state.bin'), Buffer.alloc(300_000, 7));
    const r = await kiln('images', 'inspect', 'dev', 'hello-web-build');
    expect(r.code, r.stderr).toBe(0);
    const [dev, build] = JSON.parse(r.stdout);
    expect(dev).toMatchObject({
      templatePath: '/src/packer-release.json',
      variables: { port: '8080', api_key: '<sensitive>' },
      inputHash: `sha256:${'ab'.repeat(32)}`,
      warmState: { path: warm },
    });
    expect(dev.warmState.sizeBytes).toBeGreaterThanOrEqual(300_000);
    expect(build.warmState).toBeNull();
  });
});

describe('images ls and saved VM states', () => {
  it('counts an image’s state in its SIZE, totals the states against the budget, and gives it in --json', async () => {
    const warm = join(dirname(c.dev.files[0]!), 'warm');
    mkdirSync(warm);
    writeFileSync(join(warm, 'meta.json'), '{}');
    writeFileSync(join(warm, 'state.zst'), Buffer.alloc(300_000, 7));
    const r = await run(['images', 'ls'], { home: c.home, env: { KILN_WARM_BUDGET: '1G' } });
    expect(r.code, r.stderr).toBe(0);
    const devLine = r.stdout.split('\n').find((l) => l.startsWith(c.dev.id))!;
    expect(devLine).toMatch(/\s[\d.]+kB \(\+3\d\dkB state\)\s/);
    const buildLine = r.stdout.split('\n').find((l) => l.startsWith(c.build.id))!;
    expect(buildLine).not.toMatch(/state/);
    expect(r.stderr).toMatch(
      /saved VM states \(warm starts\): 1, 3\d\dkB of the 1.07GB budget \(KILN_WARM_BUDGET\)/,
    );
    const json = JSON.parse((await kiln('images', 'ls', '--json')).stdout) as Array<{
      id: string;
      warmState: { path: string; sizeBytes: number } | null;
    }>;
    expect(json.find((i) => i.id === c.dev.id)!.warmState).toMatchObject({ path: warm });
    expect(json.find((i) => i.id === c.build.id)!.warmState).toBeNull();
  });
});

describe('images ls --filter', () => {
  const ids = async (...filters: string[]) => {
    const r = await kiln('images', 'ls', '-q', ...filters.flatMap((f) => ['--filter', f]));
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim().split('\n').filter(Boolean);
  };

  it('selects by name, tag, builder, parent, before and since', async () => {
    expect(await ids('name=hello-web-*')).toEqual([c.dev.id, c.build.id]);
    expect(await ids('tag=debian-12')).toEqual([c.base.id]);
    expect(await ids('builder=qemu')).toEqual([c.dev.id, c.build.id]);
    expect(await ids('parent=debian-12')).toEqual([c.build.id]);
    expect(await ids('before=hello-web-dev')).toEqual([c.build.id, c.base.id]);
    expect(await ids('since=img-0ff9')).toEqual([c.dev.id, c.build.id]);
    expect(await ids('since=debian-base', 'tag=dev')).toEqual([c.dev.id]);
    const table = await kiln('images', 'ls', '-f', 'builder=base');
    expect(table.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('refuses an unknown key, and an unknown image in before=', async () => {
    const r = await kiln('images', 'ls', '--filter', 'dangling=true');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('invalid filter "dangling=true"');
    expect(r.stderr).toContain('name, tag, builder, parent, before, since');
    const miss = await kiln('images', 'ls', '--filter', 'before=nope');
    expect(miss.code).toBe(1);
    expect(miss.stderr).toContain('no image matches "nope"');
  });
});
