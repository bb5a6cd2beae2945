/**
 * The qemu builder's steps without a VM: a fake QemuDriver (as Packer's qemu builder
 * tests with its DriverMock) stands in for QEMU and qemu-img, while the catalog (SQLite),
 * the run journal and the files are real. Checks the step order of a whole build, and
 * that a failure at any step cleans up every step that started, in reverse, leaving no
 * VM, no work or run directory and no open journal entry.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../catalog/index.js';
import type { BuildContext } from '../../core/plugin.js';
import { harnessContext, loggedSteps } from '../../core/step-harness.js';
import type { Step } from '../../core/steps.js';
import { CancelledError, SystemError } from '../../lib/errors.js';
import { charKey } from '../../qemu/boot-command.js';
import type { CdIsoOptions } from '../../qemu/cd.js';
import type { StartVmOptions, Vm, VmExit } from '../../qemu/launch.js';
import type { QmpClient } from '../../qemu/qmp.js';
import { QEMU_STEPS, runQemuBuild } from './builder.js';
import { type QemuConfig, qemuConfigSchema } from './config.js';
import type { QemuDriver } from './driver.js';
import type { QemuState } from './state.js';

/** A fake VM: QMP answers every command (and records it), the power button and `kill` end it at once. */
class FakeVm implements Vm {
  readonly commands: Array<{ command: string; args?: Record<string, unknown> }> = [];
  readonly qmp = Object.assign(new EventEmitter(), {
    execute: async (command: string, args?: Record<string, unknown>) => {
      this.commands.push({ command, ...(args ? { args } : {}) });
      return {};
    },
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
  readonly starts: StartVmOptions[] = [];
  async chooseAccelerator() {
    this.calls.push('chooseAccelerator');
    return { accel: 'tcg' as const, reason: 'fake' };
  }
  /** Set: startVm fails the way the launcher does when QEMU exits at start. */
  startError: Error | undefined;
  async startVm(opts: StartVmOptions): Promise<Vm> {
    this.calls.push('startVm');
    this.starts.push(opts);
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
  async createImage(file: string, format: string, size: number) {
    this.calls.push(`createImage ${format} ${size}`);
    writeFileSync(file, 'empty disk');
  }
  async makeCdIso(opts: CdIsoOptions) {
    this.calls.push(`makeCdIso ${opts.label}`);
    mkdirSync(opts.stagingDir, { recursive: true });
    writeFileSync(opts.out, JSON.stringify(opts.content));
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
  'fetch-iso',
  'create-ssh-key',
  'create-disk',
  'create-cd',
  'start-http-server',
  'run-vm',
  'type-boot-command',
  'wait-ssh',
  'save-source-warm',
  'provision',
  'save-own-warm',
  'clean-guest',
  'shutdown',
  'finish-disk',
  'register-image',
  'trim-warm',
];

let root: string;
let home: string;
let sourceId: string;
/** The build's catalog, open for the whole test as `kiln build` holds it. */
let catalog: Catalog;

let savedTmp: string | undefined;
/** The TMPDIR the steps see (run dirs, CD dirs): empty again when nothing is left. */
let tmp: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-qemu-steps-'));
  tmp = join(root, 'tmp');
  mkdirSync(tmp);
  savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
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
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  catalog.close();
  rmSync(root, { recursive: true, force: true });
});

function config(): QemuConfig {
  return qemuConfigSchema.parse({ source_image: sourceId, communicator: 'none' });
}

function context(signal = new AbortController().signal): BuildContext {
  return harnessContext({
    buildName: 'qemu',
    buildType: 'qemu',
    templateDir: root,
    kilnHome: home,
    catalog,
    signal,
    // Packer's `{{ .Key }}` with the data given, enough for boot_command.
    missing: (k) => `<no ${k}>`,
  });
}

/** The builder's steps, each logging its run and cleanup; `fail` makes one step throw. */
function logged(
  log: string[],
  fail?: { step: string; when: 'before' | 'after' },
): Step<QemuState>[] {
  return loggedSteps(QEMU_STEPS, log, fail);
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

/** Images left registered by the failure loops up to step `i`: a failure after register-image's work keeps its image. */
function registeredUpTo(i: number, when: 'before' | 'after'): number {
  const last = STEP_NAMES.indexOf('register-image');
  return STEP_NAMES.slice(0, i + 1).filter((_, j) => j > last || (j === last && when === 'after'))
    .length;
}

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
      'cleanup start-http-server',
      'cleanup create-cd',
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
        // Once registered, the image is the catalog's: it stays, with its disk (also when a
        // step after registration fails), from this iteration and the earlier ones.
        expect(left.images, step).toHaveLength(registeredUpTo(i, when));
      }
    });
  }

  describe('installing from an ISO', () => {
    /** An installer build: a local ISO, boot_command, http_content, a CD, communicator none. */
    function installerConfig(extra: Record<string, unknown> = {}): QemuConfig {
      const iso = join(root, 'install.iso');
      writeFileSync(iso, 'installer iso');
      return qemuConfigSchema.parse({
        iso_url: iso,
        iso_checksum: `sha256:${createHash('sha256').update('installer iso').digest('hex')}`,
        communicator: 'none',
        disk_size: '2G',
        boot_wait: '0s',
        boot_key_interval: '1ms',
        boot_command: [
          '<esc>install url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/a.cfg ',
          'name={{ .Name }}<enter>',
        ],
        http_content: { '/a.cfg': 'answers' },
        cd_content: { 'meta-data': 'instance-id: x' },
        cd_label: 'cidata',
        vm_name: 'inst',
        ...extra,
      });
    }

    /** What the QMP key events typed: characters, and `<name>` for the keys that type none. */
    function typed(vm: FakeVm): string {
      const byQcode = new Map<string, string>();
      for (let c = 126; c >= 32; c--) {
        const k = charKey(String.fromCharCode(c));
        if (k) byQcode.set(`${k.qcode}${k.shift ? '+shift' : ''}`, String.fromCharCode(c));
      }
      let shift = false;
      let out = '';
      for (const { command, args } of vm.commands) {
        if (command !== 'input-send-event') continue;
        const [e] = (args as { events: Array<{ data: { down: boolean; key: { data: string } } }> })
          .events;
        const { down, key } = e!.data;
        if (key.data === 'shift') shift = down;
        else if (down) out += byQcode.get(`${key.data}${shift ? '+shift' : ''}`) ?? `<${key.data}>`;
      }
      return out;
    }

    /** Whether something still answers on the build's HTTP port. */
    async function serving(port: unknown): Promise<boolean> {
      if (typeof port !== 'string' || !/^\d+$/.test(port)) return false;
      return fetch(`http://127.0.0.1:${port}/a.cfg`).then(
        () => true,
        () => false,
      );
    }

    it('fetch the ISO, make an empty disk and a CD, serve HTTP, boot the CD once and type the rendered boot command', async () => {
      const driver = new FakeDriver();
      const log: string[] = [];
      const ctx = context();
      let answer = '';
      const c = installerConfig();
      const artifact = await runQemuBuild(
        c,
        ctx,
        {
          run: async () => {
            answer = await (
              await fetch(`http://127.0.0.1:${ctx.generated.PackerHTTPPort}/a.cfg`)
            ).text();
          },
        },
        { driver, steps: logged(log) },
      );
      expect(log).toEqual([
        ...STEP_NAMES.map((n) => `run ${n}`),
        ...[...withCleanup].reverse().map((n) => `cleanup ${n}`),
      ]);
      expect(driver.calls).toEqual([
        'chooseAccelerator',
        `createImage qcow2 ${2 * 1024 ** 3}`,
        'makeCdIso cidata',
        'startVm',
      ]);
      const start = driver.starts[0]!;
      expect(start.cdroms?.[0]).toBe(c.iso_url);
      expect(start.cdroms?.[1]).toMatch(/kiln-cd-.*cd\.iso$/);
      expect(start.boot).toBe('once=d');
      expect(start.kernel).toBeUndefined();
      const port = ctx.generated.PackerHTTPPort;
      expect(typed(driver.vms[0]!)).toBe(
        `<esc>install url=http://10.0.2.2:${port}/a.cfg name=inst<ret>`,
      );
      expect(ctx.generated.PackerHTTPIP).toBe('10.0.2.2');
      expect(answer).toBe('answers');
      expect(await serving(port)).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
      const left = leftovers();
      expect(left.runs).toEqual([]);
      expect(left.work).toEqual([]);
      expect(left.images).toEqual([artifact?.id]);
      const image = catalog.images.resolve(left.images[0]!);
      expect(image.parentId).toBeFalsy();
      expect(image.name).toBe('inst');
      expect(image.metadata).toMatchObject({ sourceIso: c.iso_url, isoChecksum: c.iso_checksum });
      expect((image.metadata as Record<string, unknown>).backingFile).toBeUndefined();
    });

    it('refuse an ISO whose checksum does not match, before any disk or VM', async () => {
      const driver = new FakeDriver();
      const c = installerConfig({ iso_checksum: `sha256:${'0'.repeat(64)}` });
      await expect(
        runQemuBuild(c, context(), { run: async () => undefined }, { driver }),
      ).rejects.toThrow(/checksum/);
      expect(driver.calls).toEqual([]);
      expect(leftovers()).toEqual({ runs: [], work: [], images: [] });
    });

    for (const when of ['before', 'after'] as const) {
      it(`clean up every started step in reverse when a step fails ${when} its work: no VM, HTTP server or CD left`, async () => {
        for (const [i, step] of STEP_NAMES.entries()) {
          const driver = new FakeDriver();
          const log: string[] = [];
          const ctx = context();
          const build = runQemuBuild(
            installerConfig(),
            ctx,
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
          expect(await serving(ctx.generated.PackerHTTPPort), `${step}: HTTP server left`).toBe(
            false,
          );
          expect(readdirSync(tmp), `${step}: temp files left`).toEqual([]);
          const left = leftovers();
          expect(left.runs, `${step}: journal left open`).toEqual([]);
          expect(left.work, `${step}: work dir left`).toEqual([]);
          expect(left.images, step).toHaveLength(registeredUpTo(i, when));
        }
      });
    }

    it('stop at once when interrupted during boot_wait, leaving nothing', async () => {
      const driver = new FakeDriver();
      const log: string[] = [];
      const abort = new AbortController();
      const ctx = context(abort.signal);
      const build = runQemuBuild(
        installerConfig({ boot_wait: '1h' }),
        ctx,
        { run: async () => undefined },
        { driver, steps: logged(log) },
      );
      while (!log.includes('run type-boot-command')) await new Promise((r) => setTimeout(r, 5));
      const port = ctx.generated.PackerHTTPPort;
      expect(await serving(port)).toBe(true);
      abort.abort();
      await expect(build).rejects.toBeInstanceOf(CancelledError);
      expect(driver.vms[0]!.exit).toBeDefined();
      expect(typed(driver.vms[0]!)).toBe('');
      expect(await serving(port)).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
      expect(leftovers()).toEqual({ runs: [], work: [], images: [] });
    });
  });
});
