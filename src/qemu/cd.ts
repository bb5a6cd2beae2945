/**
 * Packer's `cd_files` / `cd_content` / `cd_label`: an ISO 9660 image (Rock Ridge and
 * Joliet, so names and modes survive) made on the fly with xorriso and attached as a
 * CD-ROM, e.g. cloud-init's `cidata` or a kickstart file. Files land at the CD's root
 * under their own names, directories with their whole tree under their own names, and
 * `cd_content` entries at the path they are keyed by.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { UserError } from '../lib/errors.js';
import { run } from '../lib/exec.js';

/** The program that makes the ISO. */
export const XORRISO = 'xorriso';
/** How to get it on Debian. */
export const XORRISO_INSTALL_HINT = 'apt install xorriso';

/** What goes onto the CD. */
export interface CdIsoOptions {
  /** Local files and directories (relative to the current directory, as in Packer). */
  files: readonly string[];
  /** Contents by path on the CD (`meta-data`, `ks/ks.cfg`). */
  content: Readonly<Record<string, string>>;
  /** The volume label (`cidata`); xorriso's default when undefined. */
  label?: string;
  /** The ISO to write. */
  out: string;
  /** An empty directory the `content` entries are written to first. */
  stagingDir: string;
  signal?: AbortSignal;
}

// xorriso's -graft-points: `=` separates the CD path from the local one; `\` escapes.
const graftEscape = (s: string) => s.replace(/\\/g, '\\\\').replace(/=/g, '\\=');

/** The CD path of a `cd_content` key, without leading slash; refuses paths leaving the CD's root. */
export function cdContentPath(key: string): string {
  const p = posix.normalize(key.replace(/^\/+/, ''));
  if (p === '.' || p === '' || p.startsWith('..')) {
    throw new UserError(
      'BadCdContentPath',
      `cd_content key "${key}" is not a file path on the CD`,
      {
        where: 'cd_content',
        hint: 'name a file such as "meta-data" or "ks/ks.cfg"',
      },
    );
  }
  return p;
}

/** Writes the ISO; throws a UserError naming cd_files when one of them is missing. */
export async function makeCdIso(opts: CdIsoOptions): Promise<void> {
  const grafts: string[] = [];
  for (const f of opts.files) {
    grafts.push(`${graftEscape(basename(resolve(f)))}=${graftEscape(resolve(f))}`);
  }
  for (const [key, text] of Object.entries(opts.content)) {
    const p = cdContentPath(key);
    const local = join(opts.stagingDir, p);
    await mkdir(dirname(local), { recursive: true });
    await writeFile(local, text);
    grafts.push(`${graftEscape(p)}=${graftEscape(local)}`);
  }
  await run(
    XORRISO,
    [
      '-as',
      'mkisofs',
      '-quiet',
      '-o',
      opts.out,
      ...(opts.label ? ['-V', opts.label] : []),
      '-J',
      '-joliet-long',
      '-R',
      '-graft-points',
      ...grafts,
    ],
    { signal: opts.signal, installHint: XORRISO_INSTALL_HINT },
  );
}
