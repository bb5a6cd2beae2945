/**
 * QEMU for an instance, started so that it outlives kiln: detached into its own session,
 * its stdout and stderr going to a file (a pipe would break once kiln exits), and
 * unref'd so the kiln process can end while the VM keeps running. While this process
 * lives it learns QEMU's exit status; afterwards liveness is read from /proc.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import {
  isSameProcessAlive,
  type ProcessIdentity,
  processCmdline,
} from '../catalog/process-info.js';
import { UserError } from '../core/errors.js';

/** How a QEMU process ended, when this process saw it end. */
export interface QemuExit {
  code: number | null;
  signal: string | null;
}

/** QEMU processes this kiln process started, by pid, with their exit once seen. */
const exits = new Map<number, QemuExit>();

/**
 * Spawns `binary args` detached with stdout/stderr appended to `logFile`; resolves with the
 * pid once the process exists, or throws a UserError when the binary cannot be run.
 */
export async function spawnDetached(
  binary: string,
  args: readonly string[],
  logFile: string,
): Promise<number> {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    // child_process directly: core/exec pipes and waits, but this process must outlive us.
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd] });
    const spawned = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', (e) => resolve(e as NodeJS.ErrnoException));
    });
    if (spawned || child.pid === undefined) {
      throw new UserError(
        'ToolMissing',
        spawned?.code === 'ENOENT'
          ? `${binary} is not installed (or not on PATH)`
          : `${binary} could not be started: ${spawned?.message ?? 'no pid'}`,
        { hint: 'apt install qemu-system-x86 qemu-utils' },
      );
    }
    const pid = child.pid;
    child.once('exit', (code, signal) => exits.set(pid, { code, signal }));
    child.unref();
    return pid;
  } finally {
    closeSync(fd);
  }
}

/** The exit of a QEMU this process started, once it has ended. */
export function knownExit(pid: number): QemuExit | undefined {
  return exits.get(pid);
}

/** `exit status 1` / `killed by SIGKILL`. */
export function describeQemuExit(e: QemuExit): string {
  return e.signal ? `killed by ${e.signal}` : `exit status ${e.code}`;
}

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
  const seen = exits.get(pid);
  if (seen) return `QEMU exited (${describeQemuExit(seen)})`;
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
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
