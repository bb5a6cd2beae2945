import { describe, expect, it } from 'vitest';
import { filterImages, parseImageFilters } from './image-filter.js';
import type { ImageRecord } from './types.js';

const image = (
  id: string,
  name: string,
  builder: string,
  parentId: string | null,
  tags: string[],
) => ({ id, name, builder, parentId, tags, createdAt: '2026-01-01T00:00:00.000Z' }) as ImageRecord;

// Oldest first, all in one millisecond: only their order tells before from since.
const all = [
  image('img-a', 'debian-base', 'base', null, ['debian-12']),
  image('img-b', 'hello-web-build', 'qemu', 'img-a', []),
  image('img-c', 'hello-web-dev', 'qemu', 'img-b', ['dev']),
  image('img-d', 'hello-web-prod', 'qemu', 'img-b', ['prod', 'live']),
];
const resolve = (ref: string) => all.find((i) => i.id === ref || i.name === ref)!;
const ids = (...flags: string[]) =>
  filterImages(all, parseImageFilters(flags), resolve).map((i) => i.id);

describe('images ls --filter', () => {
  it('matches names and tags with globs, builders and parents exactly', () => {
    expect(ids('name=hello-web-*')).toEqual(['img-b', 'img-c', 'img-d']);
    expect(ids('tag=de*')).toEqual(['img-a', 'img-c']);
    expect(ids('builder=base')).toEqual(['img-a']);
    expect(ids('parent=hello-web-build')).toEqual(['img-c', 'img-d']);
  });

  it('takes before and since by creation order, ANDs keys and ORs values of one key', () => {
    expect(ids('before=img-c')).toEqual(['img-a', 'img-b']);
    expect(ids('since=img-b')).toEqual(['img-c', 'img-d']);
    expect(ids('since=img-a', 'builder=qemu', 'tag=dev', 'tag=live')).toEqual(['img-c', 'img-d']);
    expect(ids('name=hello-web-dev', 'name=debian-base')).toEqual(['img-a', 'img-c']);
  });

  it('refuses an unknown key or a flag without =, naming the keys', () => {
    expect(() => parseImageFilters(['label=x'])).toThrow('invalid filter "label=x"');
    expect(() => parseImageFilters(['dangling'])).toThrow('invalid filter "dangling"');
  });
});
