/**
 * Starts QEMU on the build's disk: direct kernel boot when the image has a kernel; for an
 * installer, the ISO as a CD-ROM booted once (`-boot once=d`), so that the installer's
 * reboot starts the installed system from the disk in the same QEMU; the cd_files CD
 * after it; the build's public key as systemd credentials, SSH forwarded from a free
 * loopback port.
 * From here on, QEMU exiting on its own fails the build at once with its exit status and
 * the console's last lines, never after a timeout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import { sshCredentials } from '../../../qemu/credentials.js';
import { describeExit, type Vm } from '../../../qemu/launch.js';
import { journal, type QemuState, unjournal } from '../state.js';
import { markBroken, restoreVm } from '../warm.js';

/** How long a restore may take before kiln gives up on the saved state and boots. */
const RESTORE_TIMEOUT_MS = 60_000;

export const runVm: Step<QemuState> = {
  name: 'run-vm',
  async run(state, { ui, signal }) {
    const c = state.config;
    const src = state.source!;
    const accel =
      state.accel ?? (await state.driver.chooseAccelerator(c.accelerator, c.qemu_binary));
    ui.message(`accelerator: ${accel.accel} (${accel.reason})`);
    // A short path: a unix socket path must fit in 108 bytes.
    state.runDir = await mkdtemp(join(tmpdir(), 'kiln-vm-'));
    journal(state, 'dir', state.runDir);
    const name = c.vm_name ?? state.ctx.buildName;
    const qemuArgs = [...(c.qemuargs ?? [])];
    if (c.machine_type !== 'pc')
      qemuArgs.unshift(['-machine', `${c.machine_type},accel=${accel.accel}`]);
    const start = (warm: boolean) => {
      state.vmCredentials = warm
        ? state.warmFrom!.meta.credentials
        : c.communicator === 'ssh' && state.publicKey
          ? sshCredentials(c.ssh_username!, state.publicKey)
          : {};
      return state.driver.startVm({
        name,
        accel: accel.accel,
        memoryMb: c.memory,
        cpus: c.cpus,
        disk: { file: state.disk!, format: c.format, interface: c.disk_interface },
        kernel: src.kernel,
        initrd: src.initrd,
        cmdline: src.cmdline,
        cdroms: [...(src.iso ? [src.file] : []), ...(state.cdIso ? [state.cdIso] : [])],
        ...(src.iso ? { boot: 'once=d' } : {}),
        netDevice: c.net_device,
        forwardGuestPorts: c.communicator === 'ssh' ? [c.ssh_port] : [],
        // A restored VM must be started exactly as the saved one was, credentials included.
        credentials: state.vmCredentials,
        // Linux reseeds its random generator when this device's id changes (a restore).
        vmgenid: state.warmSpec !== undefined,
        qmpSocket: join(state.runDir!, 'qmp.sock'),
        serialLog: join(state.runDir!, 'console.log'),
        qemuArgs: warm ? [...qemuArgs, ['-incoming', 'defer']] : qemuArgs,
        qemuBinary: c.qemu_binary,
        signal,
        onSpawn: (pid) => journal(state, 'process', String(pid)),
        onGone: (pid) => unjournal(state, String(pid)),
      });
    };
    let vm: Vm | undefined;
    if (state.warmFrom) {
      ui.say('Starting VM, restoring the source image’s saved state');
      try {
        vm = await start(true);
        await withTimeout(restoreVm(vm.qmp, state.warmFrom.stateFile), RESTORE_TIMEOUT_MS);
      } catch (err) {
        // A state QEMU cannot load (another QEMU version, a damaged file) only costs a boot.
        const why = (err as Error).message;
        ui.message(`could not restore the saved VM state (${why}): booting instead`);
        if (vm) {
          await vm.kill();
          unjournal(state, String(vm.pid));
        }
        await markBroken(state.warmFrom, why);
        state.warmFrom = undefined;
        vm = undefined;
        await rm(state.disk!, { force: true });
        await state.driver.createOverlay(src.file, src.format, state.disk!, undefined, signal);
      }
    }
    if (!vm) {
      ui.say(src.iso ? 'Starting VM, booting from CD-ROM' : 'Starting VM, booting disk image');
      vm = await start(false);
    }
    state.vm = vm;
    ui.message(
      `QEMU pid ${vm.pid}, QMP ${join(state.runDir, 'qmp.sock')}, console ${vm.serialLog}`,
    );
    // A write the host cannot take (a full disk): QEMU pauses the guest (werror=enospc), so
    // the build would wait on a frozen VM. Fail at once saying why, and stop QEMU.
    let lastReset = -Infinity;
    vm.qmp.on('event', (e) => {
      // An installer reboots into the system it installed: worth a line in the log (once:
      // a reboot can reset the machine more than once within a second).
      if (e.event === 'RESET' && !state.stopping) {
        const at = e.timestamp?.seconds ?? Date.now() / 1000;
        if (at - lastReset > 2) ui.message('the guest rebooted');
        lastReset = at;
      }
      if (e.event !== 'BLOCK_IO_ERROR' || state.stopping || state.vmError) return;
      const d = e.data ?? {};
      state.vmError = new SystemError(
        d.nospace === true ? 'HostDiskFull' : 'DiskWriteFailed',
        d.nospace === true
          ? `no space left on the host for the build's disk ${state.disk}`
          : `QEMU could not write the build's disk ${state.disk}: ${String(d.reason ?? 'I/O error')}`,
        {
          hint: `free space where the disk lives (${state.catalog.imagesDir}), or set KILN_HOME elsewhere`,
        },
      );
      state.stopping = true;
      state.vmDied.abort(state.vmError);
      void vm.kill();
    });
    void vm.waitExit().then(async (exit) => {
      if (state.stopping) return;
      const lines = await vm.lastConsoleLines(15);
      const stderr = exit.stderr
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(-5);
      state.vmError = new SystemError(
        'QemuExited',
        `QEMU exited during the build (${describeExit(exit)})`,
        {
          details: [
            ...stderr.map((l) => `qemu: ${l}`),
            ...(lines.length > 0
              ? ['last console lines:', ...lines]
              : ['the console printed nothing']),
          ],
          hint: 'the guest crashed or powered off; see the console lines above',
        },
      );
      state.vmDied.abort(state.vmError);
    });
  },
  async cleanup(state, { ui }) {
    const vm = state.vm;
    if (vm) {
      state.stopping = true;
      if (!vm.exit) {
        ui.message('Stopping the VM...');
        await vm.kill();
      }
      unjournal(state, String(vm.pid));
    }
    if (state.runDir) {
      await rm(state.runDir, { recursive: true, force: true });
      unjournal(state, state.runDir);
      state.runDir = undefined;
    }
  },
};

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
