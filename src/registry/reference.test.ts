import { describe, expect, it } from 'vitest';
import { UserError } from '../lib/errors.js';
import { formatReference, isLoopbackHost, parseReference, referenceTarget } from './reference.js';

describe('parseReference', () => {
  it('reads host, port, nested repository, tag and digest', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseReference('127.0.0.1:5000/team/app:1.0')).toEqual({
      registry: '127.0.0.1:5000',
      host: '127.0.0.1',
      repository: 'team/app',
      tag: '1.0',
    });
    expect(parseReference(`registry.example.com/app@${d}`)).toEqual({
      registry: 'registry.example.com',
      host: 'registry.example.com',
      repository: 'app',
      digest: d,
    });
    const both = parseReference(`localhost:5000/a/b_c:v2@${d}`);
    expect(referenceTarget(both)).toBe(d);
    expect(formatReference(both)).toBe(`localhost:5000/a/b_c:v2@${d}`);
    expect(referenceTarget(parseReference('localhost/app'))).toBe('latest');
    expect(parseReference('[::1]:5000/app:x').host).toBe('[::1]');
  });

  it.each([
    ['', 'empty'],
    ['app:1.0', 'no registry host'],
    ['team/app:1.0', '"team" is not a registry host'],
    ['example.com/App:1', '"App" is not a valid repository component'],
    ['example.com/app:bad tag', 'not a valid tag'],
    ['example.com/app@sha256:abc', 'not a sha256 digest'],
    ['example.com:99999/app', 'port 99999 is out of range'],
    ['example.com/', 'the repository is empty'],
    ['example.com/a//b', 'not a valid repository component'],
  ])('rejects %j (%s)', (text, why) => {
    let err: unknown;
    try {
      parseReference(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toContain(why);
    expect((err as UserError).hint).toContain('host[:port]/repository');
  });
});

describe('isLoopbackHost', () => {
  it('allows only this machine', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1', 'reg.localhost'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.1', 'example.com', '128.0.0.1', 'localhost.example.com', '[::2]'])
      expect(isLoopbackHost(h)).toBe(false);
  });
});
