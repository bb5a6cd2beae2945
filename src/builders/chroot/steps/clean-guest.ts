/**
 * Removes the build's traces from the image before it is saved, with the same script the
 * qemu builder runs in its VM (core/clean-guest.ts): histories, `~/.ansible`, host keys
 * when the image makes its own, the machine id. A chroot build has no key to remove.
 */
import { CLEAN_GUEST_OK, cleanGuestScript } from '../../../core/clean-guest.js';
import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import type { ChrootState } from '../state.js';

export const cleanGuest: Step<ChrootState> = {
  name: 'clean-guest',
  async run(state, { ui, signal }) {
    const comm = state.comm!;
    ui.say('Removing the build’s traces from the image...');
    const out: string[] = [];
    const r = await comm.exec({
      command: 'sh -s',
      // No `sync` in a chroot: it would flush the whole host; the unmount and the export's
      // flush (early-cleanup) make the image's writes durable before it is registered.
      stdin: cleanGuestScript('root', undefined, { sync: false }),
      signal,
      onStdout: (l) => out.push(l),
      onStderr: (l) => out.push(l),
    });
    if (!out.includes(CLEAN_GUEST_OK)) {
      throw new SystemError(
        'CleanGuestFailed',
        `could not clean the image (exit status ${r.exitCode})`,
        { details: out.slice(-10) },
      );
    }
  },
};
