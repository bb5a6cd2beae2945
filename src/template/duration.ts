import { z } from 'zod';

/** Go's `time.ParseDuration`, exactly: what Packer accepts for `pause_before`, `timeout`, `ssh_timeout`… */

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Parses a Go duration (`1m30s`, `500ms`, `-1.5h`, `0`) into nanoseconds; throws with Go's message on error. */
export function parseGoDurationNs(text: string): number {
  const orig = text;
  const bad = () => new Error(`time: invalid duration "${orig}"`);
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw bad();
  let total = 0;
  while (s !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
    const intPart = m[1] ?? '';
    const fracPart = m[2];
    if (intPart === '' && (fracPart === undefined || fracPart === '')) throw bad();
    s = s.slice(m[0].length);
    const u = /^[^0-9.]*/.exec(s)![0];
    if (u === '') throw new Error(`time: missing unit in duration "${orig}"`);
    const unit = UNIT_NS[u];
    if (unit === undefined) throw new Error(`time: unknown unit "${u}" in duration "${orig}"`);
    s = s.slice(u.length);
    total += Number(intPart || '0') * unit;
    if (fracPart) total += Number(`0.${fracPart}`) * unit;
  }
  // Go's limit is int64 nanoseconds (~292 years).
  if (total > 2 ** 63 - 1) throw bad();
  return Math.round(neg ? -total : total);
}

/** Parses a Go duration into whole milliseconds (rounded down, as timers need). */
export function parseGoDurationMs(text: string): number {
  const ns = parseGoDurationNs(text);
  return Math.trunc(ns / 1e6);
}

/** A config field holding a Go duration (`30s`, `5m`, `1h30m`), checked by parseGoDurationMs. */
export const goDuration = z.string().refine(
  (s) => {
    try {
      parseGoDurationMs(s);
      return true;
    } catch {
      return false;
    }
  },
  { error: (i) => `invalid duration "${String(i.input)}" (examples: 30s, 5m, 1h30m)` },
);
