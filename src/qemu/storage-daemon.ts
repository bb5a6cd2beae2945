/**
 * A qcow2 image exposed on this host as a raw disk file, writable, with
 * `qemu-storage-daemon --export type=fuse` (no VM): the chroot builder loop-mounts that
 * file. The daemon runs in its own process group, so a Ctrl-C in the terminal reaches
 * kiln only, and kiln stops it after unmounting what sits on the export.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { CancelledError, SystemError } from '../lib/errors.js';
import { isMountPoint, unmount } from '../lib/mounts.js';
import { sleep } from '../lib/sleep.js';
import { QEMU_INSTALL_HINT } from './img.js';

export const QEMU_STORAGE_DAEMON = 'qemu-storage-daemon';

/** A running export. */
export interface FuseExport {
  readonly pid: number;
  /** The raw view of the image (a FUSE mount on a regular file). */
  readonly file: string;
  /** Set once the daemon has exited. */
  readonly exited: boolean;
  /** Stops the daemon (SIGTERM, then SIGKILL) and waits for it and its mount to be gone. */
  stop(): Promise<void>;
}

/** The daemon's arguments: the qcow2 over a file node, exported writable at `file`. */
export function fuseExportArgs(image: string, file: string): string[] {
  const esc = (s: string) => s.replace(/,/g, ',,');
  return [
    '--blockdev',
    `driver=file,node-name=file0,filename=${esc(image)}`,
    '--blockdev',
    'driver=qcow2,node-name=disk0,file=file0',
    '--export',
    `type=fuse,id=export0,node-name=disk0,mountpoint=${esc(file)},writable=on`,
  ];
}

/**
 * Starts the export of `image` (qcow2) at `file` (created empty when absent) and waits
 * until the FUSE mount is there. `onSpawn` learns the pid at once (to journal it). A
 * daemon that does not come up is stopped, and its stderr is in the error.
 */
export async function startFuseExport(opts: {
  image: string;
  file: string;
  signal?: AbortSignal;
  onSpawn?(pid: number): void;
  timeoutMs?: number;
}): Promise<FuseExport> {
  await writeFile(opts.file, '', { flag: 'a' });
  const child = spawn(QEMU_STORAGE_DAEMON, fuseExportArgs(opts.image, opts.file), {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => {
    stderr = (stderr + c).slice(-4000);
  });
  let exited = false;
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once('error', (e: NodeJS.ErrnoException) => {
    spawnError = e;
    exited = true;
  });
  const gone = once(child, 'close').then(() => {
    exited = true;
  });
  const stop = async (): Promise<void> => {
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // Gone meanwhile.
      }
      const killed = await Promise.race([
        gone.then(() => true),
        sleep(10_000, undefined, { unref: true }).then(() => false),
      ]);
      if (!killed) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
        await gone;
      }
    }
    // The daemon takes its FUSE mount with it; one it could not remove is removed here.
    if (isMountPoint(opts.file)) await unmount(opts.file);
  };
  if (child.pid !== undefined) opts.onSpawn?.(child.pid);
  const end = Date.now() + (opts.timeoutMs ?? 15_000);
  try {
    while (!isMountPoint(opts.file)) {
      if (spawnError?.code === 'ENOENT') {
        throw new SystemError('ToolMissing', `${QEMU_STORAGE_DAEMON} is not installed`, {
          hint: QEMU_INSTALL_HINT,
        });
      }
      if (exited) {
        throw new SystemError('ExportFailed', `${QEMU_STORAGE_DAEMON} exited at start`, {
          details: stderr.trim().split('\n').slice(-5),
          hint: 'the FUSE export needs /dev/fuse and root (or the fuse group)',
        });
      }
      if (opts.signal?.aborted) throw new CancelledError('export cancelled');
      if (Date.now() > end) {
        throw new SystemError(
          'ExportTimeout',
          `${QEMU_STORAGE_DAEMON} did not export ${opts.image} within ${(opts.timeoutMs ?? 15_000) / 1000} s`,
          { details: stderr.trim().split('\n').slice(-5) },
        );
      }
      await sleep(10);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid: child.pid!,
    file: opts.file,
    get exited() {
      return exited;
    },
    stop,
  };
}
