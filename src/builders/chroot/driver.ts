/**
 * What the chroot builder's steps need from the host, as a small interface (Packer's
 * chroot `Driver`): qemu-img, the FUSE export, loop devices, mounts, host commands. The
 * real one sits on `src/qemu` and `src/lib/mounts.ts`; unit tests give the steps a fake
 * and run them without root.
 */
import { open } from 'node:fs/promises';
import {
  ChrootCommunicator,
  type ChrootCommunicatorOptions,
} from '../../communicator/chroot-communicator.js';
import type { Communicator } from '../../communicator/communicator.js';
import { run } from '../../lib/exec.js';
import {
  attachLoop,
  detachLoop,
  isMountPoint,
  mount,
  mountsUnder,
  stopProcessesIn,
  unmount,
} from '../../lib/mounts.js';
import { createOverlay, type ImageInfo, imageInfo } from '../../qemu/img.js';
import { type FuseExport, startFuseExport } from '../../qemu/storage-daemon.js';

/** One mount the builder makes: a file system type or `bind`, from `source`, at `target`. */
export interface MountSpec {
  type?: string;
  source: string;
  target: string;
  options?: readonly string[];
}

export interface ChrootDriver {
  imageInfo(file: string, signal: AbortSignal): Promise<ImageInfo>;
  /** A qcow2 overlay on `base`. */
  createOverlay(base: string, baseFormat: string, out: string, signal: AbortSignal): Promise<void>;
  /** Exposes a qcow2 image as a raw, writable file; `onSpawn` learns the daemon's pid at once. */
  startExport(
    image: string,
    file: string,
    signal: AbortSignal,
    onSpawn: (pid: number) => void,
  ): Promise<FuseExport>;
  /** The first `bytes` bytes of a file (to tell a bare file system from a partition table). */
  readHead(file: string, bytes: number): Promise<Buffer>;
  attachLoop(file: string, signal: AbortSignal): Promise<string>;
  detachLoop(device: string): Promise<void>;
  mount(spec: MountSpec, signal: AbortSignal): Promise<void>;
  /** Stops what still runs inside `root`, then unmounts `target` (no-op when not mounted). */
  unmount(target: string, root?: string): Promise<void>;
  /** Mount points at or below `path`, deepest first. */
  mountsUnder(path: string): string[];
  isMountPoint(path: string): boolean;
  /** The communicator provisioners get: commands and transfers through chroot(8). */
  openCommunicator(opts: ChrootCommunicatorOptions): Communicator;
  /** Runs a host shell command, its output line by line; resolves with its exit status. */
  hostCommand(
    command: string,
    signal: AbortSignal,
    onLine: (line: string, stream: 'stdout' | 'stderr') => void,
  ): Promise<number>;
}

/** The driver builds use: real qemu-img, qemu-storage-daemon, losetup, mount. */
export const chrootDriver: ChrootDriver = {
  imageInfo,
  createOverlay: (base, baseFormat, out, signal) =>
    createOverlay(base, baseFormat, out, undefined, signal),
  startExport: (image, file, signal, onSpawn) => startFuseExport({ image, file, signal, onSpawn }),
  async readHead(file, bytes) {
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(bytes);
      const { bytesRead } = await fh.read(buf, 0, bytes, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  },
  attachLoop,
  detachLoop,
  mount: (spec, signal) => mount(spec, signal),
  async unmount(target, root) {
    if (root) await stopProcessesIn(root);
    await unmount(target);
  },
  mountsUnder: (path) => mountsUnder(path),
  isMountPoint,
  openCommunicator: (opts) => new ChrootCommunicator(opts),
  async hostCommand(command, signal, onLine) {
    const r = await run('/bin/sh', ['-c', command], {
      signal,
      reject: false,
      processGroup: true,
      onStdout: (l) => onLine(l, 'stdout'),
      onStderr: (l) => onLine(l, 'stderr'),
    });
    return r.signal ? -1 : r.exitCode;
  },
};
