import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Catalog } from '../catalog/index.js';
import { loadTemplate } from './index.js';
import type { Registry } from './types.js';

// A builder whose `source_image` names its source, and whose prepare sees what it is given.
const seen: string[] = [];
const registry: Registry = {
  builders: {
    disk: {
      type: 'disk',
      builderId: 'disk',
      sourceImageKey: 'source_image',
      schema: z.strictObject({ source_image: z.string() }),
      prepare: async (c: { source_image: string }) => {
        seen.push(c.source_image);
        return { warnings: [], errors: [] };
      },
      run: async () => undefined,
    },
  },
  provisioners: {},
  postProcessors: {},
};

const dir = mkdtempSync(join(tmpdir(), 'kiln-fetch-source-'));
const catalog = Catalog.openReadOnly(dir);
const template = join(dir, 't.json');
writeFileSync(
  template,
  JSON.stringify({
    variables: { source_image: 'debian-12', other: '' },
    builders: [
      { type: 'disk', name: 'a', source_image: '{{user `source_image`}}' },
      { type: 'disk', name: 'b', source_image: '{{user `source_image`}}' },
    ],
  }),
);

describe('fetchSource: a source image named by a registry reference', () => {
  it('is fetched once before the builds are prepared, and the variables then hold its id', async () => {
    seen.length = 0;
    const asked: string[] = [];
    const ref = '127.0.0.1:5000/team/build:1';
    const loaded = await loadTemplate(template, {
      registry,
      catalog,
      vars: [
        ['source_image', ref],
        ['other', ref],
      ],
      fetchSource: async (text) => {
        asked.push(text);
        return text === ref ? 'img-0123456789abcdef0' : undefined;
      },
    });
    expect(asked).toEqual([ref]);
    expect(seen).toEqual(['img-0123456789abcdef0', 'img-0123456789abcdef0']);
    expect(loaded.variables).toMatchObject({
      source_image: 'img-0123456789abcdef0',
      other: 'img-0123456789abcdef0',
    });
    expect(
      loaded.builds.map((b) => (b.builder.config as { source_image: string }).source_image),
    ).toEqual(['img-0123456789abcdef0', 'img-0123456789abcdef0']);
  });

  it('leaves text it does not fetch as it is', async () => {
    seen.length = 0;
    const loaded = await loadTemplate(template, {
      registry,
      catalog,
      fetchSource: async () => undefined,
    });
    expect(seen).toEqual(['debian-12', 'debian-12']);
    expect(loaded.variables.source_image).toBe('debian-12');
  });

  it('a failing fetch fails the load before any build is prepared', async () => {
    seen.length = 0;
    await expect(
      loadTemplate(template, {
        registry,
        catalog,
        vars: [['source_image', '127.0.0.1:5000/team/build:nope']],
        fetchSource: async (text) => {
          throw new Error(`no ${text}`);
        },
      }),
    ).rejects.toThrow(/no 127\.0\.0\.1:5000\/team\/build:nope/);
    expect(seen).toEqual([]);
  });
});
