/**
 * Durations spelled the way Packer 1.6.6 spells them, so kiln's lines match byte for
 * byte: `humanDuration` is hako/durafmt with LimitFirstN(2) ("25 seconds 121
 * milliseconds"), `goDuration` is Go's time.Duration.String() ("1m30s", "500ms").
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
export function goDuration(ms: number): string {
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
