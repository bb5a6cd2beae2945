import { describe, expect, it } from 'vitest';
import { UserError } from '../lib/errors.js';
import { digestOf, MediaType } from './manifest.js';
import {
  Annotation,
  type ChainLink,
  imageArtifact,
  KilnMedia,
  readImageArtifact,
  readStateArtifact,
  stateArtifact,
} from './mapping.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const chain: ChainLink[] = [
  {
    id: 'img-00000000000000001',
    metadata: { name: 'base', vm: { cpus: 2 } },
    layer: { digest: d('1'), size: 100, diffId: d('a'), diffSize: 1000 },
  },
  {
    id: 'img-00000000000000002',
    metadata: { name: 'build', parent: 'img-00000000000000001' },
    layer: { digest: d('2'), size: 20, diffId: d('b'), diffSize: 200 },
  },
  {
    id: 'img-00000000000000003',
    metadata: { name: 'release' },
    layer: { digest: d('3'), size: 5, diffId: d('c'), diffSize: 50 },
  },
];
const created = '2026-01-02T03:04:05Z';

describe('imageArtifact / readImageArtifact', () => {
  it('lays a chain out base first, one zstd layer per overlay, and reads it back', () => {
    const built = imageArtifact(chain, created);
    expect(built.manifest.artifactType).toBe(KilnMedia.image);
    expect(built.manifest.mediaType).toBe(MediaType.imageManifest);
    expect(built.manifest.config).toEqual(built.config.descriptor);
    expect(built.config.descriptor).toMatchObject({
      mediaType: KilnMedia.imageConfig,
      digest: digestOf(built.config.bytes),
    });
    expect(
      built.manifest.layers.map((l) => [l.digest, l.mediaType, l.annotations?.[Annotation.title]]),
    ).toEqual([
      [d('1'), KilnMedia.qcow2Zstd, 'img-00000000000000001.qcow2'],
      [d('2'), KilnMedia.qcow2Zstd, 'img-00000000000000002.qcow2'],
      [d('3'), KilnMedia.qcow2Zstd, 'img-00000000000000003.qcow2'],
    ]);
    expect(built.manifest.annotations).toEqual({
      [Annotation.created]: created,
      [Annotation.imageId]: 'img-00000000000000003',
    });
    expect(built.descriptor.digest).toBe(digestOf(built.bytes));
    const back = readImageArtifact(JSON.parse(built.bytes.toString()), built.config.bytes);
    expect(back).toEqual(
      chain.map((l) => ({ ...l, layer: { ...l.layer, mediaType: KilnMedia.qcow2Zstd } })),
    );
  });

  it('is deterministic, and a new release changes only its own layer', () => {
    expect(imageArtifact(chain, created).bytes).toEqual(imageArtifact(chain, created).bytes);
    const next = [
      ...chain.slice(0, 2),
      { ...chain[2]!, id: 'img-00000000000000004', layer: { ...chain[2]!.layer, digest: d('4') } },
    ];
    const a = imageArtifact(chain, created).manifest.layers.map((l) => l.digest);
    const b = imageArtifact(next, created).manifest.layers.map((l) => l.digest);
    expect(b.slice(0, 2)).toEqual(a.slice(0, 2));
    expect(b[2]).not.toBe(a[2]);
  });

  it('refuses an empty chain, a repeated image, and a manifest its config contradicts', () => {
    expect(() => imageArtifact([], created)).toThrow(UserError);
    expect(() => imageArtifact([chain[0]!, chain[0]!], created)).toThrow(/appears twice/);
    const built = imageArtifact(chain, created);
    const m = JSON.parse(built.bytes.toString());
    const swapped = { ...m, layers: [m.layers[1], m.layers[0], m.layers[2]] };
    expect(() => readImageArtifact(swapped, built.config.bytes)).toThrow(/layer 0 is/);
    expect(() =>
      readImageArtifact({ ...m, layers: m.layers.slice(1) }, built.config.bytes),
    ).toThrow(/3 images for 2 layers/);
    expect(() =>
      readImageArtifact(
        { ...m, artifactType: 'x/y', config: { ...m.config, mediaType: 'x/z' } },
        built.config.bytes,
      ),
    ).toThrow(/not a kiln image/);
    expect(() => readImageArtifact(m, Buffer.from('{"kilnConfigVersion":2}'))).toThrow(
      /not a kiln image config/,
    );
    const evil = JSON.parse(built.config.bytes.toString());
    evil.chain[0].id = '../../etc';
    expect(() => readImageArtifact(m, Buffer.from(JSON.stringify(evil)))).toThrow(
      /unusable or repeated ID/,
    );
  });
});

describe('stateArtifact / readStateArtifact', () => {
  it('makes a referrer of the image with an empty config, and reads its files back', () => {
    const image = imageArtifact(chain, created);
    const files = [
      { name: 'state.zst', blob: { digest: d('5'), size: 9 } },
      { name: 'meta.json', blob: { digest: d('6'), size: 3 } },
    ];
    const s = stateArtifact(image.descriptor, 'img-00000000000000003', files, created);
    expect(s.manifest.subject).toEqual({
      mediaType: MediaType.imageManifest,
      digest: image.descriptor.digest,
      size: image.bytes.length,
    });
    expect(s.manifest.artifactType).toBe(KilnMedia.vmState);
    expect(s.manifest.config).toMatchObject({
      mediaType: MediaType.empty,
      size: 2,
      digest: digestOf(Buffer.from('{}')),
    });
    expect(readStateArtifact(s.manifest)).toEqual({ imageId: 'img-00000000000000003', files });
    const bad = {
      ...s.manifest,
      layers: [{ ...s.manifest.layers[0]!, annotations: { [Annotation.title]: '../x' } }],
    };
    expect(() => readStateArtifact(bad)).toThrow(/unusable file name/);
    expect(() => readStateArtifact(image.manifest)).toThrow(/not a kiln VM state/);
  });
});

describe('an image with files besides its disk', () => {
  it('puts each file right after its disk and reads them back', () => {
    const withFiles: ChainLink[] = [
      {
        ...chain[0]!,
        files: [
          { name: 'vmlinuz', layer: { digest: d('7'), size: 7, diffId: d('8'), diffSize: 8 } },
        ],
      },
      chain[1]!,
    ];
    const built = imageArtifact(withFiles, created);
    expect(built.manifest.layers.map((l) => [l.digest, l.mediaType])).toEqual([
      [d('1'), KilnMedia.qcow2Zstd],
      [d('7'), KilnMedia.fileZstd],
      [d('2'), KilnMedia.qcow2Zstd],
    ]);
    const back = readImageArtifact(JSON.parse(built.bytes.toString()), built.config.bytes);
    expect(back[0]!.files).toEqual([
      {
        name: 'vmlinuz',
        layer: {
          digest: d('7'),
          size: 7,
          diffId: d('8'),
          diffSize: 8,
          mediaType: KilnMedia.fileZstd,
        },
      },
    ]);
    expect(back[1]!.files).toBeUndefined();
    const m = JSON.parse(built.bytes.toString());
    expect(() =>
      readImageArtifact(
        { ...m, layers: [m.layers[0], m.layers[2], m.layers[1]] },
        built.config.bytes,
      ),
    ).toThrow(/layer 1 is/);
  });
});
