/**
 * Stops the guest so its disk can become an image. With `shutdown_command`, Packer's
 * way: run it over SSH and wait up to `shutdown_timeout` for QEMU to exit. Without it:
 * `sync` over SSH, then the ACPI power button when the guest has something listening to
 * it (logind, acpid), else QMP `quit` at once (the disk is already synced: this is
 * kiln's minimal image, where an orderly shutdown only costs time).
 */

import type { Step } from '../../../core/steps.js';
import { parseGoDurationMs } from '../../../lib/duration.js';
import { SystemError } from '../../../lib/errors.js';
import { sleep } from '../../../lib/sleep.js';
import type { QemuState } from '../state.js';

// Without an ACPI handler QEMU is stopped next, with the root file system still mounted:
// freezing it first checkpoints ext4's journal and marks it clean, so every boot of the
// image skips a journal replay (0.1-0.2 s under TCG). fsfreeze is util-linux's (essential).
// As root only: through sudo, its own writes after the freeze (logs, timestamps) could hang.
const PROBE =
  'sync; if systemctl is-active --quiet systemd-logind 2>/dev/null || pidof acpid >/dev/null 2>&1; then echo kiln-acpi; else echo kiln-noacpi; ' +
  'if [ "$(id -u)" = 0 ]; then fsfreeze -f / >/dev/null 2>&1 || true; fi; fi';

export const shutdown: Step<QemuState> = {
  name: 'shutdown',
  async run(state, { ui, signal }) {
    const vm = state.vm!;
    const c = state.config;
    const timeoutMs = parseGoDurationMs(c.shutdown_timeout);
    const comm = state.comm;
    if (c.shutdown_command && comm) {
      ui.say('Gracefully halting virtual machine...');
      state.stopping = true;
      const r = await comm.exec({
        command: c.shutdown_command,
        signal,
        expectDisconnect: true,
        onStdout: (l) => ui.message(l),
        onStderr: (l) => ui.error(l),
      });
      if (!r.disconnected && r.exitCode !== 0)
        ui.error(`shutdown_command exited with status ${r.exitCode}`);
      const gone = await Promise.race([
        vm.waitExit().then(() => true),
        sleep(timeoutMs, signal).then(() => false),
      ]);
      if (!gone) {
        throw new SystemError(
          'ShutdownTimeout',
          `the guest did not power off within ${c.shutdown_timeout}`,
          {
            hint: 'check shutdown_command (it usually needs sudo), or raise shutdown_timeout',
          },
        );
      }
    } else {
      let acpi = state.guestAcpi ?? comm === undefined;
      if (comm && state.guestAcpi === undefined) {
        const out: string[] = [];
        const r = await comm.exec({ command: PROBE, signal, onStdout: (l) => out.push(l) });
        if (r.exitCode !== 0)
          throw new SystemError(
            'SyncFailed',
            `sync in the guest failed (exit status ${r.exitCode})`,
          );
        acpi = out.includes('kiln-acpi');
      }
      state.stopping = true;
      await comm?.close().catch(() => undefined);
      state.comm = undefined;
      if (acpi) {
        ui.say('Powering off the VM (ACPI)...');
        const gone = await vm.powerdown(timeoutMs);
        if (!gone) {
          if (comm === undefined) {
            throw new SystemError(
              'ShutdownTimeout',
              `the guest did not power off within ${c.shutdown_timeout}`,
            );
          }
          ui.message('no power-off after the ACPI request: stopping QEMU (the disk was synced)');
        }
      } else {
        ui.say('Stopping the VM (disk synced; the guest has no ACPI power-button handler)...');
      }
      await vm.kill();
    }
    await vm.waitExit();
    state.comm = undefined;
  },
};
