/**
 * How a kiln image chain is laid out in a registry, and back: pure functions, no I/O.
 *
 * One image manifest per pushed image. Its layers are the chain's qcow2 overlays in order,
 * base first, one zstd blob each, so a parent shared by two chains is stored once; its
 * config blob lists, for each layer, the image ID, the uncompressed digest and size (what a
 * pull verifies after decompressing) and the metadata the caller gives (the catalog's
 * record, which this module treats as opaque JSON). The manifest is an OCI v1.1 artifact:
 * `artifactType` and the config's own media type say "kiln image", so no container runtime
 * mistakes it for a container image.
 *
 * A saved VM state is never a layer of the image: it is a separate artifact whose `subject`
 * is the image manifest (a referrer). The image manifest, and so its digest, is then the
 * same whether or not a state was pushed, and a pull that does not ask for the state never
 * sees it.
 */
import { z } from 'zod';
import { UserError } from '../lib/errors.js';
import {
  type Descriptor,
  describe,
  encodeJson,
  type ImageManifest,
  MediaType,
} from './manifest.js';

/** kiln's media types. */
export const KilnMedia = {
  /** `artifactType` of an image manifest. */
  image: 'application/vnd.kiln.image.v1',
  /** The config blob of an image manifest. */
  imageConfig: 'application/vnd.kiln.image.config.v1+json',
  /** One qcow2 overlay, zstd-compressed. */
  qcow2Zstd: 'application/vnd.kiln.qcow2.layer.v1+zstd',
  /** Another file of an image (a kernel, an initrd), zstd-compressed. */
  fileZstd: 'application/vnd.kiln.file.layer.v1+zstd',
  /** `artifactType` of a saved VM state (a referrer of its image). */
  vmState: 'application/vnd.kiln.vm-state.v1',
  /** One file of a saved VM state, as stored (the state is already compressed by its writer). */
  vmStateFile: 'application/vnd.kiln.vm-state.file.v1',
} as const;

/** Annotation keys kiln sets (the OCI ones where one fits). */
export const Annotation = {
  title: 'org.opencontainers.image.title',
  created: 'org.opencontainers.image.created',
  imageId: 'vnd.kiln.image.id',
} as const;

/** One compressed layer blob and the digest and size of its uncompressed qcow2. */
export interface LayerBlob {
  digest: string;
  size: number;
  diffId: string;
  diffSize: number;
  mediaType?: string;
}

/** A file of an image besides its disk (kernel, initrd), by its name in the image's directory. */
export interface ChainFile {
  name: string;
  layer: LayerBlob;
}

/** One image of a chain: its ID, its opaque metadata, its own overlay's layer and its other files. */
export interface ChainLink {
  id: string;
  metadata: Record<string, unknown>;
  layer: LayerBlob;
  /** Files the image owns besides its disk; each one more layer, right after the disk's. */
  files?: ChainFile[];
}

const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/);

/** The config blob of an image manifest. */
export const imageConfigSchema = z.object({
  /** Version of this layout; a reader refuses one it does not know. */
  kilnConfigVersion: z.literal(1),
  /** When the top image was created (RFC 3339): fixed by the image, so a re-push is byte-identical. */
  created: z.string(),
  /** The chain, base first; entry i describes layer i. */
  chain: z
    .array(
      z.object({
        id: z.string().min(1),
        layer: digest,
        diffId: digest,
        diffSize: z.number().int().nonnegative(),
        metadata: z.record(z.string(), z.unknown()),
        /** The image's other files, each a layer after the disk's (absent: none). */
        files: z
          .array(
            z.object({
              name: z.string().regex(SAFE_NAME),
              layer: digest,
              diffId: digest,
              diffSize: z.number().int().nonnegative(),
            }),
          )
          .optional(),
      }),
    )
    .min(1),
});
export type ImageConfig = z.infer<typeof imageConfigSchema>;

/** A manifest ready to push: its bytes (what the digest covers) and the blobs it names. */
export interface BuiltManifest {
  manifest: ImageManifest;
  bytes: Buffer;
  descriptor: Descriptor;
}

/** An image artifact: the config blob's bytes and descriptor, and the manifest. */
export interface BuiltImage extends BuiltManifest {
  config: { bytes: Buffer; descriptor: Descriptor };
}

/**
 * Lays out a chain (base first) as an image artifact: one layer per overlay, a config with
 * each image's metadata. Deterministic: the same chain and `created` give the same digests.
 */
export function imageArtifact(chain: readonly ChainLink[], created: string): BuiltImage {
  if (chain.length === 0)
    throw new UserError('EmptyChain', 'an image chain needs at least one image');
  const ids = new Set<string>();
  for (const link of chain) {
    if (ids.has(link.id))
      throw new UserError('ChainRepeats', `image ${link.id} appears twice in the chain`);
    ids.add(link.id);
  }
  const config: ImageConfig = {
    kilnConfigVersion: 1,
    created,
    chain: chain.map((l) => ({
      id: l.id,
      layer: l.layer.digest,
      diffId: l.layer.diffId,
      diffSize: l.layer.diffSize,
      metadata: l.metadata,
      ...(l.files?.length
        ? {
            files: l.files.map((f) => ({
              name: f.name,
              layer: f.layer.digest,
              diffId: f.layer.diffId,
              diffSize: f.layer.diffSize,
            })),
          }
        : {}),
    })),
  };
  const configBytes = encodeJson(config);
  const configDesc = describe(KilnMedia.imageConfig, configBytes);
  const top = chain[chain.length - 1]!;
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.imageManifest,
    artifactType: KilnMedia.image,
    config: configDesc,
    layers: chain.flatMap((l) => [
      {
        mediaType: l.layer.mediaType ?? KilnMedia.qcow2Zstd,
        digest: l.layer.digest,
        size: l.layer.size,
        annotations: { [Annotation.title]: `${l.id}.qcow2`, [Annotation.imageId]: l.id },
      },
      ...(l.files ?? []).map((f) => ({
        mediaType: f.layer.mediaType ?? KilnMedia.fileZstd,
        digest: f.layer.digest,
        size: f.layer.size,
        annotations: { [Annotation.title]: f.name, [Annotation.imageId]: l.id },
      })),
    ]),
    annotations: { [Annotation.created]: created, [Annotation.imageId]: top.id },
  };
  const bytes = encodeJson(manifest);
  return {
    manifest,
    bytes,
    descriptor: describe(MediaType.imageManifest, bytes, { artifactType: KilnMedia.image }),
    config: { bytes: configBytes, descriptor: configDesc },
  };
}

/** Whether a manifest is a kiln image (by its artifact type or config media type). */
export function isKilnImage(manifest: ImageManifest): boolean {
  return (
    manifest.artifactType === KilnMedia.image || manifest.config.mediaType === KilnMedia.imageConfig
  );
}

/**
 * The inverse: a kiln image manifest and its config blob → the chain, base first, each
 * image with its layer. Throws a UserError when the two disagree or it is not a kiln image.
 */
export function readImageArtifact(manifest: ImageManifest, configBytes: Uint8Array): ChainLink[] {
  if (!isKilnImage(manifest))
    throw new UserError(
      'NotKilnImage',
      `the manifest is not a kiln image (artifact type ${manifest.artifactType ?? manifest.config.mediaType})`,
      {
        hint: 'kiln pulls what kiln push wrote',
      },
    );
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(configBytes).toString('utf8'));
  } catch {
    throw new UserError('KilnConfigInvalid', 'the image config blob is not JSON');
  }
  const parsed = imageConfigSchema.safeParse(raw);
  if (!parsed.success)
    throw new UserError('KilnConfigInvalid', 'the image config blob is not a kiln image config', {
      details: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      hint: 'it may come from a newer kiln: upgrade kiln',
    });
  const cfg = parsed.data;
  const extra = cfg.chain.reduce((n, e) => n + (e.files?.length ?? 0), 0);
  if (cfg.chain.length + extra !== manifest.layers.length)
    throw new UserError(
      'KilnConfigInvalid',
      `the config lists ${cfg.chain.length} images${extra ? ` with ${extra} files` : ''} for ${manifest.layers.length} layers`,
    );
  const ids = new Set<string>();
  let at = 0;
  /** The next layer of the manifest, checked against what the config says it is. */
  const next = (what: string, id: string, digest: string, mediaType: string) => {
    const i = at++;
    const layer = manifest.layers[i]!;
    if (layer.digest !== digest)
      throw new UserError(
        'KilnConfigInvalid',
        `layer ${i} is ${layer.digest} but the config says ${digest} (${what} of image ${id})`,
      );
    if (layer.mediaType !== mediaType)
      throw new UserError(
        'KilnConfigInvalid',
        `layer ${i} has media type ${layer.mediaType}, not ${mediaType}`,
      );
    return layer;
  };
  return cfg.chain.map((entry, i) => {
    // An ID from a registry becomes a file name in the kiln home: no path, no repeat.
    if (!SAFE_NAME.test(entry.id) || ids.has(entry.id))
      throw new UserError(
        'KilnConfigInvalid',
        `image ${i} has an unusable or repeated ID (${entry.id})`,
      );
    ids.add(entry.id);
    const layer = next('the disk', entry.id, entry.layer, KilnMedia.qcow2Zstd);
    const link: ChainLink = {
      id: entry.id,
      metadata: entry.metadata,
      layer: {
        digest: layer.digest,
        size: layer.size,
        diffId: entry.diffId,
        diffSize: entry.diffSize,
        mediaType: layer.mediaType,
      },
    };
    const names = new Set<string>();
    for (const f of entry.files ?? []) {
      if (names.has(f.name) || f.name === 'disk.qcow2')
        throw new UserError('KilnConfigInvalid', `image ${entry.id} repeats the file ${f.name}`);
      names.add(f.name);
      const fl = next(f.name, entry.id, f.layer, KilnMedia.fileZstd);
      link.files = [
        ...(link.files ?? []),
        {
          name: f.name,
          layer: {
            digest: fl.digest,
            size: fl.size,
            diffId: f.diffId,
            diffSize: f.diffSize,
            mediaType: fl.mediaType,
          },
        },
      ];
    }
    return link;
  });
}

/** The empty config blob `{}` a state artifact names (it must exist in the repository). */
export const EMPTY_CONFIG = Buffer.from('{}');

/** One file of a saved VM state: its name in the state directory and its blob. */
export interface StateFile {
  name: string;
  blob: { digest: string; size: number };
}

/**
 * A saved VM state as a referrer of its image manifest: an artifact with an empty config
 * and one layer per file. Pushing one is always the caller's explicit choice.
 */
export function stateArtifact(
  subject: Descriptor,
  imageId: string,
  files: readonly StateFile[],
  created: string,
): BuiltManifest {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.imageManifest,
    artifactType: KilnMedia.vmState,
    config: describe(MediaType.empty, EMPTY_CONFIG),
    layers: files.map((f) => ({
      mediaType: KilnMedia.vmStateFile,
      digest: f.blob.digest,
      size: f.blob.size,
      annotations: { [Annotation.title]: f.name },
    })),
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { [Annotation.created]: created, [Annotation.imageId]: imageId },
  };
  const bytes = encodeJson(manifest);
  return {
    manifest,
    bytes,
    descriptor: describe(MediaType.imageManifest, bytes, { artifactType: KilnMedia.vmState }),
  };
}

/** The inverse of stateArtifact: the image it belongs to and its files. */
export function readStateArtifact(manifest: ImageManifest): {
  imageId: string;
  files: StateFile[];
} {
  if (manifest.artifactType !== KilnMedia.vmState)
    throw new UserError(
      'NotKilnState',
      `the manifest is not a kiln VM state (artifact type ${manifest.artifactType})`,
    );
  const imageId = manifest.annotations?.[Annotation.imageId];
  if (!imageId) throw new UserError('NotKilnState', 'the VM state names no image');
  const names = new Set<string>();
  const files = manifest.layers.map((l) => {
    const name = l.annotations?.[Annotation.title];
    // A file name from a registry lands in the kiln home: no path, no hidden file.
    if (!name || !SAFE_NAME.test(name) || names.has(name))
      throw new UserError(
        'NotKilnState',
        `the VM state has a layer with an unusable file name (${name ?? 'none'})`,
      );
    names.add(name);
    return { name, blob: { digest: l.digest, size: l.size } };
  });
  return { imageId, files };
}
