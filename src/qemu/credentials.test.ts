import { describe, expect, it } from 'vitest';
import { sshCredentials } from './credentials.js';

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
