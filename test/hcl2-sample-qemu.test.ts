/**
 * The sample's HCL2 templates (examples/hello-web/packer/*.pkr.hcl) end to end on QEMU:
 * `kiln build` of the build template makes the build image (a real VM: the .deb uploaded
 * and installed), of the release template the release image (a real VM: Ansible writes the
 * port and enables the unit), and `kiln run` of that release serves "Hello world on port
 * 8080" with nobody logging in. The JSON templates given the same inputs then reuse both
 * images (one input hash: the two front ends load the same builds), so only two builds
 * and one boot start a VM. The sample is copied with a nonce in the service, so this run's
 * images are its own, and removed at the end.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { run } from '../src/lib/exec.js';
import { kiln, type RunResult } from './helpers/kiln.js';
import { freePort } from './helpers/sshd.js';
import { artifactId, ensureBase, HOME, ROOT } from './qemu-helpers.js';
import { httpGet } from './runtime-helpers.js';

let work: string;
let app: string;
let baseId: string;
const ids: { build?: string; release?: string } = {};
const instances: string[] = [];

const RELEASE_VARS = ['-var-file', 'environments/dev.json'];

function build(template: string, args: string[] = []): Promise<RunResult> {
  return kiln(['build', '-machine-readable', ...args, template], {
    home: HOME,
    cwd: app,
    ownTmp: true,
  });
}

/** The artifact id of a successful build, or a failure that shows the end of its output. */
function idOf(r: RunResult, what: string): string {
  const id = artifactId(r.stdout);
  if (r.code !== 0 || !id)
    throw new Error(`kiln build ${what} failed (${r.code}): ${r.output.slice(-4000)}`);
  return id;
}

beforeAll(async () => {
  baseId = await ensureBase();
  work = mkdtempSync(join(tmpdir(), 'kiln-test-hcl2-sample-'));
  app = join(work, 'examples', 'hello-web');
  mkdirSync(app, { recursive: true });
  for (const d of ['service', 'package', 'packer', 'environments', 'package.json'])
    cpSync(join(ROOT, 'examples/hello-web', d), join(app, d), { recursive: true });
  rmSync(join(app, 'service/dist'), { recursive: true, force: true });
  // build-deb.sh compiles with the repository's TypeScript (<repo>/node_modules).
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'));
  appendFileSync(
    join(app, 'service/src/app.ts'),
    `\n// hcl2 sample test run ${process.pid}-${Date.now()}\n`,
  );
  await run('sh', ['package/build-deb.sh'], {
    cwd: app,
    env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
  });
});

afterAll(async () => {
  for (const id of instances) await kiln(['stop', id], { home: HOME }).catch(() => undefined);
  const catalog = Catalog.open(HOME);
  try {
    for (const id of [ids.release, ids.build])
      if (id)
        try {
          catalog.images.remove(id);
        } catch {}
  } finally {
    catalog.close();
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the sample system from its HCL2 templates, on QEMU', () => {
  it('kiln build packer-build.pkr.hcl makes the build image in a VM', async () => {
    const r = await build('packer/packer-build.pkr.hcl', ['--no-cache']);
    ids.build = idOf(r, 'packer-build.pkr.hcl');
    // HCL2 names the build source type.name, as Packer does.
    expect(r.stdout).toMatch(/^\d+,qemu\.hello-web,artifact,0,id,img-[0-9a-f]{17}$/m);
    expect(r.output).not.toMatch(/Reusing img-/);
    // The shell provisioner ran in the guest: dpkg-query's line and the unit left disabled.
    expect(r.stdout).toMatch(/installed hello-web 1\.0\.0/);
    expect(r.stdout).toMatch(/hello-web\.service is disabled/);
    const catalog = Catalog.open(HOME);
    try {
      const image = catalog.images.get(ids.build)!;
      expect(image).toMatchObject({ name: 'hello-web-build', parentId: baseId, builder: 'qemu' });
      expect(image.templatePath).toMatch(/packer-build\.pkr\.hcl$/);
      expect(image.inputHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    } finally {
      catalog.close();
    }
  });

  it('kiln build packer-build.json with the same inputs reuses that image', async () => {
    const r = await build('packer/packer-build.json');
    expect(idOf(r, 'packer-build.json')).toBe(ids.build);
    expect(r.output).toContain(`Reusing ${ids.build} (inputs unchanged`);
  });

  it('kiln build packer-release.pkr.hcl makes the release image in a VM (Ansible)', async () => {
    const r = await build('packer/packer-release.pkr.hcl', [
      '--no-cache',
      '-var',
      `source_image=${ids.build}`,
      ...RELEASE_VARS,
    ]);
    ids.release = idOf(r, 'packer-release.pkr.hcl');
    expect(r.stdout).toMatch(/^\d+,qemu\.hello-web,artifact,0,id,img-[0-9a-f]{17}$/m);
    expect(r.output).not.toMatch(/Reusing img-/);
    const catalog = Catalog.open(HOME);
    try {
      expect(catalog.images.get(ids.release)).toMatchObject({
        name: 'hello-web-dev',
        parentId: ids.build,
      });
    } finally {
      catalog.close();
    }
  });

  it('kiln build packer-release.json with the same inputs reuses that image', async () => {
    const r = await build('packer/packer-release.json', [
      '-var',
      `source_image=${ids.build}`,
      ...RELEASE_VARS,
    ]);
    expect(idOf(r, 'packer-release.json')).toBe(ids.release);
    expect(r.output).toContain(`Reusing ${ids.release} (inputs unchanged`);
  });

  it('the release made from HCL2 boots and serves Hello world on port 8080', async () => {
    expect(ids.release).toBeDefined();
    const port = await freePort();
    const r = await kiln(
      ['run', ids.release!, '-p', `${port}:8080`, '--wait-http', '/', '--timeout', '4m'],
      { home: HOME },
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const instance = r.stdout.trim();
    instances.push(instance);
    expect((await httpGet(port, '/'))?.body).toBe('Hello world on port 8080\n');
    const stop = await kiln(['stop', instance], { home: HOME });
    expect(stop.code, stop.stderr).toBe(0);
    instances.pop();
  });
});
