/**
 * The one way kiln waits: a timer that an AbortSignal ends early. On abort it rejects
 * with a CancelledError (a cancelled wait must not look like an elapsed one) and it
 * always removes its abort listener, so a long-lived signal does not collect one per
 * poll.
 */
import { CancelledError } from '../lib/errors.js';

export interface SleepOptions {
  /** Let the process exit while this timer is pending (for a timeout raced against an exit). */
  unref?: boolean;
}

/** Resolves after `ms`; rejects with a CancelledError as soon as `signal` aborts (at once if it already has). */
export function sleep(ms: number, signal?: AbortSignal, opts: SleepOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (opts.unref) timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Like sleep, but an abort ends the wait quietly (resolves): for loops that check the signal themselves and say what was cancelled. */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, signal);
  } catch (err) {
    if (!(err instanceof CancelledError)) throw err;
  }
}
