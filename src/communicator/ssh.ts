/**
 * The entry point builders use to reach a machine over SSH: wait until it answers,
 * authenticate with the build's key, record its host key for tools that connect on
 * their own, and hand back one multiplexed connection for the build.
 */
import { dirname, join } from 'node:path';
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
  const knownHostsFile = opts.knownHostsFile ?? join(dirname(opts.privateKeyFile), 'known_hosts');
  try {
    await writeKnownHosts(knownHostsFile, opts.host, opts.port, first.hostKey);
  } catch (err) {
    first.client.end();
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
    opts,
  );
}
