/**
 * The CLI's one formatter for tables, sizes and ages, docker-style: columns padded to
 * their widest cell, decimal sizes with three significant digits, "5 minutes ago".
 */

/** Rows (the first is the header) as aligned text: every column but the last padded, `gap` spaces apart. */
export function formatTable(rows: readonly (readonly string[])[], gap = 2): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const sep = ' '.repeat(gap);
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join(sep)
      .trimEnd();
  return `${rows.map(line).join('\n')}\n`;
}

/** Sizes as docker prints them: decimal units, three significant digits. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : Number(v.toPrecision(3))}${units[u]}`;
}

/** "5 minutes ago", as docker prints it. */
export function timeAgo(then: Date, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  const steps: Array<[number, string]> = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [7, 'day'],
    [52, 'week'],
  ];
  let v = s;
  for (const [size, unit] of steps) {
    if (v < size)
      return v <= 1 && unit === 'second' ? 'just now' : `${v} ${unit}${v === 1 ? '' : 's'} ago`;
    v = Math.floor(v / size);
  }
  return `${v} year${v === 1 ? '' : 's'} ago`;
}

/** A short uptime for a narrow column: `45s`, `12m`, `3h`. */
export function shortAge(then: Date, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}
