/**
 * The HCL native syntax scanner: source text to tokens, with a mode stack for the three
 * sub-languages (structure/expressions, quoted templates, heredoc templates). Comments and
 * spaces are dropped; newlines are tokens, since they end attributes and blocks.
 */
import { type Pos, type Range, SourceRange } from './ast.js';

/** What a token is; punctuation carries its characters in `text`. */
export type TokenType =
  | 'ident'
  | 'number'
  | 'punct' // operators and delimiters; `text` says which
  | 'oquote' // "  opening a quoted template
  | 'cquote' // "  closing it
  | 'quotedLit' // raw text inside a quoted template (escapes not yet processed)
  | 'quotedNewline' // a newline inside a quoted template: an unterminated string
  | 'oheredoc' // <<EOF or <<-EOF, with its newline
  | 'heredocLit' // raw text inside a heredoc: up to and including one newline
  | 'cheredoc' // the closing marker line
  | 'interp' // ${
  | 'control' // %{
  | 'newline'
  | 'invalid'
  | 'eof';

/** One token; `start`/`end` are offsets into the source string. */
export interface Token {
  type: TokenType;
  text: string;
  start: number;
  end: number;
  /** Filled in by the parser the first time it needs the token's range. */
  range?: Range;
}

/** Converts string offsets to HCL positions (line, column in code points, UTF-8 byte). */
export class SourceMap {
  readonly filename: string;
  private readonly src: string;
  private readonly lineStarts: number[] = [0];
  private readonly lineStartBytes: number[] = [0];
  private readonly lineAscii: boolean[] = [];
  private built = false;

  constructor(src: string, filename: string) {
    this.src = src;
    this.filename = filename;
  }

  /** The line table, made on the first position asked for (most parses never ask). */
  private build(): void {
    this.built = true;
    const src = this.src;
    let byte = 0;
    let ascii = true;
    for (let i = 0; i < src.length; i++) {
      const c = src.charCodeAt(i);
      byte += utf8Length(c, src, i);
      if (c >= 0xd800 && c <= 0xdbff) i++;
      if (c > 0x7f) ascii = false;
      if (c === 10) {
        this.lineStarts.push(i + 1);
        this.lineStartBytes.push(byte);
        this.lineAscii.push(ascii);
        ascii = true;
      }
    }
    this.lineAscii.push(ascii);
  }

  /** The position of a string offset. */
  pos(offset: number): Pos {
    if (!this.built) this.build();
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    const ls = starts[lo]!;
    if (this.lineAscii[lo]) {
      return {
        line: lo + 1,
        column: offset - ls + 1,
        byte: this.lineStartBytes[lo]! + offset - ls,
      };
    }
    let col = 1;
    let byte = this.lineStartBytes[lo]!;
    for (let i = ls; i < offset; i++) {
      const c = this.src.charCodeAt(i);
      byte += utf8Length(c, this.src, i);
      if (c >= 0xd800 && c <= 0xdbff) i++;
      col++;
    }
    return { line: lo + 1, column: col, byte };
  }

  /** The range of [start, end). */
  range(start: number, end: number): Range {
    return new SourceRange(this, start, end);
  }
}

function utf8Length(c: number, s: string, i: number): number {
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) return 4;
  return 3;
}

const IDENT = /[\p{ID_Start}_][\p{ID_Continue}\-\u200c\u200d]*/uy;
const NUMBER = /[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const PUNCT2 = new Set(['=>', '==', '!=', '<=', '>=', '&&', '||']);
const PUNCT1 = '+-*/%<>!?:=.,{}[]()~';

type Mode =
  | { kind: 'brace' } // { in expressions and bodies
  | { kind: 'interp' } // ${ or %{: `}` returns to the template around it
  | { kind: 'quoted' }
  | { kind: 'heredoc'; marker: string; atLineStart: boolean };

/** Scans a whole file (or expression) into tokens, ending with one `eof` token. */
export function scan(src: string): Token[] {
  const tokens: Token[] = [];
  const modes: Mode[] = [];
  let i = 0;
  const n = src.length;
  const push = (type: TokenType, start: number, end: number) =>
    tokens.push({ type, text: src.slice(start, end), start, end });

  // a UTF-8 byte order mark is not allowed; report it as an invalid token
  if (src.charCodeAt(0) === 0xfeff) {
    push('invalid', 0, 1);
    i = 1;
  }

  while (i < n) {
    const mode = modes[modes.length - 1];
    if (mode?.kind === 'quoted') {
      i = scanQuoted(src, i, modes, push);
      continue;
    }
    if (mode?.kind === 'heredoc') {
      i = scanHeredoc(src, i, mode, modes, push);
      continue;
    }
    const c = src[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '\r' && src[i + 1] === '\n') {
      push('newline', i, i + 2);
      i += 2;
      continue;
    }
    if (c === '\n') {
      push('newline', i, i + 1);
      i++;
      continue;
    }
    if (c === '#' || (c === '/' && src[i + 1] === '/')) {
      // a line comment stands for the newline that ends it
      let j = i;
      while (j < n && src[j] !== '\n') j++;
      if (j < n) {
        push('newline', i, j + 1);
        i = j + 1;
      } else i = j;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) {
        push('invalid', i, n);
        i = n;
      } else i = end + 2;
      continue;
    }
    if (c === '"') {
      push('oquote', i, i + 1);
      modes.push({ kind: 'quoted' });
      i++;
      continue;
    }
    if (c === '<' && src[i + 1] === '<') {
      const m = /<<-?([\p{ID_Start}_][\p{ID_Continue}-]*)[ \t]*(\r?\n)/uy;
      m.lastIndex = i;
      const h = m.exec(src);
      if (h) {
        push('oheredoc', i, i + h[0].length);
        modes.push({ kind: 'heredoc', marker: h[1]!, atLineStart: true });
        i += h[0].length;
        continue;
      }
    }
    const code = src.charCodeAt(i);
    if (code >= 48 && code <= 57) {
      NUMBER.lastIndex = i;
      const len = NUMBER.exec(src)![0].length;
      push('number', i, i + len);
      i += len;
      continue;
    }
    if (isAsciiIdentStart(code)) {
      // the common case without the Unicode-property regular expression
      let j = i + 1;
      while (j < n && isAsciiIdentPart(src.charCodeAt(j))) j++;
      if (j >= n || src.charCodeAt(j) < 0x80) {
        push('ident', i, j);
        i = j;
        continue;
      }
    }
    IDENT.lastIndex = i;
    const id = IDENT.exec(src);
    if (id) {
      push('ident', i, i + id[0].length);
      i += id[0].length;
      continue;
    }
    if (c === '.' && src[i + 1] === '.' && src[i + 2] === '.') {
      push('punct', i, i + 3);
      i += 3;
      continue;
    }
    const c2 = src[i + 1];
    if (c2 !== undefined && PUNCT2.has(c + c2)) {
      push('punct', i, i + 2);
      i += 2;
      continue;
    }
    if (PUNCT1.includes(c)) {
      push('punct', i, i + 1);
      if (c === '{') modes.push({ kind: 'brace' });
      else if (c === '}' && modes.length > 0) modes.pop();
      i++;
      continue;
    }
    // one invalid character (a whole code point)
    const cp = src.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    push('invalid', i, i + len);
    i += len;
  }
  push('eof', n, n);
  return tokens;
}

function isAsciiIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

function isAsciiIdentPart(c: number): boolean {
  return isAsciiIdentStart(c) || (c >= 48 && c <= 57) || c === 45;
}

type Push = (type: TokenType, start: number, end: number) => void;

/** Scans template text up to the next `${`, `%{` or one of the stop characters. */
function templateText(src: string, i: number, stopAtQuote: boolean): number {
  const n = src.length;
  let j = i;
  while (j < n) {
    const c = src[j];
    if (c === '\n') break;
    if (stopAtQuote && c === '"') break;
    if (stopAtQuote && c === '\\') {
      j += 2;
      continue;
    }
    if ((c === '$' || c === '%') && src[j + 1] === '{') break;
    if ((c === '$' && src[j + 1] === '$') || (c === '%' && src[j + 1] === '%')) {
      // $${ and %%{ are escapes: keep both characters in the literal
      if (src[j + 2] === '{') {
        j += 3;
        continue;
      }
    }
    j++;
  }
  return Math.min(j, n);
}

function scanQuoted(src: string, i: number, modes: Mode[], push: Push): number {
  const c = src[i];
  if (c === '"') {
    push('cquote', i, i + 1);
    modes.pop();
    return i + 1;
  }
  if (c === '\n' || (c === '\r' && src[i + 1] === '\n')) {
    // a quoted string may not span lines: end it here so the next line scans normally
    const len = c === '\n' ? 1 : 2;
    push('quotedNewline', i, i + len);
    modes.pop();
    return i + len;
  }
  if ((c === '$' || c === '%') && src[i + 1] === '{') {
    push(c === '$' ? 'interp' : 'control', i, i + 2);
    modes.push({ kind: 'interp' });
    return i + 2;
  }
  let j = templateText(src, i, true);
  if (src[j - 1] === '\r' && src[j] === '\n') j--;
  if (j === i) j = i + 1;
  push('quotedLit', i, j);
  return j;
}

function scanHeredoc(
  src: string,
  i: number,
  mode: Extract<Mode, { kind: 'heredoc' }>,
  modes: Mode[],
  push: Push,
): number {
  if (mode.atLineStart) {
    const end = closingMarkerEnd(src, i, mode.marker);
    if (end >= 0) {
      // the closing newline stays in the stream: it ends the attribute
      push('cheredoc', i, end);
      modes.pop();
      return end;
    }
  }
  const c = src[i];
  if ((c === '$' || c === '%') && src[i + 1] === '{') {
    push(c === '$' ? 'interp' : 'control', i, i + 2);
    mode.atLineStart = false;
    modes.push({ kind: 'interp' });
    return i + 2;
  }
  let j = templateText(src, i, false);
  if (src[j] === '\n') {
    j++;
    mode.atLineStart = true;
  } else mode.atLineStart = false;
  push('heredocLit', i, j);
  return j;
}

/** Where a heredoc's closing line (`  EOT`) ends, before its newline; -1 if this is not one. */
function closingMarkerEnd(src: string, i: number, marker: string): number {
  let j = i;
  while (src[j] === ' ' || src[j] === '\t') j++;
  if (!src.startsWith(marker, j)) return -1;
  j += marker.length;
  while (src[j] === ' ' || src[j] === '\t') j++;
  if (j === src.length || src[j] === '\n' || (src[j] === '\r' && src[j + 1] === '\n')) return j;
  return -1;
}
