import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cleanGuestScript } from './steps/clean-guest.js';
import { sshCredentials } from './steps/run-vm.js';

describe('cleanGuestScript', () => {
  it('is valid sh and quotes the user and key', () => {
    const s = cleanGuestScript("o'brien", 'AAAAC3NzaC1lZDI1NTE5AAAAIA+/=');
    expect(s).toContain(`user='o'\\''brien'`);
    const r = spawnSync('sh', ['-n'], { input: s, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('removes the key, host keys and histories, syncs, and reports the ACPI handler', () => {
    const s = cleanGuestScript('root', 'KEY');
    for (const part of [
      'authorized_keys',
      '/etc/ssh/ssh_host_*',
      '.bash_history',
      '.ansible',
      'sync',
      'kiln-acpi',
      ': > /etc/machine-id',
    ]) {
      expect(s).toContain(part);
    }
  });
});

describe('sshCredentials', () => {
  it("uses systemd's own credential for root and kiln's unit for other users", () => {
    expect(Object.keys(sshCredentials('root', 'ssh-ed25519 AAAA'))).toEqual([
      'ssh.authorized_keys.root',
    ]);
    expect(sshCredentials('admin', 'ssh-ed25519 AAAA')).toEqual({
      'kiln.ssh.authorized_keys': 'ssh-ed25519 AAAA',
      'kiln.ssh.user': 'admin',
    });
  });
});
