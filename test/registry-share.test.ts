/**
 * `kiln push` and `kiln pull` against a real registry (Debian's docker-registry) with a
 * small chain made without a VM: the chain arrives in another kiln home with its ids,
 * lineage, files and kernel paths; a second push sends nothing; no state layer without the
 * opt-in. And every fault: an unreachable registry, refused credentials (htpasswd over TLS
 * with a self-signed CA), an unknown tag, a blob whose bytes do not match its digest, an
 * interrupted download — each one clear error, and nothing left in the catalog or on disk.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { run } from '../src/lib/exec.js';
import { KilnMedia, RegistryClient } from '../src/registry/index.js';
import { kiln, startKiln } from './helpers/kiln.js';
import {
  blobDataPath,
  startRegistry,
  TEST_PASSWORD,
  TEST_USER,
  type TestRegistry,
} from './helpers/registry.js';
import {
  catalogState,
  dockerConfig,
  filesLeft,
  type TinyChain,
  tinyChain,
} from './helpers/share.js';
import { startSlowProxy } from './helpers/slow-proxy.js';
import { freePort } from './helpers/sshd.js';

let reg: TestRegistry;
let chain: TinyChain;
let env: Record<string, string>;
const homes: string[] = [];

async function freshHome(): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), 'kiln-test-share-b-'));
  homes.push(h);
  return h;
}

function json<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

interface PushJson {
  digest: string;
  images: Array<{ id: string }>;
  blobs: { total: number; uploaded: number; mounted: number; present: number; bytesSent: number };
  state: string | null;
}
interface PullJson {
  digest: string;
  image: string;
  images: Array<{ id: string; parentId: string | null; pulled: boolean }>;
  bytes: number;
}

/** Nothing in the catalog, no unfinished run, no file but the catalog's own. */
function expectNothingLeft(home: string) {
  expect(catalogState(home)).toEqual({ images: [], orphanedRuns: 0 });
  expect(filesLeft(home)).toEqual([]);
}

beforeAll(async () => {
  reg = await startRegistry();
  env = { DOCKER_CONFIG: await dockerConfig() };
  homes.push(env.DOCKER_CONFIG!);
  chain = await tinyChain(env);
  homes.push(chain.home);
});

afterAll(async () => {
  await reg?.stop();
  for (const h of homes) rmSync(h, { recursive: true, force: true, maxRetries: 3 });
});

describe('kiln push / kiln pull', () => {
  it('pushes a chain and pulls it into another home with the same ids, lineage and files', async () => {
    const ref = `${reg.registry}/kiln/tiny:1`;
    const push = await kiln(['push', 'tiny-release', ref, '--output', 'json'], {
      home: chain.home,
      env,
    });
    expect(push.code, push.stderr).toBe(0);
    const pushed = json<PushJson>(push.stdout);
    expect(pushed.images.map((i) => i.id)).toEqual([chain.base, chain.child]);
    // base disk, kernel, initrd, the overlay, and the config.
    expect(pushed.blobs).toMatchObject({ total: 5, uploaded: 5, mounted: 0, present: 0 });
    expect(pushed.state).toBeNull();

    // What the registry holds: one layer per file, no state layer, no referrer.
    const client = new RegistryClient(reg.registry, '127.0.0.1');
    const m = await client.getManifest('kiln/tiny', '1');
    expect(m.digest).toBe(pushed.digest);
    expect(m.manifest!.artifactType).toBe(KilnMedia.image);
    expect(m.manifest!.layers.map((l) => l.mediaType)).toEqual([
      KilnMedia.qcow2Zstd,
      KilnMedia.fileZstd,
      KilnMedia.fileZstd,
      KilnMedia.qcow2Zstd,
    ]);
    expect(m.manifest!.layers.some((l) => l.mediaType === KilnMedia.vmStateFile)).toBe(false);
    expect(await client.referrers('kiln/tiny', m.digest)).toEqual([]);
    client.close();

    const home = await freshHome();
    const pull = await kiln(['pull', ref, '--output', 'json'], { home, env });
    expect(pull.code, pull.stderr).toBe(0);
    const pulled = json<PullJson>(pull.stdout);
    expect(pulled.digest).toBe(pushed.digest);
    expect(pulled.image).toBe(chain.child);
    expect(pulled.images).toEqual([
      { id: chain.base, name: 'tiny-base', parentId: null, pulled: true },
      { id: chain.child, name: 'tiny-release', parentId: chain.base, pulled: true },
    ]);

    using a = Catalog.open(chain.home);
    using b = Catalog.open(home);
    for (const id of [chain.base, chain.child]) {
      const [x, y] = [a.images.get(id)!, b.images.get(id)!];
      expect(y).toMatchObject({
        name: x.name,
        builder: x.builder,
        parentId: x.parentId,
        inputHash: x.inputHash,
        format: x.format,
        createdAt: x.createdAt,
        status: 'ready',
      });
      expect(y.files.map((f) => f.replace(b.imagesDir, ''))).toEqual(
        x.files.map((f) => f.replace(a.imagesDir, '')),
      );
      // Same guest-visible content, and the files it lists hold the same bytes.
      const cmp = spawnSync('qemu-img', ['compare', '-q', x.files[0]!, y.files[0]!]);
      expect(cmp.status).toBe(0);
      for (const [i, f] of x.files.entries())
        if (i > 0) expect(readFileSync(y.files[i]!)).toEqual(readFileSync(f));
    }
    // Paths of the pulling home: the kernel, and the overlay's backing file.
    const child = b.images.get(chain.child)!;
    const base = b.images.get(chain.base)!;
    expect((child.metadata as Record<string, string>).kernel).toBe(
      join(base.files[0]!, '../vmlinuz'),
    );
    const info = JSON.parse(
      spawnSync('qemu-img', ['info', '--output=json', '-U', child.files[0]!], { encoding: 'utf8' })
        .stdout,
    ) as { 'backing-filename': string };
    expect(info['backing-filename']).toBe(base.files[0]);
    expect((child.metadata as Record<string, string>).pulledFrom).toBe(`${ref}@${pushed.digest}`);

    // A second pull finds everything there and fetches nothing.
    const again = await kiln(['pull', ref, '--output', 'json'], { home, env });
    expect(again.code, again.stderr).toBe(0);
    expect(json<PullJson>(again.stdout)).toMatchObject({ bytes: 0, image: chain.child });
    expect(json<PullJson>(again.stdout).images.every((i) => !i.pulled)).toBe(true);
  });

  it('a second push of the same chain uploads 0 blobs, and a new tag gets the same digest', async () => {
    const ref = `${reg.registry}/kiln/tiny:1`;
    const first = await kiln(['push', chain.child, ref, '--output', 'json'], {
      home: chain.home,
      env,
    });
    expect(first.code, first.stderr).toBe(0);
    const again = await kiln(
      ['push', chain.child, `${reg.registry}/kiln/tiny:2`, '--output', 'json'],
      {
        home: chain.home,
        env,
      },
    );
    expect(again.code, again.stderr).toBe(0);
    for (const r of [first, again])
      expect(json<PushJson>(r.stdout).blobs).toMatchObject({
        uploaded: 0,
        bytesSent: 0,
        present: 5,
      });
    expect(json<PushJson>(again.stdout).digest).toBe(json<PushJson>(first.stdout).digest);
    // Human output: the reference with its digest on stdout.
    const human = await kiln(['push', chain.child, ref], { home: chain.home, env });
    expect(human.stdout.trim()).toBe(`${ref}@${json<PushJson>(first.stdout).digest}`);
  });

  it('refuses --with-state for an image whose state was never saved, before sending anything', async () => {
    const r = await kiln(['push', chain.child, `${reg.registry}/kiln/nostate:1`, '--with-state'], {
      home: chain.home,
      env,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no saved VM state/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const client = new RegistryClient(reg.registry, '127.0.0.1');
    expect(await client.listTags('kiln/nostate')).toEqual([]);
    client.close();
  });
});

describe('faults leave nothing behind', () => {
  it('an unreachable registry', async () => {
    const home = await freshHome();
    const port = await freePort();
    const r = await kiln(['pull', `127.0.0.1:${port}/kiln/tiny:1`], { home, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/127\.0\.0\.1:\d+/);
    expect(r.stderr).toMatch(/unreachable|connect|refused/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expectNothingLeft(home);
    const push = await kiln(['push', chain.child, `127.0.0.1:${port}/kiln/tiny:1`], {
      home: chain.home,
      env,
    });
    expect(push.code).toBe(1);
    expect(push.stderr).toMatch(/unreachable|connect|refused/i);
  });

  it('pull --with-state of an image pushed without its state: refused before anything is fetched', async () => {
    const home = await freshHome();
    const r = await kiln(['pull', `${reg.registry}/kiln/tiny:1`, '--with-state'], { home, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/kiln\/tiny:1 has no saved VM state/);
    expect(r.stderr).toMatch(/--with-state/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expectNothingLeft(home);
  });

  it('an unknown tag', async () => {
    const home = await freshHome();
    const r = await kiln(['pull', `${reg.registry}/kiln/tiny:nope`], { home, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/kiln\/tiny:nope does not exist/);
    expectNothingLeft(home);
    const viaRun = await kiln(['run', `${reg.registry}/kiln/tiny:nope`], { home, env });
    expect(viaRun.code).toBe(1);
    expect(viaRun.stderr).toMatch(/kiln\/tiny:nope does not exist/);
    expectNothingLeft(home);
  });

  it('a blob whose bytes do not match its digest: neither image is registered', async () => {
    const ref = `${reg.registry}/kiln/tampered:1`;
    const push = await kiln(['push', chain.child, ref, '--output', 'json'], {
      home: chain.home,
      env,
    });
    expect(push.code, push.stderr).toBe(0);
    // kiln/tiny has every layer: the registry mounts them; only the config is sent.
    expect(json<PushJson>(push.stdout).blobs).toMatchObject({ uploaded: 1, mounted: 4 });
    const client = new RegistryClient(reg.registry, '127.0.0.1');
    const m = await client.getManifest('kiln/tampered', '1');
    client.close();
    // The overlay's layer: the last one. Same size, other bytes.
    const layer = m.manifest!.layers.at(-1)!;
    const data = blobDataPath(reg.storage, layer.digest);
    const bytes = readFileSync(data);
    const at = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    writeFileSync(data, bytes);
    const home = await freshHome();
    try {
      const r = await kiln(['pull', ref], { home, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/does not match its digest/);
      expect(r.stderr).toContain(layer.digest);
      expectNothingLeft(home);
    } finally {
      bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
      writeFileSync(data, bytes);
    }
  });

  it('an interrupted download (SIGINT) leaves no partial file and no catalog row', async () => {
    const proxy = await startSlowProxy(reg.port, 1 << 20);
    const home = await freshHome();
    try {
      const p = startKiln(['pull', `${proxy.address}/kiln/tiny:1`], { home, env });
      for (let i = 0; i < 600 && proxy.largestResponse() < 1 << 20; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(proxy.largestResponse()).toBeGreaterThanOrEqual(1 << 20);
      // Mid-download: a .part file is being written.
      expect(filesLeft(home).some((f) => f.endsWith('.part'))).toBe(true);
      p.child.kill('SIGINT');
      const r = await p.exit;
      expect(r.code, r.output).toBe(130);
      expectNothingLeft(home);
    } finally {
      await proxy.close();
    }
  });
});

describe('an interrupted push', () => {
  it('leaves nothing in the kiln home and no tag; pushing again completes it', async () => {
    const proxy = await startSlowProxy(reg.port, 1 << 20, { slowRequests: true });
    const ref = `${proxy.address}/kiln/interrupted:1`;
    try {
      const p = startKiln(['push', chain.child, ref], { home: chain.home, env });
      for (let i = 0; i < 600 && proxy.largestRequest() < 1 << 20; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(proxy.largestRequest()).toBeGreaterThanOrEqual(1 << 20);
      p.child.kill('SIGINT');
      const r = await p.exit;
      expect(r.code, r.output).toBe(130);
      // No compressed layer left, no unfinished run, the catalog as it was.
      expect(filesLeft(chain.home).filter((f) => f.startsWith('tmp/'))).toEqual([]);
      expect(catalogState(chain.home)).toEqual({
        images: [chain.base, chain.child],
        orphanedRuns: 0,
      });
      const client = new RegistryClient(reg.registry, '127.0.0.1');
      expect(await client.listTags('kiln/interrupted')).toEqual([]);
      client.close();

      proxy.rate = Number.POSITIVE_INFINITY;
      const again = await kiln(['push', chain.child, ref, '--output', 'json'], {
        home: chain.home,
        env,
      });
      expect(again.code, again.stderr).toBe(0);
      const home = await freshHome();
      const pull = await kiln(['pull', ref], { home, env });
      expect(pull.code, pull.stderr).toBe(0);
      expect(pull.stdout.trim()).toBe(chain.child);
    } finally {
      await proxy.close();
    }
  });
});

describe('htpasswd over TLS with a self-signed CA', () => {
  let secure: TestRegistry;
  beforeAll(async () => {
    secure = await startRegistry({ auth: 'htpasswd', tls: true });
  });
  afterAll(async () => {
    await secure?.stop();
  });

  it('pushes and pulls with the right credentials and CA, and refuses wrong credentials', async () => {
    const ref = `${secure.registry}/kiln/secure:1`;
    const good = {
      DOCKER_CONFIG: await dockerConfig({
        [secure.registry]: { username: TEST_USER, password: TEST_PASSWORD },
      }),
    };
    const bad = {
      DOCKER_CONFIG: await dockerConfig({
        [secure.registry]: { username: TEST_USER, password: 'not-the-password' },
      }),
    };
    homes.push(good.DOCKER_CONFIG, bad.DOCKER_CONFIG);
    const ca = ['--ca-file', secure.caFile!];

    const wrong = await kiln(['push', chain.child, ref, ...ca], { home: chain.home, env: bad });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/credentials|refused|denied|401/i);
    expect(wrong.stderr).not.toContain('not-the-password');

    const push = await kiln(['push', chain.child, ref, ...ca], { home: chain.home, env: good });
    expect(push.code, push.stderr).toBe(0);

    const home = await freshHome();
    const untrusted = await kiln(['pull', ref], { home, env: good });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/certificate|--ca-file/i);
    expectNothingLeft(home);

    const refused = await kiln(['pull', ref, ...ca], { home, env: bad });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/credentials|refused|denied|401/i);
    expectNothingLeft(home);

    const pull = await kiln(['pull', ref, ...ca], { home, env: good });
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout.trim()).toBe(chain.child);
  });

  it('takes the CA file and the insecure setting from the environment too', async () => {
    const ref = `${secure.registry}/kiln/secure-env:1`;
    const good = {
      DOCKER_CONFIG: await dockerConfig({
        [secure.registry]: { username: TEST_USER, password: TEST_PASSWORD },
      }),
    };
    homes.push(good.DOCKER_CONFIG);
    const push = await kiln(['push', chain.child, ref], {
      home: chain.home,
      env: { ...good, KILN_REGISTRY_CA_FILE: secure.caFile! },
    });
    expect(push.code, push.stderr).toBe(0);

    const home = await freshHome();
    const missingCa = await kiln(['pull', ref], {
      home,
      env: { ...good, KILN_REGISTRY_CA_FILE: join(home, 'no-such-ca.pem') },
    });
    expect(missingCa.code).toBe(1);
    expect(missingCa.stderr).toMatch(/KILN_REGISTRY_CA_FILE: .*no-such-ca\.pem does not exist/);
    expectNothingLeft(home);

    // Unverified TLS only when asked for: the flag, or the environment.
    const viaEnv = await kiln(['pull', ref, '--output', 'json'], {
      home,
      env: { ...good, KILN_REGISTRY_INSECURE: '1' },
    });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(json<PullJson>(viaEnv.stdout).image).toBe(chain.child);
    const home2 = await freshHome();
    const viaFlag = await kiln(['pull', ref, '--insecure'], { home: home2, env: good });
    expect(viaFlag.code, viaFlag.stderr).toBe(0);
  });
});

describe('plain HTTP to a registry that is not on loopback', () => {
  it('is refused unless the insecure setting allows it', async () => {
    // 0.0.0.0 reaches the registry on this machine, but is not a loopback name: kiln treats
    // it as any other host.
    const ref = `0.0.0.0:${reg.port}/kiln/tiny:1`;
    const home = await freshHome();
    const refused = await kiln(['pull', ref], { home, env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/plain HTTP to 0\.0\.0\.0:\d+ is not allowed/);
    expect(refused.stderr).toMatch(/insecure/);
    expectNothingLeft(home);
    const allowed = await kiln(['pull', ref], {
      home,
      env: { ...env, KILN_REGISTRY_INSECURE: 'true' },
    });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout.trim()).toBe(chain.child);
    const push = await kiln(
      ['push', chain.child, `0.0.0.0:${reg.port}/kiln/tiny-insecure:1`, '--insecure'],
      {
        home: chain.home,
        env,
      },
    );
    expect(push.code, push.stderr).toBe(0);
  });
});

describe('a full disk during a pull', () => {
  it('fails with one clear error and leaves nothing in the catalog or on the file system', async () => {
    // A kiln home on a 4 MiB tmpfs: the catalog fits, the 6 MiB base layer does not.
    const home = await freshHome();
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'kiln-test-full', home]);
    try {
      const used = async () =>
        Number((await run('df', ['--output=used', '-B1', home])).stdout.split('\n')[1]);
      // The catalog as an empty home has it, before the pull.
      expect(catalogState(home)).toEqual({ images: [], orphanedRuns: 0 });
      const before = await used();
      const r = await kiln(['pull', `${reg.registry}/kiln/tiny:1`], { home, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no space left on the file system of /);
      expect(r.stderr).toMatch(/KILN_HOME/);
      expect(r.stderr.match(/no space left/g)).toHaveLength(1);
      expect(r.stderr).not.toMatch(/cannot reach|unreachable|\n\s+at /i);
      expectNothingLeft(home);
      // No space leaks: what the failed pull wrote (MiBs) is gone; the catalog's WAL may
      // have grown by a few pages of journal rows.
      expect(await used()).toBeLessThan(before + (1 << 20));
    } finally {
      await run('umount', [home]);
    }
  });
});
