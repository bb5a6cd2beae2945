/**
 * Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`) and the strftime subset of
 * jehiah/go-strftime, both formatting a UTC time exactly as Packer 1.6.6's `isotime` and
 * `strftime` do.
 */

/** Go's month names, January first. */
export const LONG_MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
/** Go's weekday names, Sunday first. */
export const LONG_DAYS = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
];

const pad = (n: number, w: number, c = '0') => String(n).padStart(w, c);

/** The Go layout chunks, longest first where they share a prefix (as Go's nextStdChunk decides). */
const CHUNKS: Array<[string, (d: Date, nanos: number) => string]> = [
  ['January', (d) => LONG_MONTHS[d.getUTCMonth()]!],
  ['Jan', (d) => LONG_MONTHS[d.getUTCMonth()]!.slice(0, 3)],
  ['Monday', (d) => LONG_DAYS[d.getUTCDay()]!],
  ['Mon', (d) => LONG_DAYS[d.getUTCDay()]!.slice(0, 3)],
  ['MST', () => 'UTC'],
  ['2006', (d) => pad(d.getUTCFullYear(), 4)],
  ['2', (d) => String(d.getUTCDate())],
  ['_2006', (d) => `_${pad(d.getUTCFullYear(), 4)}`],
  ['__2', (d) => pad(dayOfYear(d), 3, ' ')],
  ['_2', (d) => pad(d.getUTCDate(), 2, ' ')],
  ['002', (d) => pad(dayOfYear(d), 3)],
  ['01', (d) => pad(d.getUTCMonth() + 1, 2)],
  ['02', (d) => pad(d.getUTCDate(), 2)],
  ['03', (d) => pad(hour12(d), 2)],
  ['04', (d) => pad(d.getUTCMinutes(), 2)],
  ['05', (d) => pad(d.getUTCSeconds(), 2)],
  ['06', (d) => pad(d.getUTCFullYear() % 100, 2)],
  ['15', (d) => pad(d.getUTCHours(), 2)],
  ['1', (d) => String(d.getUTCMonth() + 1)],
  ['3', (d) => String(hour12(d))],
  ['4', (d) => String(d.getUTCMinutes())],
  ['5', (d) => String(d.getUTCSeconds())],
  ['PM', (d) => (d.getUTCHours() >= 12 ? 'PM' : 'AM')],
  ['pm', (d) => (d.getUTCHours() >= 12 ? 'pm' : 'am')],
  // Time zones: the time is always UTC, so Z-forms print "Z" and numeric forms print zeros.
  ['-070000', () => '+000000'],
  ['-07:00:00', () => '+00:00:00'],
  ['-0700', () => '+0000'],
  ['-07:00', () => '+00:00'],
  ['-07', () => '+00'],
  ['Z070000', () => 'Z'],
  ['Z07:00:00', () => 'Z'],
  ['Z0700', () => 'Z'],
  ['Z07:00', () => 'Z'],
  ['Z07', () => 'Z'],
];

function dayOfYear(d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
}

function hour12(d: Date): number {
  const h = d.getUTCHours() % 12;
  return h === 0 ? 12 : h;
}

/** Formats a UTC time with a Go layout string (nanos: the sub-second part in nanoseconds). */
export function formatGoTime(
  date: Date,
  layout: string,
  nanos = date.getUTCMilliseconds() * 1e6,
): string {
  let out = '';
  let i = 0;
  outer: while (i < layout.length) {
    // Fractional seconds: ".000"/",000" (fixed) or ".999"/",999" (trailing zeros trimmed), after a digit-free point.
    const c = layout[i]!;
    if ((c === '.' || c === ',') && (layout[i + 1] === '0' || layout[i + 1] === '9')) {
      const digit = layout[i + 1]!;
      let j = i + 1;
      while (layout[j] === digit) j++;
      if (!/[0-9]/.test(layout[j] ?? '')) {
        const n = j - i - 1;
        let frac = pad(nanos, 9).slice(0, n);
        if (digit === '9') {
          frac = frac.replace(/0+$/, '');
          out += frac === '' ? '' : c + frac;
        } else {
          out += c + frac;
        }
        i = j;
        continue;
      }
    }
    for (const [chunk, fmt] of CHUNKS) {
      if (!layout.startsWith(chunk, i)) continue;
      // Go only treats "Jan"/"Mon" style words as chunks when not followed by a lower-case letter.
      if ((chunk === 'Jan' || chunk === 'Mon') && /[a-z]/.test(layout[i + 3] ?? '')) continue;
      out += fmt(date, nanos);
      i += chunk.length;
      continue outer;
    }
    out += c;
    i++;
  }
  return out;
}

/** RFC 3339 as Go prints a UTC time: `2006-01-02T15:04:05Z`. */
export function formatRfc3339(date: Date): string {
  return formatGoTime(date, '2006-01-02T15:04:05Z07:00');
}

const STRFTIME: Record<string, string> = {
  B: 'January',
  b: 'Jan',
  m: '01',
  A: 'Monday',
  a: 'Mon',
  d: '02',
  H: '15',
  I: '03',
  M: '04',
  S: '05',
  Y: '2006',
  y: '06',
  p: 'PM',
  Z: 'MST',
  z: '-0700',
  L: '.000',
};

/** jehiah/go-strftime's Format: the listed conversions, `%%`, and anything else left as written. */
export function formatStrftime(date: Date, format: string): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    if (i + 1 >= format.length) {
      out += '%';
      break;
    }
    const k = format[++i]!;
    if (k === '%') out += '%';
    else if (STRFTIME[k]) out += formatGoTime(date, STRFTIME[k]!);
    else out += `%${k}`;
  }
  return out;
}
