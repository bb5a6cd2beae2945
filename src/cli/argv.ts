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

export function normalizeArgv(args: readonly string[]): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (const a of args) {
    if (passthrough || a === '--') {
      passthrough = true;
      out.push(a);
      continue;
    }
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    if (m && LONG_FLAGS.has(m[1]!)) out.push(`--${m[1]}${m[2] ?? ''}`);
    else out.push(a);
  }
  return out;
}
