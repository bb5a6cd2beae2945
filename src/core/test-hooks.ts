/**
 * Deterministic crash points for the reliability tests. `KILN_TEST_CRASH_AT=<name>` makes
 * the process kill itself with SIGKILL when it reaches the point of that name — a crash at
 * an exact place (e.g. between writing an image and recording it), which a test cannot
 * reach reliably with a signal from outside. Unset (always, outside tests), it does nothing.
 *
 * Points: `after-image-write` (qemu builder: the image's directory is in place, the catalog
 * row is not written yet).
 */

/** Kills this process with SIGKILL when KILN_TEST_CRASH_AT names `point`; otherwise returns at once. */
export function crashPoint(point: string): void {
  if (process.env.KILN_TEST_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}
