/**
 * Packer spells long flags with one dash (`-var`, `-machine-readable`); kiln accepts
 * those and the usual `--var`. Single-dash words that are not known long flags (and
 * everything after `--`) pass through untouched, so short flags keep working.
 */
const LONG_FLAGS = new Set([
  'var',
  'var-file',
  'only',
  'except',
  'machine-readable',
  'on-error',
  'force',
  'parallel-builds',
  'syntax-only',
  'color',
  'timestamp-ui',
  'debug',
  'output',
  'output-file',
  'help',
  'version',
  'json',
  'dry-run',
  'no-cache',
  'older-than',
  'keep',
  'env',
]);

/**
 * Packer's single-dash long flags as `--flag`; `--machine-readable`, which Packer takes
 * anywhere (`packer -machine-readable build …`), moved after the command so that the
 * command that honours it gets it, and one that does not refuses it.
 */
export function normalizeArgv(args: readonly string[]): string[] {
  const out: string[] = [];
  const rest: string[] = [];
  let machineReadable = false;
  let passthrough = false;
  for (const a of args) {
    if (passthrough || a === '--') {
      passthrough = true;
      rest.push(a);
      continue;
    }
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    const flag = m && LONG_FLAGS.has(m[1]!) ? `--${m[1]}${m[2] ?? ''}` : a;
    if (flag === '--machine-readable') machineReadable = true;
    else out.push(flag);
  }
  return [...out, ...(machineReadable ? ['--machine-readable'] : []), ...rest];
}

/** True when the (normalized) command line asks for JSON output: errors are then printed as JSON too. */
export function asksForJson(args: readonly string[]): boolean {
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const a = args[i]!;
    if (a === '--json' || a === '--output=json' || (a === '--output' && args[i + 1] === 'json'))
      return true;
  }
  return false;
}
