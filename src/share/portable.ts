/**
 * An image's catalog record as it travels in the config blob, and back. Paths are of one
 * kiln home, so a path to a file of an image in the chain (a kernel named in the metadata)
 * travels as `kiln-image-file:<id>/<name>` and becomes a path in the pulling home. A variable
 * whose value was redacted (a sensitive one) never leaves: only its absence does.
 */
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { ImageRecord, NewImage } from '../catalog/types.js';
import { REDACTED } from '../core/secrets.js';
import { UserError } from '../lib/errors.js';

const TOKEN = 'kiln-image-file:';
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The record of one image in the config blob (the metadata of its chain link). */
export const portableImageSchema = z.object({
  /** Its name in the catalog it was pushed from. */
  name: z.string().min(1),
  /** Which builder made it (`qemu`, `base`, `import`). */
  builder: z.string().min(1),
  /** Its parent's id, or null for the root of the chain. */
  parentId: z.string().nullable(),
  /** The disk's format (`qcow2`). */
  format: z.string().nullable(),
  /** The input hash it was built from: a pulled image is found again by the build cache. */
  inputHash: z.string().nullable(),
  /** User variables, sensitive ones left out. */
  variables: z.record(z.string(), z.string()),
  /** Its tags where it was pushed from (informative: a pull does not move tags). */
  tags: z.array(z.string()),
  /** When it was built (ISO 8601). */
  createdAt: z.string().min(1),
  /** The disk's file name in the image's directory. */
  disk: z.string().regex(FILE_NAME),
  /** The disk's sha256 where it was built (a pulled copy differs only in its backing path). */
  sha256: z.string().nullable(),
  /** Backend facts (kernel, command line, VM size), paths as `kiln-image-file:` tokens. */
  metadata: z.record(z.string(), z.unknown()),
});
export type PortableImage = z.infer<typeof portableImageSchema>;

/** The token standing for a file of a chain image. */
export function fileToken(id: string, name: string): string {
  return `${TOKEN}${id}/${name}`;
}

/** Replaces every string of `value` (deeply) through `fn`. */
function mapStrings(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn)]));
  return value;
}

/**
 * The record of `image` for the config blob. `tokens` maps each absolute path of a chain
 * image's file to its token.
 */
export function exportImage(
  image: ImageRecord,
  disk: string,
  tokens: ReadonlyMap<string, string>,
): PortableImage {
  const variables = Object.fromEntries(
    Object.entries(image.variables).filter(([, v]) => !v.includes(REDACTED)),
  );
  return {
    name: image.name,
    builder: image.builder,
    parentId: image.parentId,
    format: image.format,
    inputHash: image.inputHash,
    variables,
    tags: image.tags,
    createdAt: image.createdAt,
    disk,
    sha256: image.sha256,
    metadata: mapStrings(image.metadata, (s) => tokens.get(s) ?? s) as Record<string, unknown>,
  };
}

/** Reads the record a config blob holds for image `id`; a UserError when it is not one. */
export function readPortable(id: string, metadata: Record<string, unknown>): PortableImage {
  const parsed = portableImageSchema.safeParse(metadata);
  if (!parsed.success)
    throw new UserError(
      'KilnConfigInvalid',
      `the record of image ${id} in the image config is not usable`,
      {
        details: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        hint: 'it was pushed by another version of kiln: push it again with this one',
      },
    );
  return parsed.data;
}

/**
 * The catalog record of a pulled image: its own id, parent and creation time, tokens turned
 * into paths under `imagesDir`, and where it came from.
 */
export function importImage(
  id: string,
  p: PortableImage,
  files: string[],
  imagesDir: string,
  pulledFrom: string,
): NewImage & { id: string; createdAt: string } {
  const metadata = mapStrings(p.metadata, (s) => {
    if (!s.startsWith(TOKEN)) return s;
    const [owner, name, ...rest] = s.slice(TOKEN.length).split('/');
    // A token from a registry becomes a path: only `<id>/<file name>`, nothing else.
    if (!owner || !name || rest.length > 0 || !FILE_NAME.test(owner) || !FILE_NAME.test(name))
      throw new UserError('KilnConfigInvalid', `image ${id} names an unusable file (${s})`);
    return join(imagesDir, owner, name);
  }) as Record<string, unknown>;
  return {
    id,
    createdAt: p.createdAt,
    name: p.name,
    builder: p.builder,
    ...(p.parentId !== null ? { parentId: p.parentId } : {}),
    files,
    ...(p.format !== null ? { format: p.format } : {}),
    ...(p.inputHash !== null ? { inputHash: p.inputHash } : {}),
    variables: p.variables,
    // What the input hash of a build on this image counts (core/input-hash.ts).
    metadata: {
      ...metadata,
      pulledFrom,
      ...(typeof metadata.originSha256 !== 'string' && p.sha256 !== null
        ? { originSha256: p.sha256 }
        : {}),
    },
  };
}

/** A file's name in its image's directory. */
export function fileName(path: string): string {
  return basename(path);
}
