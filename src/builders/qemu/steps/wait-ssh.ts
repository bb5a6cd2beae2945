/**
 * Waits for the guest's sshd with short connect/banner timeouts and retries (QEMU's
 * user-mode network accepts the host side at once, so one long attempt stalls), and
 * fails at once if QEMU exits meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { type SshCommunicator, waitForSsh } from '../../../communicator/ssh.js';
import type { Step } from '../../../core/steps.js';
import { parseGoDurationMs } from '../../../lib/duration.js';
import { SystemError } from '../../../lib/errors.js';
import type { QemuState } from '../state.js';
import { adoptScript } from '../warm.js';

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
    // Short banner timeouts while the guest boots: QEMU's user-mode network accepts the
    // host side before the guest is up, and one long attempt then stalls behind slirp's
    // SYN back-off. Once the guest's network answers (a refused connection closes at once)
    // or after 20 s, long ones: on a loaded host sshd's re-exec per connection can take
    // more than a second, and short probes would keep cutting it off.
    let escalate = false;
    await ui.wait(`waiting for SSH on 127.0.0.1:${port}`, async () => {
      // A restored guest's sshd is already up: no boot to probe through.
      for (const probeMs of state.warmFrom ? [5000] : [1000, 5000]) {
        const long = probeMs > 1000;
        const left = deadline - Date.now();
        const switchTo = new AbortController();
        try {
          state.comm = await waitForSsh({
            host: '127.0.0.1',
            port,
            user: c.ssh_username!,
            // A restored guest accepts the key its state was saved with, until adopt() below.
            privateKeyFile: state.warmFrom?.keyFile ?? state.privateKeyFile!,
            timeoutMs: long || left <= 20_000 ? Math.max(left, 1) : 20_000,
            probeTimeoutMs: probeMs,
            signal: AbortSignal.any([signal, state.vmDied.signal, switchTo.signal]),
            isAlive: () => state.vmError?.message,
            onStatus: (what) => {
              ui.message(`ssh: ${what}`);
              if (!long && /closed before the SSH banner|refused/i.test(what)) {
                escalate = true;
                switchTo.abort();
              }
            },
          });
          break;
        } catch (err) {
          const switching =
            escalate && switchTo.signal.aborted && !signal.aborted && !state.vmDied.signal.aborted;
          const timedOut =
            err instanceof SystemError && err.code === 'SshTimeout' && !long && left > 20_000;
          if (long || !(switching || timedOut)) throw err;
        }
      }
    });
    ui.say('Connected to SSH!');
    if (state.warmFrom) {
      await adopt(state, signal);
      // From here on only the build's key is authorized: tools (Ansible) and reconnects use it.
      (state.comm as SshCommunicator).switchKey(state.privateKeyFile!);
    }
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

/** In a restored guest: the build's own key replaces the saved state's key, and the clock is set. */
async function adopt(state: QemuState, signal: AbortSignal): Promise<void> {
  const warm = state.warmFrom!;
  const user = state.config.ssh_username!;
  const warmBody = warm.meta.publicKey.split(/\s+/)[1] ?? warm.meta.publicKey;
  const out: string[] = [];
  const epoch = (Date.now() / 1000).toFixed(3);
  const r = await state.comm!.exec({
    command: `${user === 'root' ? '' : 'sudo -n '}sh -s -- ${epoch}`,
    stdin: adoptScript(user, warmBody, state.publicKey!, randomBytes(64).toString('hex')),
    signal,
    onStdout: (l) => out.push(l),
    onStderr: (l) => out.push(l),
  });
  if (!out.includes('kiln-adopt-ok')) {
    throw new SystemError(
      'WarmAdoptFailed',
      `could not hand the restored VM over to this build (exit status ${r.exitCode})`,
      { details: out.slice(-10), hint: 'KILN_WARM=0 makes builds boot their VM instead' },
    );
  }
}
