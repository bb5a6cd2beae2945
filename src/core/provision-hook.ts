/**
 * Packer's provision hook: runs a build's provisioners in order once the builder has a
 * machine, each wrapped as Packer 1.6.6 wraps it — `pause_before` (which, as in Packer,
 * wins over `timeout`), `timeout`, then `max_retries` around both — and on failure runs
 * the `error-cleanup-provisioner` before the error goes on to the builder's cleanups.
 */
import type { Communicator } from '../communicator/communicator.js';
import { formatGoDuration } from '../lib/duration.js';
import { CancelledError, KilnError, throwIfAborted } from '../lib/errors.js';
import { sleep } from '../lib/sleep.js';
import type { BuildTracker } from './build-tracker.js';
import { goQuote } from './go-quote.js';
import type { PreparedBuild, PreparedProvisioner } from './loaded-template.js';
import type { BuildContext, ProvisionHook } from './plugin.js';

/** The hook a builder calls when its machine is reachable. */
export function createProvisionHook(
  build: PreparedBuild,
  ctx: BuildContext,
  tracker?: BuildTracker,
): ProvisionHook {
  return {
    async run(comm: Communicator | undefined): Promise<void> {
      try {
        for (const p of build.provisioners) {
          tracker?.phase(build.name, provisionerLabel(p));
          await runProvisioner(p, ctx, comm);
        }
      } catch (err) {
        if (ctx.signal.aborted) throw new CancelledError('build cancelled during provisioning');
        if (ctx.onError === 'abort') throw err;
        ctx.ui.say('Provisioning step had errors: Running the cleanup provisioner, if present...');
        const cleanup = build.errorCleanupProvisioner;
        if (cleanup) {
          tracker?.phase(build.name, `error-cleanup-provisioner (${cleanup.type})`);
          // Like Packer, the cleanup provisioner runs even though the build failed; only
          // a second interrupt stops it.
          const cleanupCtx: BuildContext = {
            ...ctx,
            signal: ctx.cleanupSignal ?? new AbortController().signal,
          };
          try {
            await runProvisioner(cleanup, cleanupCtx, comm);
          } catch (cleanupErr) {
            throw new KilnError(
              'CleanupProvisionerFailed',
              `Cleanup failed: ${errorText(cleanupErr)}. Original Provisioning error: ${errorText(err)}`,
              { cause: err, source: err instanceof KilnError ? err.source : 'internal' },
            );
          }
        }
        throw err;
      }
    },
  };
}

/** `provisioner N (type)`, 1-based, as messages name it. */
export function provisionerLabel(p: PreparedProvisioner): string {
  return `provisioner ${p.index + 1} (${p.type})`;
}

/** The text Packer shows for an error: its message (and, for kiln errors, their details). */
export function errorText(err: unknown): string {
  if (err instanceof KilnError) return [err.message, ...err.details].join('\n');
  if (err instanceof Error) return err.message;
  return String(err);
}

async function runProvisioner(
  p: PreparedProvisioner,
  ctx: BuildContext,
  comm: Communicator | undefined,
): Promise<void> {
  throwIfAborted(ctx.signal);
  let first: unknown;
  try {
    await attempt(p, ctx, comm);
    return;
  } catch (err) {
    if (ctx.signal.aborted || p.maxRetries <= 0) throw err;
    first = err;
  }
  // Packer 1.6.6 quotes the first failure in every retry message and returns it at the end.
  for (let left = p.maxRetries; left > 0; left--) {
    throwIfAborted(ctx.signal);
    ctx.ui.say(
      `Provisioner failed with ${goQuote(errorText(first))}, retrying with ${left} trie(s) left`,
    );
    try {
      await attempt(p, ctx, comm);
      return;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
    }
  }
  ctx.ui.say('retry limit reached.');
  throw first;
}

async function attempt(
  p: PreparedProvisioner,
  ctx: BuildContext,
  comm: Communicator | undefined,
): Promise<void> {
  let signal = ctx.signal;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  if (p.pauseBeforeMs > 0) {
    ctx.ui.say(`Pausing ${formatGoDuration(p.pauseBeforeMs)} before the next provisioner...`);
    await sleep(p.pauseBeforeMs, ctx.signal);
  } else if (p.timeoutMs > 0) {
    ctx.ui.say(`Setting a ${formatGoDuration(p.timeoutMs)} timeout for the next provisioner...`);
    const timeout = new AbortController();
    timer = setTimeout(() => {
      timedOut = true;
      ctx.ui.error('Cancelling provisioner after a timeout...');
      timeout.abort(new CancelledError(`timed out after ${formatGoDuration(p.timeoutMs)}`));
    }, p.timeoutMs);
    signal = AbortSignal.any([ctx.signal, timeout.signal]);
  }
  try {
    const config = p.resolve(ctx.generated);
    await p.plugin.provision(config, { ...ctx, signal, comm, label: provisionerLabel(p) });
  } catch (err) {
    if (timedOut && !ctx.signal.aborted && err instanceof CancelledError) {
      throw new KilnError(
        'ProvisionerTimedOut',
        `${provisionerLabel(p)} timed out after ${formatGoDuration(p.timeoutMs)}`,
        { cause: err, source: 'user', hint: 'raise its "timeout" or make it faster' },
      );
    }
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }
}
