/**
 * The build's SSH key: a fresh ed25519 key in a 0700 temp dir (removed at cleanup), or
 * the user's `ssh_private_key_file`. Either way the public half reaches the guest only as
 * a systemd credential, never through the image.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createKeyDir, type KeyDir } from '../../../communicator/keys.js';
import { ssh2 } from '../../../communicator/ssh2.js';
import type { Step } from '../../../core/steps.js';
import { UserError } from '../../../lib/errors.js';
import type { QemuState } from '../state.js';

const keyDirs = new WeakMap<QemuState, KeyDir>();

export const createSshKey: Step<QemuState> = {
  name: 'create-ssh-key',
  async run(state, { ui, signal }) {
    const c = state.config;
    if (c.communicator !== 'ssh') return;
    if (c.ssh_private_key_file) {
      const file = resolve(c.ssh_private_key_file);
      const text = await readFile(file, 'utf8');
      const parsed = ssh2().utils.parseKey(text);
      const key = Array.isArray(parsed) ? parsed[0] : parsed;
      if (!key || key instanceof Error) {
        throw new UserError(
          'BadPrivateKey',
          `${file} is not a private key ssh2 can read${key instanceof Error ? `: ${key.message}` : ''}`,
          {
            where: 'ssh_private_key_file',
            hint: 'use an unencrypted OpenSSH or PEM key',
          },
        );
      }
      state.privateKeyFile = file;
      state.publicKey = `${key.type} ${key.getPublicSSH().toString('base64')} kiln-build`;
      state.ctx.secrets.add(text);
      state.ctx.generated.SSHPrivateKey = text;
      return;
    }
    ui.say('Creating a temporary SSH key for this build...');
    const dir = await createKeyDir(signal, state.ctx.runId);
    keyDirs.set(state, dir);
    if (state.journalRun)
      state.catalog.journal.record({ runId: state.journalRun, kind: 'dir', ref: dir.dir });
    state.privateKeyFile = dir.privateKeyFile;
    state.publicKey = dir.publicKey;
    const text = await readFile(dir.privateKeyFile, 'utf8');
    state.ctx.secrets.add(text);
    state.ctx.generated.SSHPrivateKey = text;
    state.ctx.generated.SSHPublicKey = dir.publicKey;
  },
  async cleanup(state) {
    const dir = keyDirs.get(state);
    if (!dir) return;
    await dir.dispose();
    keyDirs.delete(state);
    if (state.journalRun) state.catalog.journal.forget(state.journalRun, dir.dir);
  },
};
