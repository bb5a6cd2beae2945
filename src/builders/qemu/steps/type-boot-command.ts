/**
 * Waits `boot_wait`, then types `boot_command` into the booting VM through QMP
 * (`input-send-event`), pausing `boot_key_interval` after each key event. Its templates
 * see Packer's boot data: `{{ .HTTPIP }}`, `{{ .HTTPPort }}`, `{{ .Name }}`,
 * `{{ .SSHPublicKey }}`. Makes nothing: an interrupt stops the wait or the typing at
 * once, and the VM's own step stops QEMU.
 */
import type { Step } from '../../../core/steps.js';
import { parseGoDurationMs } from '../../../lib/duration.js';
import { sleep } from '../../../lib/sleep.js';
import { keyIntervalMs, parseBootCommand, typeBootCommand } from '../../../qemu/boot-command.js';
import { USER_NET_HOST_IP } from '../../../qemu/http-server.js';
import type { QemuState } from '../state.js';

/** Packer's default boot_wait. */
export const DEFAULT_BOOT_WAIT = '10s';

/** Packer's name of the VM (`{{ .Name }}`): vm_name, else `packer-<build name>`. */
export function vmName(state: QemuState): string {
  return state.config.vm_name ?? `packer-${state.ctx.buildName}`;
}

export const typeBootCommandStep: Step<QemuState> = {
  name: 'type-boot-command',
  async run(state, { ui, signal }) {
    const c = state.config;
    if (!c.boot_command || c.boot_command.length === 0) return;
    const data = {
      HTTPIP: USER_NET_HOST_IP,
      HTTPPort: state.http?.port ?? 0,
      Name: vmName(state),
      SSHPublicKey: state.publicKey ?? '',
    };
    // Rendered and parsed before the wait: a bad key name fails at once, not after boot_wait.
    const steps = parseBootCommand(c.boot_command.map((s) => state.ctx.interpolate(s, data)));
    const stop = AbortSignal.any([signal, state.vmDied.signal]);
    const wait = c.boot_wait ?? DEFAULT_BOOT_WAIT;
    const waitMs = parseGoDurationMs(wait);
    if (waitMs > 0) {
      ui.say(`Waiting ${wait} for boot...`);
      await sleep(waitMs, stop);
    }
    ui.say('Typing the boot command...');
    const vm = state.vm!;
    await typeBootCommand(steps, {
      send: (command, args) => vm.qmp.execute(command, args),
      keyIntervalMs: keyIntervalMs(c.boot_key_interval, process.env),
      signal: stop,
    });
    ui.message(`typed ${steps.filter((s) => s.kind === 'key').length} keys`);
  },
};
