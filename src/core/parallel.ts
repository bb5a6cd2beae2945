/**
 * The one way kiln runs things side by side: branches, each a step list with its own state
 * and its own cleanups (through runSteps), at most `limit` at once, started in order. The
 * first branch that fails stops the others — they are cancelled and clean up — and no new
 * branch starts; its error is thrown once every started branch has finished cleaning up, so
 * nothing a branch made outlives the call (unless -on-error=abort keeps it).
 */
import { CancelledError } from '../lib/errors.js';
import type { BuildUi } from './events.js';
import { type RunStepsOptions, runSteps, type Step, type StepContext } from './steps.js';

/** One branch: its steps and the state they share. */
export interface Branch<B> {
  /** Names the branch in the left-behind report (`release dev`). */
  readonly name: string;
  readonly steps: readonly Step<B>[];
  readonly state: B;
  /** The Ui its steps report to (default: the caller's). */
  readonly ui?: BuildUi;
}

export interface ParallelOptions extends RunStepsOptions {
  /** Branches running at once: 1 or more (Infinity: all at once). */
  limit: number;
}

/**
 * Runs the branches, at most `limit` at once, in order. Throws the first branch's failure
 * (a CancelledError when the caller's signal stopped them) after every started branch
 * cleaned up; branches not started by then never start.
 */
export async function runParallel<B>(
  branches: readonly Branch<B>[],
  ctx: StepContext,
  opts: ParallelOptions,
): Promise<void> {
  const limit = Math.max(1, opts.limit);
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  const owed = new Map<string, string[]>();
  const report = opts.onCleanupPending;
  let first: { err: unknown } | undefined;
  let next = 0;

  const runBranch = async (b: Branch<B>) => {
    try {
      await runSteps(
        b.steps,
        b.state,
        { signal, ui: b.ui ?? ctx.ui },
        {
          ...opts,
          ...(report
            ? {
                onCleanupPending: (names: string[]) => {
                  if (names.length > 0) owed.set(b.name, names);
                  else owed.delete(b.name);
                  report([...owed].flatMap(([n, list]) => list.map((s) => `${n}: ${s}`)));
                },
              }
            : {}),
        },
      );
    } catch (err) {
      // A sibling cancelled because another failed is a consequence, not the cause.
      if (
        first === undefined &&
        !(err instanceof CancelledError && stop.signal.aborted && !ctx.signal.aborted)
      )
        first = { err };
      if (!stop.signal.aborted) stop.abort(new CancelledError(`${b.name} failed`));
    }
  };
  const worker = async () => {
    while (next < branches.length && !signal.aborted) await runBranch(branches[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, branches.length) }, worker));
  if (first) throw first.err;
  if (ctx.signal.aborted) throw new CancelledError();
}

/**
 * A step that runs, for the state, one branch per item through `runParallel`; the limit is
 * read when the step runs. Its branches clean up before it returns: it has no cleanup.
 */
export function parallelStep<S, B>(
  name: string,
  branchesOf: (state: S) => readonly Branch<B>[],
  limitOf: (state: S) => number,
): Step<S> {
  return {
    name,
    async run(state, ctx) {
      await runParallel(branchesOf(state), ctx, { ...ctx.nested, limit: limitOf(state) });
    },
  };
}
