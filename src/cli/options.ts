/** Option values the commands share: whole numbers, durations (Go's syntax), repeatable flags. */
import { parseGoDurationMs } from '../lib/duration.js';
import { UserError } from '../lib/errors.js';

/** A whole number option (or undefined when absent); a UserError otherwise. */
export function intOption(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v))
    throw new UserError('InvalidOption', `${flag}: "${v}" is not a whole number`);
  return Number(v);
}

/**
 * A duration option (`90s`, `2m`, `1h30m`: Go's syntax, as Packer reads it) in
 * milliseconds; a UserError otherwise. Zero is refused unless `allowZero`.
 */
export function durationOption(
  flag: string,
  v: string,
  opts: { allowZero?: boolean } = {},
): number {
  let ms: number;
  try {
    ms = parseGoDurationMs(v);
  } catch {
    ms = Number.NaN;
  }
  if (!(ms > 0 || (ms === 0 && opts.allowZero)))
    throw new UserError('InvalidOption', `${flag}: "${v}" is not a duration`, {
      hint: 'write it like 90s, 2m or 1m30s',
    });
  return ms;
}

/** Commander's reducer for a repeatable option. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--on-error`'s value, checked as `kiln build` checks it (undefined: the default, cleanup). */
export function onErrorOption(value: string | undefined): 'cleanup' | 'abort' | undefined {
  if (value === undefined || value === 'cleanup' || value === 'abort') return value;
  throw new UserError('BadFlag', `invalid value "${value}" for flag -on-error`, {
    hint: 'use -on-error=cleanup or -on-error=abort',
  });
}
