import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BASE_CMDLINE,
  BLACKLISTED_MODULES,
  customiseTree,
  IP_NETWORK_GENERATOR,
  MASKED_UNITS,
} from './debian-tree.js';

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

  it('takes slow, useless work off the path to the services: modules, sysusers, tmpfiles after journald, networkd with ip=', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-tree-'));
    const tmpfiles = 'lib/systemd/system/systemd-tmpfiles-setup.service';
    await mkdir(join(dir, 'lib/systemd/system'), { recursive: true });
    await writeFile(
      join(dir, tmpfiles),
      '[Unit]\nDefaultDependencies=no\nAfter=local-fs.target systemd-sysusers.service systemd-journald.service\nBefore=sysinit.target\n\n[Service]\nExecStart=systemd-tmpfiles --create\n',
    );
    await mkdir(join(dir, 'etc/modules-load.d'), { recursive: true });
    await writeFile(
      join(dir, 'etc/modules'),
      '# /etc/modules: kernel modules to load at boot time.\n\n',
    );
    await symlink('../modules', join(dir, 'etc/modules-load.d/modules.conf'));
    await mkdir(join(dir, 'usr'));
    const usrTime = new Date('2026-11-25T19:08:30.250Z');
    await utimes(join(dir, 'usr'), usrTime, usrTime);

    await customiseTree(dir);

    const override = await readFile(
      join(dir, 'etc/systemd/system/systemd-tmpfiles-setup.service'),
      'utf8',
    );
    expect(override).toMatch(/^After=local-fs\.target systemd-sysusers\.service$/m);
    expect(override).not.toMatch(/^After=.*systemd-journald\.service/m);
    expect(override).toContain('ExecStart=systemd-tmpfiles --create');
    // An /etc/modules without entries no longer starts systemd-modules-load.
    expect(await readdir(join(dir, 'etc/modules-load.d'))).toEqual([]);
    // ConditionNeedsUpdate= is false: the marks are newer than /usr and say so in nanoseconds.
    for (const d of ['etc', 'var']) {
      const mark = join(dir, d, '.updated');
      expect((await stat(mark)).mtimeMs).toBeGreaterThan(usrTime.getTime());
      const nsec = /^TIMESTAMP_NSEC=(\d+)$/m.exec(await readFile(mark, 'utf8'))?.[1];
      expect(BigInt(nsec ?? 0)).toBeGreaterThan(BigInt(usrTime.getTime()) * 1_000_000n);
    }
    const blacklist = await readFile(join(dir, 'etc/modprobe.d/kiln-blacklist.conf'), 'utf8');
    for (const m of ['ata_piix', 'kvm_amd', 'kvm_intel'])
      expect(blacklist).toContain(`blacklist ${m}\n`);
    expect(BLACKLISTED_MODULES).not.toContain('virtio_blk');
    const generator = join(dir, 'etc/systemd/system-generators/kiln-ip-network');
    expect(await readFile(generator, 'utf8')).toBe(IP_NETWORK_GENERATOR);
    expect((await stat(generator)).mode & 0o777).toBe(0o755);
    expect(
      await readFile(join(dir, 'etc/systemd/system/kiln-ssh-host-keys.service'), 'utf8'),
    ).toMatch(/^Nice=10$/m);
  });

  it('a kept /etc/modules entry keeps systemd-modules-load', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-tree-'));
    await mkdir(join(dir, 'etc/modules-load.d'), { recursive: true });
    await writeFile(join(dir, 'etc/modules'), '# comment\nbr_netfilter\n');
    await symlink('../modules', join(dir, 'etc/modules-load.d/modules.conf'));
    await customiseTree(dir);
    expect(await readdir(join(dir, 'etc/modules-load.d'))).toEqual(['modules.conf']);
  });
});

describe('IP_NETWORK_GENERATOR', () => {
  async function generate(cmdline: string): Promise<string[]> {
    const { execFileSync } = await import('node:child_process');
    const out = join(dir!, `out-${Math.random().toString(36).slice(2)}`);
    await mkdir(out);
    // The generator reads /proc/cmdline: run it with that path pointed at a file.
    const script = IP_NETWORK_GENERATOR.replace('/proc/cmdline', join(dir!, 'cmdline'));
    await writeFile(join(dir!, 'cmdline'), `${cmdline}\n`);
    await writeFile(join(dir!, 'gen'), script, { mode: 0o755 });
    execFileSync('/bin/sh', [join(dir!, 'gen'), out, out, out]);
    return (await readdir(out)).sort();
  }

  it('masks networkd only when ip= is on the kernel command line', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-gen-'));
    expect(await generate(BASE_CMDLINE)).toEqual([
      'systemd-networkd.service',
      'systemd-networkd.socket',
    ]);
    expect(await generate('root=/dev/vda rw console=ttyS0')).toEqual([]);
    expect(await generate('root=/dev/vda noip=1 vip=2')).toEqual([]);
  });
});
