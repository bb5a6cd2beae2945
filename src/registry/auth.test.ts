import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerConfigCredentials, parseChallenges } from './auth.js';

describe('parseChallenges', () => {
  it('reads a Bearer challenge with quoted, comma-holding parameters', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.example.com/token',
          service: 'registry.example.com',
          scope: 'repository:a/b:pull,push',
        },
      },
    ]);
  });

  it('reads several challenges, unquoted values and escapes', () => {
    expect(
      parseChallenges(
        'Basic realm="kiln \\"test\\"", Bearer realm=https://x/t, error=invalid_token',
      ),
    ).toEqual([
      { scheme: 'basic', params: { realm: 'kiln "test"' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', error: 'invalid_token' } },
    ]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('DockerConfigCredentials', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-auth-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads auths by host whatever the key form, and nothing for another host', async () => {
    const auth = Buffer.from('u:p:with:colons').toString('base64');
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: {
          'https://reg.example.com:5000/v1/': { auth },
          'other.example.com': { username: 'o', password: 'q' },
          'tok.example.com': { identitytoken: 'refresh-me' },
        },
      }),
    );
    const store = new DockerConfigCredentials({ configDir: dir });
    expect(await store.get('reg.example.com:5000')).toMatchObject({
      username: 'u',
      password: 'p:with:colons',
    });
    expect(await store.get('other.example.com')).toMatchObject({ username: 'o', password: 'q' });
    expect(await store.get('tok.example.com')).toMatchObject({ identityToken: 'refresh-me' });
    expect(await store.get('reg.example.com')).toBeUndefined();
    expect(
      await new DockerConfigCredentials({ configDir: join(dir, 'none') }).get('x.y'),
    ).toBeUndefined();
  });

  it('asks a credential helper (credHelpers before credsStore), and treats "not found" as anonymous', async () => {
    const bin = join(dir, 'bin');
    await import('node:fs/promises').then((fs) => fs.mkdir(bin, { recursive: true }));
    const script = (user: string) =>
      `#!/bin/sh\n[ "$1" = get ] || exit 2\nread host\ncase "$host" in *.example.com) echo '{"ServerURL":"'$host'","Username":"${user}","Secret":"s3"}';; *) echo 'credentials not found in native keychain'; exit 1;; esac\n`;
    await writeFile(join(bin, 'docker-credential-one'), script('one'));
    await writeFile(join(bin, 'docker-credential-store'), script('<token>'));
    await chmod(join(bin, 'docker-credential-one'), 0o755);
    await chmod(join(bin, 'docker-credential-store'), 0o755);
    const cfg = join(dir, 'helpers');
    await import('node:fs/promises').then((fs) => fs.mkdir(cfg, { recursive: true }));
    await writeFile(
      join(cfg, 'config.json'),
      JSON.stringify({ credHelpers: { 'a.example.com': 'one' }, credsStore: 'store' }),
    );
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const store = new DockerConfigCredentials({ configDir: cfg, env });
    expect(await store.get('a.example.com')).toMatchObject({ username: 'one', password: 's3' });
    expect(await store.get('b.example.com')).toMatchObject({ identityToken: 's3' });
    expect(await store.get('localhost:5000')).toBeUndefined();
  });
});
