/**
 * kiln's one duration module: Go's duration syntax as Packer reads and prints it.
 * Parsing is Go's time.ParseDuration (`pause_before`, `ssh_timeout`, every CLI flag that
 * takes a duration); `humanDuration` is hako/durafmt with LimitFirstN(2) ("25 seconds 121
 * milliseconds") and `formatGoDuration` Go's time.Duration.String() ("1m30s", "500ms"),
 * so kiln's lines match Packer's byte for byte. The zod field for configs is in
 * `duration-schema.ts`, so that what only parses a flag does not load zod.
 */
const UNITS: Array<[string, number]> = [
  ['years', 365 * 24 * 3600 * 1e6],
  ['weeks', 7 * 24 * 3600 * 1e6],
  ['days', 24 * 3600 * 1e6],
  ['hours', 3600 * 1e6],
  ['minutes', 60 * 1e6],
  ['seconds', 1e6],
  ['milliseconds', 1e3],
  ['microseconds', 1],
];

/** Formats milliseconds (fractions kept down to the microsecond) as durafmt's first two units. */
export function humanDuration(ms: number): string {
  let us = Math.max(0, Math.floor(ms * 1000));
  if (us === 0) return ms === 0 ? '0 seconds' : '';
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    const v = Math.floor(us / size);
    us -= v * size;
    if (v > 1) parts.push(`${v} ${unit}`);
    else if (v === 1) parts.push(`1 ${unit.slice(0, -1)}`);
  }
  return parts.slice(0, 2).join(' ');
}

/** Formats milliseconds as Go's time.Duration.String() (used by "Pausing 1s before…"). */
export function formatGoDuration(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return '0s';
  const neg = ns < 0;
  const abs = Math.abs(ns);
  let out: string;
  if (abs < 1e3) out = `${abs}ns`;
  else if (abs < 1e6) out = `${trimFraction(abs / 1e3)}µs`;
  else if (abs < 1e9) out = `${trimFraction(abs / 1e6)}ms`;
  else {
    const h = Math.floor(abs / 3.6e12);
    const m = Math.floor((abs - h * 3.6e12) / 6e10);
    const s = (abs - h * 3.6e12 - m * 6e10) / 1e9;
    out = `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${trimFraction(s)}s`;
  }
  return neg ? `-${out}` : out;
}

function trimFraction(v: number): string {
  return v.toFixed(9).replace(/0+$/, '').replace(/\.$/, '');
}

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
