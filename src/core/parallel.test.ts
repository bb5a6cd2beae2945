import { describe, expect, it } from 'vitest';
import { CancelledError } from '../lib/errors.js';
import { BuildUi, MemoryUi } from './events.js';
import { type Branch, parallelStep, runParallel } from './parallel.js';
import { Secrets } from './secrets.js';
import { runSteps, type Step } from './steps.js';

const ui = () => new BuildUi(new MemoryUi(new Secrets()), 'test');
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Waits `ms`, or rejects with a CancelledError as soon as the signal aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new CancelledError());
      },
      { once: true },
    );
  });
}

interface S {
  n: number;
  out?: number;
}

/** A branch whose one step makes a resource (logged) and takes `ms`; `fail` throws after it. */
function branch(n: number, log: string[], ms = 5, fail = false): Branch<S> {
  const make: Step<S> = {
    name: `make-${n}`,
    async run(state, { signal }) {
      log.push(`start ${n}`);
      await wait(ms, signal);
      if (fail) throw new Error(`branch ${n} broke`);
      state.out = n * 10;
      log.push(`done ${n}`);
    },
    async cleanup(_s, { failed }) {
      log.push(`cleanup ${n}${failed ? ' (failed)' : ''}`);
    },
  };
  return { name: `b${n}`, steps: [make], state: { n } };
}

describe('runParallel', () => {
  it('never runs more than the limit at once, starts in order and keeps each branch’s state', async () => {
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const branches: Branch<S>[] = [1, 2, 3, 4, 5].map((n) => ({
      name: `b${n}`,
      state: { n },
      steps: [
        {
          name: 'count',
          async run(state) {
            order.push(state.n);
            running++;
            peak = Math.max(peak, running);
            await tick();
            running--;
            state.out = state.n * 10;
          },
        },
      ],
    }));
    await runParallel(branches, { signal: new AbortController().signal, ui: ui() }, { limit: 2 });
    expect(branches.map((b) => b.state.out)).toEqual([10, 20, 30, 40, 50]);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
  });

  it('a failing branch cancels its siblings, each cleans up, no new branch starts, and the failure is thrown', async () => {
    const log: string[] = [];
    const branches = [branch(1, log, 5, true), branch(2, log, 1000), branch(3, log)];
    const t0 = Date.now();
    await expect(
      runParallel(branches, { signal: new AbortController().signal, ui: ui() }, { limit: 2 }),
    ).rejects.toThrow('branch 1 broke');
    expect(Date.now() - t0).toBeLessThan(900);
    expect(log).toEqual(['start 1', 'start 2', 'cleanup 1 (failed)', 'cleanup 2 (failed)']);
  });

  it('the caller’s abort cancels every branch; each cleans up; a CancelledError is thrown', async () => {
    const log: string[] = [];
    const ctl = new AbortController();
    const p = runParallel(
      [branch(1, log, 1000), branch(2, log, 1000), branch(3, log)],
      { signal: ctl.signal, ui: ui() },
      { limit: 2 },
    );
    await tick();
    ctl.abort();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(log.sort()).toEqual(['cleanup 1 (failed)', 'cleanup 2 (failed)', 'start 1', 'start 2']);
  });

  it('-on-error=abort leaves the failed branch’s resources in place', async () => {
    const log: string[] = [];
    await expect(
      runParallel(
        [branch(1, log, 1, true)],
        { signal: new AbortController().signal, ui: ui() },
        { limit: 1, onError: 'abort' },
      ),
    ).rejects.toThrow('branch 1 broke');
    expect(log).toEqual(['start 1']);
  });

  it('as a step: reports what every branch and the outer list still owe', async () => {
    const log: string[] = [];
    const reports: string[][] = [];
    const outer: Step<{ items: number[] }> = {
      name: 'outer',
      async run() {},
      async cleanup() {
        log.push('cleanup outer');
      },
    };
    const par = parallelStep<{ items: number[] }, S>(
      'fan-out',
      (s) => s.items.map((n) => branch(n, log, 5, n === 2)),
      () => 2,
    );
    await expect(
      runSteps(
        [outer, par],
        { items: [1, 2] },
        { signal: new AbortController().signal, ui: ui() },
        { onCleanupPending: (p) => reports.push(p) },
      ),
    ).rejects.toThrow('branch 2 broke');
    expect(reports).toContainEqual(['b2: make-2', 'outer']);
    expect(reports.at(-2)).toEqual(['outer']);
    expect(reports.at(-1)).toEqual([]);
    expect(log.at(-1)).toBe('cleanup outer');
  });
});

describe('runSteps left-behind report', () => {
  it('names what each cleanup would undo in its own words, leaving out what owes nothing', async () => {
    const reports: string[][] = [];
    const steps: Step<{ id?: string }>[] = [
      { name: 'open-clients', async run() {}, async cleanup() {}, owes: () => undefined },
      {
        name: 'start-refresh',
        async run(s) {
          s.id = 'r-1';
          throw new Error('refresh broke');
        },
        async cleanup() {},
        owes: (s, failed) => (failed && s.id ? `cancel instance refresh ${s.id}` : undefined),
      },
    ];
    await expect(
      runSteps(
        steps,
        {},
        { signal: new AbortController().signal, ui: ui() },
        {
          onCleanupPending: (p) => reports.push(p),
        },
      ),
    ).rejects.toThrow('refresh broke');
    expect(reports).toEqual([['cancel instance refresh r-1'], [], []]);
  });
});
