/** The `qemu-img` calls kiln needs: reading an image, overlays, copies, resizes and rebases. */
import { open } from 'node:fs/promises';
import { run } from '../lib/exec.js';

export const QEMU_IMG = 'qemu-img';
/** How to get QEMU and qemu-img on Debian. */
export const QEMU_INSTALL_HINT = 'apt install qemu-system-x86 qemu-utils';

/** What `qemu-img info` says about an image. */
export interface ImageInfo {
  format: string;
  virtualSize: number;
  actualSize: number;
  backingFile?: string;
  backingFormat?: string;
}

/** Reads an image's format, sizes and backing file. */
export async function imageInfo(file: string, signal?: AbortSignal): Promise<ImageInfo> {
  const r = await run(QEMU_IMG, ['info', '--output=json', '-U', file], {
    signal,
    installHint: QEMU_INSTALL_HINT,
  });
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  return {
    format: String(j.format),
    virtualSize: Number(j['virtual-size']),
    actualSize: Number(j['actual-size'] ?? 0),
    backingFile: j['backing-filename'] as string | undefined,
    backingFormat: j['backing-filename-format'] as string | undefined,
  };
}

/**
 * Creates a qcow2 overlay on `base`, always naming the backing format (`-F`): qemu-img
 * ≥ 6.1 refuses a backing file without it. `sizeBytes` grows the virtual disk.
 */
export async function createOverlay(
  base: string,
  baseFormat: string,
  out: string,
  sizeBytes?: number,
  signal?: AbortSignal,
): Promise<void> {
  const args = ['create', '-q', '-f', 'qcow2', '-b', base, '-F', baseFormat, out];
  if (sizeBytes) args.push(String(sizeBytes));
  await run(QEMU_IMG, args, { signal, installHint: QEMU_INSTALL_HINT });
}

/** Creates an empty image of `sizeBytes` in `format` (qcow2 grows as the guest writes; raw is sparse). */
export async function createImage(
  file: string,
  format: string,
  sizeBytes: number,
  signal?: AbortSignal,
): Promise<void> {
  await run(QEMU_IMG, ['create', '-q', '-f', format, file, String(sizeBytes)], {
    signal,
    installHint: QEMU_INSTALL_HINT,
  });
}

/** Converts (and flattens) an image to `format`. */
export async function convertImage(
  src: string,
  out: string,
  format: string,
  signal?: AbortSignal,
  srcFormat?: string,
): Promise<void> {
  const args = ['convert', '-q', ...(srcFormat ? ['-f', srcFormat] : []), '-O', format, src, out];
  await run(QEMU_IMG, args, { signal, installHint: QEMU_INSTALL_HINT });
}

/** Grows an image's virtual disk to `sizeBytes`. */
export async function resizeImage(
  file: string,
  format: string,
  sizeBytes: number,
  signal?: AbortSignal,
): Promise<void> {
  await run(QEMU_IMG, ['resize', '-q', '-f', format, file, String(sizeBytes)], {
    signal,
    installHint: QEMU_INSTALL_HINT,
  });
}

/**
 * Points a qcow2 overlay at another backing file. `safe` keeps the overlay's contents as
 * they read now (qemu-img copies what differs); unsafe (`-u`) only rewrites the header.
 */
export async function rebaseImage(
  file: string,
  backing: string,
  backingFormat: string,
  safe: boolean,
  signal?: AbortSignal,
): Promise<void> {
  await run(
    QEMU_IMG,
    [
      'rebase',
      '-q',
      ...(safe ? [] : ['-u']),
      '-f',
      'qcow2',
      '-b',
      backing,
      '-F',
      backingFormat,
      file,
    ],
    { signal, installHint: QEMU_INSTALL_HINT },
  );
}

/** True when the file starts with the qcow2 magic. */
export async function isQcow2(file: string): Promise<boolean> {
  try {
    const fh = await open(file, 'r');
    try {
      const head = Buffer.alloc(4);
      await fh.read(head, 0, 4, 0);
      return head.toString('binary') === 'QFI\xfb';
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}
