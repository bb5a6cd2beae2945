/**
 * The qemu builder for real: QEMU under TCG booting the debian-12 base from the catalog,
 * SSH with a per-build key, a shell provisioner, the build's traces removed, the overlay
 * registered as a child image — then that image booted by a second build. And the
 * reliability cases: SIGINT at each phase and QEMU dying leave nothing behind.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import {
  artifactId,
  HOME,
  type KilnProcess,
  readImageFiles,
  type Snapshot,
  snapshot,
  startKiln,
  usePrivateHome,
} from './qemu-helpers.js';

let base: string;
let dir: string;

beforeAll(async () => {
  base = await usePrivateHome();
  dir = mkdtempSync(join(tmpdir(), 'kiln-qemu-test-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  rmSync(HOME, { recursive: true, force: true });
});

function template(
  name: string,
  builder: Record<string, unknown>,
  provisioners: unknown[] = [],
): string {
  const file = join(dir, `${name}.json`);
  const tpl = {
    builders: [
      {
        type: 'qemu',
        source_image: 'debian-12',
        ssh_username: 'root',
        memory: 1024,
        cpus: 2,
        ...builder,
      },
    ],
    provisioners,
  };
  writeFileSync(file, JSON.stringify(tpl, null, 2));
  return file;
}

function expectNothingLeft(before: Snapshot, ...runs: KilnProcess[]): void {
  const after = snapshot();
  expect(after.qemuPids).toEqual([]);
  expect(after.workDirs).toEqual([]);
  expect(after.imageIds).toEqual(before.imageIds);
  for (const k of runs) {
    expect(readdirSync(k.tmp)).toEqual([]);
    rmSync(k.tmp, { recursive: true, force: true });
  }
  expect(after.runs).toBe(0);
}

function removeImages(...ids: string[]): void {
  const catalog = Catalog.open(HOME);
  try {
    for (const id of ids) catalog.images.remove(id);
  } finally {
    catalog.close();
  }
}

describe('qemu builder', () => {
  it('builds over SSH, keeps no key in the image, and the image boots for the next build', async () => {
    const before = snapshot();
    const parentTpl = template('parent', { vm_name: 'kiln-test-parent' }, [
      {
        type: 'shell',
        inline: ['echo built-by-kiln > /etc/kiln-test-file', 'echo ~/.bash_history > /dev/null'],
      },
    ]);
    const k = startKiln(['build', '--no-cache', '-machine-readable', parentTpl]);
    const { code } = await k.exit;
    expect(code, k.output()).toBe(0);
    const id = artifactId(k.output());
    expect(id).toMatch(/^img-[0-9a-f]{17}$/);
    expect(k.output()).toMatch(/,artifact,0,builder-id,transcend\.qemu/);

    const catalog = Catalog.open(HOME);
    const image = catalog.images.get(id!)!;
    catalog.close();
    expect(image.parentId).toBe(base);
    expect(image.name).toBe('kiln-test-parent');
    expect((image.metadata as Record<string, unknown>).kernel).toBeTruthy();
    const disk = image.files[0]!;
    expect(statSync(disk).mode & 0o222).toBe(0);

    const files = readImageFiles(disk, [
      '/etc/kiln-test-file',
      '/root/.ssh/authorized_keys',
      '/etc/ssh/ssh_host_ed25519_key',
      '/etc/machine-id',
    ]);
    expect(files['/etc/kiln-test-file']).toBe('built-by-kiln\n');
    expect(files['/root/.ssh/authorized_keys']).toBeUndefined();
    expect(files['/etc/ssh/ssh_host_ed25519_key']).toBeUndefined();
    expect(files['/etc/machine-id']).toBe('');

    // Boot the result: a second build on it, as a user kiln's first-boot unit creates.
    const childTpl = template(
      'child',
      { source_image: id, ssh_username: 'builder', vm_name: 'kiln-test-child' },
      [
        {
          type: 'shell',
          inline: [
            'set -e',
            'test "$(cat /etc/kiln-test-file)" = built-by-kiln',
            'test ! -e /root/.ssh/authorized_keys',
            'test "$(wc -l < ~/.ssh/authorized_keys)" -eq 1',
            'sudo -n test -s /etc/ssh/ssh_host_ed25519_key',
            'echo child-ok',
          ],
        },
      ],
    );
    const c = startKiln(['build', '--no-cache', '-machine-readable', childTpl]);
    const child = await c.exit;
    expect(child.code, c.output()).toBe(0);
    expect(c.output()).toMatch(/child-ok/);
    const childId = artifactId(c.output())!;
    const cat2 = Catalog.open(HOME);
    const childImage = cat2.images.get(childId)!;
    cat2.close();
    expect(childImage.parentId).toBe(id);
    const childFiles = readImageFiles(childImage.files[0]!, [
      '/home/builder/.ssh/authorized_keys',
      '/etc/sudoers.d/kiln-builder',
      '/etc/passwd',
    ]);
    expect(childFiles['/home/builder/.ssh/authorized_keys']).toBeUndefined();
    expect(childFiles['/etc/sudoers.d/kiln-builder']).toBeUndefined();
    expect(childFiles['/etc/passwd']).not.toMatch(/^builder:/m);

    removeImages(childId, id!);
    expectNothingLeft(before, k, c);
  });

  const phases: Array<[string, RegExp, Record<string, unknown>, unknown[]]> = [
    ['boot', /QEMU pid \d+, QMP/, {}, []],
    ['the SSH wait', /Waiting for SSH to become available/, {}, []],
    [
      'provisioning',
      /kiln-provisioning-started/,
      {},
      [{ type: 'shell', inline: ['echo kiln-provisioning-started', 'sleep 120'] }],
    ],
    [
      'shutdown',
      /kiln-shutting-down/,
      { shutdown_command: 'echo kiln-shutting-down; sleep 120' },
      [],
    ],
  ];

  it.each(phases)(
    'SIGINT during %s stops QEMU and leaves nothing',
    async (phase, marker, builder, provisioners) => {
      const before = snapshot();
      const tpl = template(`int-${phase.replace(/\W+/g, '-')}`, builder, provisioners);
      const k = startKiln(['build', '--no-cache', tpl]);
      await k.waitFor(marker);
      k.child.kill('SIGINT');
      const bound = setTimeout(() => k.child.kill('SIGKILL'), 60_000);
      const { code } = await k.exit;
      clearTimeout(bound);
      expect(code, k.output()).not.toBe(0);
      expect(k.output()).toMatch(/cancel/i);
      expectNothingLeft(before, k);
    },
  );

  it('fails at once naming the exit status and the console when QEMU dies (not after ssh_timeout)', async () => {
    const before = snapshot();
    const tpl = template('qemu-dies', { ssh_timeout: '20m' });
    const k = startKiln(['build', '--no-cache', tpl]);
    const m = await k.waitFor(/QEMU pid (\d+)/);
    await k.waitFor(/Waiting for SSH/);
    process.kill(Number(m[1]), 'SIGKILL');
    const { code } = await k.exit;
    expect(code).not.toBe(0);
    expect(k.output()).toMatch(/QEMU exited during the build \(killed by SIGKILL\)/);
    expect(k.output()).toMatch(/last console lines|the console printed nothing/);
    expectNothingLeft(before, k);
  });

  it('kill -9 of kiln mid-build: kiln gc finds the orphaned QEMU and files in the journal', async () => {
    const before = snapshot();
    const tpl = template('kill-9', {});
    const k = startKiln(['build', '--no-cache', tpl]);
    await k.waitFor(/Waiting for SSH/);
    k.child.kill('SIGKILL');
    await k.exit;
    expect(snapshot().qemuPids.length).toBe(1);
    const gc = startKiln(['gc']);
    const { code } = await gc.exit;
    expect(code, gc.output()).toBe(0);
    expect(gc.output()).toMatch(/killed process \d+ \(qemu-system-x86_64/);
    // The key dir is in the killed process's TMPDIR; gc removed it from the journal.
    expectNothingLeft(before, k, gc);
  });
});
