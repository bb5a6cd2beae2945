/**
 * `kiln ssh` and `kiln logs --journal`: how OpenSSH reaches a running local instance with
 * the instance's own key (made at start, authorized in the guest by a systemd credential,
 * never in the image). The first connection waits for the guest's sshd with short probes
 * and records its host key beside the instance's key; OpenSSH then checks it strictly.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InstanceRecord } from '../catalog/types.js';
import { writeKnownHosts } from '../communicator/known-hosts.js';
import { connectWithRetry } from '../communicator/ssh-connect.js';
import { UserError } from '../lib/errors.js';
import { metaOf, whyNotRunning } from './status.js';

/** What OpenSSH needs to log into an instance. */
export interface SshTarget {
  instanceId: string;
  host: string;
  port: number;
  user: string;
  keyFile: string;
  knownHostsFile: string;
}

/** The SSH target of a running local instance; a UserError naming what to do when there is none. */
export function sshTarget(instance: InstanceRecord): SshTarget {
  if (instance.backend !== 'local')
    throw new UserError('NotLocal', `${instance.id} is not a local instance`, {
      hint: 'kiln ssh reaches instances started by `kiln run` or `kiln deploy local`',
    });
  const why = whyNotRunning(instance);
  if (why !== undefined)
    throw new UserError('InstanceNotRunning', `${instance.id} is not running: ${why}`, {
      hint: `\`kiln logs ${instance.id}\` shows its console`,
    });
  const ssh = metaOf(instance).ssh;
  if (!ssh)
    throw new UserError('NoInstanceKey', `${instance.id} was started without an SSH key`, {
      hint: `instances started before kiln had \`kiln ssh\` have none: stop it and \`kiln run\` the image again`,
    });
  return {
    instanceId: instance.id,
    host: '127.0.0.1',
    port: ssh.port,
    user: ssh.user,
    keyFile: ssh.keyFile,
    knownHostsFile: join(dirname(ssh.keyFile), 'known_hosts'),
  };
}

export interface WaitSshOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Why the instance can no longer answer (its QEMU exited), or undefined. */
  isAlive?: () => string | undefined;
}

/**
 * Resolves once the guest's sshd accepts the instance's key, having recorded its host
 * key for OpenSSH. At once when an earlier `kiln ssh` already did (the guest cannot have
 * rebooted since: an instance's QEMU ends with its guest).
 */
export async function waitInstanceSsh(t: SshTarget, opts: WaitSshOptions): Promise<void> {
  if (existsSync(t.knownHostsFile)) return;
  const c = await connectWithRetry({
    host: t.host,
    port: t.port,
    user: t.user,
    privateKeyFile: t.keyFile,
    timeoutMs: opts.timeoutMs,
    // QEMU's user-mode network accepts the host side at once: short probes find the guest sooner.
    probeTimeoutMs: 1000,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.isAlive ? { isAlive: opts.isAlive } : {}),
  });
  try {
    await writeKnownHosts(t.knownHostsFile, t.host, t.port, c.hostKey);
  } finally {
    c.client.end();
  }
}

/**
 * OpenSSH's arguments for `target`: key only (no password prompt, no agent's keys), the
 * recorded host key checked strictly, a terminal when `tty`. `command` words are joined
 * by spaces and run by the guest's shell, as `ssh host cmd…` does.
 */
export function opensshArgs(t: SshTarget, opts: { tty: boolean; command: string[] }): string[] {
  return [
    '-i',
    t.keyFile,
    '-p',
    String(t.port),
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${t.knownHostsFile}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'LogLevel=ERROR',
    opts.tty ? '-t' : '-T',
    `${t.user}@${t.host}`,
    ...(opts.command.length > 0 ? ['--', ...opts.command] : []),
  ];
}

/** `journalctl` in the guest for one unit: the last `lines` (default all), following with `follow`. */
export function journalCommand(unit: string, opts: { lines?: number; follow?: boolean }): string[] {
  if (!/^[A-Za-z0-9@_.:\\-]+$/.test(unit))
    throw new UserError('BadUnit', `"${unit}" is not a systemd unit name`, {
      hint: 'name a unit such as hello-web or hello-web.service',
    });
  return [
    'journalctl',
    '--no-pager',
    '-u',
    unit,
    ...(opts.lines !== undefined ? ['-n', String(opts.lines)] : []),
    ...(opts.follow ? ['-f'] : []),
  ];
}
