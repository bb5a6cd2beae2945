/**
 * Where a build's disk comes from: a catalog image (`source_image`) or a disk file
 * (`iso_url` with `disk_image: true`, checked against `iso_checksum`). Used both by
 * `prepare` (before any side effect) and by the resolve-source step.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { CatalogApi, ImageRecord } from '../../catalog/types.js';
import { UserError } from '../../lib/errors.js';
import type { QemuConfig } from './config.js';
import type { SourceDisk } from './state.js';

/** The local file an `iso_url` names (`file://` stripped, relative to the cwd as in Packer), or undefined for remote URLs. */
export function localPath(url: string): string | undefined {
  if (/^file:\/\//.test(url)) return decodeURIComponent(url.replace(/^file:\/\//, ''));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return undefined;
  return resolve(url);
}

/** The first existing local file among iso_url / iso_urls, with a UserError saying which were tried. */
export function pickDiskFile(config: QemuConfig): string {
  const urls = [...(config.iso_url ? [config.iso_url] : []), ...(config.iso_urls ?? [])];
  const remote = urls.filter((u) => localPath(u) === undefined);
  for (const u of urls) {
    const p = localPath(u);
    if (p && existsSync(p)) return p;
  }
  throw new UserError('SourceDiskMissing', `disk image not found: ${urls.join(', ')}`, {
    where: 'iso_url',
    hint:
      remote.length > 0
        ? 'kiln reads local disk images only: download it first'
        : 'check the path (relative paths are resolved against the current directory)',
  });
}

/** Resolves a catalog image by reference, with a hint to make the base when it is one kiln can make. */
export function resolveSourceImage(catalog: CatalogApi, ref: string): ImageRecord {
  try {
    const image = catalog.images.resolve(ref);
    if (image.status === 'missing') {
      throw new UserError(
        'SourceImageMissing',
        `source image ${image.id} (${image.name}) has lost its disk file`,
        {
          where: 'source_image',
          hint:
            ref === 'debian-12'
              ? 'run `kiln base debian-12 --force` to make it again'
              : 'rebuild it or choose another source_image',
        },
      );
    }
    return image;
  } catch (err) {
    if (err instanceof UserError && err.code === 'ImageNotFound' && ref.includes('/'))
      throw new UserError('SourceImageMissing', `source image "${ref}" is not in the catalog`, {
        where: 'source_image',
        hint: 'a registry reference is pulled by `kiln build` and `kiln pipeline` (not by `kiln validate`): run `kiln pull` first to validate against it',
      });
    if (err instanceof UserError && err.code === 'ImageNotFound' && ref === 'debian-12') {
      throw new UserError('SourceImageMissing', 'source image "debian-12" is not in the catalog', {
        where: 'source_image',
        hint: 'run `kiln base debian-12` first',
      });
    }
    throw err;
  }
}

/** The disk, format and boot facts of a catalog image. */
export function sourceFromImage(image: ImageRecord): SourceDisk {
  const disk = image.files[0];
  if (!disk)
    throw new UserError('SourceImageMissing', `image ${image.id} has no disk file`, {
      where: 'source_image',
      hint: `forget it with \`kiln images rm ${image.id}\` and rebuild it, or choose another source_image`,
    });
  const md = image.metadata as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    file: disk,
    format: image.format ?? 'qcow2',
    image,
    kernel: str(md.kernel),
    initrd: str(md.initrd),
    cmdline: str(md.cmdline),
    kilnCredentials: md.kilnCredentials === true,
  };
}

/** Checks a file against Packer's `iso_checksum` forms; throws a UserError on mismatch. */
export async function verifyChecksum(file: string, checksum: string, type?: string): Promise<void> {
  let spec = checksum.trim();
  if (spec === '' || spec.toLowerCase() === 'none' || type?.toLowerCase() === 'none') return;
  let algo: string;
  let want: string;
  if (spec.startsWith('file:')) {
    const list = await readFile(localPath(spec.slice(5)) ?? spec.slice(5), 'utf8').catch(() => {
      throw new UserError('ChecksumFileMissing', `checksum file ${spec.slice(5)} cannot be read`, {
        where: 'iso_checksum',
      });
    });
    const name = basename(file);
    const line =
      list.split('\n').find((l) => l.includes(name)) ??
      list.split('\n').find((l) => l.trim() !== '');
    want = (line ?? '').trim().split(/\s+/)[0] ?? '';
    spec = want;
  }
  const m = /^(md5|sha1|sha256|sha512):(.+)$/i.exec(spec);
  if (m) {
    algo = m[1]!.toLowerCase();
    want = m[2]!.toLowerCase();
  } else {
    want = spec.toLowerCase();
    algo =
      type?.toLowerCase() ??
      ({ 32: 'md5', 40: 'sha1', 64: 'sha256', 128: 'sha512' } as Record<number, string>)[
        want.length
      ] ??
      '';
    if (!algo) {
      throw new UserError('BadChecksum', `cannot tell the type of checksum "${checksum}"`, {
        where: 'iso_checksum',
        hint: 'write it as sha256:<hex> (or "none")',
      });
    }
  }
  const hash = createHash(algo);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const got = hash.digest('hex');
  if (got !== want) {
    throw new UserError('ChecksumMismatch', `${algo} of ${file} is ${got}, not ${want}`, {
      where: 'iso_checksum',
      hint: 'the file changed or the checksum is wrong',
    });
  }
}
