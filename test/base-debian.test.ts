/**
 * `kiln base debian-12`: the base image in the catalog (made once per test home, then
 * instant), bootable by direct kernel boot, with nothing baked in that must be unique
 * or secret: no host keys, no authorized_keys, no root password, an empty machine id.
 */
import { describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { kiln } from './helpers/kiln.js';
import { ensureBase, HOME, readImageFiles } from './qemu-helpers.js';

describe('kiln base debian-12', () => {
  it('registers the base with its kernel, lean initrd and command line, and is instant the second time', async () => {
    const id = await ensureBase();
    const again = await kiln(['base', 'debian-12'], { home: HOME });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe(id);
    expect(again.stderr).toMatch(/already exists/);

    const catalog = Catalog.open(HOME);
    const image = catalog.images.resolve('debian-12');
    catalog.close();
    expect(image.id).toBe(id);
    expect(image.tags).toContain('debian-12');
    expect(image.format).toBe('qcow2');
    expect(image.parentId).toBeNull();
    const md = image.metadata as Record<string, string>;
    expect(image.files).toEqual(expect.arrayContaining([md.kernel, md.initrd]));
    expect(md.cmdline).toMatch(/root=\/dev\/vda/);
  });

  it('bakes in no host key, no authorized key, no root password and no machine id', async () => {
    await ensureBase();
    const catalog = Catalog.open(HOME);
    const image = catalog.images.resolve('debian-12');
    catalog.close();
    const f = readImageFiles(image.files[0]!, [
      '/etc/ssh/ssh_host_ed25519_key',
      '/etc/ssh/ssh_host_rsa_key',
      '/root/.ssh/authorized_keys',
      '/etc/shadow',
      '/etc/machine-id',
      '/etc/resolv.conf',
      '/usr/bin/node',
      '/usr/bin/python3',
      '/etc/apt/apt.conf.d/99mmdebstrap',
    ]);
    expect(f['/etc/ssh/ssh_host_ed25519_key']).toBeUndefined();
    expect(f['/etc/ssh/ssh_host_rsa_key']).toBeUndefined();
    expect(f['/root/.ssh/authorized_keys']).toBeUndefined();
    expect(f['/etc/shadow']).toMatch(/^root:[*!]/m);
    expect(f['/etc/machine-id']).toBe('');
    expect(f['/etc/resolv.conf']).toBe('nameserver 10.0.2.3\n');
    expect(f['/usr/bin/node']).toBeDefined();
    expect(f['/usr/bin/python3']).toBeDefined();
    expect(f['/etc/apt/apt.conf.d/99mmdebstrap']).toBeUndefined();
  });

  it('refuses an unknown base with the list of known ones', async () => {
    const r = await kiln(['base', 'debian-99'], { home: HOME });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown base "debian-99"/);
    expect(r.stderr).toMatch(/debian-12/);
  });
});
