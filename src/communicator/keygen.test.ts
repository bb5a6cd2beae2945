import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateSshKeyPair } from './keys.js';

describe('generateSshKeyPair', () => {
  // ssh2 alone writes an unreadable ed25519 key about once in 230 (a public part one byte
  // short); across 1,000 keys that happens with ~99 % likelihood, so this catches a regression.
  it('only returns ed25519 keys that ssh2 can read back', async () => {
    for (let i = 0; i < 1000; i++) {
      const pair = await generateSshKeyPair('ed25519', { comment: `t${i}` });
      expect(ssh2.utils.parseKey(pair.private)).not.toBeInstanceOf(Error);
      expect(pair.public).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} t\d+/);
    }
  });
});
