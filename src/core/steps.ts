/**
 * A build is a flat list of steps. A step's `run` creates something; its `cleanup`
 * removes it. Every step that started is cleaned up, in reverse order — the failed one
 * too, and on success too — so a cleanup must cope with a half-done run. Cleanups run
 * under their own signal, so the Ctrl-C that stopped the run does not also stop them.
 */

import { CancelledError, formatError, throwIfAborted } from '../lib/errors.js';
import type { BuildUi } from './events.js';

export interface StepContext {
  /** Aborted on SIGINT/SIGTERM or when the build must stop. */
  signal: AbortSignal;
  ui: BuildUi;
  /**
   * How step lists a step runs inside itself (a parallel step's branches) are run: the same
   * -on-error, second interrupt and left-behind report as the list that runs the step.
   */
  nested?: RunStepsOptions;
}

export interface Step<S> {
  /** verb-noun, e.g. `create-disk`: shown in debug output and in what a second Ctrl-C leaves. */
  readonly name: string;
  run(state: S, ctx: StepContext): Promise<void>;
  /** Removes what `run` created; must tolerate `run` having stopped half-way. */
  cleanup?(state: S, ctx: CleanupContext): Promise<void>;
  /**
   * What its cleanup would still undo, in words, for the left-behind report of a forced
   * exit (`cancel instance refresh r-1`); undefined when it would undo nothing. Without
   * it, the report names the step.
   */
  owes?(state: S, failed: boolean): string | undefined;
}

export interface CleanupContext {
  /** Aborted only by a second interrupt: cleanup then gives up at once. */
  signal: AbortSignal;
  ui: BuildUi;
  /** True when the run failed or was cancelled (some cleanups keep results only on success). */
  failed: boolean;
}

export interface RunStepsOptions {
  /** `abort` leaves everything in place on failure, for debugging (Packer's -on-error=abort). */
  onError?: 'cleanup' | 'abort';
  /** Aborted by a second interrupt: stop cleaning up now. */
  cleanupSignal?: AbortSignal;
  /** Told before each cleanup, so a forced exit can name what it left behind. */
  onCleanupPending?: (pending: string[]) => void;
}

/**
 * Runs the steps in order and then cleans up every started step in reverse. Throws the
 * step's error (or CancelledError); cleanup errors are reported and never hide it.
 */
export async function runSteps<S>(
  steps: readonly Step<S>[],
  state: S,
  ctx: StepContext,
  opts: RunStepsOptions = {},
): Promise<void> {
  const started: Step<S>[] = [];
  const owing = (list: Step<S>[], failed: boolean) =>
    list.flatMap((s) => {
      const what = s.owes ? s.owes(state, failed) : s.name;
      return what === undefined ? [] : [what];
    });
  // While a nested list cleans up, this one has not finished: were it stopped now, it
  // would clean up as a failed run.
  const owed = () =>
    owing(
      started.filter((s) => s.cleanup),
      true,
    ).reverse();
  const report = opts.onCleanupPending;
  const runCtx: StepContext = {
    ...ctx,
    nested: {
      ...(opts.onError ? { onError: opts.onError } : {}),
      ...(opts.cleanupSignal ? { cleanupSignal: opts.cleanupSignal } : {}),
      // What a nested list still owes comes first: it is cleaned up before this list's steps.
      ...(report ? { onCleanupPending: (inner: string[]) => report([...inner, ...owed()]) } : {}),
    },
  };
  let failure: unknown;
  try {
    for (const step of steps) {
      throwIfAborted(ctx.signal);
      started.push(step);
      // Every step is a wait the Ui can show (a spinner on a terminal) once it lasts.
      await ctx.ui.wait(step.name, () => step.run(state, runCtx));
    }
    throwIfAborted(ctx.signal);
  } catch (err) {
    failure = ctx.signal.aborted && !(err instanceof CancelledError) ? new CancelledError() : err;
  }

  const failed = failure !== undefined;
  if (failed && opts.onError === 'abort') {
    ctx.ui.error(
      `Step "${started.at(-1)?.name}" failed; -on-error=abort leaves its resources in place: ` +
        started
          .filter((s) => s.cleanup)
          .map((s) => s.name)
          .join(', '),
    );
    throw failure;
  }

  const cleanupSignal = opts.cleanupSignal ?? new AbortController().signal;
  const pending = started.filter((s) => s.cleanup).reverse();
  while (pending.length > 0) {
    opts.onCleanupPending?.(owing(pending, failed));
    const step = pending.shift()!;
    try {
      await step.cleanup!(state, { signal: cleanupSignal, ui: ctx.ui, failed });
    } catch (err) {
      ctx.ui.error(`cleanup of ${step.name} failed: ${formatError(err)}`);
    }
  }
  opts.onCleanupPending?.([]);
  if (failed) throw failure;
}
