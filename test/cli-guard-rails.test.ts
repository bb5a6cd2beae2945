/**
 * Guard rails (issue 16, item 9 of the friction list): `--cpus`/`--memory` beyond the host
 * are refused before anything starts, and moving a tag that catalog images were built from
 * needs `--force`. No VM: every refusal comes before QEMU would start.
 */
import { rmSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { kiln as run } from './helpers/kiln.js';
import { type SmallCatalog, smallCatalog } from './helpers/small-catalog.js';

let c: SmallCatalog;
const kiln = (...args: string[]) => run(args, { home: c.home, ownTmp: true });

beforeEach(() => {
  // hello-web-build was built from the tag debian-12, as the sample's packer-build.json does.
  c = smallCatalog({
    build: { templatePath: '/src/packer-build.json', metadata: { sourceRef: 'debian-12' } },
  });
});
afterEach(() => rmSync(c.root, { recursive: true, force: true }));

const instances = () => {
  using catalog = Catalog.openReadOnly(c.home);
  return catalog.instances.list();
};

describe('VM size flags', () => {
  const cpus = availableParallelism();
  const memoryMb = Math.floor(totalmem() / 1024 ** 2);

  it('refuse more vCPUs than the host has, before anything starts', async () => {
    for (const args of [
      ['run', '--cpus', String(cpus + 1), 'dev'],
      ['deploy', 'local', '--group', 'web', '--cpus', '64', 'dev'],
    ]) {
      const r = await kiln(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/--cpus \d+: this host has only \d+ CPUs?/);
      expect(r.stderr).toContain(`give at most --cpus ${cpus}`);
    }
    expect(instances()).toEqual([]);
  });

  it("refuse the host's memory or more", async () => {
    const r = await kiln('run', '--memory', String(memoryMb), 'dev');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--memory ${memoryMb}: this host has only ${memoryMb} MB of memory`);
    expect(instances()).toEqual([]);
  });

  it('say so in --help', async () => {
    const help = (await kiln('run', '--help')).stdout.replace(/\s+/g, ' ');
    expect(help).toContain("more than the host's CPUs is refused");
    expect(help).toContain("the host's memory or more is refused");
  });
});

describe('images tag', () => {
  it('refuses to move a tag that images were built from, unless --force', async () => {
    const r = await kiln('images', 'tag', 'hello-web-dev', 'debian-12');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `tag "debian-12" is on ${c.base.id} (debian-base), and 1 image(s) were built from it`,
    );
    expect(r.stderr).toContain(`${c.build.id} (hello-web-build) from /src/packer-build.json`);
    expect(r.stderr).toContain('--force');
    const held = JSON.parse((await kiln('images', 'inspect', 'debian-12')).stdout)[0];
    expect(held.id).toBe(c.base.id);

    const forced = await kiln('images', 'tag', '--force', 'hello-web-dev', 'debian-12');
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse((await kiln('images', 'inspect', 'debian-12')).stdout)[0].id).toBe(c.dev.id);
  });

  it('moves a tag nothing was built from, and puts a new one, without --force', async () => {
    expect((await kiln('images', 'tag', 'hello-web-build', 'dev')).code).toBe(0);
    expect((await kiln('images', 'tag', 'hello-web-build', 'candidate')).code).toBe(0);
    expect((await kiln('images', 'tag', 'debian-base', 'debian-12')).code).toBe(0);
  });
});
