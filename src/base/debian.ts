/**
 * `kiln base debian-12`: a Debian base image made with mmdebstrap from the machine's own
 * apt sources, customised as plain files (no chroot, no mount), packed into ext4 with
 * `mkfs.ext4 -d`, converted to qcow2, with the kernel and a lean initrd beside it for
 * direct kernel boot, and registered in the catalog. Instant when it already exists.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestForRegistration } from '../catalog/digest.js';
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import { CancelledError, SystemError, throwIfAborted, UserError } from '../lib/errors.js';
import { haveCommand, run } from '../lib/exec.js';
import { BASE_CMDLINE, customiseTree } from './debian-tree.js';
import { buildLeanInitrd } from './initrd.js';

/** The bases `kiln base` knows, by name. */
export const BASES: Record<string, { suite: string; description: string }> = {
  'debian-12': {
    suite: 'bookworm',
    description: 'Debian 12 (bookworm), minbase + systemd, OpenSSH, Python 3, Node.js',
  },
};

/** What goes into a base image on top of minbase. */
export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'udev',
  'linux-image-cloud-amd64',
  'openssh-server',
  'python3',
  'sudo',
  'nodejs',
  'ca-certificates',
  'iproute2',
  // The lean initrd is made from klibc's tools (initramfs-tools also pulls it in).
  'klibc-utils',
];

/** Documentation and translations are left out: a smaller image is faster to write and to copy. */
const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
];

/** Virtual size of the base disk; builds may grow it with `disk_size`. */
export const BASE_DISK_SIZE = '4G';

export interface MakeBaseOptions {
  catalog: CatalogApi;
  /** `debian-12`. */
  name: string;
  force?: boolean;
  ui: BuildUi;
  signal: AbortSignal;
  /** Journal id for crash-safe cleanup (generated when absent). */
  runId?: string;
}

export interface MakeBaseResult {
  image: ImageRecord;
  /** False when the image already existed. */
  created: boolean;
  /** Seconds per phase, for the report. */
  timings: Record<string, number>;
}

/** Returns the base image `name`, making it first when it is missing (or when `force`). */
export async function makeBase(opts: MakeBaseOptions): Promise<MakeBaseResult> {
  const { catalog, ui, signal } = opts;
  const recipe = BASES[opts.name];
  if (!recipe) {
    throw new UserError('UnknownBase', `unknown base "${opts.name}"`, {
      hint: `known bases: ${Object.keys(BASES).join(', ')}; or bring your own with kiln images import`,
    });
  }
  if (!opts.force) {
    const existing = findUsable(catalog, opts.name);
    if (existing) {
      ui.say(`Base image ${opts.name} already exists: ${existing.id} (use --force to rebuild)`);
      return { image: existing, created: false, timings: {} };
    }
  }
  await checkTools();

  const timings: Record<string, number> = {};
  const t0 = Date.now();
  let mark = t0;
  const lap = (name: string) => {
    const now = Date.now();
    timings[name] = (now - mark) / 1000;
    mark = now;
  };

  const runId = opts.runId ?? `base-${randomBytes(8).toString('hex')}`;
  const id = catalog.images.newId('img');
  const work = join(catalog.imagesDir, `.tmp-${id}`);
  const final = join(catalog.imagesDir, id);
  catalog.journal.begin(runId, process.pid, `kiln base ${opts.name}`);
  let registered = false;
  try {
    catalog.journal.record({ runId, kind: 'dir', ref: work });
    catalog.journal.record({ runId, kind: 'dir', ref: final });
    await mkdir(work, { recursive: true, mode: 0o700 });
    const rootfs = join(work, 'rootfs');

    ui.say(`Creating the ${recipe.suite} tree with mmdebstrap (from this machine's apt sources)…`);
    await mmdebstrap(recipe.suite, rootfs, ui, signal);
    lap('mmdebstrap');

    ui.say('Customising the tree (networkd, resolver, first-boot SSH keys, masked units)…');
    await customiseTree(rootfs, { hostname: 'debian' });
    // mmdebstrap keeps the apt options it was given (this machine's, maybe a proxy) in the tree.
    await rm(join(rootfs, 'etc/apt/apt.conf.d/99mmdebstrap'), { force: true });
    lap('customise');

    const kver = await kernelVersion(rootfs);
    const kernel = join(work, 'vmlinuz');
    const initrd = join(work, 'initrd.img');
    await copyFile(join(rootfs, 'boot', `vmlinuz-${kver}`), kernel);
    await writeFile(initrd, await buildLeanInitrd(rootfs, kver));
    ui.message(`kernel ${kver}; lean initrd ${((await stat(initrd)).size / 1024).toFixed(0)} KiB`);
    lap('kernel');

    ui.say(
      `Writing the ext4 file system (${BASE_DISK_SIZE}, no mount) and converting it to qcow2…`,
    );
    const raw = join(work, 'disk.raw');
    // Inode tables and journal initialised now: otherwise every boot's ext4lazyinit writes them into the overlay.
    await run(
      'mkfs.ext4',
      [
        '-q',
        '-F',
        '-L',
        'root',
        '-E',
        'lazy_itable_init=0,lazy_journal_init=0',
        '-d',
        rootfs,
        raw,
        BASE_DISK_SIZE,
      ],
      {
        signal,
      },
    );
    lap('mkfs');
    await rm(rootfs, { recursive: true, force: true });
    const disk = join(work, 'disk.qcow2');
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, disk], { signal });
    await rm(raw, { force: true });
    lap('convert');
    throwIfAborted(signal);

    await rename(work, final);
    const files = [join(final, 'disk.qcow2'), join(final, 'vmlinuz'), join(final, 'initrd.img')];
    const sha256 = await digestForRegistration(catalog.home, files[0]!, signal);
    const image = catalog.images.register({
      id,
      sha256,
      name: opts.name,
      builder: 'base',
      files,
      format: 'qcow2',
      tags: [opts.name],
      metadata: {
        kernel: files[1],
        initrd: files[2],
        cmdline: BASE_CMDLINE,
        kernelVersion: kver,
        suite: recipe.suite,
        packages: BASE_PACKAGES,
        // Builds install their key through this image's first-boot unit (any user).
        kilnCredentials: true,
      },
    });
    registered = true;
    timings.total = (Date.now() - t0) / 1000;
    ui.say(
      `Base image ${opts.name} registered: ${image.id} (${(image.sizeBytes / 1024 / 1024).toFixed(0)} MiB)`,
    );
    return { image, created: true, timings };
  } catch (err) {
    if (signal.aborted && !(err instanceof CancelledError))
      throw new CancelledError('kiln base cancelled');
    throw err;
  } finally {
    if (!registered) {
      await rm(work, { recursive: true, force: true }).catch(() => undefined);
      await rm(final, { recursive: true, force: true }).catch(() => undefined);
    }
    catalog.journal.end(runId);
  }
}

/** The image called (or tagged) `name`, when its files are still there. */
export function findUsable(catalog: CatalogApi, name: string): ImageRecord | undefined {
  let image: ImageRecord;
  try {
    image = catalog.images.resolve(name);
  } catch {
    return undefined;
  }
  if (image.status !== 'ready') return undefined;
  return image;
}

async function checkTools(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new UserError(
      'BaseNeedsRoot',
      'kiln base needs root: mmdebstrap must create files owned by root',
      {
        hint: 'run it as root (sudo -E kiln base debian-12), or bring an image with kiln images import',
      },
    );
  }
  const missing: string[] = [];
  for (const [tool, pkg] of [
    ['mmdebstrap', 'mmdebstrap'],
    ['mkfs.ext4', 'e2fsprogs'],
    ['qemu-img', 'qemu-utils'],
  ] as const) {
    if (!(await haveCommand(tool))) missing.push(pkg);
  }
  if (missing.length > 0) {
    throw new UserError('ToolMissing', `kiln base needs ${missing.join(', ')}`, {
      hint: `apt install ${missing.join(' ')}`,
    });
  }
}

/** This machine's apt source files that name `suite`, and its Acquire options (validity checks, proxies). */
export async function hostAptConfig(
  suite: string,
): Promise<{ sources: string[]; aptOptions: string[] }> {
  const sources: string[] = [];
  const candidates = ['/etc/apt/sources.list'];
  for (const f of await readdir('/etc/apt/sources.list.d').catch(() => [] as string[])) {
    if (f.endsWith('.list') || f.endsWith('.sources'))
      candidates.push(join('/etc/apt/sources.list.d', f));
  }
  for (const f of candidates) {
    const text = await readFile(f, 'utf8').catch(() => '');
    const active = text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
      .join('\n');
    if (new RegExp(`\\b${suite}\\b`).test(active)) sources.push(f);
  }
  const aptOptions: string[] = [];
  const dump = await run('apt-config', ['dump', 'Acquire'], { reject: false }).catch(
    () => undefined,
  );
  for (const line of dump?.stdout.split('\n') ?? []) {
    const m =
      /^(Acquire::(?:Check-Valid-Until|Check-Date|https?::Proxy(?:::[^ ]+)?)) "(.*)";$/.exec(
        line.trim(),
      );
    if (m) aptOptions.push(`${m[1]} "${m[2]}"`);
  }
  return { sources, aptOptions };
}

async function mmdebstrap(
  suite: string,
  target: string,
  ui: BuildUi,
  signal: AbortSignal,
): Promise<void> {
  const { sources, aptOptions } = await hostAptConfig(suite);
  if (sources.length === 0)
    ui.message(`no apt source on this machine names ${suite}: using mmdebstrap's default mirror`);
  else ui.message(`apt sources: ${sources.join(', ')}`);
  const args = ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`];
  for (const o of aptOptions) args.push(`--aptopt=${o}`);
  for (const o of DPKG_EXCLUDES) args.push(`--dpkgopt=${o}`);
  args.push(suite, target, ...sources);
  let step = 0;
  const tail: string[] = [];
  await run('mmdebstrap', args, {
    signal,
    // Debian's initrd is not used (kiln makes a lean one): do not spend time generating it.
    env: { INITRD: 'No' },
    installHint: 'apt install mmdebstrap',
    onStderr: (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (line.startsWith('I: ')) {
        step++;
        ui.message(line.slice(3));
        ui.progress('mmdebstrap', step);
      }
    },
  }).catch((err: unknown) => {
    if (err instanceof SystemError) {
      throw new SystemError('MmdebstrapFailed', `mmdebstrap could not create the ${suite} tree`, {
        details: tail.slice(-10),
        hint: 'check that this machine reaches its apt sources (apt-get update)',
        cause: err,
      });
    }
    throw err;
  });
  ui.progress('mmdebstrap', step, step, true);
}

async function kernelVersion(rootfs: string): Promise<string> {
  const versions = (await readdir(join(rootfs, 'lib/modules')).catch(() => [] as string[])).sort();
  const v = versions.at(-1);
  if (!v) throw new SystemError('NoKernel', 'the tree has no kernel in /lib/modules');
  return v;
}
