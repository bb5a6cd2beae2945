/**
 * The qemu builder's steps without a VM: a fake QemuDriver (as Packer's qemu builder
 * tests with its DriverMock) stands in for QEMU and qemu-img, while the catalog (SQLite),
 * the run journal and the files are real. Checks the step order of a whole build, and
 * that a failure at any step cleans up every step that started, in reverse, leaving no
 * VM, no work or run directory and no open journal entry.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../catalog/index.js';
import { BuildUi, MemoryUi } from '../../core/events.js';
import type { BuildContext } from '../../core/plugin.js';
import { Secrets } from '../../core/secrets.js';
import type { Step } from '../../core/steps.js';
import { SystemError } from '../../lib/errors.js';
import type { StartVmOptions, Vm, VmExit } from '../../qemu/launch.js';
import type { QmpClient } from '../../qemu/qmp.js';
import { QEMU_STEPS, runQemuBuild } from './builder.js';
import { type QemuConfig, qemuConfigSchema } from './config.js';
import type { QemuDriver } from './driver.js';
import type { QemuState } from './state.js';

/** A fake VM: QMP answers every command, the power button and `kill` end it at once. */
class FakeVm implements Vm {
  readonly qmp = Object.assign(new EventEmitter(), {
    execute: async () => ({}),
    close: () => undefined,
  }) as unknown as QmpClient;
  readonly ports: Record<number, number> = {};
  readonly forwards = [];
  readonly args: readonly string[] = [];
  exit: VmExit | undefined;
  private ended!: (e: VmExit) => void;
  private readonly exited = new Promise<VmExit>((r) => {
    this.ended = r;
  });
  constructor(
    readonly pid: number,
    readonly serialLog: string,
  ) {}
  waitExit(): Promise<VmExit> {
    return this.exited;
  }
  async powerdown(): Promise<boolean> {
    this.end();
    return true;
  }
  async kill(): Promise<VmExit> {
    this.end();
    return this.exited;
  }
  release(): void {}
  async lastConsoleLines(): Promise<string[]> {
    return [];
  }
  private end(): void {
    this.exit ??= { code: 0, signal: null, stderr: '' };
    this.ended(this.exit);
  }
}

/** Records what the steps asked of QEMU; overlays and copies are small real files. */
class FakeDriver implements QemuDriver {
  readonly calls: string[] = [];
  readonly vms: FakeVm[] = [];
  readonly runDirs: string[] = [];
  async chooseAccelerator() {
    this.calls.push('chooseAccelerator');
    return { accel: 'tcg' as const, reason: 'fake' };
  }
  /** Set: startVm fails the way the launcher does when QEMU exits at start. */
  startError: Error | undefined;
  async startVm(opts: StartVmOptions): Promise<Vm> {
    this.calls.push('startVm');
    this.runDirs.push(dirname(opts.qmpSocket));
    if (this.startError) throw this.startError;
    const vm = new FakeVm(4_000_000 + this.vms.length, opts.serialLog);
    this.vms.push(vm);
    opts.onSpawn?.(vm.pid);
    return vm;
  }
  async imageInfo() {
    this.calls.push('imageInfo');
    return { format: 'qcow2', virtualSize: 64 << 20, actualSize: 1 << 20 };
  }
  async createOverlay(_base: string, _format: string, out: string) {
    this.calls.push('createOverlay');
    writeFileSync(out, 'overlay');
  }
  async convertImage(_src: string, out: string) {
    this.calls.push('convertImage');
    writeFileSync(out, 'copy');
  }
  async resizeImage() {
    this.calls.push('resizeImage');
  }
  async rebaseImage() {
    this.calls.push('rebaseImage');
  }
}

const STEP_NAMES = [
  'open-journal',
  'resolve-source',
  'create-ssh-key',
  'create-disk',
  'run-vm',
  'wait-ssh',
  'save-source-warm',
  'provision',
  'save-own-warm',
  'clean-guest',
  'shutdown',
  'finish-disk',
  'register-image',
];

let root: string;
let home: string;
let sourceId: string;
/** The build's catalog, open for the whole test as `kiln build` holds it. */
let catalog: Catalog;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-qemu-steps-'));
  home = join(root, 'home');
  catalog = Catalog.open(home);
  const dir = join(catalog.imagesDir, 'img-source');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'disk.qcow2'), 'source disk');
  sourceId = catalog.images.register({
    name: 'source',
    builder: 'test',
    files: [join(dir, 'disk.qcow2')],
    format: 'qcow2',
  }).id;
});

afterEach(() => {
  catalog.close();
  rmSync(root, { recursive: true, force: true });
});

function config(): QemuConfig {
  return qemuConfigSchema.parse({ source_image: sourceId, communicator: 'none' });
}

function context(): BuildContext {
  const ui = new MemoryUi(new Secrets());
  return {
    buildName: 'qemu',
    buildType: 'qemu',
    templateDir: root,
    kilnHome: home,
    catalog,
    signal: new AbortController().signal,
    ui: new BuildUi(ui, 'qemu'),
    rootUi: ui,
    secrets: ui.secrets,
    force: false,
    onError: 'cleanup',
    runId: 'run-0123456789abcdef',
    interpolate: (t) => t,
    generated: {},
  };
}

/** The builder's steps, each logging its run and cleanup; `fail` makes one step throw. */
function logged(
  log: string[],
  fail?: { step: string; when: 'before' | 'after' },
): Step<QemuState>[] {
  return QEMU_STEPS.map((s) => ({
    name: s.name,
    async run(state, ctx) {
      log.push(`run ${s.name}`);
      if (fail?.step === s.name && fail.when === 'before') throw new Error(`${s.name} failed`);
      await s.run(state, ctx);
      if (fail?.step === s.name) throw new Error(`${s.name} failed`);
    },
    ...(s.cleanup
      ? {
          async cleanup(state, ctx) {
            log.push(`cleanup ${s.name}`);
            await s.cleanup!(state, ctx);
          },
        }
      : {}),
  }));
}

/** What the build left: open journal entries, work directories, images besides the source. */
function leftovers(): { runs: unknown[]; work: string[]; images: string[] } {
  return {
    runs: catalog.database.prepare('SELECT id FROM runs').all(),
    work: readdirSync(catalog.imagesDir).filter((f) => f.startsWith('.tmp-')),
    images: catalog.images
      .list()
      .map((i) => i.id)
      .filter((id) => id !== sourceId),
  };
}

const withCleanup = QEMU_STEPS.filter((s) => s.cleanup).map((s) => s.name);

describe('qemu builder steps', () => {
  it('run in order, asking the driver for a disk, a VM and its power-off, and register the image', async () => {
    expect(QEMU_STEPS.map((s) => s.name)).toEqual(STEP_NAMES);
    const driver = new FakeDriver();
    const log: string[] = [];
    let provisioned = 0;
    const artifact = await runQemuBuild(
      config(),
      context(),
      { run: async () => void provisioned++ },
      { driver, steps: logged(log) },
    );
    expect(log).toEqual([
      ...STEP_NAMES.map((n) => `run ${n}`),
      ...[...withCleanup].reverse().map((n) => `cleanup ${n}`),
    ]);
    expect(driver.calls).toEqual(['chooseAccelerator', 'imageInfo', 'createOverlay', 'startVm']);
    expect(provisioned).toBe(1);
    expect(driver.vms[0]!.exit).toBeDefined();
    expect(driver.runDirs.filter(existsSync)).toEqual([]);
    const left = leftovers();
    expect(left.runs).toEqual([]);
    expect(left.work).toEqual([]);
    expect(left.images).toHaveLength(1);
    expect(artifact?.id).toBe(left.images[0]);
    const image = catalog.images.resolve(left.images[0]!);
    expect(image.parentId).toBe(sourceId);
    expect(existsSync(image.files[0]!)).toBe(true);
  });

  it('report why QEMU did not start, and remove the disk, run dir and journal entry', async () => {
    const driver = new FakeDriver();
    driver.startError = new SystemError('QemuStartFailed', 'QEMU exited at start (exit status 1)');
    const log: string[] = [];
    await expect(
      runQemuBuild(
        config(),
        context(),
        { run: async () => undefined },
        { driver, steps: logged(log) },
      ),
    ).rejects.toBe(driver.startError);
    expect(log.slice(log.indexOf('run run-vm'))).toEqual([
      'run run-vm',
      'cleanup run-vm',
      'cleanup create-disk',
      'cleanup create-ssh-key',
      'cleanup open-journal',
    ]);
    expect(driver.runDirs.filter(existsSync)).toEqual([]);
    expect(leftovers()).toEqual({ runs: [], work: [], images: [] });
  });

  for (const when of ['before', 'after'] as const) {
    it(`clean up every started step in reverse when a step fails ${when} its work`, async () => {
      for (const [i, step] of STEP_NAMES.entries()) {
        const driver = new FakeDriver();
        const log: string[] = [];
        const build = runQemuBuild(
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
        expect(
          driver.vms.filter((vm) => vm.exit === undefined),
          `${step}: a VM still runs`,
        ).toEqual([]);
        expect(driver.runDirs.filter(existsSync), `${step}: run dir left`).toEqual([]);
        const left = leftovers();
        expect(left.runs, `${step}: journal left open`).toEqual([]);
        expect(left.work, `${step}: work dir left`).toEqual([]);
        // Once registered, the image is the catalog's: it stays, with its disk.
        const registered = when === 'after' && step === 'register-image';
        expect(left.images, step).toHaveLength(registered ? 1 : 0);
      }
    });
  }
});
