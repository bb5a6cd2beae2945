/**
 * `kiln base debian-12`: a Debian base image made with mmdebstrap from the machine's own
 * apt sources, customised as plain files (no chroot, no mount), packed into ext4 with
 * `mkfs.ext4 -d`, converted to qcow2, with the kernel and a lean initrd beside it for
 * direct kernel boot, and registered in the catalog. Instant when it already exists.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import { openJournal } from '../core/journal-step.js';
import { type RunStepsOptions, runSteps, type Step } from '../core/steps.js';
import { CancelledError, UserError } from '../lib/errors.js';
import { haveCommand } from '../lib/exec.js';
import { BASE_CMDLINE } from './debian-tree.js';
import { BASE_PACKAGES, BASES } from './recipe.js';
import type { BaseState } from './state.js';
import { convertDisk } from './steps/convert-disk.js';
import { createTree } from './steps/create-tree.js';
import { createWorkDir } from './steps/create-work-dir.js';
import { customiseTree } from './steps/customise-tree.js';
import { extractBootFiles } from './steps/extract-boot-files.js';
import { makeFileSystem } from './steps/make-file-system.js';
import { registerImage } from './steps/register-image.js';

export { BASE_DISK_SIZE, BASE_PACKAGES, BASES } from './recipe.js';
export { hostAptConfig } from './steps/create-tree.js';

/** A step whose run time goes into `timings` under `phase`. */
function timed(
  step: Step<BaseState>,
  phase: string,
  timings: Record<string, number>,
): Step<BaseState> {
  return {
    ...step,
    async run(state, ctx) {
      const t0 = Date.now();
      await step.run(state, ctx);
      timings[phase] = (Date.now() - t0) / 1000;
    },
  };
}

/** The steps of `kiln base`, in order; each removes what it made in its cleanup. */
export function baseSteps(timings: Record<string, number>): Step<BaseState>[] {
  return [
    openJournal,
    createWorkDir,
    timed(createTree, 'mmdebstrap', timings),
    timed(customiseTree, 'customise', timings),
    timed(extractBootFiles, 'kernel', timings),
    timed(makeFileSystem, 'mkfs', timings),
    timed(convertDisk, 'convert', timings),
    registerImage,
  ];
}

export interface MakeBaseOptions extends RunStepsOptions {
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
  const imageId = catalog.images.newId('img');
  const work = join(catalog.imagesDir, `.tmp-${imageId}`);
  const state: BaseState = {
    catalog,
    runId: opts.runId ?? `base-${randomBytes(8).toString('hex')}`,
    runDescription: `kiln base ${opts.name}`,
    imageId,
    work,
    final: join(catalog.imagesDir, imageId),
    rootfs: join(work, 'rootfs'),
    suite: recipe.suite,
    files: ['disk.qcow2', 'vmlinuz', 'initrd.img'],
    record: (files) => ({
      name: opts.name,
      builder: 'base',
      format: 'qcow2',
      tags: [opts.name],
      metadata: {
        kernel: files[1],
        initrd: files[2],
        cmdline: BASE_CMDLINE,
        kernelVersion: state.kernelVersion,
        suite: recipe.suite,
        packages: BASE_PACKAGES,
        // Builds install their key through this image's first-boot unit (any user).
        kilnCredentials: true,
      },
    }),
  };
  await runSteps(baseSteps(timings), state, { signal, ui }, opts).catch((err: unknown) => {
    throw err instanceof CancelledError && signal.aborted
      ? new CancelledError('kiln base cancelled')
      : err;
  });
  const image = state.image!;
  timings.total = (Date.now() - t0) / 1000;
  ui.say(
    `Base image ${opts.name} registered: ${image.id} (${(image.sizeBytes / 1024 / 1024).toFixed(0)} MiB)`,
  );
  return { image, created: true, timings };
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
