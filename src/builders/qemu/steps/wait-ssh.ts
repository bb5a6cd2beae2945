/**
 * Waits for the guest's sshd with short connect/banner timeouts and retries (QEMU's
 * user-mode network accepts the host side at once, so one long attempt stalls), and
 * fails at once if QEMU exits meanwhile.
 */
import { waitForSsh } from '../../../communicator/ssh.js';
import type { Step } from '../../../core/steps.js';
import { parseGoDurationMs } from '../../../template/duration.js';
import type { QemuState } from '../state.js';

export const waitSsh: Step<QemuState> = {
  name: 'wait-ssh',
  async run(state, { ui, signal }) {
    const c = state.config;
    if (c.communicator !== 'ssh') return;
    const port = state.vm!.ports[c.ssh_port]!;
    ui.say(`Using ssh communicator to connect: 127.0.0.1`);
    ui.say('Waiting for SSH to become available...');
    const timeoutMs = parseGoDurationMs(c.ssh_wait_timeout ?? c.ssh_timeout);
    state.comm = await waitForSsh({
      host: '127.0.0.1',
      port,
      user: c.ssh_username!,
      privateKeyFile: state.privateKeyFile!,
      timeoutMs,
      signal: AbortSignal.any([signal, state.vmDied.signal]),
      isAlive: () => state.vmError?.message,
      onStatus: (what) => ui.message(`ssh: ${what}`),
    });
    ui.say('Connected to SSH!');
    Object.assign(state.ctx.generated, {
      Host: '127.0.0.1',
      Port: port,
      User: c.ssh_username,
      ConnType: 'ssh',
      SSHPrivateKeyFile: state.privateKeyFile,
    });
  },
  async cleanup(state) {
    await state.comm?.close().catch(() => undefined);
    state.comm = undefined;
  },
};
