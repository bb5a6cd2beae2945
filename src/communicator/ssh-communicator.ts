/**
 * A Communicator over one SSH connection for the whole build: commands and transfers
 * are channels multiplexed on it, which is much faster than a connection per command on
 * a slow guest. When the connection drops (a reboot), the next call reconnects, and
 * insists on the host key seen the first time.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { basename, join, posix, resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { CancelledError, SystemError, throwIfAborted, UserError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import type { Communicator, ExecRequest, ExecResult, SshConnectionInfo } from './communicator.js';
import { shellQuote as q } from './shell-quote.js';
import { type Connected, type ConnectOptions, connectWithRetry } from './ssh-connect.js';

/** The exit status Packer reports when a command's connection dropped (`packersdk.CmdDisconnect`). */
export const DISCONNECTED_EXIT_CODE = 2300218;

export interface SshCommunicatorOptions extends ConnectOptions {
  /** How long a reconnect after a dropped connection may take (default 5 min). */
  reconnectTimeoutMs?: number;
  /** A temp dir (holding known_hosts) this communicator made and removes on close. */
  ownedDir?: string;
}

interface ChannelRun {
  command: string;
  stdin?: string | Buffer;
  signal?: AbortSignal;
  expectDisconnect?: boolean;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export class SshCommunicator implements Communicator {
  readonly connection: SshConnectionInfo;
  /** The host key (SSH wire blob) seen on the first connection. */
  readonly hostKey: Buffer;
  /** The server's version line, e.g. `SSH-2.0-OpenSSH_9.2p1 Debian-2`. */
  readonly serverBanner: string;
  private client: Client | undefined;
  private reconnecting: Promise<Client> | undefined;
  private sftpSession: Promise<SFTPWrapper | undefined> | undefined;
  private closed = false;

  constructor(
    first: Connected,
    connection: SshConnectionInfo,
    private readonly opts: SshCommunicatorOptions,
  ) {
    this.connection = connection;
    this.hostKey = first.hostKey;
    this.serverBanner = first.banner;
    this.adopt(first.client);
  }

  /**
   * Makes later connections (reconnects, and the tools given `connection`, such as Ansible)
   * log in with another key; the current session goes on. For a guest whose authorized key
   * was just replaced over this session (a restored VM, builders/qemu/warm.ts).
   */
  switchKey(privateKeyFile: string): void {
    this.connection.privateKeyFile = privateKeyFile;
    (this.opts as { privateKeyFile?: string }).privateKeyFile = privateKeyFile;
  }

  /** Runs `req.command` through the remote user's shell, streaming lines; see Communicator.exec. */
  async exec(req: ExecRequest): Promise<ExecResult> {
    const out = lineSplitter(req.onStdout);
    const err = lineSplitter(req.onStderr);
    try {
      return await this.runChannel({
        command: req.command,
        stdin: req.stdin,
        signal: req.signal,
        expectDisconnect: req.expectDisconnect,
        onStdout: out.push,
        onStderr: err.push,
      });
    } finally {
      out.flush();
      err.flush();
    }
  }

  /** Uploads a file (mode kept) or a Buffer; SFTP when the server has it, else `cat >`. */
  async upload(
    source: string | Buffer,
    remotePath: string,
    opts: { mode?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    throwIfAborted(opts.signal);
    let mode = opts.mode;
    if (typeof source === 'string' && mode === undefined) {
      const st = await stat(source).catch((e: NodeJS.ErrnoException) => {
        throw new UserError('UploadSourceMissing', `cannot read ${source}: ${e.code ?? e.message}`);
      });
      mode = st.mode & 0o7777;
    }
    const sftp = await this.sftp();
    try {
      if (sftp) {
        const input =
          typeof source === 'string' ? createReadStream(source) : Readable.from([source]);
        await pipeline(input, sftp.createWriteStream(remotePath, { mode: mode ?? 0o644 }), {
          signal: opts.signal,
        });
        // The remote umask applies to new files; the mode asked for wins.
        if (mode !== undefined) await sftpCall<void>((cb) => sftp.chmod(remotePath, mode!, cb));
        return;
      }
      const data = typeof source === 'string' ? await readFile(source) : source;
      const chmod = mode === undefined ? '' : ` && chmod ${mode.toString(8)} ${q(remotePath)}`;
      await this.checked(`cat > ${q(remotePath)}${chmod}`, data, opts.signal);
    } catch (e) {
      throw transferError(e, opts.signal, `upload to ${remotePath} failed`);
    }
  }

  /** Uploads a directory; `src/` puts its contents into `remoteDir`, `src` puts `src` inside it. */
  async uploadDir(
    src: string,
    remoteDir: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const local = resolvePath(src);
    const st = await stat(local).catch(() => undefined);
    if (!st?.isDirectory()) throw new UserError('UploadSourceMissing', `${src} is not a directory`);
    const contentsOnly = src.endsWith('/');
    const target = contentsOnly ? remoteDir : posix.join(remoteDir, basename(local));
    const entries = await walkLocal(local);
    // Directories first, in one command; the target's own mode is left alone when it may be
    // an existing directory such as /tmp.
    const dirs = [
      target,
      ...entries.filter((e) => e.kind === 'dir').map((e) => posix.join(target, e.rel)),
    ];
    const script = [`mkdir -p ${dirs.map(q).join(' ')}`];
    if (!contentsOnly) script.push(`chmod ${(st.mode & 0o7777).toString(8)} ${q(target)}`);
    for (const e of entries) {
      const dest = q(posix.join(target, e.rel));
      if (e.kind === 'dir') script.push(`chmod ${e.mode.toString(8)} ${dest}`);
      if (e.kind === 'link') script.push(`ln -sfn ${q(e.linkTarget!)} ${dest}`);
    }
    await this.checked(script.join(' && '), undefined, opts.signal);
    for (const e of entries) {
      if (e.kind === 'file')
        await this.upload(join(local, e.rel), posix.join(target, e.rel), {
          mode: e.mode,
          signal: opts.signal,
        });
    }
  }

  /** Downloads one remote file to a local path. */
  async download(
    remotePath: string,
    localPath: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    throwIfAborted(opts.signal);
    const sftp = await this.sftp();
    try {
      if (sftp) {
        await pipeline(sftp.createReadStream(remotePath), createWriteStream(localPath), {
          signal: opts.signal,
        });
        return;
      }
      const data = await this.capture(`cat ${q(remotePath)}`, opts.signal);
      await pipeline(Readable.from([data]), createWriteStream(localPath), { signal: opts.signal });
    } catch (e) {
      throw transferError(e, opts.signal, `download of ${remotePath} failed`);
    }
  }

  /** Downloads a directory; `dir/` puts its contents into `localDir`, `dir` puts `dir` inside it. */
  async downloadDir(
    remoteDir: string,
    localDir: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const contentsOnly = remoteDir.endsWith('/');
    const source = remoteDir.replace(/\/+$/, '') || '/';
    const target = contentsOnly ? localDir : join(localDir, posix.basename(source));
    await mkdir(target, { recursive: true });
    // tar keeps modes and links and needs one round trip, which matters on a slow guest.
    const data = await this.capture(`tar -C ${q(source)} -cf - .`, opts.signal).catch((e) => {
      throw transferError(e, opts.signal, `download of ${remoteDir} failed`);
    });
    await run('tar', ['-x', '--no-same-owner', '-C', target, '-f', '-'], {
      input: data,
      signal: opts.signal,
    });
  }

  /** Ends the connection; later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.sftpSession = undefined;
    if (this.opts.ownedDir) await rm(this.opts.ownedDir, { recursive: true, force: true });
    if (!client) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        client.destroy();
        resolve();
      }, 2000);
      client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      client.end();
    });
  }

  private adopt(client: Client): void {
    this.client = client;
    client.on('error', () => {
      // Reported through the channel or the next call; an unhandled 'error' would crash the process.
    });
    client.once('close', () => {
      if (this.client === client) {
        this.client = undefined;
        this.sftpSession = undefined;
      }
    });
  }

  private async ensure(signal?: AbortSignal): Promise<Client> {
    if (this.closed) throw new SystemError('SshClosed', 'the SSH connection was already closed');
    if (this.client) return this.client;
    if (!this.reconnecting) {
      this.opts.onStatus?.('reconnecting');
      this.reconnecting = connectWithRetry({
        ...this.opts,
        timeoutMs: this.opts.reconnectTimeoutMs ?? 300_000,
        expectedHostKey: this.hostKey,
        signal: signal ?? this.opts.signal,
      })
        .then((c) => {
          this.adopt(c.client);
          return c.client;
        })
        .finally(() => {
          this.reconnecting = undefined;
        });
    }
    return this.reconnecting;
  }

  private async sftp(): Promise<SFTPWrapper | undefined> {
    const client = await this.ensure();
    if (!this.sftpSession) {
      const session = new Promise<SFTPWrapper | undefined>((resolve) => {
        client.sftp((err, s) => {
          // No sftp subsystem: fall back to commands for this connection.
          if (err) return resolve(undefined);
          s.on('close', () => {
            if (this.sftpSession === session) this.sftpSession = undefined;
          });
          resolve(s);
        });
      });
      this.sftpSession = session;
    }
    return this.sftpSession;
  }

  /** Runs a command and fails unless it exits 0, with its stderr in the error. */
  private async checked(
    command: string,
    stdin: Buffer | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const errText: Buffer[] = [];
    const r = await this.runChannel({ command, stdin, signal, onStderr: (c) => errText.push(c) });
    if (r.exitCode !== 0) {
      throw new SystemError(
        'RemoteCommandFailed',
        `remote command failed with status ${r.exitCode}: ${Buffer.concat(errText).toString('utf8').trim()}`,
      );
    }
  }

  /** Runs a command and returns its raw stdout; fails unless it exits 0. */
  private async capture(command: string, signal: AbortSignal | undefined): Promise<Buffer> {
    const out: Buffer[] = [];
    const errText: Buffer[] = [];
    const r = await this.runChannel({
      command,
      signal,
      onStdout: (c) => out.push(c),
      onStderr: (c) => errText.push(c),
    });
    if (r.exitCode !== 0) {
      throw new SystemError(
        'RemoteCommandFailed',
        `remote command failed with status ${r.exitCode}: ${Buffer.concat(errText).toString('utf8').trim()}`,
      );
    }
    return Buffer.concat(out);
  }

  private async runChannel(req: ChannelRun): Promise<ExecResult> {
    throwIfAborted(req.signal);
    const client = await this.ensure(req.signal);
    throwIfAborted(req.signal);
    return new Promise<ExecResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        req.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      // sshd refuses signal requests for some sessions ("requires privilege separation",
      // e.g. root), so an abortable command first reports its process group, and abort kills
      // that group through a second channel.
      const abortable = req.signal !== undefined;
      let remotePid: number | undefined;
      let head: Buffer | undefined = abortable ? Buffer.alloc(0) : undefined;
      const onAbort = (): void => {
        if (remotePid !== undefined) {
          client.exec(
            `kill -TERM -- -${remotePid} 2>/dev/null || kill -TERM ${remotePid}`,
            (err, killer) => {
              if (!err) {
                killer.on('error', () => {});
                killer.resume();
                killer.stderr.resume();
                killer.end();
              }
            },
          );
        }
        if (channel) {
          sendSignal(channel, 'TERM');
          channel.close();
        }
        settle(() => reject(new CancelledError(`remote command cancelled`)));
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      const command = abortable ? `printf 'kiln-pid:%d\\n' "$$"; ${req.command}` : req.command;
      client.exec(command, (err, ch) => {
        if (err) {
          settle(() =>
            reject(
              new SystemError(
                'SshChannelFailed',
                `could not start a command on ${this.where()}: ${err.message}`,
                { cause: err },
              ),
            ),
          );
          return;
        }
        channel = ch;
        if (settled) {
          ch.close();
          return;
        }
        let exitCode: number | undefined;
        let exitSignal: string | undefined;
        ch.on('exit', (code: number | null, sig?: string) => {
          if (typeof code === 'number') exitCode = code;
          else exitSignal = sig ?? 'unknown';
        });
        ch.on('data', (c: Buffer) => {
          if (head === undefined) return req.onStdout?.(c);
          head = Buffer.concat([head, c]);
          const nl = head.indexOf(10);
          if (nl < 0) return;
          const m = /^kiln-pid:(\d+)$/.exec(head.subarray(0, nl).toString('latin1'));
          if (m) remotePid = Number(m[1]);
          const rest = m ? head.subarray(nl + 1) : head;
          head = undefined;
          if (rest.length > 0) req.onStdout?.(rest);
        });
        ch.stderr.on('data', (c: Buffer) => req.onStderr?.(c));
        ch.on('error', () => {});
        ch.on('close', () => {
          if (head !== undefined && head.length > 0) req.onStdout?.(head);
          head = undefined;
          if (exitCode !== undefined) return settle(() => resolve({ exitCode: exitCode! }));
          if (exitSignal !== undefined)
            return settle(() => resolve({ exitCode: -1, signal: exitSignal }));
          settle(() => {
            if (req.expectDisconnect)
              resolve({ exitCode: DISCONNECTED_EXIT_CODE, disconnected: true });
            else
              reject(
                new SystemError(
                  'SshDisconnected',
                  `the SSH connection to ${this.where()} was lost while running a command`,
                ),
              );
          });
        });
        if (req.stdin !== undefined) ch.end(req.stdin);
        else ch.end();
      });
    });
  }

  private where(): string {
    return `${this.connection.user}@${this.connection.host}:${this.connection.port}`;
  }
}

/**
 * Asks the server to signal the command's process group (OpenSSH ≥ 7.9 does, with
 * killpg). ssh2's own `signal()` refuses once stdin was closed, which we do at once, so
 * this goes to the protocol directly.
 */
function sendSignal(channel: ClientChannel, name: string): void {
  const ch = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, sig: string): void } };
  };
  try {
    if (ch.outgoing?.state === 'open' || ch.outgoing?.state === 'eof')
      ch._client?._protocol?.signal(ch.outgoing.id, name);
  } catch {
    // Closing the channel is the fallback.
  }
}

function transferError(e: unknown, signal: AbortSignal | undefined, what: string): Error {
  if (signal?.aborted) return new CancelledError(`${what}: cancelled`);
  if (e instanceof CancelledError || e instanceof UserError) return e;
  const msg = (e as Error).message ?? String(e);
  const missing = /no such file/i.test(msg);
  return new SystemError('TransferFailed', `${what}: ${msg}`, {
    cause: e,
    hint: missing
      ? 'the remote directory must exist first (create it with a shell provisioner)'
      : undefined,
  });
}

function sftpCall<T>(fn: (cb: (err: Error | undefined | null, v?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
}

interface LocalEntry {
  rel: string;
  kind: 'file' | 'dir' | 'link';
  mode: number;
  linkTarget?: string;
}

async function walkLocal(root: string, rel = ''): Promise<LocalEntry[]> {
  const out: LocalEntry[] = [];
  const names = (await readdir(join(root, rel))).sort();
  for (const name of names) {
    const r = rel ? posix.join(rel, name) : name;
    const st = await lstat(join(root, r));
    if (st.isSymbolicLink())
      out.push({ rel: r, kind: 'link', mode: 0o777, linkTarget: await readlink(join(root, r)) });
    else if (st.isDirectory()) {
      out.push({ rel: r, kind: 'dir', mode: st.mode & 0o7777 });
      out.push(...(await walkLocal(root, r)));
    } else if (st.isFile()) out.push({ rel: r, kind: 'file', mode: st.mode & 0o7777 });
  }
  return out;
}

/** Turns chunks into whole lines (UTF-8 safe across chunk boundaries). */
function lineSplitter(onLine: ((line: string) => void) | undefined): {
  push: (c: Buffer) => void;
  flush: () => void;
} {
  if (!onLine) return { push: () => {}, flush: () => {} };
  const decoder = new StringDecoder('utf8');
  let buf = '';
  return {
    push: (c) => {
      buf += decoder.write(c);
      let i = buf.indexOf('\n');
      while (i >= 0) {
        onLine(buf.slice(0, i).replace(/\r$/, ''));
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
      }
    },
    flush: () => {
      buf += decoder.end();
      if (buf) onLine(buf.replace(/\r$/, ''));
      buf = '';
    },
  };
}
