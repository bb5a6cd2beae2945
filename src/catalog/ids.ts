/**
 * Image and instance identifiers: a short kind prefix and 17 lowercase hex digits from
 * crypto random (68 bits: collisions are not a practical concern), like AWS's `ami-…`.
 */
import { randomBytes } from 'node:crypto';

export type IdPrefix = 'img' | 'ami' | 'i';

/** Returns `<prefix>-` + 17 lowercase hex digits from crypto random. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** Local ids are exactly 17 hex; AMIs may be the older 8-hex form. */
const IMAGE_ID = /^(img-[0-9a-f]{17}|ami-(?:[0-9a-f]{8}|[0-9a-f]{17}))$/;

/** True when `s` has the shape of an image id (`img-` + 17 hex, or an AMI id). */
export function isImageId(s: string): boolean {
  return IMAGE_ID.test(s);
}

/** Shortest id prefix (after the kind) a user may type: shorter prefixes match too much. */
export const MIN_PREFIX_HEX = 6;

/**
 * The hex part when `ref` can be an id prefix (`img-abc123…` or bare `abc123…`, at least
 * MIN_PREFIX_HEX digits), with the kind when one was typed; undefined otherwise.
 */
export function idPrefixOf(ref: string): { kind?: string; hex: string } | undefined {
  const m = /^(?:(img|ami)-)?([0-9a-f]+)$/.exec(ref);
  if (!m || m[2]!.length < MIN_PREFIX_HEX || m[2]!.length > 17) return undefined;
  return m[1] ? { kind: m[1], hex: m[2]! } : { hex: m[2]! };
}

/** Edit distance between two strings (for "did you mean" suggestions). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    prev = cur;
  }
  return prev[b.length]!;
}
