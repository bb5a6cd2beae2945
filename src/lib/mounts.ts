/**
 * The host's mount table and loop devices, for building an image in a chroot (and for
 * `kiln gc` to undo what a dead build left mounted): mount, unmount (after stopping what
 * still runs inside), attach and detach a loop device, and what is mounted under a path —
 * so that nothing ever deletes a directory with a mount below it (a bound /dev!).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { run } from './exec.js';
import { sleep } from './sleep.js';

/** How to get mount, umount and losetup on Debian. */
export const MOUNT_INSTALL_HINT = 'apt install mount util-linux';

/** Decodes the octal escapes (`\040` for a space) of a /proc mountinfo field. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Mount points (absolute paths) listed in /proc/self/mountinfo, in mount order. */
export function mountPoints(mountinfo?: string): string[] {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return [];
    }
  }
  return text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined && p !== '')
    .map(unescapeMountField);
}

/** Mount points at `path` or below it, deepest first (the order they must be unmounted in). */
export function mountsUnder(path: string, mountinfo?: string): string[] {
  const abs = resolve(path);
  const under = mountPoints(mountinfo).filter((m) => m === abs || m.startsWith(`${abs}${sep}`));
  return [...new Set(under)].sort((a, b) => b.length - a.length);
}

/** True when something is mounted at exactly `path`. */
export function isMountPoint(path: string): boolean {
  return mountPoints().includes(resolve(path));
}

/** Mounts `source` at `target` (private: nothing mounted below it reaches other mounts): a file system type, or a bind (`type: 'bind'`), with options. */
export async function mount(
  opts: { source: string; target: string; type?: string; options?: readonly string[] },
  signal?: AbortSignal,
): Promise<void> {
  // Private at once: a bind of a shared mount (the host's /dev) joins its peer group, and
  // what is then mounted below it (devpts) would appear on the host too.
  const args =
    opts.type === 'bind'
      ? ['--bind', '--make-private', opts.source, opts.target]
      : [...(opts.type ? ['-t', opts.type] : []), '--make-private', opts.source, opts.target];
  if (opts.options && opts.options.length > 0) args.unshift('-o', opts.options.join(','));
  await run('mount', args, { signal, installHint: MOUNT_INSTALL_HINT });
}

/** Pids of the processes whose root directory is `root` or inside it (what a chroot left running). */
export function processesRootedIn(root: string): number[] {
  const abs = resolve(root);
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const r = readlinkSync(`/proc/${d}/root`);
      if (r === abs || r.startsWith(`${abs}${sep}`)) pids.push(Number(d));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

/**
 * Stops every process running inside `root` (SIGTERM, then SIGKILL after `graceMs`): a
 * daemon a provisioner started keeps the file system busy. Returns how many there were.
 */
export async function stopProcessesIn(root: string, graceMs = 2000): Promise<number> {
  const pids = processesRootedIn(root);
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of processesRootedIn(root)) {
      try {
        process.kill(pid, sig);
      } catch {
        // Gone already.
      }
    }
  };
  if (pids.length === 0) return 0;
  signal('SIGTERM');
  const end = Date.now() + graceMs;
  while (processesRootedIn(root).length > 0 && Date.now() < end) await sleep(50);
  if (processesRootedIn(root).length > 0) {
    signal('SIGKILL');
    const killEnd = Date.now() + 2000;
    while (processesRootedIn(root).length > 0 && Date.now() < killEnd) await sleep(50);
  }
  return pids.length;
}

/**
 * Unmounts `target` if it is mounted, retrying a busy one a few times (a process that was
 * just killed may still hold it). Not lazily: a lazy unmount would report success while
 * the file system stays in use, and the export under it would then be cut off.
 */
export async function unmount(target: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (!isMountPoint(target)) return;
    const r = await run('umount', [target], { reject: false, installHint: MOUNT_INSTALL_HINT });
    if (r.exitCode === 0 || !isMountPoint(target)) return;
    if (attempt >= 20 || !/busy/i.test(r.stderr)) {
      throw new Error(`umount ${target} failed: ${r.stderr.trim() || `status ${r.exitCode}`}`);
    }
    await sleep(100);
  }
}

/** Attaches `file` to a free loop device (read-write); returns the device (`/dev/loopN`). */
export async function attachLoop(file: string, signal?: AbortSignal): Promise<string> {
  const r = await run('losetup', ['--find', '--show', file], {
    signal,
    installHint: MOUNT_INSTALL_HINT,
  });
  return r.stdout.trim();
}

/** The loop devices backed by `file` (from `losetup -j`). */
export async function loopsOf(file: string): Promise<string[]> {
  const r = await run('losetup', ['-j', file, '-O', 'NAME', '-n'], { reject: false });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Detaches a loop device; a device already free (or gone) is fine. */
export async function detachLoop(device: string): Promise<void> {
  const r = await run('losetup', ['-d', device], {
    reject: false,
    installHint: MOUNT_INSTALL_HINT,
  });
  if (r.exitCode !== 0 && !/No such device|not a block device|No such file/i.test(r.stderr)) {
    const info = await run('losetup', ['-n', '-O', 'BACK-FILE', device], { reject: false });
    // Detached already: losetup prints nothing for a free device.
    if (info.stdout.trim() === '') return;
    throw new Error(`losetup -d ${device} failed: ${r.stderr.trim() || `status ${r.exitCode}`}`);
  }
}
