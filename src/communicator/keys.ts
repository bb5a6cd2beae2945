/**
 * A fresh SSH key per build. The key never leaves a 0700 temp dir that `dispose` removes,
 * so no fixed password or long-lived key ever reaches an image.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledError, SystemError, throwIfAborted } from '../lib/errors.js';
import { ssh2 } from './ssh2.js';

/** Temp dirs kiln makes for SSH material start with this (gc can find them). */
export const KEY_DIR_PREFIX = 'kiln-ssh-';

export interface KeyDir {
  /** The 0700 directory holding the key (and later the known_hosts file). */
  dir: string;
  /** OpenSSH-format private key, mode 0600. */
  privateKeyFile: string;
  /** `ssh-ed25519 AAAA… kiln-<runid>`: one authorized_keys line. */
  publicKey: string;
  /** Removes the directory and everything in it; safe to call twice. */
  dispose(): Promise<void>;
}

/** Creates a new ed25519 key pair in a fresh 0700 temp dir, commented `kiln-<runId>` (a random id when none is given). */
export async function createKeyDir(signal?: AbortSignal, runId?: string): Promise<KeyDir> {
  throwIfAborted(signal);
  const label = `kiln-${(runId ?? randomBytes(6).toString('hex')).replace(/^kiln-/, '')}`;
  const dir = await mkdtemp(join(tmpdir(), KEY_DIR_PREFIX));
  const dispose = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await chmod(dir, 0o700);
    const pair = await generateSshKeyPair('ed25519', { comment: label });
    const privateKeyFile = join(dir, 'id_ed25519');
    await writeFile(
      privateKeyFile,
      pair.private.endsWith('\n') ? pair.private : `${pair.private}\n`,
      {
        mode: 0o600,
      },
    );
    await chmod(privateKeyFile, 0o600);
    const publicKey = pair.public.trim();
    await writeFile(join(dir, 'id_ed25519.pub'), `${publicKey}\n`, { mode: 0o644 });
    if (signal?.aborted) throw new CancelledError('key creation cancelled');
    return { dir, privateKeyFile, publicKey, dispose };
  } catch (err) {
    await dispose();
    if (err instanceof CancelledError) throw err;
    throw new SystemError(
      'KeyCreateFailed',
      `could not create an SSH key: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Generates an OpenSSH key pair that ssh2 and OpenSSH can both read. ssh2 1.17 sometimes
 * writes an ed25519 key whose public part lost a leading zero byte (31 bytes instead of
 * 32): about 1 key in 230 here, which `parseKey` then rejects as "Malformed OpenSSH
 * private key". Such a key is thrown away and another one made.
 */
export async function generateSshKeyPair(
  type: 'ed25519' | 'rsa',
  opts: { comment?: string; bits?: number } = {},
): Promise<{ public: string; private: string }> {
  for (let attempt = 1; ; attempt++) {
    const pair = await new Promise<{ public: string; private: string }>((resolve, reject) => {
      ssh2().utils.generateKeyPair(type, opts, (err, kp) => (err ? reject(err) : resolve(kp)));
    });
    const priv = ssh2().utils.parseKey(pair.private);
    const pub = ssh2().utils.parseKey(pair.public);
    if (!(priv instanceof Error) && !(pub instanceof Error)) return pair;
    if (attempt >= 20) {
      throw new Error(`ssh2 made ${attempt} unreadable ${type} keys in a row`);
    }
  }
}
