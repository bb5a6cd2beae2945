import { describe, expect, it } from 'vitest';
import { hostKeyType, knownHostsLine } from './known-hosts.js';
import { shellQuote } from './shell-quote.js';

describe('known_hosts', () => {
  const blob = Buffer.from(
    'AAAAC3NzaC1lZDI1NTE5AAAAIAO92qoPbMTs/4ntu05z5pJzf5S6ZDbBQWjS+b7hsg6H',
    'base64',
  );
  it('names the key type inside the blob', () => {
    expect(hostKeyType(blob)).toBe('ssh-ed25519');
    expect(hostKeyType(Buffer.alloc(2))).toBe('unknown');
  });
  it('brackets host:port except on port 22', () => {
    expect(knownHostsLine('127.0.0.1', 2222, blob)).toBe(
      `[127.0.0.1]:2222 ssh-ed25519 ${blob.toString('base64')}`,
    );
    expect(knownHostsLine('10.0.0.1', 22, blob).startsWith('10.0.0.1 ssh-ed25519 ')).toBe(true);
  });
});

describe('shellQuote', () => {
  it('leaves plain words and quotes the rest', () => {
    expect(shellQuote('/tmp/a-b_c.sh')).toBe('/tmp/a-b_c.sh');
    expect(shellQuote("it's $x")).toBe(`'it'\\''s $x'`);
    expect(shellQuote('')).toBe("''");
  });
});
