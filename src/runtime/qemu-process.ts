/**
 * Whether an instance's QEMU still runs. While the kiln process that started it lives, the
 * launcher knows its exit; afterwards liveness is read from /proc (same start time, same
 * boot, and a command line that names the instance).
 */
import {
  isSameProcessAlive,
  type ProcessIdentity,
  processCmdline,
} from '../catalog/process-info.js';
import { sleep } from '../lib/sleep.js';
import { describeExit, knownExit } from '../qemu/launch.js';

/**
 * Undefined while `pid` is still the recorded QEMU (same start time and boot, and its
 * command line mentions `marker`, the instance's directory); otherwise why it is not.
 */
export function qemuGone(
  pid: number | null,
  identity: ProcessIdentity,
  marker: string,
): string | undefined {
  if (pid === null || pid <= 0) return 'it has no process';
  const seen = knownExit(pid);
  if (seen) return `QEMU exited (${describeExit(seen)})`;
  if (!isSameProcessAlive(pid, identity)) return `QEMU (pid ${pid}) is gone`;
  const cmd = processCmdline(pid);
  if (cmd !== undefined && !cmd.includes(marker))
    return `pid ${pid} now belongs to another program`;
  return undefined;
}

/** Resolves once `isGone()` is true, polling every `intervalMs`, or false after `timeoutMs`. */
export async function waitGone(
  isGone: () => boolean,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (isGone()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
