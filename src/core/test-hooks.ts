/**
 * Deterministic crash points for the reliability tests. `KILN_TEST_CRASH_AT=<name>` makes
 * the process kill itself with SIGKILL when it reaches the point of that name — a crash at
 * an exact place (e.g. between writing an image and recording it), which a test cannot
 * reach reliably with a signal from outside. Unset (always, outside tests), it does nothing.
 *
 * Points: `after-image-write` (qemu builder: the image's directory is in place, the catalog
 * row is not written yet); `chroot-mounted` (chroot builder: the export, loop device and
 * every mount are in place, the provisioners not started).
 *
 * `KILN_TEST_INTERRUPT_AFTER=<step>` is a Ctrl-C at an exact place: right after the step of
 * that name has made its resource, the process sends itself SIGINT and waits until the
 * run's signal is aborted, so the next step never starts and the cleanups run.
 */
import type { Step } from './steps.js';

/** Kills this process with SIGKILL when KILN_TEST_CRASH_AT names `point`; otherwise returns at once. */
export function crashPoint(point: string): void {
  if (process.env.KILN_TEST_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}

/** `steps` as they are, or — with KILN_TEST_INTERRUPT_AFTER set — each followed by its interrupt point. */
export function withInterruptPoints<S>(steps: readonly Step<S>[]): readonly Step<S>[] {
  const at = process.env.KILN_TEST_INTERRUPT_AFTER;
  if (!at) return steps;
  return steps.map((s) =>
    s.name !== at
      ? s
      : {
          ...s,
          async run(state, ctx) {
            await s.run(state, ctx);
            if (ctx.signal.aborted) return;
            // A timer keeps the event loop alive until the signal is handled (signal
            // handlers alone do not), and gives up if it never is.
            let timer: NodeJS.Timeout | undefined;
            const aborted = new Promise<void>((resolve, reject) => {
              ctx.signal.addEventListener('abort', () => resolve(), { once: true });
              timer = setTimeout(() => reject(new Error('SIGINT was not handled')), 10_000);
            });
            process.kill(process.pid, 'SIGINT');
            await aborted.finally(() => clearTimeout(timer));
          },
        },
  );
}
