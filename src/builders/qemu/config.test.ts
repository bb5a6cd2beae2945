import { describe, expect, it } from 'vitest';
import { parseDiskSize, qemuConfigSchema } from './config.js';

function issues(input: unknown): string[] {
  const r = qemuConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('qemu config', () => {
  it('accepts the hello-web build block with kiln defaults', () => {
    const r = qemuConfigSchema.parse({
      source_image: 'debian-12',
      ssh_username: 'root',
      memory: 1024,
      cpus: 2,
      accelerator: 'auto',
      headless: true,
    });
    expect(r.use_backing_file).toBe(true);
    expect(r.format).toBe('qcow2');
    expect(r.communicator).toBe('ssh');
    expect(r.ssh_timeout).toBe('5m');
  });

  it('needs a source, a username, and an iso_checksum for iso_url', () => {
    expect(issues({ ssh_username: 'root' }).join('\n')).toMatch(
      /source_image: one of source_image/,
    );
    expect(issues({ source_image: 'debian-12' }).join('\n')).toMatch(
      /ssh_username: a Username must be specified/,
    );
    expect(issues({ iso_url: 'x.iso', iso_checksum: 'none', ssh_username: 'root' })).toEqual([]);
    expect(issues({ iso_url: 'x.iso', ssh_username: 'root' }).join('\n')).toMatch(
      /iso_checksum: an iso_checksum must be specified/,
    );
  });

  it('accepts an installer build with the Packer options, raw output included', () => {
    expect(
      issues({
        iso_urls: ['x.iso', 'http://mirror/x.iso'],
        iso_checksum: 'sha256:' + '0'.repeat(64),
        ssh_username: 'root',
        format: 'raw',
        disk_size: '4G',
        boot_wait: '5s',
        boot_key_interval: '10ms',
        boot_command: ['<esc><wait>auto url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/p.cfg<enter>'],
        http_directory: 'http',
        http_port_min: 8100,
        http_port_max: 8200,
        cd_files: ['meta-data'],
        cd_content: { 'user-data': '#cloud-config' },
        cd_label: 'cidata',
      }),
    ).toEqual([]);
  });

  it('refuses floppies, UEFI, bridges and both HTTP sources, naming the option', () => {
    const all = issues({
      iso_url: 'x.iso',
      iso_checksum: 'none',
      communicator: 'none',
      floppy_files: ['a'],
      efi_boot: true,
      firmware: 'OVMF.fd',
      net_bridge: 'br0',
      http_directory: 'h',
      http_content: { '/a': 'b' },
      http_port_min: 9000,
      http_port_max: 8000,
    }).join('\n');
    expect(all).toMatch(/floppy_files: floppy_files is not supported/);
    expect(all).toMatch(/efi_boot: efi_boot is not supported/);
    expect(all).toMatch(/firmware: firmware is not supported/);
    expect(all).toMatch(/net_bridge: net_bridge is not supported/);
    expect(all).toMatch(/http_content: http_content cannot be used together with http_directory/);
    expect(all).toMatch(/http_port_min: http_port_min \(9000\) must not be greater/);
  });

  it('rejects unknown keys, passwords, backing files on raw, and bad durations', () => {
    expect(issues({ source_image: 'a', ssh_username: 'u', ssh_usernme: 'x' }).join('\n')).toMatch(
      /ssh_usernme/,
    );
    expect(issues({ source_image: 'a', ssh_username: 'u', ssh_password: 'p' }).join('\n')).toMatch(
      /ssh_password/,
    );
    expect(issues({ source_image: 'a', ssh_username: 'u', format: 'raw' }).join('\n')).toMatch(
      /use_backing_file/,
    );
    expect(
      issues({ source_image: 'a', ssh_username: 'u', ssh_timeout: '5 minutes' }).join('\n'),
    ).toMatch(/ssh_timeout: invalid duration/);
    expect(issues({ source_image: 'a', ssh_username: 'u', ssh_port: 70000 }).join('\n')).toMatch(
      /ssh_port/,
    );
  });

  it('accepts VNC options (ignored) and communicator none without a username', () => {
    expect(
      issues({ source_image: 'a', communicator: 'none', vnc_port_min: 5900, disable_vnc: true }),
    ).toEqual([]);
  });

  it('parses disk sizes like Packer (bare numbers are megabytes)', () => {
    expect(parseDiskSize(10240)).toBe(10240 * 1024 * 1024);
    expect(parseDiskSize('10G')).toBe(10 * 1024 ** 3);
    expect(parseDiskSize('512')).toBe(512 * 1024 ** 2);
    expect(() => parseDiskSize('ten')).toThrow(/invalid disk size/);
  });
});
