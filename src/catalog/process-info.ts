/**
 * What the journal needs to know about a process: is it still the same process that
 * was recorded? A pid alone is not enough — pids are reused — so a run also records the
 * process's start time (field 22 of /proc/<pid>/stat, in clock ticks since boot) and the
 * kernel's boot id (a reboot resets both pids and ticks).
 */
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  /** Clock ticks since boot when the process started; undefined without /proc. */
  startTime?: string;
  /** The kernel's boot id; undefined without /proc. */
  bootId?: string;
}

/** The running kernel's boot id, or undefined where /proc is absent. */
export function currentBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

interface Stat {
  state: string;
  startTime: string;
}

/** Parses /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  const state = rest[0];
  const startTime = rest[19];
  if (!state || !startTime) return undefined;
  return { state, startTime };
}

/** The identity of a live process, to be stored beside its pid. */
export function processIdentity(pid: number): ProcessIdentity {
  const stat = readStat(pid);
  const bootId = currentBootId();
  return { ...(stat ? { startTime: stat.startTime } : {}), ...(bootId ? { bootId } : {}) };
}

/** The process's command line as recorded by the kernel (arguments joined by spaces), if readable. */
export function processCmdline(pid: number): string | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const args = raw.split('\0');
    if (args.at(-1) === '') args.pop();
    return args.length > 0 ? args.join(' ') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True while `pid` is the same living process as the one recorded: it exists (signal 0),
 * is not a zombie, and — when they were recorded — its start time and boot id match.
 */
export function isSameProcessAlive(pid: number, recorded: ProcessIdentity = {}): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else — still alive.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (recorded.bootId) {
    const boot = currentBootId();
    if (boot && boot !== recorded.bootId) return false;
  }
  const stat = readStat(pid);
  if (!stat) return process.platform !== 'linux';
  if (stat.state === 'Z' || stat.state === 'X') return false;
  if (recorded.startTime && stat.startTime !== recorded.startTime) return false;
  return true;
}
