/**
 * The disk the VM writes to: a qcow2 overlay on the source (always with its backing
 * format, `-F`) — on the source's saved VM state when it has a usable one (warm.ts) — or a
 * full copy when `use_backing_file` is false; for an installer ISO, an empty disk of
 * `disk_size` in `format`. It lives in `<images>/.tmp-<id>/` until the build succeeds;
 * the source is never written.
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isInside } from '../../../catalog/fs-util.js';
import { markWarmInUse } from '../../../catalog/warm-states.js';
import type { Step } from '../../../core/steps.js';
import { haveCommand } from '../../../lib/exec.js';
import { DEFAULT_INSTALL_DISK_SIZE, parseDiskSize } from '../config.js';
import { journal, type QemuState, unjournal } from '../state.js';
import { findWarm, markBroken, type WarmSpec, warmEnabled } from '../warm.js';

/**
 * The VM settings a warm state must match, or undefined when this build neither uses nor
 * saves warm states (and why, for the log).
 */
async function warmSpecFor(
  state: QemuState,
  virtualSize: number,
  grow: number | undefined,
): Promise<WarmSpec | string> {
  const c = state.config;
  const src = state.source!;
  if (!warmEnabled()) return 'KILN_WARM=0';
  if (c.communicator !== 'ssh' || c.ssh_private_key_file) return 'not kiln’s own SSH key';
  if (c.boot_command && c.boot_command.length > 0) return 'boot_command types into a booting VM';
  if ((c.cd_files ?? []).length > 0 || Object.keys(c.cd_content ?? {}).length > 0)
    return 'a CD-ROM (cd_files/cd_content) is attached';
  if (!src.image || !c.use_backing_file || c.format !== 'qcow2')
    return 'not a qcow2 overlay on a catalog image';
  if (grow !== undefined) return 'the disk is grown';
  // A state lives beside the image's disk: never write beside a disk registered by reference.
  if (!isInside(state.catalog.imagesDir, dirname(src.file)))
    return 'the source image’s disk is outside the kiln home';
  if (!(await haveCommand('zstd'))) return 'zstd is not installed (apt install zstd)';
  return {
    qemuBinary: c.qemu_binary,
    accel: state.accel!.accel,
    machineType: c.machine_type,
    memoryMb: c.memory,
    cpus: c.cpus,
    diskInterface: c.disk_interface,
    netDevice: c.net_device,
    virtualSize,
    kernel: src.kernel,
    initrd: src.initrd,
    cmdline: src.cmdline,
    sshPort: c.ssh_port,
    qemuArgs: c.qemuargs ?? [],
  };
}

export const createDisk: Step<QemuState> = {
  name: 'create-disk',
  async run(state, { ui, signal }) {
    const c = state.config;
    const src = state.source!;
    state.imageId = state.catalog.images.newId('img');
    const work = join(state.catalog.imagesDir, `.tmp-${state.imageId}`);
    journal(state, 'dir', work);
    state.workDir = work;
    await mkdir(work, { recursive: true, mode: 0o700 });
    const disk = join(work, `disk.${c.format}`);
    state.disk = disk;
    state.accel = await state.driver.chooseAccelerator(c.accelerator, c.qemu_binary);
    if (src.iso) {
      const size = parseDiskSize(c.disk_size ?? DEFAULT_INSTALL_DISK_SIZE);
      ui.say(`Creating an empty ${c.format} disk of ${size} bytes for the installer...`);
      await state.driver.createImage(disk, c.format, size, signal);
      return;
    }
    const info = await state.driver.imageInfo(src.file, signal);
    const wanted = c.disk_size === undefined ? undefined : parseDiskSize(c.disk_size);
    const grow = wanted !== undefined && wanted > info.virtualSize ? wanted : undefined;
    if (wanted !== undefined && wanted < info.virtualSize) {
      ui.message(
        `disk_size is smaller than the source's ${info.virtualSize} bytes: keeping the source's size`,
      );
    }
    const spec = await warmSpecFor(state, info.virtualSize, grow);
    if (typeof spec !== 'string') {
      state.warmSpec = spec;
      const warm = await findWarm(dirname(src.file), spec, c.ssh_username!);
      if (typeof warm === 'string') ui.message(`booting the VM: ${warm}`);
      else {
        state.warmFrom = warm;
        // Kept from eviction (catalog/warm-states.ts) until this build is over.
        state.releaseWarm = markWarmInUse(warm.dir);
      }
    } else ui.message(`no saved VM states for this build: ${spec}`);
    if (state.warmFrom) {
      ui.say('Creating overlay disk on the source image (on its saved VM state)...');
      try {
        await state.driver.createOverlay(
          state.warmFrom.layerFile,
          'qcow2',
          disk,
          undefined,
          signal,
        );
      } catch (err) {
        if (signal.aborted) throw err;
        // E.g. the state of an ancestor it is layered on was deleted by hand.
        ui.message(`its saved VM state cannot be used (${(err as Error).message}): booting`);
        await markBroken(state.warmFrom, (err as Error).message);
        state.warmFrom = undefined;
      }
    }
    if (state.warmFrom) return;
    if (c.use_backing_file) {
      ui.say('Creating overlay disk on the source image...');
      await state.driver.createOverlay(src.file, src.format, disk, grow, signal);
    } else {
      ui.say('Copying the source image...');
      await state.driver.convertImage(src.file, disk, c.format, signal, src.format);
      if (grow) await state.driver.resizeImage(disk, c.format, grow, signal);
    }
  },
  async cleanup(state) {
    state.releaseWarm?.();
    state.releaseWarm = undefined;
    if (!state.workDir || state.registered) return;
    await rm(state.workDir, { recursive: true, force: true });
    unjournal(state, state.workDir);
    state.workDir = undefined;
  },
};
