/**
 * The OCI distribution client against a real registry (Debian's docker-registry): blobs,
 * chunked and resumed uploads, mounts, verified downloads, manifests, referrers, kiln's
 * image layout read back by skopeo, and every fault the brief lists — unreachable,
 * refused credentials, an unknown tag, a corrupt blob, an interrupted upload, an aborted
 * download. TLS with a self-signed CA and htpasswd, and Bearer token auth, have their own
 * registries.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, KilnError } from '../src/lib/errors.js';
import { run } from '../src/lib/exec.js';
import {
  compressLayer,
  DockerConfigCredentials,
  decompressLayer,
  EMPTY_CONFIG,
  FileUploadState,
  imageArtifact,
  KilnMedia,
  MediaType,
  RegistryClient,
  readImageArtifact,
  readStateArtifact,
  StaticCredentials,
  stateArtifact,
} from '../src/registry/index.js';
import { startCutProxy } from './helpers/cut-proxy.js';
import {
  blobDataPath,
  startRegistry,
  TEST_PASSWORD,
  TEST_USER,
  type TestRegistry,
} from './helpers/registry.js';
import { freePort } from './helpers/sshd.js';

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kiln-test-registry-client-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A file of `size` random bytes, with its digest. */
async function randomFile(name: string, size: number) {
  const path = join(work, name);
  const bytes = randomBytes(size);
  await writeFile(path, bytes);
  return { path, size, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

async function sha256(path: string): Promise<string> {
  return `sha256:${createHash('sha256')
    .update(await readFile(path))
    .digest('hex')}`;
}

async function errorOf(p: Promise<unknown>): Promise<KilnError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KilnError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

/** A base → build → release chain of real qcow2 files, each overlay with some data of its own. */
async function makeChain(dir: string) {
  await mkdir(dir, { recursive: true });
  const files = ['base', 'build', 'release'].map((n) => join(dir, `${n}.qcow2`));
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', files[0]!, '64M']);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 0 4M', files[0]!]);
  for (let i = 1; i < files.length; i++) {
    await run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      files[i - 1]!,
      '-F',
      'qcow2',
      files[i]!,
    ]);
    await run('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x${i}${i} ${i * 8}M 1M`, files[i]!]);
  }
  return files;
}

/** Pushes a chain as kiln's image layout and tags it; returns what was built. */
async function pushChain(client: RegistryClient, repo: string, tag: string, files: string[]) {
  const blobs = join(work, 'blobs');
  const chain = [];
  for (const [i, f] of files.entries()) {
    const c = await compressLayer(f, blobs);
    chain.push({
      id: `img-${String(i).padStart(17, '0')}`,
      metadata: { name: f.split('/').pop(), index: i },
      layer: c,
    });
  }
  const built = imageArtifact(
    chain.map((l) => ({ id: l.id, metadata: l.metadata, layer: l.layer })),
    '2026-01-02T03:04:05Z',
  );
  const sent = [];
  for (const l of chain) sent.push(await client.pushBlob(repo, l.layer));
  const cfgPath = join(blobs, 'config.json');
  await writeFile(cfgPath, built.config.bytes);
  sent.push(
    await client.pushBlob(repo, {
      path: cfgPath,
      digest: built.config.descriptor.digest,
      size: built.config.descriptor.size,
    }),
  );
  await client.putManifest(repo, tag, built.bytes, MediaType.imageManifest);
  return { built, chain, sent };
}

/** Pulls a kiln image by reference into `dir`; returns the rebuilt files, base first. */
async function pullChain(client: RegistryClient, repo: string, ref: string, dir: string) {
  await mkdir(dir, { recursive: true });
  const m = await client.getManifest(repo, ref);
  const cfgPath = join(dir, 'config.json');
  await client.pullBlob(repo, m.manifest!.config, cfgPath);
  const chain = readImageArtifact(m.manifest!, await readFile(cfgPath));
  const out = [];
  for (const link of chain) {
    const blob = join(dir, `${link.id}.zst`);
    await client.pullBlob(repo, link.layer, blob);
    const dest = join(dir, `${link.id}.qcow2`);
    await decompressLayer(blob, dest, link.layer);
    out.push(dest);
  }
  return { manifest: m, chain, files: out };
}

describe('plain HTTP registry on loopback', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient(reg.registry, '127.0.0.1');
  });
  afterAll(async () => {
    client?.close();
    await reg?.stop();
  });

  it('uploads a blob in chunks, then finds it (0 bytes sent) and mounts it into another repository', async () => {
    const f = await randomFile('five-mib', 5 << 20);
    const first = await client.pushBlob('kiln/a', f, { chunkSize: 1 << 20 });
    expect(first).toEqual({ how: 'uploaded', bytesSent: f.size, resumedFrom: 0 });
    expect(await client.blobSize('kiln/a', f.digest)).toBe(f.size);
    expect(await client.pushBlob('kiln/a', f)).toEqual({
      how: 'exists',
      bytesSent: 0,
      resumedFrom: 0,
    });
    expect(await client.blobSize('kiln/b', f.digest)).toBeUndefined();
    expect(await client.pushBlob('kiln/b', f, { mountFrom: ['kiln/a'] })).toMatchObject({
      how: 'mounted',
      bytesSent: 0,
    });
    const dest = join(work, 'five-mib.back');
    await client.pullBlob('kiln/b', f, dest);
    expect(await sha256(dest)).toBe(f.digest);
  });

  it('pushes a qcow2 chain as a kiln image that pulls back byte-identical, and skopeo reads and copies it', async () => {
    const files = await makeChain(join(work, 'chain'));
    const { built, sent } = await pushChain(client, 'kiln/hello', 'release-1', files);
    expect(sent.map((s) => s.how)).toEqual(['uploaded', 'uploaded', 'uploaded', 'uploaded']);
    const again = await pushChain(client, 'kiln/hello', 'release-1', files);
    expect(again.sent.map((s) => s.bytesSent)).toEqual([0, 0, 0, 0]);
    expect(again.built.descriptor.digest).toBe(built.descriptor.digest);

    const pulled = await pullChain(client, 'kiln/hello', 'release-1', join(work, 'pulled'));
    expect(pulled.manifest.digest).toBe(built.descriptor.digest);
    expect(pulled.chain.map((l) => l.metadata.name)).toEqual([
      'base.qcow2',
      'build.qcow2',
      'release.qcow2',
    ]);
    for (const [i, f] of pulled.files.entries())
      expect(await sha256(f)).toBe(await sha256(files[i]!));

    const tls = ['--tls-verify=false'];
    const raw = await run('skopeo', [
      'inspect',
      '--raw',
      ...tls,
      `docker://${reg.registry}/kiln/hello:release-1`,
    ]);
    const manifest = JSON.parse(raw.stdout);
    expect(manifest.artifactType).toBe(KilnMedia.image);
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([
      KilnMedia.qcow2Zstd,
      KilnMedia.qcow2Zstd,
      KilnMedia.qcow2Zstd,
    ]);
    const cfg = await run('skopeo', [
      'inspect',
      '--config',
      '--raw',
      ...tls,
      `docker://${reg.registry}/kiln/hello:release-1`,
    ]);
    expect(JSON.parse(cfg.stdout).chain).toHaveLength(3);
    await run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${reg.registry}/kiln/hello:release-1`,
      `docker://${reg.registry}/kiln/copy:c1`,
    ]);
    const copy = await pullChain(client, 'kiln/copy', 'c1', join(work, 'pulled-copy'));
    expect(copy.manifest.digest).toBe(built.descriptor.digest);
    for (const [i, f] of copy.files.entries())
      expect(await sha256(f)).toBe(await sha256(files[i]!));
  });

  it('keeps a VM state out of the image: a referrer a pull finds only when it asks', async () => {
    const files = await makeChain(join(work, 'chain-state'));
    const { built } = await pushChain(client, 'kiln/state', 'r1', files);
    const state = await randomFile('state.zst', 300_000);
    await client.pushBlob('kiln/state', state);
    const cfg = join(work, 'empty.json');
    await writeFile(cfg, EMPTY_CONFIG);
    await client.pushBlob('kiln/state', { path: cfg, digest: await sha256(cfg), size: 2 });
    const art = stateArtifact(
      built.descriptor,
      'img-00000000000000002',
      [{ name: 'state.zst', blob: state }],
      '2026-01-02T03:04:05Z',
    );
    await client.pushReferrer('kiln/state', art.bytes, art.manifest);

    const image = await client.getManifest('kiln/state', 'r1');
    expect(image.manifest!.layers.every((l) => l.mediaType === KilnMedia.qcow2Zstd)).toBe(true);
    const refs = await client.referrers('kiln/state', built.descriptor.digest, KilnMedia.vmState);
    expect(refs.map((r) => r.digest)).toEqual([art.descriptor.digest]);
    expect(
      await client.referrers('kiln/state', built.descriptor.digest, 'application/other'),
    ).toEqual([]);
    const st = await client.getManifest('kiln/state', refs[0]!.digest);
    expect(readStateArtifact(st.manifest!)).toEqual({
      imageId: 'img-00000000000000002',
      files: [{ name: 'state.zst', blob: { digest: state.digest, size: state.size } }],
    });
    // Pushing the same referrer twice lists it once.
    await client.pushReferrer('kiln/state', art.bytes, art.manifest);
    expect(await client.referrers('kiln/state', built.descriptor.digest)).toHaveLength(1);
  });

  it('an unknown tag is one clear error', async () => {
    const err = await errorOf(client.getManifest('kiln/hello', 'no-such-tag'));
    expect(err.code).toBe('ManifestUnknown');
    expect(err.message).toContain('kiln/hello:no-such-tag does not exist');
  });

  it('a corrupt blob fails the download naming its digest and leaves no file', async () => {
    const f = await randomFile('to-corrupt', 3 << 20);
    await client.pushBlob('kiln/corrupt', f);
    const data = blobDataPath(reg.storage, f.digest);
    const bytes = await readFile(data);
    bytes[1000] = bytes[1000]! ^ 0xff;
    await chmod(data, 0o644);
    await writeFile(data, bytes);
    const dest = join(work, 'corrupt-dest', 'blob');
    await mkdir(join(work, 'corrupt-dest'), { recursive: true });
    const err = await errorOf(client.pullBlob('kiln/corrupt', f, dest));
    expect(err.code).toBe('DigestMismatch');
    expect(err.message).toContain(f.digest);
    expect(await readdir(join(work, 'corrupt-dest'))).toEqual([]);
  });

  it('an interrupted push is continued: the retry sends only what the registry lacks', async () => {
    const blobs: Array<Awaited<ReturnType<typeof randomFile>>> = [];
    for (const n of ['a', 'b', 'c']) blobs.push(await randomFile(`resume-${n}`, 4 << 20));
    const state = new FileUploadState(join(work, 'uploads'));
    const ac = new AbortController();
    const push = (signal?: AbortSignal) => async () => {
      const out = [];
      for (const [i, b] of blobs.entries())
        out.push(
          await client.pushBlob('kiln/resume', b, {
            chunkSize: 1 << 20,
            state,
            signal,
            // Interrupted (as by Ctrl-C) once half of the last blob is sent.
            onProgress: (done) => {
              if (i === 2 && done >= 2 << 20) ac.abort();
            },
          }),
        );
      return out;
    };
    const err = await errorOf(push(ac.signal)());
    expect(err).toBeInstanceOf(CancelledError);
    expect(await client.blobSize('kiln/resume', blobs[2]!.digest)).toBeUndefined();
    const again = await push()();
    expect(again).toEqual([
      { how: 'exists', bytesSent: 0, resumedFrom: 0 },
      { how: 'exists', bytesSent: 0, resumedFrom: 0 },
      { how: 'uploaded', bytesSent: 2 << 20, resumedFrom: 2 << 20 },
    ]);
    const dest = join(work, 'resume.back');
    await client.pullBlob('kiln/resume', blobs[2]!, dest);
    expect(await sha256(dest)).toBe(blobs[2]!.digest);
    expect(await readdir(join(work, 'uploads'))).toEqual([]);
  });

  it('an upload cut in the middle of a chunk finishes on the next push (distribution restarts that blob)', async () => {
    const f = await randomFile('cut', 24 << 20);
    const proxy = await startCutProxy(reg.port);
    const via = new RegistryClient(proxy.address, '127.0.0.1');
    const state = new FileUploadState(join(work, 'uploads-cut'));
    try {
      proxy.cutAfter = 10 << 20;
      const err = await errorOf(via.pushBlob('kiln/cut', f, { chunkSize: 4 << 20, state }));
      expect(proxy.cuts).toBe(1);
      expect(err.code).toBe('RegistryUnreachable');
      const again = await via.pushBlob('kiln/cut', f, { chunkSize: 4 << 20, state });
      expect(again.how).toBe('uploaded');
      // The bytes of the cut chunk that reached the registry no longer match the session's
      // signed offset, and distribution then drops the whole session ("upload resumed at
      // wrong offest", sic): the retry starts that blob afresh. Other registries report the
      // offset they hold, and the client continues from it.
      expect(reg.log()).toMatch(/upload resumed at wrong offe?st/);
      expect(again.resumedFrom).toBe(0);
      expect(again.bytesSent).toBe(f.size);
    } finally {
      via.close();
      await proxy.close();
    }
    expect(await client.blobSize('kiln/cut', f.digest)).toBe(f.size);
  });

  it('an aborted download leaves no partial file', async () => {
    const f = await randomFile('abort-me', 32 << 20);
    await client.pushBlob('kiln/abort', f);
    const dir = join(work, 'abort-dest');
    await mkdir(dir, { recursive: true });
    const ac = new AbortController();
    const err = await errorOf(
      client.pullBlob('kiln/abort', f, join(dir, 'blob'), {
        signal: ac.signal,
        onProgress: (done) => {
          if (done >= 2 << 20) ac.abort();
        },
      }),
    );
    expect(err).toBeInstanceOf(CancelledError);
    expect(await readdir(dir)).toEqual([]);
  });

  it('an unreachable registry is one clear error', async () => {
    const port = await freePort();
    const dead = new RegistryClient(`127.0.0.1:${port}`, '127.0.0.1');
    const err = await errorOf(dead.getManifest('kiln/x', 'latest'));
    dead.close();
    expect(err.code).toBe('RegistryUnreachable');
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });
});

describe('htpasswd registry over TLS with a self-signed CA', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd', tls: true });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('refuses an untrusted certificate, and never falls back to plain HTTP', async () => {
    const c = new RegistryClient(reg.registry, '127.0.0.1', {
      credentials: new StaticCredentials({}),
    });
    const err = await errorOf(c.ping());
    c.close();
    expect(err.code).toBe('RegistryTls');
  });

  it('asks for credentials when there are none, and refuses wrong ones', async () => {
    const none = new RegistryClient(reg.registry, '127.0.0.1', {
      caFile: reg.caFile!,
      credentials: new StaticCredentials({}),
    });
    const e1 = await errorOf(none.getManifest('kiln/x', 'latest'));
    none.close();
    expect(e1.code).toBe('RegistryAuth');
    expect(e1.message).toContain('requires credentials');
    const wrong = new RegistryClient(reg.registry, '127.0.0.1', {
      caFile: reg.caFile!,
      credentials: new StaticCredentials({
        [reg.registry]: { username: TEST_USER, password: 'wrong' },
      }),
    });
    const e2 = await errorOf(wrong.getManifest('kiln/x', 'latest'));
    wrong.close();
    expect(e2.code).toBe('RegistryAuth');
    expect(e2.message).toContain('refused the credentials');
  });

  it("pushes and pulls with Docker's config.json (auths) and with a credential helper", async () => {
    const cfgDir = join(work, 'docker-auths');
    await mkdir(cfgDir, { recursive: true });
    const auth = Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64');
    await writeFile(
      join(cfgDir, 'config.json'),
      JSON.stringify({ auths: { [`https://${reg.registry}`]: { auth } } }),
    );
    const c = new RegistryClient(reg.registry, '127.0.0.1', {
      caFile: reg.caFile!,
      credentials: new DockerConfigCredentials({ configDir: cfgDir }),
    });
    const files = await makeChain(join(work, 'chain-tls'));
    const { built } = await pushChain(c, 'kiln/tls', 'v1', files);
    c.close();

    const helperDir = join(work, 'helper-bin');
    await mkdir(helperDir, { recursive: true });
    const helper = join(helperDir, 'docker-credential-kilntest');
    await writeFile(
      helper,
      `#!/bin/sh\nread host\n[ "$host" = "${reg.registry}" ] || { echo "credentials not found in native keychain"; exit 1; }\necho '{"ServerURL":"'$host'","Username":"${TEST_USER}","Secret":"${TEST_PASSWORD}"}'\n`,
    );
    await chmod(helper, 0o755);
    const cfgDir2 = join(work, 'docker-helper');
    await mkdir(cfgDir2, { recursive: true });
    await writeFile(join(cfgDir2, 'config.json'), JSON.stringify({ credsStore: 'kilntest' }));
    const env = { ...process.env, PATH: `${helperDir}:${process.env.PATH}` };
    const c2 = new RegistryClient(reg.registry, '127.0.0.1', {
      caFile: reg.caFile!,
      credentials: new DockerConfigCredentials({ configDir: cfgDir2, env }),
    });
    const pulled = await pullChain(c2, 'kiln/tls', 'v1', join(work, 'pulled-tls'));
    c2.close();
    expect(pulled.manifest.digest).toBe(built.descriptor.digest);
    for (const [i, f] of pulled.files.entries())
      expect(await sha256(f)).toBe(await sha256(files[i]!));
  });
});

describe('token (Bearer) auth', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token' });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('trades credentials for a token per scope, and reuses it', async () => {
    const c = new RegistryClient(reg.registry, '127.0.0.1', {
      credentials: new StaticCredentials({
        [reg.registry]: { username: TEST_USER, password: TEST_PASSWORD },
      }),
    });
    const files = await makeChain(join(work, 'chain-token'));
    const { built } = await pushChain(c, 'kiln/tok', 'v1', files);
    const pulled = await pullChain(c, 'kiln/tok', 'v1', join(work, 'pulled-token'));
    c.close();
    expect(pulled.manifest.digest).toBe(built.descriptor.digest);
    // One token per distinct scope (the first, anonymous request only learns the challenge).
    const scopes = reg.tokenRequests;
    expect(new Set(scopes).size).toBe(scopes.length);
    expect(scopes).toContain('repository:kiln/tok:pull,push');
    expect(scopes).toContain('repository:kiln/tok:pull');
  });

  it('refuses wrong credentials at the token service', async () => {
    const c = new RegistryClient(reg.registry, '127.0.0.1', {
      credentials: new StaticCredentials({
        [reg.registry]: { username: TEST_USER, password: 'nope' },
      }),
    });
    const err = await errorOf(c.getManifest('kiln/tok', 'v1'));
    c.close();
    expect(err.code).toBe('RegistryAuth');
    expect(err.message).toContain('refused the credentials');
  });
});
