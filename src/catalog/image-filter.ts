/**
 * `kiln images ls --filter KEY=VALUE`, as docker's: filters with different keys must all
 * match, several values of one key match when any does. `name` and `tag` take `*` globs;
 * `parent`, `before` and `since` take any image reference.
 */
import { UserError } from '../lib/errors.js';
import type { ImageRecord } from './types.js';

const KEYS = ['name', 'tag', 'builder', 'parent', 'before', 'since'] as const;
type Key = (typeof KEYS)[number];

/** Parsed `--filter` flags: each key with the values given for it. */
export type ImageFilters = Map<Key, string[]>;

/** Parses `KEY=VALUE` flags; a UserError names the keys there are. */
export function parseImageFilters(flags: readonly string[]): ImageFilters {
  const filters: ImageFilters = new Map();
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const key = flag.slice(0, eq) as Key;
    if (eq <= 0 || !KEYS.includes(key))
      throw new UserError('BadFilter', `invalid filter "${flag}"`, {
        hint: `write --filter KEY=VALUE with KEY one of ${KEYS.join(', ')}`,
      });
    filters.set(key, [...(filters.get(key) ?? []), flag.slice(eq + 1)]);
  }
  return filters;
}

/**
 * The images every filter lets through, in their order. `images` is the whole catalog oldest
 * first (`before`/`since` compare places in it: ids registered in one millisecond still have
 * an order); `resolve` turns a reference into an image.
 */
export function filterImages(
  images: readonly ImageRecord[],
  filters: ImageFilters,
  resolve: (ref: string) => ImageRecord,
): ImageRecord[] {
  const place = new Map(images.map((i, n) => [i.id, n]));
  const at = (i: ImageRecord) => place.get(i.id) ?? -1;
  const tests: Array<(i: ImageRecord) => boolean> = [];
  for (const [key, values] of filters) {
    if (key === 'name' || key === 'tag') {
      const globs = values.map(glob);
      tests.push((i) =>
        key === 'name'
          ? globs.some((g) => g.test(i.name))
          : i.tags.some((t) => globs.some((g) => g.test(t))),
      );
    } else if (key === 'builder') {
      tests.push((i) => values.includes(i.builder));
    } else {
      const refs = values.map(resolve);
      if (key === 'parent') tests.push((i) => refs.some((r) => i.parentId === r.id));
      if (key === 'before') tests.push((i) => refs.some((r) => at(i) < at(r)));
      if (key === 'since') tests.push((i) => refs.some((r) => at(i) > at(r)));
    }
  }
  return images.filter((i) => tests.every((t) => t(i)));
}

/** `*` matches any run of characters; everything else is literal. */
function glob(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}
