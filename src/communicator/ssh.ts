/**
 * The entry point builders use to reach a machine over SSH: wait until it answers,
 * authenticate with the build's key, record its host key for tools that connect on
 * their own, and hand back one multiplexed connection for the build.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { KEY_DIR_PREFIX } from './keys.js';
import { writeKnownHosts } from './known-hosts.js';
import { SshCommunicator } from './ssh-communicator.js';
import { type ConnectOptions, connectWithRetry } from './ssh-connect.js';

export { DISCONNECTED_EXIT_CODE, SshCommunicator } from './ssh-communicator.js';

export interface WaitForSshOptions extends ConnectOptions {
  /** Where to write the known_hosts file (default: `known_hosts` beside the private key, i.e. in the key dir). */
  knownHostsFile?: string;
  /** How long a reconnect after a dropped connection (a reboot) may take (default 5 min). */
  reconnectTimeoutMs?: number;
}

/**
 * Resolves with a connected communicator once the machine accepts the key. Fails at once
 * when `isAlive()` names a reason, with an authentication error after repeated
 * rejections, and after `timeoutMs` with what the last attempt saw.
 */
export async function waitForSsh(opts: WaitForSshOptions): Promise<SshCommunicator> {
  const first = await connectWithRetry(opts);
  // Beside the key only when the key lives in a build's own key dir: a user's key in
  // ~/.ssh must never get its known_hosts replaced. Otherwise in a temp dir close() removes.
  let ownedDir: string | undefined;
  let knownHostsFile = opts.knownHostsFile;
  try {
    if (!knownHostsFile) {
      const keyDir = dirname(opts.privateKeyFile);
      if (basename(keyDir).startsWith(KEY_DIR_PREFIX)) knownHostsFile = join(keyDir, 'known_hosts');
      else {
        ownedDir = await mkdtemp(join(tmpdir(), KEY_DIR_PREFIX));
        knownHostsFile = join(ownedDir, 'known_hosts');
      }
    }
    await writeKnownHosts(knownHostsFile, opts.host, opts.port, first.hostKey);
  } catch (err) {
    first.client.end();
    if (ownedDir) await rm(ownedDir, { recursive: true, force: true });
    throw err;
  }
  return new SshCommunicator(
    first,
    {
      type: 'ssh',
      host: opts.host,
      port: opts.port,
      user: opts.user,
      privateKeyFile: opts.privateKeyFile,
      knownHostsFile,
    },
    { ...opts, ownedDir },
  );
}
