/**
 * Packer's TargetedUI: every line of a build's message is prefixed with `==> name: `
 * (say, error) or `    name: ` (message), and trailing white space is trimmed.
 */

/** Prefixes each line of `text` as Packer's TargetedUI does for `build`. */
export function prefixLines(build: string, arrow: boolean, text: string): string {
  const head = arrow ? '==>' : '   ';
  return text
    .split('\n')
    .map((line) => `${head} ${build}: ${line}`)
    .join('\n')
    .replace(/\s+$/u, '');
}

/** Packer's -timestamp-ui prefix: an RFC 3339 time in local time with a numeric zone (or Z). */
export function rfc3339(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const off = -date.getTimezoneOffset();
  const zone =
    off === 0
      ? 'Z'
      : `${off > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`
  );
}
