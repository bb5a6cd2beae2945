/**
 * The sample system shared through a real registry, with real VMs: home A builds the
 * sample's build and release images on the debian-12 base and pushes the release; home B
 * pulls it and gets the whole chain with the same ids and lineage, and `kiln run` there
 * serves "Hello world on port 8080". A second push sends nothing, a push without the opt-in
 * has no state, and one with it adds the saved state as a referrer without changing the
 * image. An independent client (skopeo) reads the manifest and copies the image to another
 * repository, from which `kiln pull` works too.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { run } from '../src/lib/exec.js';
import { KilnMedia, RegistryClient } from '../src/registry/index.js';
import { kiln } from './helpers/kiln.js';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { dockerConfig } from './helpers/share.js';
import { freePort } from './helpers/sshd.js';
import { artifactId, HOME, ROOT, usePrivateHome } from './qemu-helpers.js';
import { httpGet } from './runtime-helpers.js';

let reg: TestRegistry;
let env: Record<string, string | undefined>;
let homeA: string;
let work: string;
const ids: { base?: string; build?: string; release?: string } = {};
const homes: string[] = [];
const instances: Array<{ home: string; id: string }> = [];

interface PushJson {
  digest: string;
  images: Array<{ id: string }>;
  blobs: { total: number; uploaded: number; mounted: number; present: number; bytesSent: number };
  state: string | null;
}

const last = <T>(stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as T;

let app: string;
/** Home B: pulled the release without its state. */
let pulledHome: string | undefined;

async function build(
  home: string,
  template: string,
  vars: string[] = [],
  cache = true,
): Promise<{ id: string; stdout: string; stderr: string }> {
  const r = await kiln(['build', '-machine-readable', ...vars, template], {
    home,
    cwd: app,
    env: { ...env, KILN_REGISTRY_CACHE: cache ? `${reg.registry}/kiln/cache` : undefined },
    ownTmp: true,
  });
  const id = artifactId(r.stdout);
  if (r.code !== 0 || !id)
    throw new Error(`kiln build ${template} failed: ${r.stderr.slice(-3000)}`);
  return { id, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  reg = await startRegistry();
  env = { DOCKER_CONFIG: await dockerConfig() };
  homes.push(env.DOCKER_CONFIG!);
  ids.base = await usePrivateHome();
  homeA = HOME;
  homes.push(homeA);
  work = mkdtempSync(join(tmpdir(), 'kiln-test-push-pull-'));
  app = join(work, 'examples', 'hello-web');
  mkdirSync(app, { recursive: true });
  for (const d of ['service', 'package', 'packer', 'environments', 'package.json'])
    cpSync(join(ROOT, 'examples/hello-web', d), join(app, d), { recursive: true });
  rmSync(join(app, 'service/dist'), { recursive: true, force: true });
  // build-deb.sh compiles with the repository's TypeScript (<repo>/node_modules).
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'));
  await run('sh', ['package/build-deb.sh'], {
    cwd: app,
    env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
  });
  // With the registry cache: each image is pushed to it once built.
  ids.build = (await build(homeA, 'packer/packer-build.json')).id;
  ids.release = (
    await build(homeA, 'packer/packer-release.json', [
      '-var',
      `source_image=${ids.build}`,
      '-var-file',
      'environments/dev.json',
    ])
  ).id;
});

afterAll(async () => {
  for (const i of instances) await kiln(['stop', i.id], { home: i.home }).catch(() => undefined);
  await reg?.stop();
  for (const h of [...homes, work])
    if (h) rmSync(h, { recursive: true, force: true, maxRetries: 3 });
});

describe('kiln push / pull of the sample chain', () => {
  it('pushes the release with its chain; a second push uploads 0 blobs; no state without the opt-in', async () => {
    const ref = `${reg.registry}/kiln/hello:dev`;
    const first = await kiln(['push', ids.release!, ref, '--output', 'json'], { home: homeA, env });
    expect(first.code, first.stderr).toBe(0);
    const pushed = last<PushJson>(first.stdout);
    expect(pushed.images.map((i) => i.id)).toEqual([ids.base, ids.build, ids.release]);
    // The base's disk, kernel and initrd, the build's and the release's overlays, the config.
    // The build cache pushed the layers to kiln/cache already: the registry mounts them
    // from there; only the config is sent (no mount is tried for it).
    expect(pushed.blobs).toMatchObject({ total: 6, uploaded: 1, mounted: 5, present: 0 });
    expect(pushed.state).toBeNull();

    const client = new RegistryClient(reg.registry, '127.0.0.1');
    const m = await client.getManifest('kiln/hello', 'dev');
    expect(
      m.manifest!.layers.map((l) => [l.mediaType, l.annotations?.['vnd.kiln.image.id']]),
    ).toEqual([
      [KilnMedia.qcow2Zstd, ids.base],
      [KilnMedia.fileZstd, ids.base],
      [KilnMedia.fileZstd, ids.base],
      [KilnMedia.qcow2Zstd, ids.build],
      [KilnMedia.qcow2Zstd, ids.release],
    ]);
    expect(await client.referrers('kiln/hello', m.digest)).toEqual([]);

    const second = await kiln(['push', ids.release!, ref, '--output', 'json'], {
      home: homeA,
      env,
    });
    expect(second.code, second.stderr).toBe(0);
    expect(last<PushJson>(second.stdout)).toMatchObject({
      digest: pushed.digest,
      blobs: { uploaded: 0, mounted: 0, present: 6, bytesSent: 0 },
    });

    // With the opt-in: the same image manifest, and the state as its referrer.
    const withState = await kiln(
      [
        'push',
        ids.release!,
        `${reg.registry}/kiln/hello:dev-state`,
        '--with-state',
        '--output',
        'json',
      ],
      { home: homeA, env },
    );
    expect(withState.code, withState.stderr).toBe(0);
    const ws = last<PushJson>(withState.stdout);
    expect(ws.digest).toBe(pushed.digest);
    expect(ws.state).toMatch(/^sha256:/);
    const refs = await client.referrers('kiln/hello', pushed.digest);
    expect(refs.map((r) => [r.digest, r.artifactType])).toEqual([[ws.state, KilnMedia.vmState]]);
    client.close();
  });

  it('skopeo reads the manifest and copies it; home B pulls the copy with the same ids and runs it', async () => {
    const tls = ['--tls-verify=false'];
    const raw = await run('skopeo', [
      'inspect',
      '--raw',
      ...tls,
      `docker://${reg.registry}/kiln/hello:dev`,
    ]);
    const manifest = JSON.parse(raw.stdout) as { artifactType: string; layers: unknown[] };
    expect(manifest.artifactType).toBe(KilnMedia.image);
    expect(manifest.layers).toHaveLength(5);
    await run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${reg.registry}/kiln/hello:dev`,
      `docker://${reg.registry}/kiln/hello-copy:1`,
    ]);

    const homeB = mkdtempSync(join(tmpdir(), 'kiln-test-push-pull-b-'));
    homes.push(homeB);
    pulledHome = homeB;
    const pull = await kiln(['pull', `${reg.registry}/kiln/hello-copy:1`], { home: homeB, env });
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout.trim()).toBe(ids.release);
    {
      using a = Catalog.open(homeA);
      using b = Catalog.open(homeB);
      const lineage = (c: Catalog) =>
        c.images.lineage(ids.release!).map((i) => [i.id, i.parentId, i.name, i.inputHash]);
      expect(lineage(b)).toEqual(lineage(a));
      expect(lineage(b).map((l) => l[0])).toEqual([ids.release, ids.build, ids.base]);
    }

    const port = await freePort();
    // By reference: the image is there, so only the manifest is read.
    const r = await kiln(
      [
        'run',
        `${reg.registry}/kiln/hello:dev`,
        '-p',
        `${port}:8080`,
        '--wait-http',
        '/',
        '--timeout',
        '4m',
      ],
      {
        home: homeB,
        env,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`running from ${ids.release}`));
    expect(r.stderr).toMatch(/0 of 3 images fetched/);
    instances.push({ home: homeB, id: r.stdout.trim() });
    expect((await httpGet(port, '/'))?.body).toBe('Hello world on port 8080\n');
    const stop = await kiln(['stop', r.stdout.trim()], { home: homeB });
    expect(stop.code, stop.stderr).toBe(0);
    instances.pop();
  });

  it('a home with only the base pulls the build and release from the registry cache instead of building', async () => {
    const base = await kiln(['push', ids.base!, `${reg.registry}/kiln/base:1`], {
      home: homeA,
      env,
    });
    expect(base.code, base.stderr).toBe(0);
    const homeC = mkdtempSync(join(tmpdir(), 'kiln-test-push-pull-c-'));
    homes.push(homeC);
    const pull = await kiln(['pull', `${reg.registry}/kiln/base:1`], { home: homeC, env });
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout.trim()).toBe(ids.base);

    const b = await build(homeC, 'packer/packer-build.json');
    expect(b.id).toBe(ids.build);
    expect(b.stdout).toMatch(/Reusing img-/);
    const r = await build(homeC, 'packer/packer-release.json', [
      '-var',
      `source_image=${ids.build}`,
      '-var-file',
      'environments/dev.json',
    ]);
    expect(r.id).toBe(ids.release);
    expect(r.stdout).toMatch(/Reusing img-/);
    using c = Catalog.open(homeC);
    // Both came from the cache repository, tagged by their input hashes.
    for (const id of [ids.build!, ids.release!]) {
      const img = c.images.get(id)!;
      expect((img.metadata as Record<string, string>).pulledFrom).toContain(
        `${reg.registry}/kiln/cache:kiln-cache-${img.inputHash!.slice(7)}@sha256:`,
      );
    }
    expect(c.images.lineage(ids.release!).map((i) => i.id)).toEqual([
      ids.release,
      ids.build,
      ids.base,
    ]);
  });
  it('-var source_image=REF pulls the source and what the cache has instead of building', async () => {
    const buildRef = `${reg.registry}/kiln/hello-build:1`;
    const push = await kiln(['push', ids.build!, buildRef], { home: homeA, env });
    expect(push.code, push.stderr).toBe(0);
    // An empty home: no base, no build image.
    const homeD = mkdtempSync(join(tmpdir(), 'kiln-test-push-pull-d-'));
    homes.push(homeD);
    const r = await build(homeD, 'packer/packer-release.json', [
      '-var',
      `source_image=${buildRef}`,
      '-var-file',
      'environments/dev.json',
    ]);
    // The same inputs as home A's release built from the id: the cache's image, not a build.
    expect(r.id).toBe(ids.release);
    expect(r.stdout + r.stderr).toContain(`Pulling ${buildRef}`);
    expect(r.stdout).toMatch(/Reusing img-/);
    expect(r.stdout + r.stderr).not.toMatch(/Starting VM/);
    using d = Catalog.open(homeD);
    expect(d.images.lineage(ids.release!).map((i) => i.id)).toEqual([
      ids.release,
      ids.build,
      ids.base,
    ]);
    expect((d.images.get(ids.build!)!.metadata as Record<string, string>).pulledFrom).toContain(
      buildRef,
    );
  });

  it("home B's pipeline builds nothing: the registry cache (TLS, CA from the pipeline file) has both images", async () => {
    const secure = await startRegistry({ tls: true });
    try {
      const caEnv = { ...env, KILN_REGISTRY_CA_FILE: secure.caFile! };
      // Home A's images under their cache tags, in a registry only the CA file makes trusted.
      using a = Catalog.open(homeA);
      for (const id of [ids.build!, ids.release!]) {
        const hash = a.images.get(id)!.inputHash!.slice(7);
        const p = await kiln(['push', id, `${secure.registry}/kiln/cache:kiln-cache-${hash}`], {
          home: homeA,
          env: caEnv,
        });
        expect(p.code, p.stderr).toBe(0);
      }
      const basePush = await kiln(['push', ids.base!, `${reg.registry}/kiln/base:pipeline`], {
        home: homeA,
        env,
      });
      expect(basePush.code, basePush.stderr).toBe(0);

      // Build and release steps only; the base named by a registry reference, pulled first.
      const file = join(app, 'kiln.cache.pipeline.json');
      writeFileSync(
        file,
        JSON.stringify({
          build: {
            template: 'packer/packer-build.json',
            vars: { base_image: `${reg.registry}/kiln/base:pipeline` },
          },
          release: { template: 'packer/packer-release.json', image_var: 'source_image' },
          environments: { dev: { var_file: 'environments/dev.json' } },
          registry_cache: `${secure.registry}/kiln/cache`,
          registry_ca_file: secure.caFile,
        }),
      );
      const homeE = mkdtempSync(join(tmpdir(), 'kiln-test-push-pull-e-'));
      homes.push(homeE);
      const r = await kiln(['pipeline', '--output', 'json', file], {
        home: homeE,
        cwd: app,
        env: { ...env, KILN_REGISTRY_CACHE: undefined },
        ownTmp: true,
      });
      expect(r.code, r.stderr).toBe(0);
      const rows = r.stdout
        .trim()
        .split('\n')
        .map(
          (l) => JSON.parse(l) as { type: string; step?: string; outcome?: string; image?: string },
        );
      const step = (name: string) => rows.find((x) => x.type === 'step' && x.step === name);
      expect(step('build')).toMatchObject({ outcome: 'reused', image: ids.build });
      expect(step('release')).toMatchObject({ outcome: 'reused', image: ids.release });
      expect(rows.filter((x) => x.outcome === 'built')).toEqual([]);
      expect(r.stdout + r.stderr).not.toMatch(/Starting VM/);
      using e = Catalog.open(homeE);
      expect(e.images.lineage(ids.release!).map((i) => i.id)).toEqual([
        ids.release,
        ids.build,
        ids.base,
      ]);
      for (const id of [ids.build!, ids.release!])
        expect((e.images.get(id)!.metadata as Record<string, string>).pulledFrom).toContain(
          `${secure.registry}/kiln/cache:kiln-cache-`,
        );
    } finally {
      await secure.stop();
    }
  });

  it('pushing a new release of the same build uploads only the release layer', async () => {
    // Another environment's release, built without the cache so no registry has it yet.
    const prod = await build(
      homeA,
      'packer/packer-release.json',
      ['-var', `source_image=${ids.build}`, '-var-file', 'environments/prod.json'],
      false,
    );
    const ref = `${reg.registry}/kiln/hello:prod`;
    const push = await kiln(['push', prod.id, ref, '--output', 'json'], { home: homeA, env });
    expect(push.code, push.stderr).toBe(0);
    const pushed = last<PushJson>(push.stdout);
    // The base's disk, kernel and initrd and the build's overlay are in kiln/hello already.
    expect(pushed.blobs).toMatchObject({ total: 6, uploaded: 2, mounted: 0, present: 4 });
    const client = new RegistryClient(reg.registry, '127.0.0.1');
    const m = (await client.getManifest('kiln/hello', 'prod')).manifest!;
    client.close();
    const releaseLayer = m.layers.at(-1)!;
    expect(releaseLayer.annotations?.['vnd.kiln.image.id']).toBe(prod.id);
    // Exactly the release overlay's blob and the config: nothing of the base or the build.
    expect(pushed.blobs.bytesSent).toBe(releaseLayer.size + m.config.size);
    process.stderr.write(
      `new release of the same build: uploaded ${releaseLayer.size} bytes of layer (+ ${m.config.size} bytes of config); the base layer is ${m.layers[0]!.size} bytes\n`,
    );
  });
  it('pull --with-state installs the saved VM state: a build from the pulled release restores it instead of booting', async () => {
    const ref = `${reg.registry}/kiln/hello:dev-state`;
    const homeF = mkdtempSync(join(tmpdir(), 'kiln-test-push-pull-f-'));
    homes.push(homeF);
    const pull = await kiln(['pull', ref, '--with-state', '--output', 'json'], {
      home: homeF,
      env,
    });
    expect(pull.code, pull.stderr).toBe(0);
    const pulled = last<{ image: string; state: string | null }>(pull.stdout);
    expect(pulled.image).toBe(ids.release);
    expect(pulled.state).toMatch(/^sha256:/);
    {
      using f = Catalog.open(homeF);
      const disk = f.images.get(ids.release!)!.files[0]!;
      // The state's frozen layer is backed by the release's disk in this home.
      const info = await run('qemu-img', [
        'info',
        '--output=json',
        '-U',
        join(disk, '../warm/layer.qcow2'),
      ]);
      expect((JSON.parse(info.stdout) as { 'backing-filename': string })['backing-filename']).toBe(
        disk,
      );
    }
    // Without the opt-in a pull brings no state (home B pulled the same image).
    {
      using b = Catalog.open(pulledHome!);
      expect(existsSync(join(b.images.get(ids.release!)!.files[0]!, '../warm'))).toBe(false);
    }

    const r = await build(
      homeF,
      'packer/packer-release.json',
      ['-var', `source_image=${ids.release}`, '-var-file', 'environments/staging.json'],
      false,
    );
    // (-machine-readable escapes the comma)
    expect(r.stdout).toMatch(
      /Starting VM(,|%!\(PACKER_COMMA\)) restoring the source image.s saved state/,
    );
    using f = Catalog.open(homeF);
    expect(f.images.get(r.id)!.parentId).toBe(ids.release);
  });
});
