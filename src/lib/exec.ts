import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ResultPromise } from 'execa';
import { CancelledError, SystemError, UserError } from '../lib/errors.js';

/** Options for running one external program. */
export interface ExecOptions {
  signal?: AbortSignal;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Replace the environment instead of extending process.env. */
  extendEnv?: boolean;
  input?: string | Buffer;
  /** Called for each line of stdout / stderr as it arrives (without the newline). */
  onStdout?: (line: string) => void;
  onStderr?: (line: string) => void;
  /** Milliseconds before the process is killed and the call fails as timed out. */
  timeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL on cancel (default 5 s). */
  killGraceMs?: number;
  /** Do not throw on a non-zero exit; return the result. */
  reject?: boolean;
  /** How to tell the user to install the program if it is missing. */
  installHint?: string;
  /**
   * Start the program in its own process group and signal the whole group on cancel or
   * timeout, so a shell's children (a `sleep` in a script) do not outlive it.
   */
  processGroup?: boolean;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  signal?: string | undefined;
}

/**
 * Runs a program with cancellation (SIGTERM then SIGKILL), streamed lines and one rich
 * error naming the command, exit code and the tail of stderr. Never uses a shell.
 */
export async function run(
  file: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  // execa (and its ~100 modules) loads on the first run, not with every command that could run
  // a program: `kiln validate` and a build with nothing to do never load it.
  const { execa } = await import('execa');
  if (opts.signal?.aborted) throw new CancelledError(`${file} not started: cancelled`);
  const child: ResultPromise = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: opts.extendEnv ?? true,
    input: opts.input,
    cancelSignal: opts.signal,
    forceKillAfterDelay: opts.killGraceMs ?? 5000,
    timeout: opts.timeoutMs,
    reject: false,
    stripFinalNewline: true,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    all: false,
    lines: false,
    buffer: true,
    detached: opts.processGroup === true,
  });
  const stopGroup = opts.processGroup ? killGroupOnAbort(child, opts) : undefined;
  if (opts.onStdout) splitLines(child.stdout, opts.onStdout);
  if (opts.onStderr) splitLines(child.stderr, opts.onStderr);
  const r = await child.finally(() => stopGroup?.());
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.isCanceled || (opts.signal?.aborted && r.failed)) {
    throw new CancelledError(`${file} cancelled`);
  }
  const code = (r as { code?: string }).code;
  if (code === 'ENOENT') {
    throw new UserError('ToolMissing', `${file} is not installed (or not on PATH)`, {
      hint: opts.installHint ?? `install ${file} and try again`,
    });
  }
  if (r.timedOut) {
    throw new SystemError(
      'CommandTimedOut',
      `${commandLine(file, args)} timed out after ${opts.timeoutMs} ms`,
      {
        details: tail(stderr),
      },
    );
  }
  const result: ExecResult = { exitCode: r.exitCode ?? -1, stdout, stderr, signal: r.signal };
  if (opts.reject !== false && (r.exitCode !== 0 || r.signal)) {
    const how = r.signal ? `was killed by ${r.signal}` : `exited with status ${r.exitCode}`;
    throw new SystemError('CommandFailed', `${commandLine(file, args)} ${how}`, {
      details: tail(stderr),
    });
  }
  return result;
}

/** Sends SIGTERM to the child's process group on abort or timeout, then SIGKILL after the grace period. */
function killGroupOnAbort(child: ResultPromise, opts: ExecOptions): () => void {
  const timers: NodeJS.Timeout[] = [];
  const signalGroup = (sig: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // The group is already gone.
    }
  };
  const stop = (): void => {
    signalGroup('SIGTERM');
    const kill = setTimeout(() => signalGroup('SIGKILL'), opts.killGraceMs ?? 5000);
    kill.unref();
    timers.push(kill);
  };
  opts.signal?.addEventListener('abort', stop, { once: true });
  if (opts.timeoutMs) {
    const t = setTimeout(stop, opts.timeoutMs);
    t.unref();
    timers.push(t);
  }
  return () => {
    opts.signal?.removeEventListener('abort', stop);
    // The SIGKILL timer of a cancelled run stays armed: the group may outlive its leader.
    if (!opts.signal?.aborted) for (const t of timers) clearTimeout(t);
  };
}

function splitLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding?.('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i = buf.indexOf('\n');
    while (i >= 0) {
      onLine(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
    buf = '';
  });
}

function commandLine(file: string, args: readonly string[]): string {
  const shown = args.slice(0, 8).map((a) => (/\s/.test(a) ? JSON.stringify(a) : a));
  return [file, ...shown, ...(args.length > 8 ? ['…'] : [])].join(' ');
}

/** The last lines of a program's stderr, for an error message. */
export function tail(text: string, lines = 10): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines);
}

/**
 * True when `file` can be found on PATH (or, with a slash, exists) as an executable file: the
 * look-up `command -v` makes, without starting a shell — a command checks the same tools for
 * every build it loads (a pipeline: the build and each release), and a shell per look-up
 * costs tens of milliseconds on a loaded machine.
 */
export async function haveCommand(file: string): Promise<boolean> {
  const executable = (path: string) => {
    try {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  };
  if (file === '') return false;
  if (file.includes('/')) return executable(file);
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => executable(join(dir === '' ? '.' : dir, file)));
}
