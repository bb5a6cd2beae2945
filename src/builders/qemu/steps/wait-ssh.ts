/**
 * Waits for the guest's sshd with short connect/banner timeouts and retries (QEMU's
 * user-mode network accepts the host side at once, so one long attempt stalls), and
 * fails at once if QEMU exits meanwhile.
 */
import { waitForSsh } from '../../../communicator/ssh.js';
import { SystemError } from '../../../core/errors.js';
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
    const deadline = Date.now() + timeoutMs;
    // Short banner timeouts first: QEMU's user-mode network accepts the host side before
    // the guest is up, and one long attempt then stalls behind slirp's SYN back-off. Longer
    // ones later: on a loaded host, sshd's re-exec per connection can take more than 1 s,
    // and a 1 s probe would then never see the banner.
    const phases = [
      { probeMs: 1000, forMs: 20_000 },
      { probeMs: 2500, forMs: 20_000 },
      { probeMs: 5000, forMs: Number.POSITIVE_INFINITY },
    ];
    for (const [i, phase] of phases.entries()) {
      const left = deadline - Date.now();
      const last = i === phases.length - 1 || left <= phase.forMs;
      try {
        state.comm = await waitForSsh({
          host: '127.0.0.1',
          port,
          user: c.ssh_username!,
          privateKeyFile: state.privateKeyFile!,
          timeoutMs: last ? Math.max(left, 1) : phase.forMs,
          probeTimeoutMs: phase.probeMs,
          signal: AbortSignal.any([signal, state.vmDied.signal]),
          isAlive: () => state.vmError?.message,
          onStatus: (what) => ui.message(`ssh: ${what}`),
        });
        break;
      } catch (err) {
        if (last || !(err instanceof SystemError) || err.code !== 'SshTimeout') throw err;
      }
    }
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
