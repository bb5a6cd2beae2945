import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BASE_CMDLINE, customiseTree, MASKED_UNITS } from './debian-tree.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('customiseTree', () => {
  it('removes baked host keys, sets DHCP and the resolver, masks units, enables the first-boot units', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-tree-'));
    await mkdir(join(dir, 'etc/ssh'), { recursive: true });
    await writeFile(join(dir, 'etc/ssh/ssh_host_ed25519_key'), 'secret');
    await writeFile(join(dir, 'etc/ssh/ssh_config'), 'keep');
    await writeFile(join(dir, 'etc/resolv.conf'), 'nameserver 10.255.255.53\n');
    await customiseTree(dir);
    expect(await readdir(join(dir, 'etc/ssh'))).not.toContain('ssh_host_ed25519_key');
    expect(await readFile(join(dir, 'etc/ssh/ssh_config'), 'utf8')).toBe('keep');
    expect(await readFile(join(dir, 'etc/resolv.conf'), 'utf8')).toBe('nameserver 10.0.2.3\n');
    expect(await readFile(join(dir, 'etc/systemd/network/10-kiln-dhcp.network'), 'utf8')).toMatch(
      /Name=en\* eth\*/,
    );
    // The initrd sets the address from ip=; networkd (DHCP) runs only without it.
    expect(BASE_CMDLINE).toMatch(
      /(^| )ip=10\.0\.2\.15::10\.0\.2\.2:255\.255\.255\.0::eth0:off( |$)/,
    );
    for (const unit of ['systemd-networkd.service', 'systemd-networkd.socket'])
      expect(
        await readFile(join(dir, `etc/systemd/system/${unit}.d/10-kiln.conf`), 'utf8'),
      ).toContain('ConditionKernelCommandLine=!ip');
    for (const u of MASKED_UNITS)
      expect(await readlink(join(dir, 'etc/systemd/system', u))).toBe('/dev/null');
    expect(
      await readlink(
        join(dir, 'etc/systemd/system/ssh.service.wants/kiln-authorized-keys.service'),
      ),
    ).toBe('/etc/systemd/system/kiln-authorized-keys.service');
    expect(await readFile(join(dir, 'etc/machine-id'), 'utf8')).toBe('');
    // Running it twice (kiln base --force on a reused tree) is harmless.
    await customiseTree(dir);
  });
});
