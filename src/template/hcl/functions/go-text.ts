/**
 * Go's string semantics where JavaScript's differ, for the functions Packer takes from Go:
 * per-code-point case mapping (`upper("ß")` stays `ß`; no final-sigma rule), `strings.Title`,
 * Unicode white space as Go's `unicode.IsSpace` sees it, grapheme clusters (`length`,
 * `substr`, `strrev` count what a reader sees), `url.QueryEscape`, and encoding/json strings.
 */

// Made by the first call: making one loads ICU's break rules (~50 ms), which every command
// that loads the template layer would pay, though only a few functions need it.
let segmenter: Intl.Segmenter | undefined;

/** The grapheme clusters of a string, in order. */
export function graphemes(s: string): string[] {
  const out: string[] = [];
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (const seg of segmenter.segment(s)) out.push(seg.segment);
  return out;
}

function mapCodePoints(s: string, f: (ch: string) => string): string {
  let out = '';
  for (const ch of s) out += f(ch);
  return out;
}

/** Go's unicode.ToUpper on each code point: a mapping to several characters is not applied. */
export function goUpper(s: string): string {
  return mapCodePoints(s, (ch) => {
    const u = ch.toUpperCase();
    return [...u].length === 1 ? u : ch;
  });
}

/** Go's unicode.ToLower on each code point (İ becomes i, as Go's simple mapping has it). */
export function goLower(s: string): string {
  return mapCodePoints(s, (ch) => {
    const l = ch.toLowerCase();
    const cps = [...l];
    return cps.length === 1 ? l : cps[0]!;
  });
}

/** Title case of the Latin digraphs (ǅ ǈ ǋ ǲ), where it differs from upper case. */
const TITLE_DIGRAPHS: Record<number, number> = {
  452: 0x1c5,
  453: 0x1c5,
  454: 0x1c5,
  455: 0x1c8,
  456: 0x1c8,
  457: 0x1c8,
  458: 0x1cb,
  459: 0x1cb,
  460: 0x1cb,
  497: 0x1f2,
  498: 0x1f2,
  499: 0x1f2,
};

function goToTitle(ch: string): string {
  const t = TITLE_DIGRAPHS[ch.codePointAt(0)!];
  return t !== undefined ? String.fromCodePoint(t) : goUpper(ch);
}

/** Go's unicode.IsSpace. */
export function isGoSpace(ch: string): boolean {
  return /^\p{White_Space}$/u.test(ch);
}

function isTitleSeparator(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if (cp <= 0x7f) return !/[0-9A-Za-z_]/.test(ch);
  if (/^[\p{L}\p{Nd}]$/u.test(ch)) return false;
  return isGoSpace(ch);
}

/** Go's strings.Title: the first letter of each word in title case. */
export function goTitle(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isTitleSeparator(prev) ? goToTitle(ch) : ch;
    prev = ch;
  }
  return out;
}

/** Go's strings.TrimSpace. */
export function goTrimSpace(s: string): string {
  return s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

/** Go's strings.Trim: leading and trailing code points found in cutset removed. */
export function goTrim(s: string, cutset: string): string {
  if (s === '' || cutset === '') return s;
  const cut = new Set(cutset);
  const cps = [...s];
  let a = 0;
  let b = cps.length;
  while (a < b && cut.has(cps[a]!)) a++;
  while (b > a && cut.has(cps[b - 1]!)) b--;
  return cps.slice(a, b).join('');
}

/** Go's strings.Split (an empty separator splits between code points). */
export function goSplit(s: string, sep: string): string[] {
  if (sep === '') return [...s];
  return s.split(sep);
}

/** Go's strings.ReplaceAll (an empty `old` inserts before every code point and at the end). */
export function goReplaceAll(s: string, old: string, repl: string): string {
  if (old === '') {
    const cps = [...s];
    return repl + cps.map((c) => c + repl).join('');
  }
  return s.split(old).join(repl);
}

/** Go's url.QueryEscape: space as '+', unreserved bytes kept, the rest as %XX. */
export function goQueryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A string as Go's encoding/json writes it: HTML-safe (<, >, & escaped), U+2028/U+2029
 * escaped, control characters as \n \r \t or \u00XX.
 */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      default:
        if (cp < 0x20 || ch === '<' || ch === '>' || ch === '&' || cp === 0x2028 || cp === 0x2029) {
          out += `\\u${cp.toString(16).padStart(4, '0')}`;
        } else {
          out += ch;
        }
    }
  }
  return `${out}"`;
}

/** Go's strconv.Quote (what `%q` prints): like JSON, without the HTML escapes, \x for other controls. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const simple: Record<string, string> = {
      '"': '\\"',
      '\\': '\\\\',
      '\x07': '\\a',
      '\b': '\\b',
      '\f': '\\f',
      '\n': '\\n',
      '\r': '\\r',
      '\t': '\\t',
      '\v': '\\v',
    };
    if (simple[ch] !== undefined) out += simple[ch];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
