import { describe, expect, it } from 'vitest';
import type { InstanceRecord } from '../catalog/types.js';
import { UserError } from '../lib/errors.js';
import { journalCommand, opensshArgs, type SshTarget, sshTarget } from './ssh.js';
import { withBootStatus } from './start/start-qemu.js';

const target: SshTarget = {
  instanceId: 'i-0123456789abcdef0',
  host: '127.0.0.1',
  port: 40022,
  user: 'root',
  keyFile: '/h/instances/i-1/ssh/id_ed25519',
  knownHostsFile: '/h/instances/i-1/ssh/known_hosts',
};

function instance(metadata: Record<string, unknown>, pid: number | null = null): InstanceRecord {
  return {
    id: 'i-0123456789abcdef0',
    imageId: 'img-1',
    name: null,
    group: null,
    backend: 'local',
    pid,
    ports: [],
    files: [],
    metadata,
    state: 'running',
    createdAt: '2026-12-07T00:00:00Z',
  } as InstanceRecord;
}

describe('kiln ssh', () => {
  it('runs OpenSSH with the instance key only, the recorded host key checked strictly', () => {
    const args = opensshArgs(target, { tty: false, command: ['systemctl', 'is-active', 'x'] });
    expect(args).toEqual([
      '-i',
      target.keyFile,
      '-p',
      '40022',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'IdentityAgent=none',
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${target.knownHostsFile}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'LogLevel=ERROR',
      '-T',
      'root@127.0.0.1',
      '--',
      'systemctl',
      'is-active',
      'x',
    ]);
    const shell = opensshArgs(target, { tty: true, command: [] });
    expect(shell.slice(-2)).toEqual(['-t', 'root@127.0.0.1']);
  });

  it('reads one unit’s journal, refusing what is not a unit name', () => {
    expect(journalCommand('hello-web', {})).toEqual([
      'journalctl',
      '--no-pager',
      '-u',
      'hello-web',
    ]);
    expect(journalCommand('getty@tty1.service', { lines: 5, follow: true })).toEqual([
      'journalctl',
      '--no-pager',
      '-u',
      'getty@tty1.service',
      '-n',
      '5',
      '-f',
    ]);
    expect(() => journalCommand('x; rm -rf /', {})).toThrow(UserError);
  });

  it('says what to do for an instance that is gone or has no key', () => {
    expect(() => sshTarget(instance({ dir: '/nonexistent' }, 999_999_999))).toThrow(
      /is not running/,
    );
    expect(() => sshTarget({ ...instance({}), backend: 'aws' })).toThrow(/not a local instance/);
  });

  it('turns on systemd’s boot status for the console, once', () => {
    expect(withBootStatus('root=/dev/vda quiet')).toBe('root=/dev/vda quiet systemd.show_status=1');
    expect(withBootStatus('quiet systemd.show_status=0')).toBe('quiet systemd.show_status=0');
    expect(withBootStatus(undefined)).toBeUndefined();
  });
});
