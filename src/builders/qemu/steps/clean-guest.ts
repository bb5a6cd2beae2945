/**
 * Removes every trace of the build from the guest before its disk becomes an image: the
 * build's key from authorized_keys (the file too when nothing else is in it), a user
 * kiln's first-boot unit created, shell histories, `~/.ansible`, the host keys (when the
 * image makes its own at boot), the machine id; then syncs.
 */

import { CLEAN_GUEST_OK, cleanGuestScript } from '../../../core/clean-guest.js';
import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import type { QemuState } from '../state.js';

export const cleanGuest: Step<QemuState> = {
  name: 'clean-guest',
  async run(state, { ui, signal }) {
    const comm = state.comm;
    if (!comm || !state.publicKey) return;
    ui.say('Removing the build key and other traces from the guest...');
    const user = state.config.ssh_username!;
    const keyBody = state.publicKey.split(/\s+/)[1] ?? state.publicKey;
    const out: string[] = [];
    const r = await comm.exec({
      command: user === 'root' ? 'sh -s' : 'sudo -n sh -s',
      stdin: cleanGuestScript(user, keyBody),
      signal,
      onStdout: (l) => out.push(l),
      onStderr: (l) => out.push(l),
    });
    if (!out.includes(CLEAN_GUEST_OK)) {
      throw new SystemError(
        'CleanGuestFailed',
        `could not clean the guest (exit status ${r.exitCode})`,
        {
          details: out.slice(-10),
          hint:
            user === 'root'
              ? undefined
              : `${user} needs passwordless sudo so that kiln can remove its key before saving the image`,
        },
      );
    }
  },
};
