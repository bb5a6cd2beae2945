/**
 * Packer's date and time functions: `timestamp`, `formatdate` (go-cty's format language),
 * `timeadd` (Go durations), `legacy_isotime`/`legacy_strftime` (the JSON templates' isotime and
 * strftime, on the time the template was loaded), `rfc3339_parse`, `unix_timestamp_parse`.
 * Timestamps keep their own UTC offset, as Go's time.Time does.
 */
import { parseGoDurationNs } from '../../../lib/duration.js';
import { formatGoTime, formatStrftime, LONG_DAYS, LONG_MONTHS } from '../../go-time.js';
import {
  asNumber,
  asString,
  type FunctionDef,
  isKnown,
  num,
  object,
  objectType,
  str,
  T,
  unknownOf,
} from '../value.js';
import { argError, define, FnError, fnError, param } from './define.js';

/** An instant with its UTC offset: `wall` holds the local wall-clock time in its UTC fields. */
export interface GoTime {
  /** Milliseconds since the epoch of the instant. */
  ms: number;
  /** Sub-second nanoseconds. */
  nanos: number;
  /** Seconds east of UTC. */
  offset: number;
}

function wall(t: GoTime): Date {
  return new Date(t.ms + t.offset * 1000);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function daysIn(month: number, year: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const bad = (why: string) => new FnError(`not a valid RFC3339 timestamp: ${why}`);

/** go-cty's parseTimestamp: strict RFC 3339 with its error texts. */
export function parseTimestamp(s: string): GoTime {
  let pos = 0;
  // Go's time.Parse: a value out of range blames what follows it ("cannot use ":00Z" as minute").
  const digits = (n: number, what: string, min: number, max: number): number => {
    const part = s.slice(pos, pos + n);
    if (part === '') throw bad(`end of string before ${what}`);
    if (!/^[0-9]+$/.test(part) || part.length !== n) {
      if (what === 'hour' && /^[0-9]:/.test(s.slice(pos)))
        throw bad('hour must have exactly two digits');
      if (what === 'minute' && /^[0-9](?:[^0-9]|$)/.test(s.slice(pos))) {
        throw bad('minute must have exactly two digits');
      }
      throw bad(`cannot use ${JSON.stringify(s.slice(pos))} as ${what}`);
    }
    const v = Number(part);
    pos += n;
    if (v < min || v > max) throw bad(`cannot use ${JSON.stringify(s.slice(pos))} as ${what}`);
    return v;
  };
  const sep = (c: string) => {
    if (s[pos] === c) {
      pos++;
      return;
    }
    if (c === 'T') throw bad("missing required time introducer 'T'");
    if (pos >= s.length) throw bad(`end of string where ${JSON.stringify(c)} is expected`);
    throw bad(`found ${JSON.stringify(s.slice(pos))} where ${JSON.stringify(c)} is expected`);
  };
  const year = digits(4, 'year', 0, 9999);
  sep('-');
  const month = digits(2, 'month', 1, 12);
  sep('-');
  const day = digits(2, 'day of month', 0, 99);
  if (day < 1 || day > daysIn(month, year)) throw bad('day out of range');
  sep('T');
  const hour = digits(2, 'hour', 0, 23);
  sep(':');
  const minute = digits(2, 'minute', 0, 59);
  sep(':');
  const second = digits(2, 'second', 0, 59);
  let nanos = 0;
  if (s[pos] === '.' && /[0-9]/.test(s[pos + 1] ?? '')) {
    pos++;
    const m = /^[0-9]+/.exec(s.slice(pos))![0];
    nanos = Number(m.slice(0, 9).padEnd(9, '0'));
    pos += m.length;
  } else if (s[pos] === ',') {
    throw bad('sub-second separator must be a period');
  }
  let offset = 0;
  const zone = s.slice(pos);
  if (zone === 'Z') {
    offset = 0;
  } else if (/^[+-][0-9]{2}:[0-9]{2}$/.test(zone)) {
    const h = Number(zone.slice(1, 3));
    const mi = Number(zone.slice(4, 6));
    if (h >= 24) throw bad('timezone hour out of range');
    if (mi >= 60) throw bad('timezone minute out of range');
    offset = (zone[0] === '-' ? -1 : 1) * (h * 3600 + mi * 60);
  } else if (zone === '') {
    throw bad('end of string before UTC offset');
  } else {
    throw bad(`cannot use ${JSON.stringify(zone)} as UTC offset`);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) - offset * 1000;
  return { ms: ms + Math.floor(nanos / 1e6), nanos, offset };
}

function zoneText(offset: number, colon: boolean, z: boolean): string {
  if (z && offset === 0) return 'Z';
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  return `${sign}${pad(Math.floor(a / 3600))}${colon ? ':' : ''}${pad(Math.floor((a % 3600) / 60))}`;
}

/** Go's time.RFC3339 text of a time in its own offset (whole seconds). */
export function rfc3339(t: GoTime): string {
  const d = wall(t);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${zoneText(t.offset, true, true)}`;
}

/** go-cty's formatdate: letters are verbs (YYYY, MM, DD, hh, mm, ss, EEE, ZZZ…), 'quoted' text is literal. */
export function formatDate(format: string, t: GoTime): string {
  const d = wall(t);
  let out = '';
  let i = 0;
  const isVerb = (c: string | undefined) => c !== undefined && /[A-Za-z]/.test(c);
  const verbErr = (tok: string, why: string) =>
    argError(0, `invalid date format verb ${JSON.stringify(tok)}${why ? `: ${why}` : ''}`);
  while (i < format.length) {
    const c = format[i]!;
    if (c === "'") {
      if (format[i + 1] === "'") {
        out += "'";
        i += 2;
        continue;
      }
      let j = i + 1;
      let lit = '';
      let closed = false;
      while (j < format.length) {
        if (format[j] === "'") {
          if (format[j + 1] === "'") {
            lit += "'";
            j += 2;
            continue;
          }
          closed = true;
          break;
        }
        lit += format[j];
        j++;
      }
      if (!closed) throw argError(0, "unterminated literal '");
      out += lit;
      i = j + 1;
      continue;
    }
    if (!isVerb(c)) {
      out += c;
      i++;
      continue;
    }
    let j = i;
    while (format[j] === c) j++;
    const tok = format.slice(i, j);
    const n = tok.length;
    i = j;
    switch (c) {
      case 'Y':
        if (n === 2) out += pad(d.getUTCFullYear() % 100);
        else if (n === 4) out += pad(d.getUTCFullYear(), 4);
        else throw verbErr(tok, 'year must either be "YY" or "YYYY"');
        break;
      case 'M': {
        const m = d.getUTCMonth();
        if (n === 1) out += String(m + 1);
        else if (n === 2) out += pad(m + 1);
        else if (n === 3) out += LONG_MONTHS[m]!.slice(0, 3);
        else if (n === 4) out += LONG_MONTHS[m]!;
        else throw verbErr(tok, 'month must be "M", "MM", "MMM", or "MMMM"');
        break;
      }
      case 'D':
        if (n === 1) out += String(d.getUTCDate());
        else if (n === 2) out += pad(d.getUTCDate());
        else throw verbErr(tok, 'day of month must either be "D" or "DD"');
        break;
      case 'E':
        if (n === 3) out += LONG_DAYS[d.getUTCDay()]!.slice(0, 3);
        else if (n === 4) out += LONG_DAYS[d.getUTCDay()]!;
        else throw verbErr(tok, 'day of week must either be "EEE" or "EEEE"');
        break;
      case 'h':
        if (n === 1) out += String(d.getUTCHours());
        else if (n === 2) out += pad(d.getUTCHours());
        else throw verbErr(tok, '24-hour must either be "h" or "hh"');
        break;
      case 'H': {
        const h = d.getUTCHours() % 12 || 12;
        if (n === 1) out += String(h);
        else if (n === 2) out += pad(h);
        else throw verbErr(tok, '12-hour must either be "H" or "HH"');
        break;
      }
      case 'A':
      case 'a': {
        if (n !== 2) throw verbErr(tok, `must be "${c}${c}"`);
        const pm = d.getUTCHours() >= 12;
        out += c === 'A' ? (pm ? 'PM' : 'AM') : pm ? 'pm' : 'am';
        break;
      }
      case 'm':
        if (n === 1) out += String(d.getUTCMinutes());
        else if (n === 2) out += pad(d.getUTCMinutes());
        else throw verbErr(tok, 'minute must either be "m" or "mm"');
        break;
      case 's':
        if (n === 1) out += String(d.getUTCSeconds());
        else if (n === 2) out += pad(d.getUTCSeconds());
        else throw verbErr(tok, 'second must either be "s" or "ss"');
        break;
      case 'Z':
        if (n === 1) out += zoneText(t.offset, true, true);
        else if (n === 3) out += t.offset === 0 ? 'UTC' : zoneText(t.offset, false, false);
        else if (n === 4) out += zoneText(t.offset, false, false);
        else if (n === 5) out += zoneText(t.offset, true, false);
        else throw verbErr(tok, 'timezone must be Z, ZZZZ, or ZZZZZ');
        break;
      default:
        throw verbErr(tok, '');
    }
  }
  return out;
}

function timeArg(s: string, argIndex: number | undefined): GoTime {
  try {
    return parseTimestamp(s);
  } catch (err) {
    if (err instanceof FnError && argIndex !== undefined) throw argError(argIndex, err.message);
    throw err;
  }
}

function isoWeek(d: Date): { year: number; week: number } {
  // ISO 8601: the week (Monday first) that holds the year's first Thursday is week 1.
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dayNum = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dayNum);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return {
    year: t.getUTCFullYear(),
    week: Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7),
  };
}

function dateFields(t: GoTime) {
  const d = wall(t);
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  const iso = isoWeek(d);
  return {
    year: num(d.getUTCFullYear()),
    year_day: num(Math.floor((d.getTime() - start) / 86_400_000) + 1),
    day: num(d.getUTCDate()),
    month: num(d.getUTCMonth() + 1),
    month_name: str(LONG_MONTHS[d.getUTCMonth()]!),
    weekday: num(d.getUTCDay()),
    weekday_name: str(LONG_DAYS[d.getUTCDay()]!),
    hour: num(d.getUTCHours()),
    minute: num(d.getUTCMinutes()),
    second: num(d.getUTCSeconds()),
    iso_year: num(iso.year),
    iso_week: num(iso.week),
  };
}

const FIELD_TYPES = {
  year: T.number,
  year_day: T.number,
  day: T.number,
  month: T.number,
  month_name: T.string,
  weekday: T.number,
  weekday_name: T.string,
  hour: T.number,
  minute: T.number,
  second: T.number,
  iso_year: T.number,
  iso_week: T.number,
};

/** When the functions run: the clock for `timestamp` and the load time for the legacy functions. */
export interface Clock {
  now: () => Date;
  /** The time the template was loaded (Packer's initTime), for legacy_isotime/legacy_strftime. */
  loadedAt: Date;
}

/** The date and time functions, bound to a clock. */
export function dateTimeFunctions(clock: Clock): Record<string, FunctionDef> {
  const legacy = (name: string, f: (fmt: string) => string): FunctionDef =>
    define(name, {
      params: [],
      varParam: param('format', T.string),
      returnType: T.string,
      impl: (args) => {
        if (args.length > 1) {
          throw fnError(
            `too many values, 1 needed: [${args.map((a) => JSON.stringify(asString(a))).join(' ')}]`,
          );
        }
        if (args.length === 0)
          return str(formatGoTime(clock.loadedAt, '2006-01-02T15:04:05Z07:00'));
        return str(f(asString(args[0]!)));
      },
    });
  return {
    formatdate: define('formatdate', {
      params: [param('format', T.string), param('time', T.string)],
      returnType: T.string,
      impl: (args) => {
        const t = timeArg(asString(args[1]!), 1);
        return str(formatDate(asString(args[0]!), t));
      },
    }),
    legacy_isotime: legacy('legacy_isotime', (f) => formatGoTime(clock.loadedAt, f)),
    legacy_strftime: legacy('legacy_strftime', (f) => formatStrftime(clock.loadedAt, f)),
    rfc3339_parse: define('rfc3339_parse', {
      params: [param('timestamp', T.string)],
      returnType: objectType({ ...FIELD_TYPES, unix: T.number }),
      impl: (args, rt) => {
        if (!isKnown(args[0]!)) return unknownOf(rt);
        const s = asString(args[0]!);
        let t: GoTime;
        try {
          t = parseTimestamp(s.replace(/^(.{10}) /, '$1T'));
        } catch {
          throw argError(0, `${JSON.stringify(s)} is not a valid RFC3339 timestamp`);
        }
        return object({ ...dateFields(t), unix: num(Math.floor(t.ms / 1000)) });
      },
    }),
    timeadd: define('timeadd', {
      params: [param('timestamp', T.string), param('duration', T.string)],
      returnType: T.string,
      impl: (args) => {
        const t = timeArg(asString(args[0]!), undefined);
        let ns: number;
        try {
          ns = parseGoDurationNs(asString(args[1]!));
        } catch (err) {
          throw fnError((err as Error).message);
        }
        const totalNs = t.nanos + ns;
        const ms = t.ms - Math.floor(t.nanos / 1e6) + Math.floor(totalNs / 1e6);
        return str(rfc3339({ ms, nanos: 0, offset: t.offset }));
      },
    }),
    timestamp: define('timestamp', {
      params: [],
      returnType: T.string,
      impl: () =>
        str(rfc3339({ ms: Math.floor(clock.now().getTime() / 1000) * 1000, nanos: 0, offset: 0 })),
    }),
    unix_timestamp_parse: define('unix_timestamp_parse', {
      params: [param('unix_timestamp', T.number)],
      returnType: objectType({ ...FIELD_TYPES, rfc3339: T.string }),
      impl: (args) => {
        const n = asNumber(args[0]!);
        if (!Number.isInteger(n) || Math.abs(n) >= 2 ** 63) {
          throw argError(
            0,
            'unix_timestamp must be a whole number of seconds representable as a 64-bit integer: value must be a whole number, between -9223372036854775808 and 9223372036854775807',
          );
        }
        const t: GoTime = { ms: n * 1000, nanos: 0, offset: 0 };
        return object({ ...dateFields(t), rfc3339: str(rfc3339(t)) });
      },
    }),
  };
}
