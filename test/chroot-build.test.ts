/**
 * The kiln-chroot builder for real (root, qemu-storage-daemon's FUSE export, a loop mount,
 * Ansible's chroot connection): the sample's build image is built with the qemu builder in
 * a private home on the shared base, then released with packer-release-chroot.json; the
 * release boots under `kiln run` and answers "Hello world on port 8080", its bytes hold no
 * key, and its lineage, input hash and checksum are recorded like a qemu build's. A SIGINT
 * right after every step (and one while Ansible runs) leaves no mount, no loop device, no
 * storage daemon, no overlay and no journal entry. An imported image is refused. The wall
 * times of a chroot release and of a qemu release of the same template are printed.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { homeWithBase, kiln, leftovers, startKiln, whatWasLeft } from './helpers/faults.js';
import { ROOT, start } from './helpers/kiln.js';
import { httpGet } from './runtime-helpers.js';

let work: string;
let home: string;
let app: string;
let buildImage: string;
const instances: string[] = [];
const timings: string[] = [];

/** The id in a machine-readable `artifact,0,id,…` line. */
const artifactId = (out: string) => /,artifact,0,id,(img-[0-9a-f]+)/.exec(out)?.[1];

/** The build image's disk. */
function buildImageDisk(): string {
  const catalog = Catalog.open(home);
  try {
    return catalog.images.get(buildImage)!.files[0]!;
  } finally {
    catalog.close();
  }
}

/** Mount points, loop devices and storage daemons that belong to a chroot build under `tmp`. */
function hostLeftovers(tmp: string): string[] {
  const left: string[] = [];
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n'))
    if (line.includes(tmp) || line.includes('kiln-chroot-')) left.push(`mount ${line}`);
  const loops = spawnSync('losetup', ['-a'], { encoding: 'utf8' }).stdout;
  for (const line of loops.split('\n'))
    if (line.includes(tmp) || line.includes('kiln-chroot-')) left.push(`loop ${line}`);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-storage-daemon') && (cmd.includes(tmp) || cmd.includes(home)))
        left.push(`process ${d} ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return left;
}

function releaseArgs(template: string, env = 'dev', flags: string[] = []): string[] {
  return [
    'build',
    ...flags,
    '-machine-readable',
    '-var',
    `source_image=${buildImage}`,
    '-var-file',
    join(app, 'environments', `${env}.json`),
    join(app, 'packer', template),
  ];
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kiln-chrt-test-'));
  home = (await homeWithBase(join(work, 'home'))).home;
  app = join(work, 'hello-web');
  mkdirSync(app);
  for (const d of ['packer', 'environments'])
    cpSync(join(ROOT, 'examples/hello-web', d), join(app, d), { recursive: true });
  const deb = await start(
    'sh',
    [join(ROOT, 'examples/hello-web/package/build-deb.sh'), join(app, 'dist')],
    {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    },
  ).exit;
  expect(deb.code, deb.stderr).toBe(0);
  const t0 = Date.now();
  const b = await kiln(home, ['build', '-machine-readable', join(app, 'packer/packer-build.json')]);
  expect(b.code, b.output).toBe(0);
  timings.push(`build image (qemu): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  buildImage = artifactId(b.stdout)!;
  expect(buildImage).toBeDefined();
}, 900_000);

afterAll(async () => {
  if (instances.length > 0) await kiln(home, ['stop', '--timeout', '1s', ...instances]);
  await kiln(home, ['gc']);
  rmSync(work, { recursive: true, force: true });
  process.stderr.write(`chroot-build timings:\n  ${timings.join('\n  ')}\n`);
});

describe('kiln-chroot builder', () => {
  it('releases the sample without a VM: registered like a qemu build, boots and serves Hello world, no key in its bytes', async () => {
    const before = leftovers(home);
    const t0 = Date.now();
    const r = await kiln(home, releaseArgs('packer-release-chroot.json', 'dev', ['--no-cache']));
    const chrootMs = Date.now() - t0;
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('TASK [Enable hello-web.service at boot]');
    expect(r.output).not.toMatch(/qemu-system|Waiting for SSH/);
    const id = artifactId(r.stdout)!;
    expect(id).toBeDefined();
    expect(hostLeftovers(r.tmp)).toEqual([]);
    expect(readdirSync(r.tmp)).toEqual([]);

    // Registered as the qemu builder registers: parent, input hash, checksum, read-only disk.
    const catalog = Catalog.open(home);
    const image = catalog.images.get(id)!;
    const parent = catalog.images.get(buildImage)!;
    catalog.close();
    expect(image).toMatchObject({ builder: 'kiln-chroot', parentId: buildImage, format: 'qcow2' });
    expect(image.inputHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(image.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((image.metadata as Record<string, unknown>).kernel).toBe(
      (parent.metadata as Record<string, unknown>).kernel,
    );
    const disk = image.files[0]!;
    expect(spawnSync('sha256sum', [disk], { encoding: 'utf8' }).stdout.slice(0, 64)).toBe(
      image.sha256,
    );
    const info = JSON.parse(
      spawnSync('qemu-img', ['info', '--output=json', '-U', disk], { encoding: 'utf8' }).stdout,
    ) as Record<string, unknown>;
    expect(info['backing-filename']).toBe(parent.files[0]);
    expect(
      whatWasLeft(before, leftovers(home, [r.tmp])).filter((l) => !l.startsWith('catalog changed')),
    ).toEqual([]);

    // The same inputs again: the image is reused, nothing is mounted.
    const again = await kiln(home, releaseArgs('packer-release-chroot.json'));
    expect(again.code, again.output).toBe(0);
    expect(artifactId(again.stdout)).toBe(id);
    expect(again.output).not.toContain('Mounting');

    // Its bytes: what the release wrote is there (positive control), no key of any kind is.
    const bytes = readFileSync(disk);
    expect(bytes.includes(Buffer.from('HELLO_WEB_PORT=8080'))).toBe(true);
    for (const needle of ['PRIVATE KEY-----', 'ssh-ed25519 AAAA', 'kiln-run-'])
      expect(bytes.includes(Buffer.from(needle)), needle).toBe(false);
    const raw = join(work, 'release.raw');
    expect(spawnSync('qemu-img', ['convert', '-O', 'raw', disk, raw]).status).toBe(0);
    const cat = (p: string) => spawnSync('debugfs', ['-R', `cat ${p}`, raw], { encoding: 'utf8' });
    for (const p of ['/root/.ssh/authorized_keys', '/root/.ansible', '/root/.bash_history'])
      expect(/File not found/.test(cat(p).stderr), `${p} is in the image`).toBe(true);
    // The host's resolver was bound over the image's during the build: the image keeps its own.
    const parentRaw = join(work, 'parent.raw');
    expect(
      spawnSync('qemu-img', ['convert', '-O', 'raw', parent.files[0]!, parentRaw]).status,
    ).toBe(0);
    const parentResolv = spawnSync('debugfs', ['-R', 'cat /etc/resolv.conf', parentRaw], {
      encoding: 'utf8',
    }).stdout;
    rmSync(parentRaw, { force: true });
    expect(cat('/etc/resolv.conf').stdout).toBe(parentResolv);
    const hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
    if (hostResolv !== parentResolv) expect(bytes.includes(Buffer.from(hostResolv))).toBe(false);
    expect(cat('/etc/hello-web/hello-web.env').stdout).toContain('HELLO_WEB_PORT=8080');
    expect(cat('/etc/machine-id').stdout).toBe('');
    rmSync(raw, { force: true });

    // It boots and serves.
    // A TCG boot on a loaded 2-core machine can take minutes: the test asserts no timing.
    const run = await kiln(home, [
      'run',
      id,
      '-p',
      '8080',
      '--wait-http',
      '/healthz',
      '--timeout',
      '10m',
      '--quiet',
    ]);
    expect(run.code, run.output).toBe(0);
    const instance = run.stdout.trim();
    instances.push(instance);
    const ps = await kiln(home, ['ps', '--json']);
    const row = (
      JSON.parse(ps.stdout) as Array<{ id: string; ports: Array<{ host: number; guest: number }> }>
    ).find((p) => p.id === instance)!;
    const port = row.ports.find((p) => p.guest === 8080)!.host;
    expect((await httpGet(port, '/'))?.body).toBe('Hello world on port 8080\n');
    expect((await kiln(home, ['stop', instance])).code).toBe(0);
    instances.splice(instances.indexOf(instance), 1);

    // The same template with the qemu builder, for the wall-time comparison (not asserted).
    const t1 = Date.now();
    const q = await kiln(home, releaseArgs('packer-release.json', 'dev', ['--no-cache']));
    const qemuMs = Date.now() - t1;
    expect(q.code, q.output).toBe(0);
    timings.push(
      `release (dev): kiln-chroot ${(chrootMs / 1000).toFixed(1)} s, qemu ${(qemuMs / 1000).toFixed(1)} s`,
    );
  }, 900_000);

  const STEPS = [
    'open-journal',
    'resolve-source',
    'create-overlay',
    'create-run-dir',
    'export-disk',
    'attach-loop',
    'pre-mount-commands',
    'mount-root',
    'mount-extra',
    'bind-files',
    'post-mount-commands',
    'provision',
    'clean-guest',
    'early-cleanup',
  ];
  it('a SIGINT right after any step leaves no mount, loop device, storage daemon, overlay or journal entry', async () => {
    const before = leftovers(home);
    for (const step of STEPS) {
      const k = startKiln(
        home,
        releaseArgs('packer-release-chroot.json', 'staging', ['--no-cache']),
        {
          env: { KILN_TEST_INTERRUPT_AFTER: step },
        },
      );
      const r = await k.exit;
      expect(r.code, `${step}: ${r.output}`).not.toBe(0);
      expect(r.output, step).toMatch(/cancel|interrupt/i);
      expect(artifactId(r.stdout), step).toBeUndefined();
      expect(hostLeftovers(k.tmp), step).toEqual([]);
      expect(whatWasLeft(before, leftovers(home, [k.tmp])), step).toEqual([]);
    }
  }, 600_000);

  it('a SIGINT while Ansible runs in the chroot stops it and leaves nothing', async () => {
    const before = leftovers(home);
    const k = startKiln(home, releaseArgs('packer-release-chroot.json', 'prod', ['--no-cache']));
    await k.waitFor(/TASK \[Check the port\]/, 120_000);
    k.child.kill('SIGINT');
    const r = await k.exit;
    expect(r.code, r.output).not.toBe(0);
    expect(hostLeftovers(k.tmp)).toEqual([]);
    expect(whatWasLeft(before, leftovers(home, [k.tmp]))).toEqual([]);
  }, 300_000);

  it('after a crash with everything mounted, kiln gc unmounts, detaches, stops the export and removes the overlay', async () => {
    const before = leftovers(home);
    const k = startKiln(
      home,
      releaseArgs('packer-release-chroot.json', 'staging', ['--no-cache']),
      {
        env: { KILN_TEST_CRASH_AT: 'chroot-mounted' },
      },
    );
    const r = await k.exit;
    expect(r.signal, r.output).toBe('SIGKILL');
    // Positive control: the crash left the build's mounts, loop device and daemon behind.
    const left = hostLeftovers(k.tmp);
    expect(left.filter((l) => l.startsWith('mount')).length).toBeGreaterThanOrEqual(5);
    expect(left.filter((l) => l.startsWith('loop'))).toHaveLength(1);
    expect(left.filter((l) => l.startsWith('process'))).toHaveLength(1);
    const gc = await kiln(home, ['gc']);
    expect(gc.code, gc.output).toBe(0);
    expect(hostLeftovers(k.tmp)).toEqual([]);
    expect(whatWasLeft(before, leftovers(home, [k.tmp]))).toEqual([]);
    // The shared base the release chain stands on is untouched (gc never deleted through a mount).
    expect(spawnSync('qemu-img', ['check', '-U', buildImageDisk()]).status).toBe(0);
  }, 300_000);

  it('refuses an imported image, saying why and what to do, and makes nothing', async () => {
    // Registered as `kiln images import` registers a disk (by reference here: no copy).
    const catalog = Catalog.open(home);
    const base = catalog.images.resolve('debian-12');
    const stranger = catalog.images.register({
      name: 'stranger',
      builder: 'import',
      files: base.files,
      format: 'qcow2',
      metadata: { ...base.metadata, importedFrom: '/srv/downloads/stranger.qcow2' },
    }).id;
    catalog.close();
    const before = leftovers(home);
    const r = await kiln(home, [
      'build',
      '-var',
      `source_image=${stranger}`,
      join(app, 'packer/packer-release-chroot.json'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /was not made by kiln \(builder "import", from \/srv\/downloads\/stranger\.qcow2\): the chroot builder runs an image's own programs on this host as root/,
    );
    expect(r.stderr).toMatch(/trust_source/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(hostLeftovers(r.tmp)).toEqual([]);
    expect(whatWasLeft(before, leftovers(home, [r.tmp]))).toEqual([]);
  }, 120_000);
});
