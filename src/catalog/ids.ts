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

/**
 * The hex part when `ref` can be the start of an id of one of `kinds` (`img-0ff9`, or bare
 * `0ff9`), with the kind when one was typed; undefined otherwise. Any number of digits, as
 * docker takes them: a prefix is good when it is unique, and an ambiguous one is reported
 * with its candidates by the caller.
 */
export function idPrefixOf(
  ref: string,
  kinds: readonly IdPrefix[] = ['img', 'ami'],
): { kind?: IdPrefix; hex: string } | undefined {
  const m = /^(?:([a-z]+)-)?([0-9a-f]{1,17})$/.exec(ref);
  if (!m) return undefined;
  const kind = m[1] as IdPrefix | undefined;
  if (kind !== undefined && !kinds.includes(kind)) return undefined;
  return kind ? { kind, hex: m[2]! } : { hex: m[2]! };
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
