/**
 * A Communicator into a mounted image on this host, as Packer's amazon-chroot has: every
 * command runs as `chroot <root> /bin/sh -c <command>` (through the user's
 * `command_wrapper` when there is one), and every transfer goes through a program inside
 * the chroot (`cat`, `tar`), so paths — symlinks included — resolve inside the image and
 * never on the host. The environment is a fresh login-like one, not kiln's.
 *
 * A chroot has no running system: systemd's `systemctl start` (and restart, reload…)
 * prints "Running in chroot, ignoring …" and exits 0. A command that asked for that
 * fails here with what it asked, instead of passing while doing nothing.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, posix, resolve as resolvePath } from 'node:path';
import { CancelledError, SystemError, throwIfAborted, UserError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import type {
  ChrootConnectionInfo,
  Communicator,
  ExecRequest,
  ExecResult,
} from './communicator.js';
import { shellQuote as q } from './shell-quote.js';

/** execa loads when a transfer starts, not with the builder registry (`kiln validate` needs none). */
type Execa = typeof import('execa').execa;
const loadExeca = async (): Promise<Execa> => (await import('execa')).execa;

/** The environment commands in the chroot start with (as a root login shell would have it). */
export const CHROOT_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  USER: 'root',
  LOGNAME: 'root',
  SHELL: '/bin/sh',
  LANG: 'C.UTF-8',
};

/** systemctl verbs that need a running system: in a chroot systemd ignores them. */
const NEEDS_RUNNING = /Running in chroot, ignoring (?:command '([a-z-]+)'|request)/;
const RUNTIME_VERBS = new Set([
  'start',
  'restart',
  'reload',
  'try-restart',
  'reload-or-restart',
  'try-reload-or-restart',
  'isolate',
  'reboot',
  'poweroff',
  'halt',
]);

export interface ChrootCommunicatorOptions {
  /** Where the image's root file system is mounted. */
  root: string;
  /**
   * Packer's `command_wrapper`: given the host command (`chroot <root> /bin/sh -c …`), the
   * text `/bin/sh -c` runs on the host. Undefined: the command runs without a host shell.
   */
  wrap?: (command: string) => string;
  /** The chroot program (default `chroot`). */
  chroot?: string;
}

/** Whether a line says systemd ignored a request that needs a running system; the verb when it does. */
export function ignoredBySystemd(line: string): string | undefined {
  const m = NEEDS_RUNNING.exec(line);
  if (!m) return undefined;
  // Older systemctl, and `reboot`/`poweroff`, say only "ignoring request".
  const verb = m[1] ?? 'reboot';
  return RUNTIME_VERBS.has(verb) ? verb : undefined;
}

export class ChrootCommunicator implements Communicator {
  readonly connection: ChrootConnectionInfo;
  private readonly chroot: string;
  private closed = false;

  constructor(private readonly opts: ChrootCommunicatorOptions) {
    this.connection = { type: 'chroot', root: opts.root, user: 'root' };
    this.chroot = opts.chroot ?? 'chroot';
  }

  /** Runs `req.command` with /bin/sh inside the chroot, streaming lines; see Communicator.exec. */
  async exec(req: ExecRequest): Promise<ExecResult> {
    this.ensureOpen();
    const refused: string[] = [];
    const onStderr = (line: string): void => {
      const verb = ignoredBySystemd(line);
      if (verb) refused.push(verb);
      req.onStderr?.(line);
    };
    const [file, args] = this.commandLine(req.command);
    const r = await run(file, args, {
      signal: req.signal,
      env: CHROOT_ENV,
      extendEnv: false,
      ...(req.stdin !== undefined ? { input: req.stdin } : {}),
      reject: false,
      processGroup: true,
      ...(req.onStdout ? { onStdout: req.onStdout } : {}),
      onStderr,
      installHint: 'chroot is part of coreutils: apt install coreutils',
    });
    if (refused.length > 0) {
      throw new UserError(
        'NeedsRunningSystem',
        `a command asked systemd for "${[...new Set(refused)].join('", "')}", which needs a running system: in a chroot nothing runs, so systemd ignored it`,
        {
          hint: 'enable the unit instead (`systemctl enable` works offline) and let the image start it at boot, or build with the qemu builder',
        },
      );
    }
    return r.signal ? { exitCode: -1, signal: r.signal } : { exitCode: r.exitCode };
  }

  /** Writes a local file (mode kept) or a Buffer to a path inside the chroot. */
  async upload(
    source: string | Buffer,
    remotePath: string,
    opts: { mode?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    this.ensureOpen();
    throwIfAborted(opts.signal);
    let mode = opts.mode;
    if (typeof source === 'string' && mode === undefined) {
      const st = await stat(source).catch((e: NodeJS.ErrnoException) => {
        throw new UserError('UploadSourceMissing', `cannot read ${source}: ${e.code ?? e.message}`);
      });
      mode = st.mode & 0o7777;
    }
    const chmod = mode === undefined ? '' : ` && chmod ${mode.toString(8)} "$1"`;
    await this.inside(`cat > "$1"${chmod}`, [remotePath], `upload to ${remotePath}`, {
      ...(typeof source === 'string' ? { inputFile: source } : { input: source }),
      signal: opts.signal,
    });
  }

  /** Copies a directory in with tar; `src/` puts its contents into `remoteDir`, `src` puts `src` inside it. */
  async uploadDir(
    src: string,
    remoteDir: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.ensureOpen();
    const execa = await loadExeca();
    const local = resolvePath(src);
    const st = await stat(local).catch(() => undefined);
    if (!st?.isDirectory()) throw new UserError('UploadSourceMissing', `${src} is not a directory`);
    const contentsOnly = src.endsWith('/');
    // An existing target keeps its own mode (it may be /tmp); new directories get the source's.
    const pack = contentsOnly
      ? ['-C', local, '-cf', '-', '.']
      : ['-C', dirname(local), '-cf', '-', basename(local)];
    await this.piped(
      () =>
        execa('tar', pack, {
          reject: false,
          cancelSignal: opts.signal,
          stdin: 'ignore',
          encoding: 'buffer',
          buffer: { stdout: false, stderr: true },
        }),
      'mkdir -p "$1" && tar -x --no-overwrite-dir --no-same-owner -C "$1" -f -',
      [remoteDir],
      `upload of ${src} to ${remoteDir}`,
      opts.signal,
    );
  }

  /** Copies one file out of the chroot. */
  async download(
    remotePath: string,
    localPath: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.ensureOpen();
    throwIfAborted(opts.signal);
    await this.inside('cat "$1"', [remotePath], `download of ${remotePath}`, {
      stdout: { file: localPath },
      signal: opts.signal,
    });
  }

  /** Copies a directory out with tar; `dir/` puts its contents into `localDir`, `dir` puts `dir` inside it. */
  async downloadDir(
    remoteDir: string,
    localDir: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.ensureOpen();
    throwIfAborted(opts.signal);
    const execa = await loadExeca();
    const contentsOnly = remoteDir.endsWith('/');
    const source = remoteDir.replace(/\/+$/, '') || '/';
    const target = contentsOnly ? localDir : resolvePath(localDir, posix.basename(source));
    const [file, args] = this.commandLine('tar -C "$1" -cf - .', [source]);
    await run('mkdir', ['-p', target], { signal: opts.signal });
    const unpack = execa('tar', ['-x', '--no-same-owner', '-C', target, '-f', '-'], {
      reject: false,
      cancelSignal: opts.signal,
    });
    // Piped before the event loop turns: no byte is read before the pipe is in place.
    const packer = execa(file, args, {
      env: CHROOT_ENV,
      extendEnv: false,
      reject: false,
      cancelSignal: opts.signal,
      stdin: 'ignore',
      // Raw bytes, and not kept: they go to the pipe below only.
      encoding: 'buffer',
      buffer: { stdout: false, stderr: true },
    });
    packer.stdout?.pipe(unpack.stdin!);
    const [p, u] = await Promise.all([packer, unpack]);
    if (opts.signal?.aborted) throw new CancelledError(`download of ${remoteDir}: cancelled`);
    if (p.exitCode !== 0 || u.exitCode !== 0) {
      throw new SystemError(
        'TransferFailed',
        `download of ${remoteDir} failed: ${text(p.stderr) || text(u.stderr)}`,
      );
    }
  }

  /** Later calls fail; nothing stays open between commands. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private ensureOpen(): void {
    if (this.closed)
      throw new SystemError('ChrootClosed', 'the chroot communicator was already closed');
  }

  /** The host program and arguments that run `script` (with `$1`… = `params`) in the chroot. */
  private commandLine(script: string, params: readonly string[] = []): [string, string[]] {
    const inner = [
      this.opts.root,
      '/bin/sh',
      '-c',
      script,
      ...(params.length ? ['sh', ...params] : []),
    ];
    if (!this.opts.wrap) return [this.chroot, inner];
    return ['/bin/sh', ['-c', this.opts.wrap([this.chroot, ...inner].map(q).join(' '))]];
  }

  /** Runs a transfer script inside the chroot; fails with its stderr unless it exits 0. */
  private async inside(
    script: string,
    params: readonly string[],
    what: string,
    io: {
      input?: Buffer;
      inputFile?: string;
      stdout?: { file: string };
      signal?: AbortSignal;
    },
  ): Promise<void> {
    const [file, args] = this.commandLine(script, params);
    const execa = await loadExeca();
    const r = await execa(file, args, {
      env: CHROOT_ENV,
      extendEnv: false,
      reject: false,
      cancelSignal: io.signal,
      ...(io.input !== undefined ? { input: io.input } : {}),
      ...(io.inputFile !== undefined ? { inputFile: io.inputFile } : {}),
      ...(io.input === undefined && io.inputFile === undefined ? { stdin: 'ignore' as const } : {}),
      ...(io.stdout ? { stdout: io.stdout } : {}),
    });
    if (r.isCanceled || io.signal?.aborted) throw new CancelledError(`${what}: cancelled`);
    if (r.exitCode !== 0) {
      const err = String(r.stderr ?? '').trim();
      throw new SystemError('TransferFailed', `${what} failed: ${err || `status ${r.exitCode}`}`, {
        hint: /No such file or directory|Directory nonexistent/.test(err)
          ? 'the remote directory must exist first (create it with a shell provisioner)'
          : undefined,
      });
    }
  }

  /** Feeds a host process's stdout to a script inside the chroot. */
  private async piped(
    startSource: () => ReturnType<Execa>,
    script: string,
    params: readonly string[],
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const [file, args] = this.commandLine(script, params);
    const execa = await loadExeca();
    const sink = execa(file, args, {
      env: CHROOT_ENV,
      extendEnv: false,
      reject: false,
      cancelSignal: signal,
    });
    // Started once the sink is there, and piped before the event loop turns.
    const source = startSource();
    source.stdout?.pipe(sink.stdin!);
    const [s, k] = await Promise.all([source, sink]);
    if (signal?.aborted) throw new CancelledError(`${what}: cancelled`);
    if (s.exitCode !== 0 || k.exitCode !== 0) {
      throw new SystemError(
        'TransferFailed',
        `${what} failed: ${text(s.stderr) || text(k.stderr)}`,
      );
    }
  }
}

/** A program's stderr as trimmed text, whether execa kept it as a string or as bytes. */
function text(v: unknown): string {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8').trim();
  return typeof v === 'string' ? v.trim() : '';
}
