/**
 * The chroot builder's steps without root: a fake ChrootDriver keeps its own mount table,
 * loop devices and export daemons, while the catalog (SQLite), the run journal and the
 * files are real. Checks the step order of a whole build, the trust rule, and that a
 * failure at any step cleans up every step that started, in reverse, leaving no mount, no
 * loop device, no export, no work or run directory and no open journal entry.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../catalog/index.js';
import type { Communicator } from '../../communicator/communicator.js';
import { CLEAN_GUEST_OK } from '../../core/clean-guest.js';
import type { BuildContext } from '../../core/plugin.js';
import { harnessContext, loggedSteps } from '../../core/step-harness.js';
import type { Step } from '../../core/steps.js';
import { CancelledError, UserError } from '../../lib/errors.js';
import type { FuseExport } from '../../qemu/storage-daemon.js';
import { CHROOT_STEPS, runChrootBuild } from './builder.js';
import { type ChrootConfig, chrootConfigSchema } from './config.js';
import type { ChrootDriver, MountSpec } from './driver.js';
import type { ChrootState } from './state.js';
import { diskLayout } from './steps/attach-loop.js';

/** A disk head with the ext4 magic where the kernel looks for it. */
function ext4Head(): Buffer {
  const b = Buffer.alloc(4096);
  b.writeUInt16LE(0xef53, 1080);
  return b;
}

/** Records what the steps asked of the host; mounts, loops and daemons live in its own tables. */
class FakeDriver implements ChrootDriver {
  readonly calls: string[] = [];
  readonly mounted: string[] = [];
  readonly loops = new Set<string>();
  readonly daemons = new Set<number>();
  readonly commands: string[] = [];
  head = ext4Head();
  async imageInfo() {
    return { format: 'qcow2', virtualSize: 64 << 20, actualSize: 1 << 20 };
  }
  async createOverlay(_base: string, _format: string, out: string) {
    this.calls.push('createOverlay');
    writeFileSync(out, 'overlay');
  }
  async startExport(_image: string, file: string, _s: AbortSignal, onSpawn: (pid: number) => void) {
    this.calls.push('startExport');
    const pid = 4_100_000 + this.daemons.size;
    onSpawn(pid);
    this.daemons.add(pid);
    const daemons = this.daemons;
    const exp: FuseExport = {
      pid,
      file,
      get exited() {
        return !daemons.has(pid);
      },
      stop: async () => {
        this.calls.push('stopExport');
        daemons.delete(pid);
      },
    };
    return exp;
  }
  async readHead() {
    return this.head;
  }
  async attachLoop() {
    this.calls.push('attachLoop');
    const dev = `/dev/loop${this.loops.size + 40}`;
    this.loops.add(dev);
    return dev;
  }
  async detachLoop(device: string) {
    this.calls.push('detachLoop');
    this.loops.delete(device);
  }
  async mount(spec: MountSpec) {
    this.calls.push(`mount ${spec.type ?? 'root'}`);
    if (spec.type === undefined) {
      for (const d of ['etc', 'proc', 'sys', 'dev', 'root'])
        mkdirSync(join(spec.target, d), { recursive: true });
    }
    this.mounted.push(resolve(spec.target));
  }
  async unmount(target: string) {
    const i = this.mounted.lastIndexOf(resolve(target));
    if (i < 0) return;
    if (this.mountsUnder(target).length > 1) throw new Error(`umount ${target}: busy`);
    this.calls.push('unmount');
    this.mounted.splice(i, 1);
  }
  mountsUnder(path: string) {
    const abs = resolve(path);
    return this.mounted.filter((m) => m === abs || m.startsWith(`${abs}${sep}`)).reverse();
  }
  isMountPoint(path: string) {
    return this.mounted.includes(resolve(path));
  }
  openCommunicator(): Communicator {
    const commands = this.commands;
    return {
      connection: { type: 'chroot', root: '/fake', user: 'root' },
      async exec(req) {
        commands.push(req.command);
        req.onStdout?.(CLEAN_GUEST_OK);
        return { exitCode: 0 };
      },
      async upload() {},
      async uploadDir() {},
      async download() {},
      async downloadDir() {},
      async close() {},
    };
  }
  async hostCommand(command: string) {
    this.commands.push(command);
    return 0;
  }
}

const STEP_NAMES = [
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
  'register-image',
];

let root: string;
let home: string;
let sourceId: string;
let catalog: Catalog;

function registerSource(builder: string, parentId?: string): string {
  const dir = join(catalog.imagesDir, `img-src-${builder}-${parentId ?? 'root'}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'disk.qcow2'), 'source disk');
  return catalog.images.register({
    name: `source-${builder}`,
    builder,
    ...(parentId ? { parentId } : {}),
    files: [join(dir, 'disk.qcow2')],
    format: 'qcow2',
  }).id;
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-chroot-steps-'));
  home = join(root, 'home');
  catalog = Catalog.open(home);
  sourceId = registerSource('base');
});

afterEach(() => {
  catalog.close();
  rmSync(root, { recursive: true, force: true });
});

function config(over: Record<string, unknown> = {}): ChrootConfig {
  return chrootConfigSchema.parse({ source_image: sourceId, ...over });
}

function context(signal = new AbortController().signal): BuildContext {
  return harnessContext({
    buildName: 'chroot',
    buildType: 'kiln-chroot',
    templateDir: root,
    kilnHome: home,
    catalog,
    signal,
  });
}

/** The builder's steps, each logging its run and cleanup; `fail` makes one step throw. */
function logged(
  log: string[],
  fail?: { step: string; when: 'before' | 'after' },
): Step<ChrootState>[] {
  return loggedSteps(CHROOT_STEPS, log, fail);
}

/** What the build left: host resources (fake), journal entries, work dirs, images besides the sources. */
function leftovers(driver: FakeDriver, keep: string[] = [sourceId]) {
  return {
    mounts: [...driver.mounted],
    loops: [...driver.loops],
    daemons: [...driver.daemons],
    runs: catalog.database.prepare('SELECT id FROM runs').all(),
    work: readdirSync(catalog.imagesDir).filter((f) => f.startsWith('.tmp-')),
    runDirs: readdirSync(tmpdir()).filter(
      (f) =>
        f.startsWith('kiln-chroot-') &&
        !f.startsWith('kiln-chroot-steps-') &&
        dirsBefore.indexOf(f) < 0,
    ),
    images: catalog.images
      .list()
      .map((i) => i.id)
      .filter((id) => !keep.includes(id)),
  };
}
let dirsBefore: string[] = [];
beforeEach(() => {
  dirsBefore = readdirSync(tmpdir()).filter((f) => f.startsWith('kiln-chroot-'));
});

const withCleanup = CHROOT_STEPS.filter((s) => s.cleanup).map((s) => s.name);

describe('chroot builder steps', () => {
  it('run in order: overlay, export, loop, mounts, provisioners, clean, unmount everything, register', async () => {
    expect(CHROOT_STEPS.map((s) => s.name)).toEqual(STEP_NAMES);
    const driver = new FakeDriver();
    const log: string[] = [];
    let comm: Communicator | undefined;
    const artifact = await runChrootBuild(
      config({
        pre_mount_commands: ['echo {{.Device}}'],
        post_mount_commands: ['ls {{.MountPath}}'],
      }),
      context(),
      {
        run: async (c) => {
          comm = c;
        },
      },
      { driver, steps: logged(log) },
    );
    expect(log).toEqual([
      ...STEP_NAMES.map((n) => `run ${n}`),
      ...[...withCleanup].reverse().map((n) => `cleanup ${n}`),
    ]);
    // Everything the disk carried is gone before it is registered.
    expect(driver.calls).toEqual([
      'createOverlay',
      'startExport',
      'attachLoop',
      'mount root',
      'mount proc',
      'mount sysfs',
      'mount bind',
      'mount devpts',
      ...(existsSync('/etc/resolv.conf') ? ['mount bind'] : []),
      ...(existsSync('/etc/resolv.conf') ? ['unmount'] : []),
      'unmount',
      'unmount',
      'unmount',
      'unmount',
      'unmount',
      'detachLoop',
      'stopExport',
    ]);
    expect(comm?.connection.type).toBe('chroot');
    expect(driver.commands[0]).toBe('echo /dev/loop40');
    expect(driver.commands[1]).toMatch(/^ls \/.*kiln-chroot-.*\/root$/);
    expect(driver.commands.at(-1)).toBe('sh -s');
    const left = leftovers(driver);
    expect({ ...left, images: [] }).toEqual({
      mounts: [],
      loops: [],
      daemons: [],
      runs: [],
      work: [],
      runDirs: [],
      images: [],
    });
    expect(left.images).toHaveLength(1);
    expect(artifact?.id).toBe(left.images[0]);
    const image = catalog.images.resolve(left.images[0]!);
    expect(image.parentId).toBe(sourceId);
    expect(image.builder).toBe('kiln-chroot');
    expect(image.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(image.files[0]!)).toBe(true);
  });

  for (const when of ['before', 'after'] as const) {
    it(`clean up every started step in reverse when a step fails ${when} its work`, async () => {
      for (const [i, step] of STEP_NAMES.entries()) {
        const driver = new FakeDriver();
        const log: string[] = [];
        const build = runChrootBuild(
          config(),
          context(),
          { run: async () => undefined },
          { driver, steps: logged(log, { step, when }) },
        );
        await expect(build, step).rejects.toThrow(`${step} failed`);
        const started = STEP_NAMES.slice(0, i + 1);
        expect(log, step).toEqual([
          ...started.map((n) => `run ${n}`),
          ...withCleanup
            .filter((n) => started.includes(n))
            .reverse()
            .map((n) => `cleanup ${n}`),
        ]);
        const registered = when === 'after' && step === 'register-image';
        const left = leftovers(driver);
        expect({ ...left, images: left.images.length }, step).toEqual({
          mounts: [],
          loops: [],
          daemons: [],
          runs: [],
          work: [],
          runDirs: [],
          images: registered ? 1 : 0,
        });
        if (registered) catalog.images.remove(left.images[0]!);
      }
    });
  }

  it('stops at once on interrupt during provisioning and leaves nothing', async () => {
    const driver = new FakeDriver();
    const ac = new AbortController();
    const build = runChrootBuild(
      config(),
      context(ac.signal),
      {
        run: async () => {
          ac.abort(new CancelledError('cancelled by SIGINT'));
        },
      },
      { driver },
    );
    await expect(build).rejects.toBeInstanceOf(CancelledError);
    expect(leftovers(driver)).toMatchObject({
      mounts: [],
      loops: [],
      daemons: [],
      runs: [],
      work: [],
      images: [],
    });
  });

  it('refuses an image kiln did not make, and its descendants, unless trust_source is set', async () => {
    const imported = registerSource('import');
    const child = registerSource('qemu', imported);
    for (const ref of [imported, child]) {
      const driver = new FakeDriver();
      const err = await runChrootBuild(
        config({ source_image: ref }),
        context(),
        {
          run: async () => undefined,
        },
        { driver },
      ).catch((e) => e);
      expect(err).toBeInstanceOf(UserError);
      expect(err.code).toBe('UntrustedSourceImage');
      expect(err.message).toContain(imported);
      expect(err.message).toMatch(/was not made by kiln \(builder "import"\)/);
      expect(err.hint).toMatch(/trust_source/);
      expect(driver.calls).toEqual([]);
    }
    const driver = new FakeDriver();
    const artifact = await runChrootBuild(
      config({ source_image: child, trust_source: true }),
      context(),
      { run: async () => undefined },
      { driver },
    );
    expect(catalog.images.get(artifact!.id)?.parentId).toBe(child);
  });

  it('refuses a partitioned disk before attaching anything', async () => {
    const driver = new FakeDriver();
    driver.head = Buffer.alloc(4096);
    driver.head.writeUInt16LE(0xaa55, 510);
    const err = await runChrootBuild(
      config(),
      context(),
      { run: async () => undefined },
      {
        driver,
      },
    ).catch((e) => e);
    expect(err.code).toBe('PartitionedImage');
    expect(driver.calls).toEqual(['createOverlay', 'startExport', 'stopExport']);
    expect(leftovers(driver)).toMatchObject({ daemons: [], runs: [], work: [], images: [] });
  });
});

describe('chroot builder config', () => {
  it('refuses binding the host root and a command_wrapper without {{.Command}}', () => {
    const r = chrootConfigSchema.safeParse({
      source_image: 'x',
      chroot_mounts: [['bind', '/', '/host']],
      command_wrapper: 'sudo',
    });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'chroot_mounts.0',
      'command_wrapper',
    ]);
  });

  it('tells a bare file system from a partition table', () => {
    expect(diskLayout(ext4Head())).toBe('filesystem');
    const mbr = Buffer.alloc(4096);
    mbr.writeUInt16LE(0xaa55, 510);
    expect(diskLayout(mbr)).toBe('partitioned');
    const gpt = Buffer.alloc(4096);
    gpt.write('EFI PART', 512, 'latin1');
    expect(diskLayout(gpt)).toBe('partitioned');
    expect(diskLayout(Buffer.alloc(4096))).toBe('unknown');
  });
});
