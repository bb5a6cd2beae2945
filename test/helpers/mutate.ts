/**
 * Seeded mutations of JSON documents for the fuzz tests: byte flips, deletions,
 * duplications, type swaps, key renames, deep nesting, huge numbers, unicode. The same
 * seed gives the same cases, so a crash found once can be replayed by its case number.
 */

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rand, n: number): number => Math.floor(r() * n);

const ODD_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  -1e308,
  2 ** 53 + 1,
  1.5,
  '',
  ' ',
  '{{',
  '}}',
  '{{user `x`}}',
  '{{ user `nope` }}',
  '{{env `HOME`}}',
  '{{timestamp}}{{uuid}}',
  '{{split "a" "b" 9}}',
  '{{ build `ID` }}',
  '{{ .Vars }}',
  '999999999999999999999999999999h',
  '-5s',
  '1e400',
  '\u0000',
  '\ud800',
  'é🔥\u202e漢字',
  '../../../../etc/passwd',
  '/dev/zero',
  [],
  {},
  [[[]]],
  { type: 'null' },
  ['a', 1, null, {}],
  'x'.repeat(10_000),
];

const KEYS: readonly string[] = [
  'type',
  'name',
  'builders',
  'provisioners',
  'post-processors',
  'variables',
  'sensitive-variables',
  'only',
  'except',
  'override',
  'pause_before',
  'max_retries',
  'timeout',
  'communicator',
  'ssh_host',
  'ssh_timeout',
  'inline',
  'script',
  'scripts',
  'environment_vars',
  'source_image',
  'iso_url',
  'disk_size',
  'memory',
  'cpus',
  'ssh_port',
  'content',
  'target',
  'keep_input_artifact',
  'min_packer_version',
  '__proto__',
  'constructor',
  'toString',
  '',
  'ẗÿpé',
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every container (object or array) in the document, with the document itself first. */
function containers(doc: Json): Array<Json[] | { [k: string]: Json }> {
  const out: Array<Json[] | { [k: string]: Json }> = [];
  const walk = (v: Json, depth: number) => {
    if (v === null || typeof v !== 'object' || depth > 50) return;
    out.push(v);
    for (const c of Array.isArray(v) ? v : Object.values(v)) walk(c, depth + 1);
  };
  walk(doc, 0);
  return out;
}

function structural(r: Rand, doc: Json): Json {
  const all = containers(doc);
  if (all.length === 0) return doc;
  const target = pick(r, all);
  const kind = int(r, 6);
  if (Array.isArray(target)) {
    if (kind === 0 && target.length > 0) target.splice(int(r, target.length), 1);
    else if (kind === 1 && target.length > 0) target.push(structuredClone(pick(r, target)));
    else if (kind === 2) target.push(structuredClone(pick(r, ODD_VALUES)) as Json);
    else if (target.length > 0)
      target[int(r, target.length)] = structuredClone(pick(r, ODD_VALUES)) as Json;
    else target.push(structuredClone(pick(r, ODD_VALUES)) as Json);
    return doc;
  }
  const keys = Object.keys(target);
  if (kind === 0 && keys.length > 0) {
    // Type swap: a value becomes something of another type.
    target[pick(r, keys)] = structuredClone(pick(r, ODD_VALUES)) as Json;
  } else if (kind === 1 && keys.length > 0) {
    // Key rename (typo or another known key), keeping the value.
    const k = pick(r, keys);
    const v = target[k]!;
    delete target[k];
    const renamed =
      r() < 0.5
        ? pick(r, KEYS)
        : k.length > 1
          ? k.slice(0, -1) + String.fromCharCode(97 + int(r, 26))
          : `${k}x`;
    Object.defineProperty(target, renamed, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else if (kind === 2 && keys.length > 0) {
    delete target[pick(r, keys)];
  } else if (kind === 3) {
    target[pick(r, KEYS)] = structuredClone(pick(r, ODD_VALUES)) as Json;
  } else if (kind === 4 && keys.length > 0) {
    // Deep nesting: wrap a value in many arrays/objects.
    const k = pick(r, keys);
    let v: Json = target[k]!;
    const depth = 1 + int(r, r() < 0.1 ? 2000 : 20);
    for (let i = 0; i < depth; i++) v = r() < 0.5 ? [v] : { [pick(r, KEYS)]: v };
    target[k] = v;
  } else if (keys.length > 0) {
    // Huge or odd numbers.
    target[pick(r, keys)] = pick(r, [
      1e21,
      -0,
      2 ** 64,
      Number.MAX_SAFE_INTEGER + 2,
      1e-320,
      65536,
      70000,
    ]);
  }
  return doc;
}

const INSERTS: readonly string[] = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"',
  '\\',
  '\\u',
  '\\ud800',
  '/*',
  '//',
  '\n',
  '\t',
  '\u0000',
  'é',
  '🔥',
  '\ufeff',
  '1e99999',
  '-',
  'null',
  '{{',
  '`',
  '99999999999999999999999999',
];

function textual(r: Rand, text: string): string {
  if (text.length === 0) return pick(r, INSERTS);
  const pos = int(r, text.length);
  switch (int(r, 5)) {
    case 0: {
      // Byte flip: one character replaced by a random one (ASCII or any BMP code point).
      const c = r() < 0.8 ? 32 + int(r, 95) : int(r, 0xffff);
      return text.slice(0, pos) + String.fromCharCode(c) + text.slice(pos + 1);
    }
    case 1: {
      const len = 1 + int(r, r() < 0.2 ? text.length : 8);
      return text.slice(0, pos) + text.slice(pos + len);
    }
    case 2: {
      const len = 1 + int(r, 40);
      return text.slice(0, pos) + text.slice(pos, pos + len) + text.slice(pos);
    }
    case 3:
      return text.slice(0, pos) + pick(r, INSERTS) + text.slice(pos);
    default:
      return text.slice(0, int(r, text.length));
  }
}

/** One mutated version of `text` (1–3 mutations: structural when the text parses as JSON, else textual). */
export function mutate(r: Rand, text: string): string {
  let out = text;
  const n = 1 + int(r, 3);
  for (let i = 0; i < n; i++) {
    let doc: Json | undefined;
    if (r() < 0.6) {
      try {
        doc = JSON.parse(out) as Json;
      } catch {
        doc = undefined;
      }
    }
    out =
      doc !== undefined
        ? JSON.stringify(structural(r, doc), null, r() < 0.5 ? 2 : undefined)
        : textual(r, out);
  }
  return out;
}
