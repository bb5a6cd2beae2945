/**
 * The one context every command runs in. It owns what a command must not do by hand:
 * the signals (the first SIGINT/SIGTERM aborts `signal` and lets the cleanups run; a
 * second one exits 130 at once, naming the cleanups still pending), the Ui chosen from
 * the global flags (`--machine-readable`, `--output json`, else human), a closed stdout
 * (EPIPE: the command stops quietly, or carries on for a build, as Packer does) and the
 * exit code.
 */
import type { Command } from 'commander';
import { BuildTracker } from '../core/build-tracker.js';
import type { Ui } from '../core/events.js';
import { Secrets } from '../core/secrets.js';
import { CancelledError, UserError } from '../lib/errors.js';
import { closeUi, createUi, type OutputMode, type StreamLike } from '../ui/index.js';

/** An output stream whose write errors (EPIPE) the context handles. */
export interface HostStream extends StreamLike {
  on(event: 'error', fn: (err: NodeJS.ErrnoException) => void): unknown;
}

/** The process as a command sees it; tests pass their own. */
export interface CliHost {
  stdout: HostStream;
  stderr: HostStream;
  env: NodeJS.ProcessEnv;
  /** Subscribes to SIGINT and SIGTERM; returns the unsubscribe. */
  onSignal(handler: (sig: NodeJS.Signals) => void): () => void;
  /** Ends the process now (a second signal). */
  exit(code: number): never;
}

/** The real process. */
export const processHost: CliHost = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onSignal(handler) {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  },
  exit: (code) => process.exit(code),
};

/** Flags every command may be given (`--output` is declared only by the commands that take it). */
export interface GlobalFlags {
  machineReadable?: boolean;
  output?: string;
  /** The hidden alias of `--output json` on the commands that had `--json`. */
  json?: boolean;
}

/** How a command wants its context. */
export interface ContextOptions {
  /** The command's name in messages (`kiln run`). */
  name: string;
  /** Keep going when stdout is closed (`kiln build | head`): the build and its cleanups must finish. */
  survivesClosedStdout?: boolean;
  /** An interrupt is the normal way to stop this command (`kiln logs -f`): exit 0, say nothing. */
  interruptIsEnd?: boolean;
}

/** What the Ui of a command prints. */
export interface UiOptions {
  /**
   * stdout carries the command's own results (ids, tables): progress always goes to
   * stderr as human lines, whatever the flags.
   */
  progressOnly?: boolean;
  /** Only errors (`-q`). */
  quiet?: boolean;
  /** `-color=false`. */
  color?: boolean;
  timestampUi?: boolean;
}

/** A command's signals, output and exit code. */
export class CliContext {
  /** Values never printed; a command adds its sensitive variables. */
  readonly secrets = new Secrets();
  /** The process's exit status once the command returns (an error thrown sets its own). */
  exitCode = 0;
  readonly flags: GlobalFlags;
  readonly host: CliHost;
  readonly options: ContextOptions;
  private readonly first = new AbortController();
  private readonly second = new AbortController();
  private readonly workflows = new Map<string, readonly string[]>();
  private readonly builds = new BuildTracker();
  /** Whether anything reports its pending cleanups (else a forced exit cannot say what is left). */
  private reporting = false;
  private stdoutGone = false;
  private signals = 0;
  private interruptNote: ((sig: NodeJS.Signals) => void) | undefined;
  private gcHint = 'run `kiln gc` to remove what this run left.';
  private release: (() => void) | undefined;
  private closed = false;
  /** Every Ui handed out: their spinners are erased (and the cursor shown) when the command ends. */
  private readonly uis: Ui[] = [];

  constructor(flags: GlobalFlags, options: ContextOptions, host: CliHost = processHost) {
    this.flags = flags;
    this.options = options;
    this.host = host;
    const onStdoutError = (err: NodeJS.ErrnoException): void => {
      if (err.code !== 'EPIPE') throw err;
      if (this.stdoutGone) return;
      this.stdoutGone = true;
      // Only a command that must finish anyway keeps running without its reader.
      if (!this.options.survivesClosedStdout) this.first.abort(new CancelledError('stdout closed'));
    };
    // Nothing useful can be said once stderr is gone; the command goes on.
    const onStderrError = (err: NodeJS.ErrnoException): void => {
      if (err.code !== 'EPIPE') throw err;
    };
    // Kept after close(): an EPIPE from a write still in flight surfaces later, and an
    // unhandled one would end the process with a stack trace.
    host.stdout.on('error', onStdoutError);
    host.stderr.on('error', onStderrError);
  }

  /**
   * Aborted by the first SIGINT/SIGTERM: the command stops and cleans up. The signals are
   * taken over only once a command asks for this (or cleanupSignal): until then, and in a
   * command that never waits on anything, Ctrl-C ends the process as usual.
   */
  get signal(): AbortSignal {
    this.listen();
    return this.first.signal;
  }

  /** Aborted by the second signal, just before the process exits: cleanups give up. */
  get cleanupSignal(): AbortSignal {
    this.listen();
    return this.second.signal;
  }

  /** The output mode the global flags ask for; a UserError for an unknown `--output`. */
  get mode(): OutputMode {
    const { output, machineReadable, json } = this.flags;
    if (output !== undefined && output !== 'json')
      throw new UserError('BadFlag', `unknown output format "${output}"`, {
        hint: 'use --output json',
      });
    return output === 'json' || json ? 'json' : machineReadable ? 'machine-readable' : 'human';
  }

  /** The Ui for this command's events, redacting `secrets`. */
  ui(opts: UiOptions = {}): Ui {
    const mode = opts.progressOnly ? 'human' : this.mode;
    const ui = createUi({
      mode,
      secrets: this.secrets,
      // Human progress never lands on stdout of a command whose stdout is its result.
      stdout: opts.progressOnly ? this.host.stderr : this.host.stdout,
      stderr: this.host.stderr,
      env: this.host.env,
      ...(opts.color !== undefined ? { color: opts.color } : {}),
      ...(opts.timestampUi ? { timestampUi: true } : {}),
    });
    this.uis.push(ui);
    if (!opts.quiet) return ui;
    return {
      secrets: ui.secrets,
      emit: (e) => (e.type === 'ui' && e.level === 'error' ? ui.emit(e) : undefined),
    };
  }

  /** Writes a result to stdout. */
  out(text: string | Uint8Array): void {
    if (!this.stdoutGone) this.host.stdout.write(text as string);
  }

  /** Writes a message to stderr. */
  err(text: string): void {
    this.host.stderr.write(text);
  }

  /** Replaces the line the first signal prints (a build says it the way Packer does). */
  onInterrupt(note: (sig: NodeJS.Signals) => void): void {
    this.interruptNote = note;
  }

  /** What to tell the user to do about what a second signal leaves (default: `kiln gc`). */
  leftBehindHint(hint: string): void {
    this.gcHint = hint;
  }

  /** Where running builds report their phase and pending cleanups (named by a second signal). */
  get tracker(): BuildTracker {
    this.reporting = true;
    return this.builds;
  }

  /**
   * A callback for a workflow's pending cleanups (runSteps' `onCleanupPending`), so a
   * second signal can name them as `label: not cleaned up: a, b`.
   */
  pendingCleanups(label: string): (pending: readonly string[]) => void {
    this.reporting = true;
    return (pending) => {
      if (pending.length === 0) this.workflows.delete(label);
      else this.workflows.set(label, [...pending]);
    };
  }

  /** What a forced exit now would leave behind, one line each. */
  leftovers(): string[] {
    return [
      ...this.builds.leftovers(),
      ...[...this.workflows].map(
        ([label, names]) => `${label}: not cleaned up: ${names.join(', ')}`,
      ),
    ];
  }

  /** True once the first signal (or a closed stdout) cancelled the command. */
  get cancelled(): boolean {
    return this.first.signal.aborted;
  }

  /** True when the command stopped because its reader went away (not an error to report). */
  get stdoutClosed(): boolean {
    return this.stdoutGone;
  }

  /** Stops listening for signals and erases the spinners of its Uis. */
  close(): void {
    for (const ui of this.uis) closeUi(ui);
    this.release?.();
    this.release = undefined;
    this.closed = true;
  }

  private listen(): void {
    if (this.release || this.closed) return;
    this.release = this.host.onSignal((sig) => this.interrupted(sig));
  }

  private interrupted(sig: NodeJS.Signals): void {
    this.signals++;
    if (this.signals === 1) {
      this.first.abort(new CancelledError(`cancelled by ${sig}`));
      if (this.interruptNote) this.interruptNote(sig);
      else if (!this.options.interruptIsEnd)
        this.err(
          `kiln: ${sig}: stopping ${this.options.name} and cleaning up (again to exit now)\n`,
        );
      return;
    }
    this.second.abort(new CancelledError(`second ${sig}`));
    for (const ui of this.uis) closeUi(ui);
    const left = this.leftovers();
    const lines = [
      `kiln: received a second ${sig}: exiting now without finishing cleanup.`,
      ...(left.length > 0
        ? ['kiln: left behind:', ...left.map((l) => `  ${l}`), `kiln: ${this.gcHint}`]
        : this.reporting
          ? ['kiln: nothing was left behind.']
          : [`kiln: what ${this.options.name} was making may be left behind; ${this.gcHint}`]),
    ];
    this.err(`${this.secrets.redact(lines.join('\n'))}\n`);
    this.host.exit(130);
  }
}

/**
 * Wraps a commander action: the command body gets a CliContext (after its usual
 * arguments are checked by commander), and the context's exit code becomes the process's.
 * An interrupt or a closed stdout that the command expects ends it quietly.
 */
export function withContext<A extends unknown[]>(
  options: ContextOptions,
  body: (ctx: CliContext, ...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args.at(-1) as Command;
    const ctx = new CliContext(command.optsWithGlobals<GlobalFlags>(), options);
    try {
      await body(ctx, ...args);
    } catch (err) {
      const quiet =
        err instanceof CancelledError &&
        (ctx.stdoutClosed || (options.interruptIsEnd === true && ctx.cancelled));
      if (!quiet) throw err;
    } finally {
      ctx.close();
    }
    if (ctx.exitCode !== 0) process.exitCode = ctx.exitCode;
  };
}
