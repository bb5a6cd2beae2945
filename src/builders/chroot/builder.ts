/**
 * The `kiln-chroot` builder, as Packer's amazon-chroot is for AWS but for kiln's local
 * images: it mounts a fresh qcow2 overlay of a catalog image on this host — exported as a
 * raw disk by qemu-storage-daemon, loop-mounted, with /proc, /sys, /dev and a resolver
 * bound in — runs the provisioners in it through a chroot communicator (no VM), cleans
 * it as the qemu builder cleans its guests, unmounts everything and registers the overlay
 * as a new image whose parent is the source.
 *
 * It runs the image's own programs on this host as root, so it builds only from images
 * kiln made (or that the user trusts: `trust_source`). What needs a running system
 * (`systemctl start`, `daemon-reload`, a reboot) cannot work in a chroot. On a host
 * without systemd (as here) systemctl says "System has not been booted with systemd"
 * and exits 1, so the provisioner fails; on a systemd host it says "Running in chroot,
 * ignoring …" and exits 0, and the chroot communicator fails the command instead of
 * letting a start pass that did nothing (Ansible's systemd module over its chroot
 * connection cannot be checked that way). `systemctl enable` works offline, and it is
 * what the sample's release does.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { openJournal } from '../../core/journal-step.js';
import type {
  Artifact,
  BuildContext,
  BuilderPlugin,
  PrepareContext,
  PrepareResult,
  ProvisionHook,
} from '../../core/plugin.js';
import { runSteps, type Step } from '../../core/steps.js';
import { withInterruptPoints } from '../../core/test-hooks.js';
import type { UserError } from '../../lib/errors.js';
import { haveCommand } from '../../lib/exec.js';
import { QEMU_IMG, QEMU_INSTALL_HINT } from '../../qemu/img.js';
import { QEMU_STORAGE_DAEMON } from '../../qemu/storage-daemon.js';
import { CHROOT_BUILDER_ID, chrootArtifact } from './artifact.js';
import { type ChrootConfig, chrootConfigSchema } from './config.js';
import { type ChrootDriver, chrootDriver } from './driver.js';
import type { ChrootState } from './state.js';
import { attachLoop } from './steps/attach-loop.js';
import { bindFiles } from './steps/bind-files.js';
import { cleanGuest } from './steps/clean-guest.js';
import { createOverlay } from './steps/create-overlay.js';
import { createRunDir } from './steps/create-run-dir.js';
import { earlyCleanup } from './steps/early-cleanup.js';
import { exportDisk } from './steps/export-disk.js';
import { postMountCommands, preMountCommands } from './steps/mount-commands.js';
import { mountExtra } from './steps/mount-extra.js';
import { mountRoot } from './steps/mount-root.js';
import { provision } from './steps/provision.js';
import { registerImage } from './steps/register-image.js';
import { resolveSource } from './steps/resolve-source.js';
import { resolveTrustedSource } from './trust.js';

/** The steps of a chroot build, in order (each removes what it made in its cleanup). */
export const CHROOT_STEPS: readonly Step<ChrootState>[] = [
  openJournal,
  resolveSource,
  createOverlay,
  createRunDir,
  exportDisk,
  attachLoop,
  preMountCommands,
  mountRoot,
  mountExtra,
  bindFiles,
  postMountCommands,
  provision,
  cleanGuest,
  earlyCleanup([exportDisk, attachLoop, mountRoot, mountExtra, bindFiles, provision]),
  registerImage,
];

/** Checks done before anything is made: root, tools, /dev/fuse, a trusted source image. All problems at once. */
export async function prepareChroot(
  config: ChrootConfig,
  ctx: PrepareContext,
): Promise<PrepareResult> {
  const errors: PrepareResult['errors'] = [];
  if (process.getuid?.() !== 0) {
    errors.push({
      message:
        'the kiln-chroot builder mounts images and runs chroot: run kiln as root, or build with the qemu builder (a VM)',
    });
  }
  const missing: string[] = [];
  for (const t of [QEMU_IMG, QEMU_STORAGE_DAEMON, 'losetup', 'mount', 'umount', 'chroot'])
    if (!(await haveCommand(t))) missing.push(t);
  if (missing.length > 0) {
    errors.push({
      message: `${missing.join(', ')} not found on PATH; install them: ${QEMU_INSTALL_HINT} mount util-linux coreutils`,
    });
  }
  if (!existsSync('/dev/fuse'))
    errors.push({
      message: '/dev/fuse is missing: the disk is exported through FUSE (modprobe fuse)',
    });
  try {
    const image = resolveTrustedSource(ctx.catalog, config.source_image, config.trust_source);
    if (!existsSync(image.files[0]!)) {
      errors.push({
        key: 'source_image',
        message: `the disk of image ${image.id} (${image.files[0]}) is missing`,
      });
    }
  } catch (err) {
    const e = err as UserError;
    errors.push({ key: 'source_image', message: e.hint ? `${e.message}; ${e.hint}` : e.message });
  }
  return { errors, warnings: [] };
}

/** Runs a chroot build: `steps` (CHROOT_STEPS) through core's runner, with `driver` (the host unless a test gives a fake). */
export async function runChrootBuild(
  config: ChrootConfig,
  ctx: BuildContext,
  hook: ProvisionHook,
  {
    driver = chrootDriver,
    steps = CHROOT_STEPS,
  }: { driver?: ChrootDriver; steps?: readonly Step<ChrootState>[] } = {},
): Promise<Artifact | undefined> {
  const runId = `${ctx.runId}-${ctx.buildName}`.replace(/[^A-Za-z0-9._-]/g, '_');
  const state: ChrootState = {
    config,
    driver,
    ctx,
    hook,
    catalog: ctx.catalog,
    runId,
    runDescription: `kiln build ${ctx.buildName} (kiln-chroot)`,
    mounts: [],
    boundFiles: [],
  };
  await runSteps(
    withInterruptPoints(steps),
    state,
    { signal: ctx.signal, ui: ctx.ui },
    {
      onError: ctx.onError,
      ...(ctx.cleanupSignal ? { cleanupSignal: ctx.cleanupSignal } : {}),
      ...(ctx.onCleanupPending ? { onCleanupPending: ctx.onCleanupPending } : {}),
    },
  );
  return state.artifact;
}

export const chrootBuilder: BuilderPlugin<ChrootConfig> = {
  type: 'kiln-chroot',
  builderId: CHROOT_BUILDER_ID,
  schema: chrootConfigSchema,
  lateKeys: ['command_wrapper', 'pre_mount_commands', 'post_mount_commands'],
  prepare: prepareChroot,

  run: (config, ctx, hook) => runChrootBuild(config, ctx, hook),

  sourceImage(config, catalog) {
    return catalog.images.resolve(config.source_image);
  },

  inputs() {
    return { files: [], dirs: [] };
  },

  artifactFor(image, _config, ctx) {
    if (!image.files[0]) return undefined;
    ctx.generated.ID = image.id;
    ctx.generated.ImageId = image.id;
    return chrootArtifact({
      imageId: image.id,
      ...(image.parentId ? { parentId: image.parentId } : {}),
      directory: dirname(image.files[0]),
      files: [...image.files],
      catalog: ctx.catalog,
    });
  },
};
