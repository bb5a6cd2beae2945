/**
 * The instance's own SSH key for `kiln ssh`: a fresh ed25519 pair in `<instance dir>/ssh`
 * (0700, the private key 0600). Its public half reaches the guest the way a build's does —
 * a systemd credential (SMBIOS OEM string) that the guest's tmpfiles writes into root's
 * authorized_keys of the instance's own overlay at boot — so the image never holds it.
 * Cleanup has nothing of its own to undo: the key lives in the instance directory, which
 * create-disk's cleanup removes unless the instance was recorded.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSshKeyPair } from '../../communicator/keys.js';
import type { Step } from '../../core/steps.js';
import type { StartState } from './state.js';

/** The guest user `kiln ssh` logs in as: the one systemd's own credential rule serves. */
export const INSTANCE_SSH_USER = 'root';

export const createSshKey: Step<StartState> = {
  name: 'create-ssh-key',
  async run(state) {
    const dir = join(state.meta.dir, 'ssh');
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o700);
    const pair = await generateSshKeyPair('ed25519', { comment: `kiln-${state.id}` });
    const keyFile = join(dir, 'id_ed25519');
    await writeFile(keyFile, pair.private.endsWith('\n') ? pair.private : `${pair.private}\n`, {
      mode: 0o600,
    });
    state.sshPublicKey = pair.public.trim();
    state.meta.ssh = { user: INSTANCE_SSH_USER, keyFile, port: 0 };
  },
};
