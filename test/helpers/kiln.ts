/**
 * The one way the integration tests run the compiled CLI (and other long commands such as
 * packer): asynchronously, with `spawn`. Never `spawnSync`: a synchronous child blocks the
 * vitest worker's thread, its birpc calls to the runner then time out after 60 s
 * (`[vitest-worker]: Timeout calling "onTaskUpdate"`), and a run whose tests all pass
 * fails. Short tools (qemu-img info, debugfs) may still run synchronously.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** The compiled CLI (`npm run build` first). */
export const KILN = join(ROOT, 'bin/kiln.js');

export interface RunOptions {
  /** KILN_HOME for the child (else the test process's own environment decides). */
  home?: string;
  cwd?: string;
  /** Added to (or, with undefined, removed from) the test process's environment. */
  env?: Record<string, string | undefined>;
  /** Give the child a fresh TMPDIR of its own (key dirs, QMP sockets), returned as `tmp`. */
  ownTmp?: boolean;
  /** Stop the child after this long (the result then has `timedOut`). */
  timeoutMs?: number;
  /** How to stop it then: SIGTERM (the default, as spawnSync's `timeout`) lets kiln clean up. */
  killSignal?: NodeJS.Signals;
  /** Written to the child's stdin, which is then closed (else stdin is /dev/null). */
  input?: string;
}

/** How a finished command ended, and what it printed. */
export interface RunResult {
  /** The exit status (null when a signal ended it). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
  timedOut: boolean;
  /** The child's own TMPDIR (with `ownTmp`). */
  tmp?: string;
}

/** A running command with its output collected so far. */
export interface Running {
  child: ChildProcess;
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in the output; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Settles once the child has exited and its output has been read. */
  exit: Promise<RunResult>;
  tmp?: string;
}

/** Starts `file args…` in the background. */
export function start(file: string, args: readonly string[], opts: RunOptions = {}): Running {
  const tmp = opts.ownTmp ? mkdtempSync(join(tmpdir(), 'kiln-test-tmp-')) : undefined;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries({
    ...(opts.home !== undefined ? { KILN_HOME: opts.home } : {}),
    ...(tmp !== undefined ? { TMPDIR: tmp } : {}),
    ...opts.env,
  })) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const child = spawn(file, args, {
    cwd: opts.cwd ?? ROOT,
    env,
    stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  let out = '';
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
    for (const w of [...waiters]) w();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
    stderr += d.toString();
    for (const w of [...waiters]) w();
  });
  let timedOut = false;
  const timer =
    opts.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          child.kill(opts.killSignal ?? 'SIGTERM');
        }, opts.timeoutMs)
      : undefined;
  const exit = new Promise<RunResult>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const done = () =>
        resolve({ code, signal, stdout, stderr, output: out, timedOut, ...(tmp ? { tmp } : {}) });
      // The rest of the output arrives before 'close'; a process the command left running
      // (a detached VM, a script's background job) may hold the pipes open for longer.
      if (child.stdout!.closed && child.stderr!.closed) return done();
      const grace = setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        done();
      }, 2000);
      child.once('close', () => {
        clearTimeout(grace);
        done();
      });
    });
  });
  // A test that only waits for lines must not turn a spawn failure into an unhandled rejection.
  exit.catch(() => undefined);
  return {
    child,
    ...(tmp ? { tmp } : {}),
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    exit,
    waitFor(pattern, timeoutMs = 300_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output:\n${out}`));
        }, timeoutMs);
        const check = () => {
          const m = out.match(pattern);
          if (!m) return;
          waiters.delete(check);
          clearTimeout(t);
          resolve(m);
        };
        waiters.add(check);
        void exit.then(
          () => {
            if (!waiters.has(check)) return;
            waiters.delete(check);
            clearTimeout(t);
            reject(new Error(`exited before ${pattern}; output:\n${out}`));
          },
          () => undefined,
        );
        check();
      });
    },
  };
}

/** Runs `file args…` to completion. */
export function run(
  file: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return start(file, args, opts).exit;
}

/** Starts the compiled CLI in the background. */
export function startKiln(args: readonly string[], opts: RunOptions = {}): Running {
  return start(process.execPath, [KILN, ...args], opts);
}

/** Runs the compiled CLI to completion. */
export function kiln(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return startKiln(args, opts).exit;
}
