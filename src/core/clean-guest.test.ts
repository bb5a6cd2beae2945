import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cleanGuestScript } from './clean-guest.js';

describe('cleanGuestScript', () => {
  it('is valid sh and quotes the user and key', () => {
    const s = cleanGuestScript("o'brien", 'AAAAC3NzaC1lZDI1NTE5AAAAIA+/=');
    expect(s).toContain(`user='o'\\''brien'`);
    const r = spawnSync('sh', ['-n'], { input: s, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('leaves authorized_keys alone when there is no build key (a chroot build)', () => {
    const s = cleanGuestScript('root', undefined);
    expect(s).toContain(`key=''`);
    expect(s).toContain('if [ -n "$key" ] && [ -f "$f" ]');
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

  it('leaves out the host-wide sync when asked (a chroot build flushes its own export)', () => {
    const s = cleanGuestScript('root', undefined, { sync: false });
    expect(s.split('\n')).not.toContain('sync');
    expect(s).toContain('kiln-clean-guest-ok');
    const r = spawnSync('sh', ['-n'], { input: s, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(cleanGuestScript('root', undefined).split('\n')).toContain('sync');
  });
});
