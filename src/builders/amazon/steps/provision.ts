/**
 * Packer's provision hook: after `pause_before_connecting`, connects over SSH with the
 * build's key (through `waitForSsh`) and runs the provisioners, or runs them with no machine at all when
 * `communicator: none`.
 */

import { waitForSsh } from '../../../communicator/ssh.js';
import type { Step } from '../../../core/steps.js';
import { parseGoDurationMs } from '../../../lib/duration.js';
import { sleep } from '../../../lib/sleep.js';
import { sshTimeout } from '../config.js';
import type { AmazonState } from '../state.js';

export const provision: Step<AmazonState> = {
  name: 'provision',
  async run(state, { signal, ui }) {
    const { config } = state;
    if ((config.communicator ?? 'ssh') === 'none') {
      await state.hook.run(undefined);
      return;
    }
    if (config.pause_before_connecting) {
      ui.say(`Waiting ${config.pause_before_connecting} before connecting...`);
      await sleep(parseGoDurationMs(config.pause_before_connecting), signal);
    }
    ui.say('Waiting for SSH to become available...');
    const comm = await ui.wait(`waiting for SSH on ${state.host}`, () =>
      waitForSsh({
        host: state.host!,
        port: config.ssh_port ?? 22,
        user: config.ssh_username!,
        privateKeyFile: state.privateKeyFile!,
        timeoutMs: parseGoDurationMs(sshTimeout(config)),
        signal,
        // An EC2 instance's first answer often comes before cloud-init installed the key.
        authFailureLimit: config.ssh_handshake_attempts ?? 10,
        probeTimeoutMs: 5000,
        retryDelayMs: 2000,
        onStatus: (what) => ui.message(`SSH: ${what}`),
      }),
    );
    ui.say('Connected to SSH!');
    try {
      await state.hook.run(comm);
    } finally {
      await comm.close();
    }
  },
};
