/**
 * Getting one SSH connection to a machine that may still be booting. QEMU's user-mode
 * network accepts the host side of a forwarded port at once, before the guest is up,
 * and one long connect then stalls behind slirp's SYN back-off (~8 s lost, anchor
 * RESULTS.md problem 6). So each attempt uses short connect and banner timeouts and is
 * thrown away quickly; only after the `SSH-` banner is seen does the slower key
 * exchange and authentication get a longer timeout.
 */
import { readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import type { Client } from 'ssh2';
import { CancelledError, SystemError, UserError } from '../lib/errors.js';
import { pause } from '../lib/sleep.js';
import { ssh2 } from './ssh2.js';

export interface ConnectOptions {
  host: string;
  port: number;
  user: string;
  privateKeyFile: string;
  /** Overall budget, from the first attempt. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Told what the wait last saw, each time it changes. */
  onStatus?: (what: string) => void;
  /** Returns a reason when the machine is gone (e.g. QEMU exited): the wait fails at once with it. */
  isAlive?: () => string | undefined;
  /** The host key (wire blob) seen before: any other key is refused (reconnects). */
  expectedHostKey?: Buffer;
  /** TCP connect and banner timeouts per attempt (default 1000 ms). */
  probeTimeoutMs?: number;
  /** Pause between attempts (default 250 ms). */
  retryDelayMs?: number;
  /** Authentication rejections after a banner before giving up (default 3). */
  authFailureLimit?: number;
  /** Key exchange + authentication budget once the banner was seen (default 30 s, capped by the deadline). */
  handshakeTimeoutMs?: number;
}

export interface Connected {
  client: Client;
  hostKey: Buffer;
  /** The server's software version from its banner. */
  banner: string;
}

type FailureKind =
  | 'refused'
  | 'connect-timeout'
  | 'no-banner'
  | 'closed'
  | 'handshake'
  | 'auth'
  | 'host-key'
  | 'other';

class AttemptFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Connects and authenticates, retrying until `timeoutMs`. Fails at once when `isAlive`
 * reports a reason or the signal aborts; fails with an authentication error (not a
 * timeout) after repeated rejections; a timeout names what the last attempt saw.
 */
export async function connectWithRetry(opts: ConnectOptions): Promise<Connected> {
  const privateKey = await readFile(opts.privateKeyFile).catch((err: NodeJS.ErrnoException) => {
    throw new UserError(
      'SshKeyUnreadable',
      `cannot read SSH private key ${opts.privateKeyFile}: ${err.code ?? err.message}`,
      {
        hint: 'check ssh_private_key_file',
      },
    );
  });
  const parsed = ssh2().utils.parseKey(privateKey);
  if (parsed instanceof Error) {
    throw new UserError(
      'SshKeyInvalid',
      `cannot use SSH private key ${opts.privateKeyFile}: ${parsed.message}`,
      {
        hint: 'give an unencrypted OpenSSH or PEM private key',
      },
    );
  }
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const retryDelay = opts.retryDelayMs ?? 250;
  const authLimit = opts.authFailureLimit ?? 3;
  const where = `${opts.user}@${opts.host}:${opts.port}`;

  // One controller stops an attempt in flight when the caller aborts or the machine dies.
  const stop = new AbortController();
  let deathReason: string | undefined;
  const checkAlive = (): void => {
    if (deathReason === undefined) deathReason = opts.isAlive?.();
    if (deathReason !== undefined && !stop.signal.aborted) stop.abort(new Error(deathReason));
  };
  const onOuterAbort = (): void => stop.abort(opts.signal?.reason ?? new Error('cancelled'));
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (opts.signal?.aborted) onOuterAbort();
  const poll = opts.isAlive ? setInterval(checkAlive, 250) : undefined;

  let last = 'no attempt yet';
  let authFailures = 0;
  let attempts = 0;
  const report = (what: string): void => {
    if (what !== last) opts.onStatus?.(what);
    last = what;
  };
  const failFinal = (): never => {
    if (deathReason !== undefined) {
      throw new SystemError(
        'MachineStopped',
        `the machine stopped while waiting for SSH on ${where}: ${deathReason}`,
      );
    }
    if (opts.signal?.aborted) throw new CancelledError(`waiting for SSH on ${where} cancelled`);
    throw new SystemError(
      'SshTimeout',
      `timed out after ${formatMs(opts.timeoutMs)} waiting for SSH on ${where}; last seen: ${last} (${attempts} attempts)`,
      {
        hint: 'check that the machine boots and runs sshd (see its console output), or raise ssh_timeout',
      },
    );
  };

  try {
    for (;;) {
      checkAlive();
      if (stop.signal.aborted || Date.now() >= deadline) failFinal();
      attempts++;
      try {
        return await attempt(opts, privateKey, deadline, stop.signal);
      } catch (err) {
        if (!(err instanceof AttemptFailure)) throw err;
        if (stop.signal.aborted) failFinal();
        report(err.message);
        if (err.kind === 'host-key') {
          throw new SystemError(
            'SshHostKeyChanged',
            `the SSH host key of ${where} changed since the build first connected`,
            {
              hint: 'something else answers on that port, or the machine was replaced',
            },
          );
        }
        if (err.kind === 'auth' && ++authFailures >= authLimit) {
          throw new UserError(
            'SshAuthFailed',
            `SSH authentication as "${opts.user}" on ${opts.host}:${opts.port} was rejected ${authFailures} times: ${err.message}`,
            {
              hint: `check ssh_username and that the machine accepts the build's key for that user`,
            },
          );
        }
      }
      // Back off longer after a rejection: the key may be installed moments after sshd
      // starts, so the rejections must span a few seconds before they count as final.
      await pause(authFailures > 0 ? Math.max(retryDelay, 1500) : retryDelay, stop.signal);
    }
  } finally {
    if (poll) clearInterval(poll);
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

async function attempt(
  opts: ConnectOptions,
  privateKey: Buffer,
  deadline: number,
  stop: AbortSignal,
): Promise<Connected> {
  // Never let one probe run far past the overall deadline.
  const probeMs = Math.min(opts.probeTimeoutMs ?? 1000, Math.max(200, deadline - Date.now()));
  const { sock, head, banner } = await probeBanner(opts.host, opts.port, probeMs, stop);
  return handshake(opts, sock, head, banner, privateKey, deadline, stop);
}

/** Opens TCP and waits for the `SSH-` banner line, each within `probeMs`. */
function probeBanner(
  host: string,
  port: number,
  probeMs: number,
  stop: AbortSignal,
): Promise<{ sock: Socket; head: Buffer; banner: string }> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let buf = Buffer.alloc(0);
    let done = false;
    let timer = setTimeout(
      () => fail('connect-timeout', `TCP connect to ${host}:${port} timed out`),
      probeMs,
    );
    const cleanup = (): void => {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
      sock.removeListener('data', onData);
      sock.removeListener('error', onError);
      sock.removeListener('close', onClose);
      sock.removeListener('connect', onConnect);
    };
    const fail = (kind: FailureKind, message: string): void => {
      if (done) return;
      done = true;
      cleanup();
      sock.destroy();
      reject(new AttemptFailure(kind, message));
    };
    const onStop = (): void => fail('other', 'stopped');
    const onConnect = (): void => {
      clearTimeout(timer);
      timer = setTimeout(
        () => fail('no-banner', `TCP connected but no SSH banner within ${probeMs} ms`),
        probeMs,
      );
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      // A server may send other lines before its version line (RFC 4253 4.2).
      const text = buf.toString('latin1');
      const m = /(^|\n)(SSH-[^\r\n]*)\r?\n/.exec(text);
      if (m) {
        done = true;
        cleanup();
        sock.pause();
        resolve({ sock, head: buf, banner: m[2]! });
      } else if (buf.length > 8192) {
        fail('other', 'the port answers, but not with SSH');
      }
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'ECONNREFUSED') fail('refused', `connection refused on ${host}:${port}`);
      else fail('other', `connection error: ${err.code ?? err.message}`);
    };
    const onClose = (): void => fail('closed', 'TCP connected but closed before the SSH banner');
    stop.addEventListener('abort', onStop, { once: true });
    sock.on('connect', onConnect);
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('close', onClose);
    sock.setNoDelay(true);
    sock.connect({ host, port });
  });
}

/** Runs key exchange and authentication on a socket whose banner was already read. */
function handshake(
  opts: ConnectOptions,
  sock: Socket,
  head: Buffer,
  banner: string,
  privateKey: Buffer,
  deadline: number,
  stop: AbortSignal,
): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const client = new (ssh2().Client)();
    let hostKey: Buffer | undefined;
    let hostKeyRejected = false;
    let done = false;
    const finish = (err?: AttemptFailure): void => {
      if (done) return;
      done = true;
      stop.removeEventListener('abort', onStop);
      client.removeListener('ready', onReady);
      if (err) {
        client.removeAllListeners('error');
        client.on('error', () => {});
        client.end();
        sock.destroy();
        reject(err);
      } else {
        resolve({ client, hostKey: hostKey!, banner });
      }
    };
    const onStop = (): void => finish(new AttemptFailure('other', 'stopped'));
    const onReady = (): void => finish();
    stop.addEventListener('abort', onStop, { once: true });
    client.on('ready', onReady);
    client.on('error', (err: Error & { level?: string }) => {
      if (done) return;
      if (hostKeyRejected) return finish(new AttemptFailure('host-key', 'host key mismatch'));
      if (err.level === 'client-authentication')
        return finish(new AttemptFailure('auth', `authentication rejected (${err.message})`));
      if (err.level === 'client-timeout')
        return finish(
          new AttemptFailure('handshake', 'SSH banner seen, but the handshake timed out'),
        );
      finish(new AttemptFailure('handshake', `SSH handshake failed: ${err.message}`));
    });
    client.on('close', () =>
      finish(
        new AttemptFailure(
          'closed',
          'SSH banner seen, but the connection closed during the handshake',
        ),
      ),
    );
    // The banner bytes go back into the stream so ssh2 parses them as if it had read them.
    sock.unshift(head);
    const remaining = deadline - Date.now();
    client.connect({
      sock,
      username: opts.user,
      privateKey,
      readyTimeout: Math.max(1000, Math.min(opts.handshakeTimeoutMs ?? 30_000, remaining)),
      // A dead peer (a reboot that did not close TCP) is noticed within a minute; a guest
      // stalled by a busy TCG host is not mistaken for one.
      keepaliveInterval: 10_000,
      keepaliveCountMax: 6,
      // ed25519 first, so the known_hosts file holds the key type OpenSSH prefers too.
      algorithms: {
        serverHostKey: [
          'ssh-ed25519',
          'ecdsa-sha2-nistp256',
          'ecdsa-sha2-nistp384',
          'ecdsa-sha2-nistp521',
          'rsa-sha2-512',
          'rsa-sha2-256',
        ],
      },
      hostVerifier: (key: Buffer): boolean => {
        if (opts.expectedHostKey && !opts.expectedHostKey.equals(key)) {
          hostKeyRejected = true;
          return false;
        }
        hostKey = Buffer.from(key);
        return true;
      },
    });
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
