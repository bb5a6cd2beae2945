import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CancelledError } from '../lib/errors.js';
import { pause, sleep } from '../lib/sleep.js';

describe('sleep', () => {
  it('resolves after the time and leaves no listener on the signal', async () => {
    const ctl = new AbortController();
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) await sleep(10, ctl.signal);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
  });

  it('rejects with a CancelledError as soon as the signal aborts, and removes its listener', async () => {
    const ctl = new AbortController();
    const t0 = Date.now();
    const p = sleep(10_000, ctl.signal);
    setTimeout(() => ctl.abort(), 20);
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
  });

  it('rejects at once when the signal has already aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(sleep(10_000, ctl.signal)).rejects.toBeInstanceOf(CancelledError);
  });
});

describe('pause', () => {
  it('ends quietly on abort', async () => {
    const ctl = new AbortController();
    const p = pause(10_000, ctl.signal);
    ctl.abort();
    await expect(p).resolves.toBeUndefined();
  });
});
