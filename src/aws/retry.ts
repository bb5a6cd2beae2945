/**
 * Waiting out AWS's eventual consistency: retrying a call while it fails with a "not yet"
 * code, and Packer's polling settings.
 */
import { throwIfAborted } from '../lib/errors.js';
import { sleep } from '../lib/sleep.js';
import { awsCode, isCredentialError } from './errors.js';

export interface RetryOptions {
  /** Error codes that mean "not yet" (eventual consistency, resource still in use). */
  codes: readonly string[];
  /** Attempts in all (default 12). */
  attempts?: number;
  /** First delay in ms, doubled each time up to `maxDelayMs` (default 500 → 8000). */
  delayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Told before each wait, e.g. to say "security group still in use, retrying". */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn` until it succeeds or fails with a code not in `codes`, waiting with a growing
 * delay between attempts. Credential errors are never retried.
 */
export async function retryOn<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = opts.attempts ?? 12;
  let delay = opts.delayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(opts.signal);
    try {
      return await fn();
    } catch (err) {
      const code = awsCode(err);
      if (attempt >= attempts || isCredentialError(err) || !code || !opts.codes.includes(code))
        throw err;
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 8000);
    }
  }
}
/** Polling for waits (Packer's `aws_polling`): the delay between checks and how many checks at most. */
export interface Polling {
  delayMs: number;
  maxAttempts: number;
}
