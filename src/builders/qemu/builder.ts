/**
 * The `qemu` builder: boots a source image (a catalog image or a disk file) in a fresh
 * qcow2 overlay under QEMU — or an installer ISO onto an empty disk, typing `boot_command`
 * and serving `http_directory` — provisions it over SSH with a per-build key, removes the
 * build's traces, powers it off, and registers the disk as a new catalog image whose
 * parent is the source (a lineage root for an ISO). The source is never written.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { warmBudget } from '../../catalog/warm-states.js';
import type {
  Artifact,
  BuildContext,
  BuilderPlugin,
  PrepareContext,
  PrepareResult,
  ProvisionHook,
} from '../../core/plugin.js';
import { runSteps, type Step } from '../../core/steps.js';
import { CancelledError, UserError } from '../../lib/errors.js';
import { haveCommand } from '../../lib/exec.js';
import { checkBootCommand, formatProblem } from '../../qemu/boot-command.js';
import { cdContentPath, XORRISO, XORRISO_INSTALL_HINT } from '../../qemu/cd.js';
import { QEMU_IMG, QEMU_INSTALL_HINT } from '../../qemu/img.js';
import { parseIsoChecksum } from '../../qemu/iso-source.js';
import { QEMU_BUILDER_ID, qemuArtifact } from './artifact.js';
import { isInstaller, isoUrls, type QemuConfig, qemuConfigSchema } from './config.js';
import { type QemuDriver, qemuDriver } from './driver.js';
import { localPath, pickDiskFile, resolveSourceImage } from './source.js';
import type { QemuState } from './state.js';
import { cleanGuest } from './steps/clean-guest.js';
import { createCd } from './steps/create-cd.js';
import { createDisk } from './steps/create-disk.js';
import { createSshKey } from './steps/create-ssh-key.js';
import { fetchIsoStep, isoChecksumSpec } from './steps/fetch-iso.js';
import { finishDisk } from './steps/finish-disk.js';
import { openJournal } from './steps/open-journal.js';
import { provision } from './steps/provision.js';
import { registerImage } from './steps/register-image.js';
import { resolveSource } from './steps/resolve-source.js';
import { runVm } from './steps/run-vm.js';
import { saveOwnWarm, saveSourceWarm } from './steps/save-warm.js';
import { shutdown } from './steps/shutdown.js';
import { startHttp } from './steps/start-http-server.js';
import { trimWarm } from './steps/trim-warm.js';
import { typeBootCommandStep } from './steps/type-boot-command.js';
import { waitSsh } from './steps/wait-ssh.js';
import { qemuSavedState } from './warm-transfer.js';

/** The steps of a qemu build, in order (each removes what it made in its cleanup). */
export const QEMU_STEPS: readonly Step<QemuState>[] = [
  openJournal,
  resolveSource,
  fetchIsoStep,
  createSshKey,
  createDisk,
  createCd,
  startHttp,
  runVm,
  typeBootCommandStep,
  waitSsh,
  saveSourceWarm,
  provision,
  saveOwnWarm,
  cleanGuest,
  shutdown,
  finishDisk,
  registerImage,
  trimWarm,
];

const IGNORED_KEYS = [
  'vnc_bind_address',
  'vnc_port_min',
  'vnc_port_max',
  'vnc_use_password',
  'disable_vnc',
  'use_default_display',
  'display',
  'ssh_host_port_min',
  'ssh_host_port_max',
  'disk_cache',
  'disk_discard',
  'disk_compression',
  'skip_compaction',
  'qemu_img_args',
] as const;

/** Checks done before any VM starts: tools, source image, files, key. All problems at once. */
export async function prepareQemu(config: QemuConfig, ctx: PrepareContext): Promise<PrepareResult> {
  const errors: PrepareResult['errors'] = [];
  const warnings: string[] = [];
  const cdWanted =
    (config.cd_files ?? []).length > 0 || Object.keys(config.cd_content ?? {}).length > 0;
  const tools = [config.qemu_binary, QEMU_IMG, ...(cdWanted ? [XORRISO] : [])];
  const missing: string[] = [];
  for (const t of tools) if (!(await haveCommand(t))) missing.push(t);
  if (missing.length > 0) {
    errors.push({
      message: `${missing.join(' and ')} not found on PATH; install them: ${[QEMU_INSTALL_HINT, ...(missing.includes(XORRISO) ? [XORRISO_INSTALL_HINT] : [])].join(', ')}`,
    });
  }
  if (config.source_image) {
    try {
      const image = resolveSourceImage(ctx.catalog, config.source_image);
      if (image.files[0] && !existsSync(image.files[0])) {
        errors.push({
          key: 'source_image',
          message: `the disk of image ${image.id} (${image.files[0]}) is missing`,
        });
      }
    } catch (err) {
      const e = err as UserError;
      errors.push({ key: 'source_image', message: e.hint ? `${e.message}; ${e.hint}` : e.message });
    }
  } else if (config.disk_image) {
    try {
      pickDiskFile(config);
    } catch (err) {
      const e = err as UserError;
      errors.push({ key: 'iso_url', message: e.hint ? `${e.message}; ${e.hint}` : e.message });
    }
  } else if (isInstaller(config)) {
    errors.push(...installerProblems(config));
  }
  errors.push(...bootProblems(config));
  // Read before any VM starts: a budget kiln cannot read must not surface after the build.
  try {
    warmBudget();
  } catch (err) {
    const e = err as UserError;
    errors.push({ message: `${e.message}; ${e.hint}` });
  }
  if (config.ssh_private_key_file && !existsSync(resolve(config.ssh_private_key_file))) {
    errors.push({
      key: 'ssh_private_key_file',
      message: `${config.ssh_private_key_file} does not exist`,
    });
  }
  for (const k of IGNORED_KEYS) {
    if (config[k] !== undefined && k.startsWith('vnc')) {
      warnings.push(`${k} is ignored: kiln starts no VNC server`);
    }
  }
  return { errors, warnings };
}

/** Problems of an installer build's ISO: no local file among only local URLs, a checksum in no known form. */
function installerProblems(config: QemuConfig): PrepareResult['errors'] {
  const errors: PrepareResult['errors'] = [];
  const urls = isoUrls(config);
  const local = urls.map(localPath);
  if (local.every((p) => p !== undefined) && !local.some((p) => existsSync(p!))) {
    errors.push({
      key: 'iso_url',
      message: `ISO not found: ${local.join(', ')} (relative paths are resolved against the current directory)`,
    });
  }
  try {
    parseIsoChecksum(isoChecksumSpec(config.iso_checksum ?? 'none', config.iso_checksum_type));
  } catch (err) {
    const e = err as UserError;
    const message = e.message.replace(/^iso_checksum: /, '');
    errors.push({ key: 'iso_checksum', message: e.hint ? `${message}; ${e.hint}` : message });
  }
  return errors;
}

/** Problems of boot_command, http_directory and the CD's files, all at once. */
function bootProblems(config: QemuConfig): PrepareResult['errors'] {
  const errors: PrepareResult['errors'] = [];
  // Checked as written: `{{ .HTTPIP }}` and the like are typeable text, rendered at typing.
  for (const p of checkBootCommand(config.boot_command ?? [])) {
    errors.push({ key: 'boot_command', message: formatProblem(p) });
  }
  if (config.http_directory !== undefined) {
    const st = statSync(resolve(config.http_directory), { throwIfNoEntry: false });
    if (!st?.isDirectory()) {
      errors.push({
        key: 'http_directory',
        message: `${config.http_directory} is not a directory (relative paths are resolved against the current directory)`,
      });
    }
  }
  for (const [i, f] of (config.cd_files ?? []).entries()) {
    if (!existsSync(resolve(f)))
      errors.push({ key: 'cd_files', message: `cd_files[${i}]: ${f} does not exist` });
  }
  for (const key of Object.keys(config.cd_content ?? {})) {
    try {
      cdContentPath(key);
    } catch (err) {
      errors.push({ key: 'cd_content', message: (err as UserError).message });
    }
  }
  return errors;
}

/**
 * Runs a qemu build: `steps` (QEMU_STEPS) in order through core's runner, with `driver`
 * (real QEMU unless a test gives a fake). A build that fails because QEMU died reports
 * QEMU's death, which says why.
 */
export async function runQemuBuild(
  config: QemuConfig,
  ctx: BuildContext,
  hook: ProvisionHook,
  {
    driver = qemuDriver,
    steps = QEMU_STEPS,
  }: { driver?: QemuDriver; steps?: readonly Step<QemuState>[] } = {},
): Promise<Artifact | undefined> {
  if (config.output_directory && existsSync(resolve(config.output_directory)) && !ctx.force) {
    throw new UserError(
      'OutputExists',
      `output directory ${resolve(config.output_directory)} already exists`,
      {
        where: 'output_directory',
        hint: 'remove it, or build with -force',
      },
    );
  }
  const state: QemuState = {
    config,
    driver,
    ctx,
    hook,
    catalog: ctx.catalog,
    vmDied: new AbortController(),
    frozen: [],
    // Counted before this build adds its own key: the template's sensitive values.
    hasSecrets: ctx.secrets.size > 0,
  };
  try {
    await runSteps(
      steps,
      state,
      { signal: ctx.signal, ui: ctx.ui },
      {
        onError: ctx.onError,
        cleanupSignal: ctx.cleanupSignal,
        onCleanupPending: ctx.onCleanupPending,
      },
    );
    return state.artifact;
  } catch (err) {
    if (
      state.vmError &&
      !ctx.signal.aborted &&
      !(err instanceof CancelledError && ctx.signal.aborted)
    )
      throw state.vmError;
    throw err;
  }
}

export const qemuBuilder: BuilderPlugin<QemuConfig> = {
  type: 'qemu',
  builderId: QEMU_BUILDER_ID,
  schema: qemuConfigSchema,
  // Rendered when typed, with the HTTP server's address and the VM's name (Packer's boot data).
  lateKeys: ['boot_command'],
  prepare: prepareQemu,

  run: (config, ctx, hook) => runQemuBuild(config, ctx, hook),

  sourceImageKey: 'source_image',

  savedState: qemuSavedState,

  sourceImage(config, catalog) {
    return config.source_image ? catalog.images.resolve(config.source_image) : undefined;
  },

  inputs(config) {
    // A local disk image or ISO is stood for by its size and mtime (PluginInputs.stamped);
    // a remote ISO by its iso_checksum, which is part of the config.
    const stamped = isoUrls(config)
      .map(localPath)
      .filter((p): p is string => p !== undefined);
    const checksumFile = /^(?:[a-z0-9]+:)?file:(.+)$/i.exec(config.iso_checksum ?? '')?.[1];
    const localChecksum = checksumFile === undefined ? undefined : localPath(checksumFile);
    return {
      files: [...(config.cd_files ?? []), ...(localChecksum ? [localChecksum] : [])],
      dirs: config.http_directory !== undefined ? [config.http_directory] : [],
      stamped,
    };
  },

  artifactFor(image, config, ctx) {
    // The output directory is a copy the build writes: a reuse would not write it.
    if (config.output_directory || !image.files[0]) return undefined;
    ctx.generated.ID = image.id;
    ctx.generated.ImageId = image.id;
    return qemuArtifact({
      imageId: image.id,
      ...(image.parentId ? { parentId: image.parentId } : {}),
      directory: dirname(image.files[0]),
      files: [...image.files],
      catalog: ctx.catalog,
    });
  },
};
