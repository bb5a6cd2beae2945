/**
 * The OCI image spec's documents as kiln reads and writes them: descriptors, image
 * manifests and indexes (v1.1: `artifactType`, `subject`). Parsed with zod so a registry's
 * answer is checked before anything trusts it; unknown fields are kept (loose objects),
 * because the spec tells readers to ignore, not drop, what they do not know.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Media types of the OCI image spec (and Docker's, which registries still serve). */
export const MediaType = {
  imageManifest: 'application/vnd.oci.image.manifest.v1+json',
  imageIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  /** The empty config `{}` of an artifact that needs none. */
  empty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Every manifest type a pull accepts, for the Accept header. */
export const MANIFEST_ACCEPT = [
  MediaType.imageManifest,
  MediaType.imageIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
];

const digestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'a sha256 digest');
const annotations = z.record(z.string(), z.string());

/** A content descriptor: what a blob or manifest is, its digest and size. */
export const descriptorSchema = z.looseObject({
  mediaType: z.string().min(1),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: annotations.optional(),
  artifactType: z.string().optional(),
  platform: z.record(z.string(), z.unknown()).optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

/** An OCI image manifest (also accepts Docker's v2 schema 2, which has the same shape). */
export const imageManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});
export type ImageManifest = z.infer<typeof imageManifestSchema>;

/** An OCI image index (or Docker manifest list); the referrers API answers with one. */
export const imageIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotations.optional(),
});
export type ImageIndex = z.infer<typeof imageIndexSchema>;

/** The sha256 digest (`sha256:…`) of bytes held in memory (manifests and configs only). */
export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Serialises a document once; the bytes are what is hashed and sent, never re-serialised. */
export function encodeJson(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

/** A descriptor of in-memory bytes with their digest and size. */
export function describe(
  mediaType: string,
  bytes: Uint8Array,
  extra: Partial<Descriptor> = {},
): Descriptor {
  return { mediaType, digest: digestOf(bytes), size: bytes.length, ...extra };
}

/** Whether a media type names an index (a list of manifests) rather than one manifest. */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.imageIndex || mediaType === MediaType.dockerManifestList;
}
