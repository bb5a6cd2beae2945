/** Option values the commands share: whole numbers, durations (Go's syntax), VM sizes, repeatable flags. */
import { availableParallelism, totalmem } from 'node:os';
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

/**
 * `--cpus`: at least 1 and, as docker's `--cpus`, at most the host's CPUs — more vCPUs than
 * cores only slow a TCG guest down (its threads take turns on the same cores).
 */
export function cpusOption(
  v: string | undefined,
  hostCpus: number = availableParallelism(),
): number | undefined {
  const cpus = intOption('--cpus', v);
  if (cpus === undefined) return undefined;
  if (cpus < 1) throw new UserError('InvalidOption', '--cpus must be at least 1');
  if (cpus > hostCpus)
    throw new UserError(
      'TooManyCpus',
      `--cpus ${cpus}: this host has only ${hostCpus} CPU${hostCpus === 1 ? '' : 's'}`,
      { hint: `give at most --cpus ${hostCpus}` },
    );
  return cpus;
}

/** The least memory a guest boots with (a Debian kernel and systemd). */
const MIN_MEMORY_MB = 128;

/**
 * `--memory` in MB: enough to boot, and less than the host has in all (QEMU would take it from
 * the host's other processes, then be killed by the OOM killer halfway through a boot).
 */
export function memoryOption(
  v: string | undefined,
  hostBytes: number = totalmem(),
): number | undefined {
  const mb = intOption('--memory', v);
  if (mb === undefined) return undefined;
  if (mb < MIN_MEMORY_MB)
    throw new UserError(
      'InvalidOption',
      `--memory ${mb}: a guest needs at least ${MIN_MEMORY_MB} MB`,
    );
  const hostMb = Math.floor(hostBytes / 1024 ** 2);
  if (mb >= hostMb)
    throw new UserError(
      'TooMuchMemory',
      `--memory ${mb}: this host has only ${hostMb} MB of memory`,
      {
        hint: `give less than --memory ${hostMb} (1024 is enough for most services)`,
      },
    );
  return mb;
}
