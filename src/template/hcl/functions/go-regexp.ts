/**
 * Go's RE2 regular expressions (what Packer's `regex`, `regexall` and `regex_replace` take),
 * translated to an equivalent JavaScript RegExp: RE2's flags `(?imsU)` (also scoped), `(?P<name>)`,
 * `\A \z \Q…\E`, ASCII-only `\s \d \w \b`, POSIX `[[:alpha:]]` classes, `\pL` and `\p{Greek}`,
 * and Go's rules for which matches `FindAll`/`ReplaceAll` report. Syntax errors carry RE2's
 * code and the offending expression (`missing closing ): `(a``), as Go's regexp/syntax does.
 */

/** A pattern RE2 refuses, with Go's error code and the expression it blames. */
export class GoRegexpError extends Error {
  constructor(
    readonly code: string,
    readonly expr: string,
  ) {
    super(`${code}: \`${expr}\``);
  }
}

/** A compiled Go pattern: the JavaScript RegExp and the names of its capture groups ('' = unnamed). */
export interface GoRegexp {
  readonly source: string;
  readonly re: RegExp;
  readonly groupNames: string[];
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const PERL: Record<string, string> = {
  d: '0-9',
  s: '\\t\\n\\f\\r ',
  w: '0-9A-Za-z_',
};

const GENERAL_CATEGORIES = new Set([
  'C',
  'Cc',
  'Cf',
  'Co',
  'Cs',
  'L',
  'Ll',
  'Lm',
  'Lo',
  'Lt',
  'Lu',
  'M',
  'Mc',
  'Me',
  'Mn',
  'N',
  'Nd',
  'Nl',
  'No',
  'P',
  'Pc',
  'Pd',
  'Pe',
  'Pf',
  'Pi',
  'Po',
  'Ps',
  'S',
  'Sc',
  'Sk',
  'Sm',
  'So',
  'Z',
  'Zl',
  'Zp',
  'Zs',
]);

const SYNTAX_CHARS = new Set('^$\\.*+?()[]{}|/'.split(''));

/** A code point as JavaScript source, escaped where the u-mode syntax needs it. */
function literal(cp: number, inClass: boolean): string {
  const ch = String.fromCodePoint(cp);
  if (SYNTAX_CHARS.has(ch) || (inClass && ch === '-')) return `\\${ch}`;
  if (cp < 0x20 || cp === 0x7f || (cp >= 0x2028 && cp <= 0x2029)) {
    return `\\u{${cp.toString(16)}}`;
  }
  return ch;
}

function caseVariants(cp: number): number[] {
  const ch = String.fromCodePoint(cp);
  const out = new Set<number>([cp]);
  for (const v of [ch.toLowerCase(), ch.toUpperCase()]) {
    const cps = [...v];
    if (cps.length === 1) out.add(cps[0]!.codePointAt(0)!);
  }
  return [...out];
}

class Translator {
  private pos = 0;
  private readonly names: string[] = [];
  private readonly cps: number[];

  constructor(private readonly src: string) {
    this.cps = [...src].map((c) => c.codePointAt(0)!);
  }

  translate(): GoRegexp {
    const flags: Flags = { i: false, m: false, s: false, U: false };
    const body = this.alternation(flags, 0);
    if (this.pos < this.cps.length) {
      // Only an unbalanced ")" stops the top level early.
      throw new GoRegexpError('unexpected )', this.src);
    }
    let re: RegExp;
    try {
      re = new RegExp(body, 'u');
    } catch (e) {
      throw new GoRegexpError('invalid or unsupported Perl syntax', (e as Error).message);
    }
    return { source: this.src, re, groupNames: this.names };
  }

  private peek(off = 0): number | undefined {
    return this.cps[this.pos + off];
  }

  private ch(off = 0): string {
    const c = this.peek(off);
    return c === undefined ? '' : String.fromCodePoint(c);
  }

  private rest(): string {
    return String.fromCodePoint(...this.cps.slice(this.pos));
  }

  private alternation(flags: Flags, depth: number): string {
    const branches: string[] = [this.concat(flags, depth)];
    while (this.ch() === '|') {
      this.pos++;
      branches.push(this.concat(flags, depth));
    }
    return branches.join('|');
  }

  private concat(flags: Flags, depth: number): string {
    let out = '';
    let lastAtomStart = -1;
    let lastWasRepeat = false;
    while (this.pos < this.cps.length) {
      const c = this.ch();
      if (c === '|') break;
      if (c === ')') {
        if (depth === 0) throw new GoRegexpError('unexpected )', this.src);
        break;
      }
      const atomStartSrc = this.pos;
      if (c === '*' || c === '+' || c === '?' || (c === '{' && this.repeatAhead() !== undefined)) {
        let op: string;
        if (c === '{') {
          const r = this.repeatAhead()!;
          op = r.text;
          if (
            r.min > 1000 ||
            (r.max !== undefined && r.max > 1000) ||
            (r.max !== undefined && r.max < r.min)
          ) {
            throw new GoRegexpError(
              'invalid repeat count',
              this.srcSlice(this.pos, this.pos + r.len),
            );
          }
          this.pos += r.len;
        } else {
          op = c;
          this.pos++;
        }
        let lazy = false;
        if (this.ch() === '?') {
          lazy = true;
          this.pos++;
        }
        if (lastAtomStart < 0) {
          throw new GoRegexpError(
            'missing argument to repetition operator',
            this.srcSlice(atomStartSrc, this.pos),
          );
        }
        if (lastWasRepeat) {
          throw new GoRegexpError(
            'invalid nested repetition operator',
            this.srcSlice(atomStartSrc - 1, this.pos),
          );
        }
        if (flags.U) lazy = !lazy;
        out += op + (lazy ? '?' : '');
        lastWasRepeat = true;
        continue;
      }
      lastWasRepeat = false;
      const atom = this.atom(flags, depth);
      if (atom === null) {
        // A flag group such as (?i) changes flags and matches nothing.
        lastAtomStart = -1;
        continue;
      }
      lastAtomStart = out.length;
      out += atom.text;
      if (!atom.repeatable) lastAtomStart = -1;
    }
    return out;
  }

  private srcSlice(a: number, b: number): string {
    return String.fromCodePoint(...this.cps.slice(a, b));
  }

  /** A `{n}`, `{n,}` or `{n,m}` at the current position; anything else makes `{` a literal, as in Go. */
  private repeatAhead(): { text: string; len: number; min: number; max?: number } | undefined {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.rest());
    if (!m) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? undefined : Number(m[3]);
    return { text: m[0], len: [...m[0]].length, min, max };
  }

  private atom(flags: Flags, depth: number): { text: string; repeatable: boolean } | null {
    const c = this.ch();
    switch (c) {
      case '(':
        return this.group(flags, depth);
      case '[':
        return { text: this.charClass(flags), repeatable: true };
      case '.':
        this.pos++;
        return { text: flags.s ? '[\\s\\S]' : '[^\\n]', repeatable: true };
      case '^':
        this.pos++;
        return {
          text: flags.m ? '(?:(?<![\\s\\S])|(?<=\\n))' : '(?:(?<![\\s\\S]))',
          repeatable: true,
        };
      case '$':
        this.pos++;
        return {
          text: flags.m ? '(?:(?![\\s\\S])|(?=\\n))' : '(?:(?![\\s\\S]))',
          repeatable: true,
        };
      case '\\':
        return this.escape(flags);
      default: {
        const cp = this.peek()!;
        this.pos++;
        return { text: this.literalWithCase(cp, flags), repeatable: true };
      }
    }
  }

  private literalWithCase(cp: number, flags: Flags): string {
    if (!flags.i) return literal(cp, false);
    const vs = caseVariants(cp);
    if (vs.length === 1) return literal(cp, false);
    return `[${vs.map((v) => literal(v, true)).join('')}]`;
  }

  private group(flags: Flags, depth: number): { text: string; repeatable: boolean } | null {
    const start = this.pos;
    this.pos++; // (
    let prefix = '(';
    let inner: Flags = flags;
    if (this.ch() === '?') {
      const rest = this.rest();
      const named = /^\?P?<([^>]*)>/.exec(rest);
      if (named) {
        const name = named[1]!;
        if (name === '' || !/^[A-Za-z0-9_]+$/.test(name)) {
          throw new GoRegexpError(
            'invalid named capture',
            this.srcSlice(start, start + 1 + [...named[0]].length),
          );
        }
        if (this.names.includes(name)) {
          throw new GoRegexpError('duplicate capture group name', name);
        }
        this.names.push(name);
        // JavaScript group names cannot start with a digit; a private name keeps the group.
        prefix = `(?<${/^[0-9]/.test(name) ? `g_${name}` : name}>`;
        this.pos += [...named[0]].length;
      } else {
        const fm = /^\?([imsU]*)(?:-([imsU]*))?(:|\))/.exec(rest);
        if (!fm || fm[2] === '') {
          throw new GoRegexpError(
            'invalid or unsupported Perl syntax',
            this.srcSlice(start, start + 3),
          );
        }
        const next: Flags = { ...flags };
        for (const f of fm[1]!) next[f as keyof Flags] = true;
        for (const f of fm[2] ?? '') next[f as keyof Flags] = false;
        this.pos += [...fm[0]].length;
        if (fm[3] === ')') {
          // (?flags) applies to the rest of the enclosing group.
          Object.assign(flags, next);
          return null;
        }
        prefix = '(?:';
        inner = next;
      }
    } else {
      this.names.push('');
    }
    const body = this.alternation({ ...inner }, depth + 1);
    if (this.ch() !== ')') {
      throw new GoRegexpError('missing closing )', this.src);
    }
    this.pos++;
    return { text: `${prefix}${body})`, repeatable: true };
  }

  private escape(flags: Flags): { text: string; repeatable: boolean } {
    const start = this.pos;
    this.pos++; // backslash
    const c = this.ch();
    if (c === '') throw new GoRegexpError('trailing backslash at end of expression', '');
    switch (c) {
      case 'A':
        this.pos++;
        return { text: '(?:(?<![\\s\\S]))', repeatable: true };
      case 'z':
        this.pos++;
        return { text: '(?:(?![\\s\\S]))', repeatable: true };
      case 'b':
      case 'B': {
        this.pos++;
        const w = '[0-9A-Za-z_]';
        const at = `(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))`;
        const notAt = `(?:(?<=${w})(?=${w})|(?<!${w})(?!${w}))`;
        return { text: c === 'b' ? at : notAt, repeatable: true };
      }
      case 'Q': {
        this.pos++;
        let out = '';
        while (this.pos < this.cps.length) {
          if (this.ch() === '\\' && this.ch(1) === 'E') {
            this.pos += 2;
            break;
          }
          out += this.literalWithCase(this.peek()!, flags);
          this.pos++;
        }
        return { text: `(?:${out})`, repeatable: true };
      }
      default: {
        const cls = this.classEscape(start);
        if (cls !== undefined) return { text: `[${cls}]`, repeatable: true };
        const cp = this.charEscape(start);
        return { text: this.literalWithCase(cp, flags), repeatable: true };
      }
    }
  }

  /** `\d \s \w`, their negations and `\p`/`\P` classes, as the inside of a JavaScript class. */
  private classEscape(start: number): string | undefined {
    const c = this.ch();
    const lower = c.toLowerCase();
    if (PERL[lower] !== undefined) {
      this.pos++;
      return c === lower ? PERL[lower] : `^${PERL[lower]}`;
    }
    if (c === 'p' || c === 'P') {
      this.pos++;
      let name: string;
      if (this.ch() === '{') {
        const end = this.cps.indexOf(0x7d, this.pos);
        if (end < 0)
          throw new GoRegexpError(
            'invalid character class range',
            this.srcSlice(start, this.cps.length),
          );
        name = this.srcSlice(this.pos + 1, end);
        this.pos = end + 1;
      } else {
        name = this.ch();
        if (name === '')
          throw new GoRegexpError('invalid character class range', this.srcSlice(start, this.pos));
        this.pos++;
      }
      let neg = c === 'P';
      if (name.startsWith('^')) {
        neg = !neg;
        name = name.slice(1);
      }
      let prop: string;
      if (name === 'Any') prop = '\\s\\S';
      else if (GENERAL_CATEGORIES.has(name)) prop = `\\p{${name}}`;
      else {
        try {
          new RegExp(`\\p{Script=${name}}`, 'u');
        } catch {
          throw new GoRegexpError('invalid character class range', this.srcSlice(start, this.pos));
        }
        prop = `\\p{Script=${name}}`;
      }
      if (name === 'Any') return neg ? '^\\s\\S' : prop;
      return neg ? prop.replace('\\p{', '\\P{') : prop;
    }
    return undefined;
  }

  /** A single-character escape: `\n`, `\x41`, `\x{263a}`, `\101`, `\.`; RE2 refuses the others. */
  private charEscape(start: number): number {
    const c = this.ch();
    const simple: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
    if (simple[c] !== undefined) {
      this.pos++;
      return simple[c]!;
    }
    if (c >= '0' && c <= '7') {
      // Go accepts \0 and octal escapes of up to three digits, but not \1-\9 back-references.
      if (c !== '0' && !(this.ch(1) >= '0' && this.ch(1) <= '7')) {
        throw new GoRegexpError('invalid escape sequence', this.srcSlice(start, this.pos + 1));
      }
      let v = 0;
      let n = 0;
      while (n < 3 && this.ch() >= '0' && this.ch() <= '7') {
        v = v * 8 + Number(this.ch());
        this.pos++;
        n++;
      }
      return v;
    }
    if (c === 'x') {
      this.pos++;
      if (this.ch() === '{') {
        const end = this.cps.indexOf(0x7d, this.pos);
        const hex = end < 0 ? '' : this.srcSlice(this.pos + 1, end);
        if (!/^[0-9A-Fa-f]+$/.test(hex) || Number.parseInt(hex, 16) > 0x10ffff) {
          throw new GoRegexpError(
            'invalid escape sequence',
            this.srcSlice(start, end < 0 ? this.cps.length : end + 1),
          );
        }
        this.pos = end + 1;
        return Number.parseInt(hex, 16);
      }
      const hex = this.ch() + this.ch(1);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw new GoRegexpError(
          'invalid escape sequence',
          this.srcSlice(start, Math.min(this.pos + 2, this.cps.length)),
        );
      }
      this.pos += 2;
      return Number.parseInt(hex, 16);
    }
    const cp = this.peek()!;
    // Go lets any ASCII punctuation be escaped to stand for itself.
    if (cp < 0x80 && !/[0-9A-Za-z]/.test(c)) {
      this.pos++;
      return cp;
    }
    throw new GoRegexpError('invalid escape sequence', this.srcSlice(start, this.pos + 1));
  }

  private charClass(flags: Flags): string {
    const start = this.pos;
    this.pos++; // [
    let neg = false;
    if (this.ch() === '^') {
      neg = true;
      this.pos++;
    }
    const parts: string[] = [];
    let first = true;
    while (true) {
      const c = this.ch();
      if (c === '')
        throw new GoRegexpError('missing closing ]', this.srcSlice(start, this.cps.length));
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === '[' && this.ch(1) === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(this.rest());
        if (m) {
          const set = POSIX[m[2]!];
          if (set === undefined) throw new GoRegexpError('invalid character class range', m[0]);
          this.pos += m[0].length;
          if (m[1] === '^') parts.push(`\\P{Any}`, this.negatedInClass(set));
          else parts.push(set);
          continue;
        }
      }
      if (c === '\\') {
        const escStart = this.pos;
        this.pos++;
        const cls = this.classEscape(escStart);
        if (cls !== undefined) {
          parts.push(cls.startsWith('^') ? this.negatedInClass(cls.slice(1)) : cls);
          continue;
        }
        this.pos = escStart;
      }
      const lo = this.classChar(start);
      if (this.ch() === '-' && this.ch(1) !== ']' && this.ch(1) !== '') {
        this.pos++;
        const hi = this.classChar(start);
        if (hi < lo)
          throw new GoRegexpError(
            'invalid character class range',
            String.fromCodePoint(lo, 0x2d, hi),
          );
        parts.push(this.rangeWithCase(lo, hi, flags));
      } else {
        parts.push(this.rangeWithCase(lo, lo, flags));
      }
    }
    return `[${neg ? '^' : ''}${parts.join('')}]`;
  }

  /** JavaScript classes cannot nest a negation (without the v flag), so spell the complement out. */
  private negatedInClass(set: string): string {
    // The sets negated here are all ASCII, so their complement is a handful of ranges.
    const inSet = new RegExp(`[${set}]`, 'u');
    const ranges: string[] = [];
    let runStart = -1;
    for (let cp = 0; cp <= 0x80; cp++) {
      const member = cp < 0x80 && inSet.test(String.fromCodePoint(cp));
      if (!member && runStart < 0) runStart = cp;
      if ((member || cp === 0x80) && runStart >= 0) {
        const end = cp === 0x80 && !member ? 0x10ffff : cp - 1;
        ranges.push(
          `${literal(runStart, true)}-${end === 0x10ffff ? '\\u{10ffff}' : literal(end, true)}`,
        );
        runStart = -1;
      }
    }
    return ranges.join('');
  }

  private classChar(start: number): number {
    const c = this.ch();
    if (c === '')
      throw new GoRegexpError('missing closing ]', this.srcSlice(start, this.cps.length));
    if (c === '\\') {
      const escStart = this.pos;
      this.pos++;
      return this.charEscape(escStart);
    }
    this.pos++;
    return c.codePointAt(0)!;
  }

  private rangeWithCase(lo: number, hi: number, flags: Flags): string {
    const text = lo === hi ? literal(lo, true) : `${literal(lo, true)}-${literal(hi, true)}`;
    if (!flags.i || hi - lo > 2000) return text;
    const extra = new Set<number>();
    for (let cp = lo; cp <= hi; cp++) {
      for (const v of caseVariants(cp)) if (v < lo || v > hi) extra.add(v);
    }
    return text + [...extra].map((v) => literal(v, true)).join('');
  }
}

/** Compiles an RE2 pattern as Go's regexp.Compile would accept it; throws GoRegexpError otherwise. */
export function compileGoRegexp(pattern: string): GoRegexp {
  return new Translator(pattern).translate();
}

/** One match: its span and each group's text (undefined where the group took no part). */
export interface GoMatch {
  index: number;
  end: number;
  groups: Array<string | undefined>;
  text: string;
}

/** The first match, or undefined (Go's FindStringSubmatchIndex). */
export function goFind(re: GoRegexp, s: string): GoMatch | undefined {
  const g = new RegExp(re.re.source, 'gu');
  const m = g.exec(s);
  if (!m) return undefined;
  return { index: m.index, end: m.index + m[0].length, groups: m.slice(1), text: m[0] };
}

/**
 * Every match as Go's FindAll reports them: an empty match right after the previous match is
 * skipped (JavaScript's matchAll keeps it), and the search moves on by one code point.
 */
export function goFindAll(re: GoRegexp, s: string): GoMatch[] {
  const g = new RegExp(re.re.source, 'gu');
  const out: GoMatch[] = [];
  let pos = 0;
  let prevEnd = -1;
  while (pos <= s.length) {
    g.lastIndex = pos;
    const m = g.exec(s);
    if (!m) break;
    const index = m.index;
    const end = index + m[0].length;
    let accept = true;
    if (end === index) {
      if (index === prevEnd) accept = false;
      // Step past one code point so an empty match cannot repeat.
      const cp = s.codePointAt(index);
      pos = index + (cp !== undefined && cp > 0xffff ? 2 : 1);
    } else {
      pos = end;
    }
    if (accept) {
      out.push({ index, end, groups: m.slice(1), text: m[0] });
      prevEnd = end;
    }
  }
  return out;
}

/** Go's Regexp.Expand template: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups give ''. */
function expand(template: string, re: GoRegexp, m: GoMatch): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    if (template[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    let name: string | undefined;
    let len = 0;
    if (template[i + 1] === '{') {
      const mm = /^\{([A-Za-z0-9_]+)\}/.exec(template.slice(i + 1));
      if (mm) {
        name = mm[1];
        len = mm[0].length + 1;
      }
    } else {
      const mm = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (mm) {
        name = mm[0];
        len = mm[0].length + 1;
      }
    }
    if (name === undefined) {
      // A malformed reference is copied through, as Go does.
      out += '$';
      i++;
      continue;
    }
    i += len;
    if (/^[0-9]+$/.test(name)) {
      const n = Number(name);
      if (n === 0) out += m.text;
      else if (n <= m.groups.length) out += m.groups[n - 1] ?? '';
    } else {
      const idx = re.groupNames.indexOf(name);
      if (idx >= 0) out += m.groups[idx] ?? '';
    }
  }
  return out;
}

/** Go's ReplaceAllString: every match (Go's FindAll rules) replaced by the expanded template. */
export function goReplaceAll(re: GoRegexp, s: string, template: string): string {
  let out = '';
  let last = 0;
  for (const m of goFindAll(re, s)) {
    out += s.slice(last, m.index) + expand(template, re, m);
    last = m.end;
  }
  return out + s.slice(last);
}
