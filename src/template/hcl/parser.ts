/**
 * A recursive-descent parser for the HCL native syntax (hashicorp/hcl `hclsyntax/spec.md`):
 * bodies, blocks, attributes and every expression form, each node with its Range.
 * Errors are collected as Diagnostics; after one, the parser skips to the end of the body
 * item it was in and goes on, so a file reports every broken item at once.
 */
import {
  type AnonSymbol,
  type Attribute,
  type BinaryOp,
  type Block,
  type Body,
  type Diagnostic,
  type Expr,
  type File,
  type ForExpr,
  type ObjectItem,
  type Range,
  rangeBetween,
} from './ast.js';
import { SourceMap, scan, type Token } from './scanner.js';
import { FALSE, NULL, num, str, TRUE } from './value.js';

/** The result of parsing: a syntax tree (always, possibly partial) and every problem found. */
export interface ParseResult<T> {
  value: T;
  diagnostics: Diagnostic[];
}

/** Parses a whole configuration file. */
export function parseConfig(src: string, filename: string): ParseResult<File> {
  const p = new Parser(src, filename);
  const body = p.parseFileBody();
  return { value: { body, source: src }, diagnostics: p.diagnostics };
}

/** Parses a lone expression (as `packer console` or a `-var` value does). */
export function parseExpression(src: string, filename: string): ParseResult<Expr> {
  const p = new Parser(src, filename);
  const expr = p.parseLoneExpression();
  return { value: expr, diagnostics: p.diagnostics };
}

/** Parses a standalone template, as `templatefile` reads its file. */
export function parseTemplate(src: string, filename: string): ParseResult<Expr> {
  // a standalone template is a heredoc body without the markers
  const p = new Parser(`<<${TEMPLATE_MARKER}\n${src}\n${TEMPLATE_MARKER}\n`, filename, src);
  const expr = p.parseStandaloneTemplate();
  return { value: expr, diagnostics: p.diagnostics };
}

const TEMPLATE_MARKER = 'KILN_STANDALONE_TEMPLATE_END_9c41e7';

/** Deeper than any real template, and far from the stack's limit. */
const MAX_NESTING = 200;

/** Thrown to abandon the current body item after its error was recorded. */
class Abandon extends Error {}

/** Operators by precedence level, loosest first. */
const BINARY_LEVELS: readonly (readonly BinaryOp[])[] = [
  ['||'],
  ['&&'],
  ['==', '!='],
  ['<', '>', '<=', '>='],
  ['+', '-'],
  ['*', '/', '%'],
];

const OPERATOR_LEVEL = new Map<string, number>(
  BINARY_LEVELS.flatMap((ops, level) => ops.map((op) => [op, level] as [string, number])),
);

type TemplatePiece =
  | { kind: 'lit'; text: string; range: Range }
  | { kind: 'interp'; expr: Expr; range: Range; stripLeft: boolean; stripRight: boolean }
  | {
      kind: 'if' | 'else' | 'endif' | 'for' | 'endfor';
      range: Range;
      stripLeft: boolean;
      stripRight: boolean;
      cond?: Expr;
      keyVar?: string;
      valVar?: string;
      collection?: Expr;
    };

class Parser {
  readonly diagnostics: Diagnostic[] = [];
  private readonly tokens: Token[];
  /** Bracket nesting depth before each token, to find where a broken item ends. */
  private depthTable: number[] | undefined;
  private readonly map: SourceMap;
  private pos = 0;
  /** How many terms and blocks enclose the current one. */
  private nesting = 0;
  /** Whether newlines are significant (bodies, objects) or skipped (inside (), [], ${}). */
  private readonly newlines: boolean[] = [true];
  /** For parseTemplate: offsets in the wrapped source are shifted back to the user's file. */
  private readonly shift: number;
  private readonly originalLength: number;

  constructor(src: string, filename: string, original?: string) {
    this.tokens = scan(src);
    this.shift = original === undefined ? 0 : src.indexOf('\n') + 1;
    this.map = new SourceMap(original ?? src, filename);
    this.originalLength = (original ?? src).length;
    this.diagnostics.push(...this.checkInvalidTokens());
  }

  /** Bracket depth before each token, computed the first time an error needs recovery. */
  private get depth(): number[] {
    if (!this.depthTable) {
      this.depthTable = [];
      let d = 0;
      for (const t of this.tokens) {
        this.depthTable.push(d);
        if (isOpener(t)) d++;
        else if (isCloser(t)) d = Math.max(0, d - 1);
      }
    }
    return this.depthTable;
  }

  /**
   * Problems visible in the tokens alone, reported for the whole file before any parse error
   * (as hashicorp/hcl does): characters HCL does not use, and operators it does not have.
   */
  private checkInvalidTokens(): Diagnostic[] {
    const out: Diagnostic[] = [];
    const told = { bitwise: 0, exponent: 0, backtick: 0, apostrophe: 0, semicolon: 0 };
    const add = (summary: string, detail: string, t: Token) =>
      out.push({ severity: 'error', summary, detail, subject: this.range(t) });
    const bitwise = (t: Token, suggestion: string) => {
      if (told.bitwise++ < 4)
        add('Unsupported operator', `Bitwise operators are not supported.${suggestion}`, t);
    };
    const toks = this.tokens;
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i]!;
      if (t.type === 'punct') {
        if (t.text === '~' && !isStripMarker(toks, i))
          bitwise(t, ' Did you mean boolean NOT ("!")?');
        else if (t.text === '*' && toks[i + 1]?.text === '*' && toks[i + 1]!.start === t.end) {
          if (told.exponent++ < 1) {
            add(
              'Unsupported operator',
              '"**" is not a supported operator. Exponentiation is not supported as an operator.',
              { ...t, end: t.end + 1, range: undefined },
            );
          }
        }
        continue;
      }
      if (t.type !== 'invalid') continue;
      switch (t.text) {
        case '&':
          bitwise(t, ' Did you mean boolean AND ("&&")?');
          break;
        case '|':
          bitwise(t, ' Did you mean boolean OR ("||")?');
          break;
        case '^':
          bitwise(t, '');
          break;
        case '`':
          if (told.backtick % 2 === 0) {
            add(
              'Invalid character',
              'The "`" character is not valid. To create a multi-line string, use the "heredoc" syntax, like "<<EOT".',
              t,
            );
          }
          if (told.backtick <= 2) told.backtick++;
          break;
        case "'":
          if (told.apostrophe % 2 === 0) {
            add(
              'Invalid character',
              'Single quotes are not valid. Use double quotes (") to enclose strings.',
              t,
            );
          }
          if (told.apostrophe <= 2) told.apostrophe++;
          break;
        case ';':
          if (told.semicolon++ < 1) {
            add(
              'Invalid character',
              'The ";" character is not valid. Use newlines to separate arguments and blocks, and commas to separate items in collection values.',
              t,
            );
          }
          break;
        case '\u201c':
        case '\u201d':
          add(
            'Invalid character',
            '"Curly quotes" are not valid here. These can sometimes be inadvertently introduced when sharing code via documents or discussion forums. It might help to replace the character with a "straight quote".',
            t,
          );
          break;
        default:
          // an unterminated /* comment: only the parser's error, as in HCL
          if (!t.text.startsWith('/*')) {
            add('Invalid character', 'This character is not used within the language.', t);
          }
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ tokens

  private peek(): Token {
    const skipNl = !this.newlines[this.newlines.length - 1];
    let i = this.pos;
    while (skipNl && this.tokens[i]!.type === 'newline') i++;
    return this.tokens[i]!;
  }

  private next(): Token {
    const skipNl = !this.newlines[this.newlines.length - 1];
    while (skipNl && this.tokens[this.pos]!.type === 'newline') this.pos++;
    const t = this.tokens[this.pos]!;
    if (t.type !== 'eof') this.pos++;
    return t;
  }

  private isPunct(t: Token, text: string): boolean {
    return t.type === 'punct' && t.text === text;
  }

  private range(t: Token): Range {
    t.range ??= this.map.range(Math.max(0, t.start - this.shift), Math.max(0, t.end - this.shift));
    return t.range;
  }

  private error(summary: string, detail: string, subject: Range): never {
    this.diagnostics.push({ severity: 'error', summary, detail, subject });
    throw new Abandon();
  }

  private report(summary: string, detail: string, subject: Range): void {
    this.diagnostics.push({ severity: 'error', summary, detail, subject });
  }

  private withNewlines<T>(significant: boolean, f: () => T): T {
    this.newlines.push(significant);
    try {
      return f();
    } finally {
      this.newlines.pop();
    }
  }

  /**
   * Skips to the end of a broken body item, as hashicorp/hcl does: first out of the brackets
   * the item had opened when the error struck, then to the next newline outside any bracket
   * opened since. A stray closing bracket is skipped over.
   */
  private recoverItem(itemStart: number): void {
    let need = this.depth[Math.min(this.pos, this.tokens.length - 1)]! - this.depth[itemStart]!;
    let open = 0;
    for (;;) {
      const t = this.tokens[this.pos]!;
      if (t.type === 'eof') return;
      this.pos++;
      if (t.type === 'newline' && open === 0 && need <= 0) return;
      if (isOpener(t)) open++;
      else if (isCloser(t)) {
        if (open > 0) open--;
        else if (need > 0) need--;
        // an unterminated quoted string ends at its line, and so does the item
        if (t.type === 'quotedNewline' && open === 0 && need <= 0) return;
      }
    }
  }

  // ------------------------------------------------------------------ bodies

  parseFileBody(): Body {
    const start = this.tokens[0]!;
    const body = this.parseBodyItems(false);
    const end = this.peek();
    return {
      ...body,
      range: rangeBetween(this.range(start), this.range(end)),
      endRange: this.range(end),
    };
  }

  /** Body items until `}` (when inBlock) or end of file. */
  private parseBodyItems(inBlock: boolean): Omit<Body, 'range' | 'endRange'> {
    const attributes: Attribute[] = [];
    const blocks: Block[] = [];
    const seen = new Map<string, Attribute>();
    for (;;) {
      const t = this.peek();
      if (t.type === 'eof') {
        if (inBlock) {
          this.report(
            'Unclosed configuration block',
            'There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.',
            this.range(t),
          );
        }
        break;
      }
      if (t.type === 'newline') {
        this.next();
        continue;
      }
      if (inBlock && this.isPunct(t, '}')) break;
      const itemStart = this.pos;
      try {
        const item = this.parseBodyItem();
        if ('expr' in item) {
          const prev = seen.get(item.name);
          if (prev) {
            this.report(
              'Attribute redefined',
              `The argument "${item.name}" was already set at ${rangeText(prev.nameRange)}. Each argument may be set only once.`,
              item.nameRange,
            );
          } else {
            seen.set(item.name, item);
            attributes.push(item);
          }
        } else blocks.push(item);
      } catch (err) {
        if (!(err instanceof Abandon)) throw err;
        this.recoverItem(itemStart);
      }
    }
    return { attributes, blocks };
  }

  private parseBodyItem(): Attribute | Block {
    const ident = this.next();
    if (ident.type !== 'ident') {
      this.error(
        'Argument or block definition required',
        'An argument or block definition is required here.',
        this.range(ident),
      );
    }
    const after = this.peek();
    if (this.isPunct(after, '=')) {
      this.next();
      const expr = this.parseExpressionTop();
      const end = this.peek();
      if (end.type !== 'newline' && end.type !== 'eof') {
        const comma = this.isPunct(end, ',');
        this.error(
          comma ? 'Unexpected comma after argument' : 'Missing newline after argument',
          `${comma ? 'Argument definitions must be separated by newlines, not commas. ' : ''}An argument definition must end with a newline.`,
          this.range(end),
        );
      }
      if (end.type === 'newline') this.next();
      return {
        name: ident.text,
        expr,
        nameRange: this.range(ident),
        equalsRange: this.range(after),
        range: rangeBetween(this.range(ident), expr.range),
      };
    }
    if (after.type === 'oquote' || after.type === 'ident' || this.isPunct(after, '{')) {
      return this.parseBlock(ident);
    }
    this.error(
      'Argument or block definition required',
      'An argument or block definition is required here. To set an argument, use the equals sign "=" to introduce the argument value.',
      this.range(ident),
    );
  }

  private parseBlock(ident: Token): Block {
    return this.nested(() => this.parseBlockInner(ident));
  }

  private parseBlockInner(ident: Token): Block {
    const labels: string[] = [];
    const labelRanges: Range[] = [];
    for (;;) {
      const t = this.peek();
      if (this.isPunct(t, '{')) break;
      if (t.type === 'oquote') {
        const { text, range } = this.parseStringLiteral();
        labels.push(text);
        labelRanges.push(range);
        continue;
      }
      if (t.type === 'ident') {
        this.next();
        labels.push(t.text);
        labelRanges.push(this.range(t));
        continue;
      }
      this.error(
        'Invalid block definition',
        'Either a quoted string block label or an opening brace ("{") is expected here.',
        this.range(t),
      );
    }
    const open = this.next();
    let body: Omit<Body, 'range' | 'endRange'>;
    const afterOpen = this.peek();
    if (afterOpen.type === 'newline' || this.isPunct(afterOpen, '}')) {
      body = this.parseBodyItems(true);
    } else {
      body = this.parseOneLineBody();
    }
    const close = this.peek();
    if (!this.isPunct(close, '}')) {
      // parseBodyItems reported the missing brace at the end of the file
      throw new Abandon();
    }
    this.next();
    const end = this.peek();
    if (end.type !== 'newline' && end.type !== 'eof') {
      this.error(
        'Missing newline after block definition',
        'A block definition must end with a newline.',
        this.range(end),
      );
    }
    if (end.type === 'newline') this.next();
    return {
      type: ident.text,
      labels,
      body: {
        ...body,
        range: rangeBetween(this.range(open), this.range(close)),
        endRange: this.range(close),
      },
      typeRange: this.range(ident),
      labelRanges,
      openBraceRange: this.range(open),
      closeBraceRange: this.range(close),
      range: rangeBetween(this.range(ident), this.range(close)),
    };
  }

  /** `name { attr = expr }` on one line: at most one attribute, no nested blocks. */
  private parseOneLineBody(): Omit<Body, 'range' | 'endRange'> {
    const name = this.next();
    if (name.type !== 'ident') {
      this.error(
        'Argument or block definition required',
        'An argument or block definition is required here.',
        this.range(name),
      );
    }
    const eq = this.peek();
    if (!this.isPunct(eq, '=')) {
      if (eq.type === 'oquote' || eq.type === 'ident' || this.isPunct(eq, '{')) {
        this.error(
          'Argument definition required',
          `A single-line block definition can contain only a single argument. If you meant to define argument "${name.text}", use an equals sign to assign it a value. To define a nested block, place it on a line of its own within its parent block.`,
          this.range(name),
        );
      }
      this.error(
        'Argument or block definition required',
        'An argument or block definition is required here. To set an argument, use the equals sign "=" to introduce the argument value.',
        this.range(name),
      );
    }
    this.next();
    const expr = this.parseExpressionTop();
    const close = this.peek();
    if (!this.isPunct(close, '}')) {
      this.error(
        'Invalid single-argument block definition',
        'A single-line block definition must end with a closing brace immediately after its single argument definition.',
        this.range(close),
      );
    }
    const attr: Attribute = {
      name: name.text,
      expr,
      nameRange: this.range(name),
      equalsRange: this.range(eq),
      range: rangeBetween(this.range(name), expr.range),
    };
    return { attributes: [attr], blocks: [] };
  }

  /** A quoted string with no interpolation (a block label). */
  private parseStringLiteral(): { text: string; range: Range } {
    const open = this.next();
    let text = '';
    let close = open;
    for (;;) {
      const t = this.next();
      close = t;
      if (t.type === 'cquote') break;
      if (t.type === 'quotedLit') {
        text += this.unescapeQuoted(t);
        continue;
      }
      if (t.type === 'interp' || t.type === 'control') {
        this.error(
          'Invalid string literal',
          'Template sequences are not allowed in this string. To include a literal "$", double it (as "$$") to escape it.',
          this.range(t),
        );
      }
      this.unterminated(t);
    }
    return { text, range: rangeBetween(this.range(open), this.range(close)) };
  }

  private unterminated(t: Token): never {
    if (t.type === 'quotedNewline') {
      this.error(
        'Unterminated template string',
        'No closing marker was found for the string.',
        this.range(t),
      );
    }
    this.error(
      'Unterminated template string',
      'No closing marker was found for the string.',
      this.range(t),
    );
  }

  // ------------------------------------------------------------------ expressions

  parseLoneExpression(): Expr {
    try {
      const e = this.withNewlines(false, () => this.parseExpressionTop());
      const t = this.withNewlines(false, () => this.peek());
      if (t.type !== 'eof') {
        this.error(
          'Extra characters after expression',
          'An expression was successfully parsed, but extra characters were found after it.',
          this.range(t),
        );
      }
      return e;
    } catch (err) {
      if (!(err instanceof Abandon)) throw err;
      return { kind: 'invalid', range: this.range(this.tokens[0]!) };
    }
  }

  parseStandaloneTemplate(): Expr {
    try {
      return this.parseHeredoc(true);
    } catch (err) {
      if (!(err instanceof Abandon)) throw err;
      return { kind: 'invalid', range: this.map.range(0, 0) };
    }
  }

  private parseExpressionTop(): Expr {
    return this.parseConditional();
  }

  private parseConditional(): Expr {
    const cond = this.parseBinary(0);
    if (!this.isPunct(this.peek(), '?')) return cond;
    this.next();
    const trueResult = this.parseExpressionTop();
    const colon = this.peek();
    if (!this.isPunct(colon, ':')) {
      this.error(
        'Missing false expression in conditional',
        'The conditional operator (...?...:...) requires a false expression, delimited by a colon.',
        this.range(colon),
      );
    }
    this.next();
    const falseResult = this.parseExpressionTop();
    return {
      kind: 'conditional',
      condition: cond,
      trueResult,
      falseResult,
      range: rangeBetween(cond.range, falseResult.range),
    };
  }

  /** Precedence climbing over BINARY_LEVELS: same-level operators associate to the left. */
  private parseBinary(minLevel: number): Expr {
    let left = this.parseTermWithTraversals();
    for (;;) {
      const t = this.peek();
      const level = t.type === 'punct' ? OPERATOR_LEVEL.get(t.text) : undefined;
      if (level === undefined || level < minLevel) return left;
      this.next();
      const right = this.parseBinary(level + 1);
      left = {
        kind: 'binary',
        op: t.text as BinaryOp,
        left,
        right,
        range: rangeBetween(left.range, right.range),
      };
    }
  }

  private parseTermWithTraversals(): Expr {
    return this.parseTraversals(this.parseTerm());
  }

  private parseTraversals(from: Expr): Expr {
    let ret = from;
    for (;;) {
      const t = this.peek();
      if (this.isPunct(t, '.')) {
        this.next();
        const a = this.peek();
        if (a.type === 'ident') {
          this.next();
          ret = {
            kind: 'getAttr',
            source: ret,
            name: a.text,
            nameRange: this.range(a),
            range: rangeBetween(ret.range, this.range(a)),
          };
          continue;
        }
        if (a.type === 'number') {
          this.next();
          ret = this.legacyIndex(ret, t, a, 'Use the proper index syntax instead');
          continue;
        }
        if (this.isPunct(a, '*')) {
          ret = this.parseAttrSplat(ret, t, this.next());
          continue;
        }
        this.error(
          'Invalid attribute name',
          'An attribute name is required after a dot.',
          this.range(a),
        );
      }
      if (this.isPunct(t, '[')) {
        const open = this.next();
        if (this.isPunct(this.peek(), '*')) {
          this.next();
          const close = this.next();
          if (!this.isPunct(close, ']')) {
            this.error(
              'Missing close bracket on splat index',
              'The star for a full splat operator must be immediately followed by a closing bracket ("]").',
              this.range(close),
            );
          }
          const markerRange = rangeBetween(this.range(open), this.range(close));
          const item: AnonSymbol = { kind: 'anon', range: markerRange };
          const each = this.parseTraversals(item);
          ret = {
            kind: 'splat',
            source: ret,
            each,
            item,
            markerRange,
            range: rangeBetween(ret.range, each.range),
          };
          continue;
        }
        const key = this.withNewlines(false, () => this.parseExpressionTop());
        const close = this.withNewlines(false, () => this.next());
        if (!this.isPunct(close, ']')) {
          this.error(
            'Missing close bracket on index',
            'The index operator must end with a closing bracket ("]").',
            this.range(close),
          );
        }
        ret = {
          kind: 'index',
          source: ret,
          key,
          bracketRange: rangeBetween(this.range(open), this.range(close)),
          range: rangeBetween(ret.range, this.range(close)),
        };
        continue;
      }
      return ret;
    }
  }

  private legacyIndex(source: Expr, dot: Token, numTok: Token, advice: string): Expr {
    const dotIdx = numTok.text.indexOf('.');
    const range = rangeBetween(this.range(dot), this.range(numTok));
    if (dotIdx >= 0 || /[eE]/.test(numTok.text)) {
      const [first, second] = numTok.text.split('.');
      this.error(
        'Invalid legacy index syntax',
        `When using the legacy index syntax, chaining two indexes together is not permitted. ${advice}, like [${first}][${second}].`,
        this.range(numTok),
      );
    }
    const key: Expr = {
      kind: 'literal',
      value: num(Number(numTok.text)),
      range: this.range(numTok),
    };
    return {
      kind: 'index',
      source,
      key,
      bracketRange: range,
      range: rangeBetween(source.range, this.range(numTok)),
    };
  }

  /** `.*` followed by `.name` (and legacy `.0`) steps, which apply to each element. */
  private parseAttrSplat(source: Expr, dot: Token, star: Token): Expr {
    const markerRange = rangeBetween(this.range(dot), this.range(star));
    const item: AnonSymbol = { kind: 'anon', range: markerRange };
    let each: Expr = item;
    while (this.isPunct(this.peek(), '.')) {
      const d = this.next();
      const a = this.peek();
      if (a.type === 'number') {
        this.next();
        each = this.legacyIndex(
          each,
          d,
          a,
          'Use the proper index syntax with a full splat expression [*] instead',
        );
        continue;
      }
      if (a.type !== 'ident') {
        if (this.isPunct(a, '*')) {
          this.error(
            'Nested splat expression not allowed',
            'A splat expression (*) cannot be used inside another attribute-only splat expression.',
            this.range(a),
          );
        }
        this.error(
          'Invalid attribute name',
          'An attribute name is required after a dot.',
          this.range(a),
        );
      }
      this.next();
      each = {
        kind: 'getAttr',
        source: each,
        name: a.text,
        nameRange: this.range(a),
        range: rangeBetween(each.range, this.range(a)),
      };
    }
    return {
      kind: 'splat',
      source,
      each,
      item,
      markerRange,
      range: rangeBetween(source.range, each.range),
    };
  }

  /** A term, counting how deep terms nest (a recursive descent must not run out of stack). */
  private parseTerm(): Expr {
    return this.nested(() => this.parseTermInner());
  }

  private nested<T>(f: () => T): T {
    if (++this.nesting > MAX_NESTING) {
      this.nesting = 0;
      this.error(
        'Nesting too deep',
        `Expressions, templates and blocks may nest at most ${MAX_NESTING} levels deep.`,
        this.range(this.peek()),
      );
    }
    try {
      return f();
    } finally {
      this.nesting = Math.max(0, this.nesting - 1);
    }
  }

  private parseTermInner(): Expr {
    const t = this.peek();
    switch (t.type) {
      case 'number': {
        this.next();
        const value = Number(t.text);
        if (!Number.isFinite(value)) {
          this.error(
            'Invalid number literal',
            'The number is too large to represent.',
            this.range(t),
          );
        }
        return { kind: 'literal', value: num(value), range: this.range(t) };
      }
      case 'ident':
        return this.parseIdentTerm();
      case 'oquote':
        return this.parseQuotedTemplate();
      case 'oheredoc':
        return this.parseHeredoc(false);
      case 'punct':
        break;
      case 'quotedNewline':
      case 'cquote':
        this.unterminated(t);
        break;
      case 'eof':
        this.error(
          'Missing expression',
          'Expected the start of an expression, but found the end of the file.',
          this.range(t),
        );
        break;
      case 'newline':
        this.invalidExpression(t);
        break;
      case 'invalid':
        // the character itself was reported when the file was scanned
        this.invalidExpression(t);
        break;
      default:
        this.invalidExpression(t);
    }
    switch (t.text) {
      case '(': {
        const open = this.next();
        return this.withNewlines(false, () => {
          const expr = this.parseExpressionTop();
          const close = this.next();
          if (!this.isPunct(close, ')')) {
            this.error(
              'Unbalanced parentheses',
              'Expected a closing parenthesis to terminate the expression.',
              this.range(close),
            );
          }
          return {
            kind: 'parens',
            expr,
            range: rangeBetween(this.range(open), this.range(close)),
          } satisfies Expr;
        });
      }
      case '[':
        return this.parseTuple();
      case '{':
        return this.parseObject();
      case '-':
      case '!': {
        this.next();
        const operand = this.parseTermWithTraversals();
        return {
          kind: 'unary',
          op: t.text as '-' | '!',
          operand,
          range: rangeBetween(this.range(t), operand.range),
        };
      }
      default:
        this.invalidExpression(t);
    }
  }

  private invalidExpression(t: Token): never {
    this.error(
      'Invalid expression',
      'Expected the start of an expression, but found an invalid expression token.',
      this.range(t),
    );
  }

  private parseIdentTerm(): Expr {
    const t = this.next();
    const range = this.range(t);
    if (this.isPunct(this.peek(), '(')) return this.parseCall(t);
    switch (t.text) {
      case 'true':
        return { kind: 'literal', value: TRUE, range };
      case 'false':
        return { kind: 'literal', value: FALSE, range };
      case 'null':
        return { kind: 'literal', value: NULL, range };
      default:
        return { kind: 'variable', name: t.text, range };
    }
  }

  private parseCall(name: Token): Expr {
    const open = this.next();
    return this.withNewlines(false, () => {
      const args: Expr[] = [];
      let expandFinal = false;
      let close: Token;
      for (;;) {
        const t = this.peek();
        if (this.isPunct(t, ')')) {
          close = this.next();
          break;
        }
        args.push(this.parseExpressionTop());
        const sep = this.next();
        if (this.isPunct(sep, '...')) {
          expandFinal = true;
          close = this.next();
          if (!this.isPunct(close, ')')) {
            this.error(
              'Missing closing parenthesis',
              'An expanded function argument (with ...) must be immediately followed by closing parentheses.',
              this.range(close),
            );
          }
          break;
        }
        if (this.isPunct(sep, ')')) {
          close = sep;
          break;
        }
        if (!this.isPunct(sep, ',')) {
          this.error(
            'Missing argument separator',
            'A comma is required to separate each function argument from the next.',
            this.range(sep),
          );
        }
      }
      return {
        kind: 'call',
        name: name.text,
        nameRange: this.range(name),
        args,
        expandFinal,
        openParenRange: this.range(open),
        closeParenRange: this.range(close),
        range: rangeBetween(this.range(name), this.range(close)),
      } satisfies Expr;
    });
  }

  private isForKeyword(): boolean {
    const t = this.peek();
    return t.type === 'ident' && t.text === 'for';
  }

  private parseTuple(): Expr {
    const open = this.next();
    return this.withNewlines(false, () => {
      if (this.isForKeyword()) return this.parseFor(open, false);
      const elements: Expr[] = [];
      let close: Token;
      for (;;) {
        if (this.isPunct(this.peek(), ']')) {
          close = this.next();
          break;
        }
        elements.push(this.parseExpressionTop());
        const sep = this.next();
        if (this.isPunct(sep, ']')) {
          close = sep;
          break;
        }
        if (!this.isPunct(sep, ',')) {
          this.error(
            'Missing item separator',
            'Expected a comma to mark the beginning of the next item.',
            this.range(sep),
          );
        }
      }
      return {
        kind: 'tuple',
        elements,
        range: rangeBetween(this.range(open), this.range(close)),
      } satisfies Expr;
    });
  }

  private parseObject(): Expr {
    const open = this.next();
    if (this.withNewlines(false, () => this.isForKeyword())) {
      return this.withNewlines(false, () => this.parseFor(open, true));
    }
    return this.withNewlines(true, () => {
      const items: ObjectItem[] = [];
      let close: Token;
      for (;;) {
        const t = this.peek();
        if (t.type === 'newline') {
          this.next();
          continue;
        }
        if (this.isPunct(t, '}')) {
          close = this.next();
          break;
        }
        if (t.type === 'eof') {
          this.error(
            'Missing closing brace',
            'Expected a closing brace to end the object constructor.',
            this.range(t),
          );
        }
        const key = this.withNewlines(false, () => this.parseKey());
        const eq = this.next();
        if (!this.isPunct(eq, '=') && !this.isPunct(eq, ':')) {
          const detail =
            this.isPunct(eq, '{') || eq.type === 'newline' || eq.type === 'eof'
              ? 'Expected an equals sign ("=") to mark the beginning of the attribute value. If you intended to given an attribute name containing periods or spaces, write the name in quotes to create a string literal.'
              : 'Expected an equals sign ("=") to mark the beginning of the attribute value.';
          this.error('Missing key/value separator', detail, this.range(eq));
        }
        const value = this.parseExpressionTop();
        items.push({ key: key.expr, keyIsName: key.isName, value });
        const sep = this.peek();
        if (this.isPunct(sep, ',') || sep.type === 'newline') {
          this.next();
          continue;
        }
        if (this.isPunct(sep, '}')) continue;
        this.error(
          'Missing attribute separator',
          'Expected a newline or comma to mark the beginning of the next attribute.',
          this.range(sep),
        );
      }
      return {
        kind: 'object',
        items,
        range: rangeBetween(this.range(open), this.range(close)),
      } satisfies Expr;
    });
  }

  /** An object key: a bare identifier names the attribute; anything else is an expression. */
  private parseKey(): { expr: Expr; isName: boolean } {
    const t = this.peek();
    const after = this.tokens[this.pos + 1];
    if (
      t.type === 'ident' &&
      after &&
      after.type === 'punct' &&
      (after.text === '=' || after.text === ':')
    ) {
      this.next();
      return { expr: { kind: 'literal', value: str(t.text), range: this.range(t) }, isName: true };
    }
    return { expr: this.parseExpressionTop(), isName: false };
  }

  private parseFor(open: Token, isObject: boolean): ForExpr {
    const forTok = this.next();
    const closer = isObject ? '}' : ']';
    const fail = (detail: string, t: Token): never =>
      this.error("Invalid 'for' expression", detail, this.range(t));
    const v1 = this.next();
    if (v1.type !== 'ident') fail("For expression requires variable name after 'for'.", v1);
    let keyVar: string | undefined;
    let valVar = v1.text;
    if (this.isPunct(this.peek(), ',')) {
      this.next();
      const v2 = this.next();
      if (v2.type !== 'ident') fail('For expression requires value variable name after comma.', v2);
      keyVar = v1.text;
      valVar = v2.text;
    }
    const inTok = this.next();
    if (inTok.type !== 'ident' || inTok.text !== 'in')
      fail("For expression requires the 'in' keyword after its name declarations.", inTok);
    const collection = this.parseExpressionTop();
    const colon = this.next();
    if (!this.isPunct(colon, ':'))
      fail('For expression requires a colon after the collection expression.', colon);
    let keyExpr: Expr | undefined;
    let valExpr = this.parseExpressionTop();
    let group = false;
    if (this.isPunct(this.peek(), '=>')) {
      const arrow = this.next();
      if (!isObject) fail('Key expression is not valid when building a tuple.', arrow);
      keyExpr = valExpr;
      valExpr = this.parseExpressionTop();
      if (this.isPunct(this.peek(), '...')) {
        this.next();
        group = true;
      }
    } else if (isObject) {
      fail('Key expression is required when building an object.', this.peek());
    }
    if (!isObject && this.isPunct(this.peek(), '...')) {
      fail('Grouping ellipsis (...) cannot be used when building a tuple.', this.peek());
    }
    let condition: Expr | undefined;
    const maybeIf = this.peek();
    if (maybeIf.type === 'ident' && maybeIf.text === 'if') {
      this.next();
      condition = this.parseExpressionTop();
    }
    const close = this.next();
    if (!this.isPunct(close, closer)) {
      fail(`Extra characters after the end of the 'for' expression.`, close);
    }
    void forTok;
    return {
      kind: 'for',
      keyVar,
      valVar,
      collection,
      keyExpr,
      valExpr,
      condition,
      group,
      openRange: this.range(open),
      closeRange: this.range(close),
      range: rangeBetween(this.range(open), this.range(close)),
    };
  }

  // ------------------------------------------------------------------ templates

  private parseQuotedTemplate(): Expr {
    const open = this.next();
    const pieces: TemplatePiece[] = [];
    let close: Token;
    for (;;) {
      const t = this.next();
      if (t.type === 'cquote') {
        close = t;
        break;
      }
      if (t.type === 'quotedLit') {
        pieces.push({ kind: 'lit', text: this.unescapeQuoted(t), range: this.range(t) });
        continue;
      }
      if (t.type === 'interp' || t.type === 'control') {
        pieces.push(this.parseTemplateSequence(t));
        continue;
      }
      if (t.type === 'quotedNewline') {
        this.error(
          'Invalid multi-line string',
          'Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \\n escape to represent a newline character or use the "heredoc" multi-line template syntax.',
          this.range(t),
        );
      }
      this.unterminated(t);
    }
    applyStripMarkers(pieces);
    return this.buildTemplate(
      pieces,
      rangeBetween(this.range(open), this.range(close)),
      this.range(close),
    );
  }

  private parseHeredoc(standalone: boolean): Expr {
    const open = this.next();
    const flush = open.text.startsWith('<<-');
    const pieces: TemplatePiece[] = [];
    let close: Token;
    for (;;) {
      const t = this.next();
      if (t.type === 'cheredoc') {
        close = t;
        break;
      }
      if (t.type === 'heredocLit') {
        pieces.push({ kind: 'lit', text: unescapeTemplateSigils(t.text), range: this.range(t) });
        continue;
      }
      if (t.type === 'interp' || t.type === 'control') {
        pieces.push(this.parseTemplateSequence(t));
        continue;
      }
      if (standalone) this.error('Invalid template', 'Unexpected end of template.', this.range(t));
      this.error(
        'Unterminated template string',
        `No closing marker was found for the heredoc "${open.text.replace(/^<<-?/, '').trim()}".`,
        this.range(open),
      );
    }
    applyStripMarkers(pieces);
    if (flush) flushHeredoc(pieces);
    if (standalone) {
      // the wrapper added a newline after the user's text: drop it again
      const last = pieces[pieces.length - 1];
      if (last?.kind === 'lit' && last.text.endsWith('\n')) last.text = last.text.slice(0, -1);
      if (last?.kind === 'lit' && last.text === '') pieces.pop();
    }
    const range = standalone
      ? this.map.range(0, this.originalLength)
      : rangeBetween(this.range(open), this.range(close));
    const endRange = standalone
      ? this.map.range(this.originalLength, this.originalLength)
      : this.range(close);
    return this.buildTemplate(pieces, range, endRange);
  }

  /** `${ expr }` or `%{ directive }`, with strip markers. */
  private parseTemplateSequence(open: Token): TemplatePiece {
    return this.withNewlines(false, () => {
      let stripLeft = false;
      if (this.isPunct(this.peek(), '~')) {
        this.next();
        stripLeft = true;
      }
      const finish = (keyword?: string): { stripRight: boolean; end: Token } => {
        let stripRight = false;
        if (this.isPunct(this.peek(), '~')) {
          this.next();
          stripRight = true;
        }
        const end = this.next();
        if (!this.isPunct(end, '}')) this.sequenceNotClosed(open, end, keyword);
        return { stripRight, end };
      };
      if (open.type === 'interp') {
        const expr = this.parseExpressionTop();
        const { stripRight, end } = finish();
        return {
          kind: 'interp',
          expr,
          stripLeft,
          stripRight,
          range: rangeBetween(this.range(open), this.range(end)),
        };
      }
      const kw = this.next();
      const word = kw.type === 'ident' ? kw.text : '';
      switch (word) {
        case 'if': {
          const cond = this.parseExpressionTop();
          const { stripRight, end } = finish('if');
          return {
            kind: 'if',
            cond,
            stripLeft,
            stripRight,
            range: rangeBetween(this.range(open), this.range(end)),
          };
        }
        case 'else':
        case 'endif':
        case 'endfor': {
          const { stripRight, end } = finish(word);
          return {
            kind: word,
            stripLeft,
            stripRight,
            range: rangeBetween(this.range(open), this.range(end)),
          };
        }
        case 'for': {
          const v1 = this.next();
          if (v1.type !== 'ident')
            this.error(
              "Invalid 'for' directive",
              "For directive requires variable name after 'for'.",
              this.range(v1),
            );
          let keyVar: string | undefined;
          let valVar = v1.text;
          if (this.isPunct(this.peek(), ',')) {
            this.next();
            const v2 = this.next();
            if (v2.type !== 'ident')
              this.error(
                "Invalid 'for' directive",
                'For directive requires value variable name after comma.',
                this.range(v2),
              );
            keyVar = v1.text;
            valVar = v2.text;
          }
          const inTok = this.next();
          if (inTok.type !== 'ident' || inTok.text !== 'in')
            this.error(
              "Invalid 'for' directive",
              "For directive requires 'in' keyword after names.",
              this.range(inTok),
            );
          const collection = this.parseExpressionTop();
          const { stripRight, end } = finish('for');
          return {
            kind: 'for',
            keyVar,
            valVar,
            collection,
            stripLeft,
            stripRight,
            range: rangeBetween(this.range(open), this.range(end)),
          };
        }
        default:
          if (kw.type !== 'ident') {
            this.error(
              'Invalid template directive',
              'A template directive keyword ("if", "for", etc) is expected at the beginning of a %{ sequence.',
              this.range(kw),
            );
          }
          this.error(
            'Invalid template control keyword',
            `"${kw.text}" is not a valid template control keyword.`,
            this.range(kw),
          );
      }
    });
  }

  /** Checks that an if/for body ended with its own end directive. */
  private expectEnd(
    end: TemplatePiece | undefined,
    what: 'if' | 'for',
    want: 'endif' | 'endfor',
    open: Range,
    templateEnd: Range,
  ): void {
    if (!end) {
      this.error(
        'Unexpected end of template',
        `The ${what} directive at ${rangeText(open)} is missing its corresponding ${want} directive.`,
        templateEnd,
      );
    }
    if (end.kind !== want) {
      this.error(
        `Unexpected ${end.kind} directive`,
        `Expecting an ${want} directive for the ${what} started at ${rangeText(open)}.`,
        end.range,
      );
    }
  }

  /** A `${` or `%{` sequence that does not end where it should, worded as HCL words it. */
  private sequenceNotClosed(open: Token, found: Token, keyword: string | undefined): never {
    if (open.type === 'control') {
      this.error(
        `Extra characters in ${keyword ?? 'template'} marker`,
        'Expected a closing brace to end the sequence, but found extra characters.',
        this.range(found),
      );
    }
    if (found.type === 'eof') {
      this.error(
        'Unclosed template interpolation sequence',
        'There is no closing brace for this interpolation sequence before the end of the file. This might be caused by incorrect nesting inside the given expression.',
        this.range(open),
      );
    }
    if (this.isPunct(found, ':')) {
      this.error(
        'Extra characters after interpolation expression',
        'Template interpolation doesn\'t expect a colon at this location. Did you intend this to be a literal sequence to be processed as part of another language? If so, you can escape it by starting with "$${" instead of just "${".',
        this.range(found),
      );
    }
    if (found.type === 'oquote' || found.type === 'cquote' || found.type === 'quotedNewline') {
      this.error(
        'Unclosed template interpolation sequence',
        'There is no closing brace for this interpolation sequence before the end of the quoted template. This might be caused by incorrect nesting inside the given expression.',
        this.range(open),
      );
    }
    this.error(
      'Extra characters after interpolation expression',
      'Expected a closing brace to end the interpolation expression, but found extra characters.\n\nThis can happen when you include interpolation syntax for another language, such as shell scripting, but forget to escape the interpolation start token. If this is an embedded sequence for another language, escape it by starting with "$${" instead of just "${".',
      this.range(found),
    );
  }

  /** Nests if/for directives and unwraps a lone interpolation. */
  private buildTemplate(pieces: TemplatePiece[], range: Range, endRange: Range): Expr {
    const only = pieces[0];
    if (pieces.length === 1 && only?.kind === 'interp') {
      return { kind: 'templateWrap', wrapped: only.expr, range };
    }
    let i = 0;
    const isEnd = (k: TemplatePiece['kind']) => k === 'else' || k === 'endif' || k === 'endfor';
    // the sequence up to the next else/endif/endfor (returned) or the end of the template
    const parseSeq = (): { parts: Expr[]; end?: TemplatePiece } => {
      const parts: Expr[] = [];
      while (i < pieces.length) {
        const p = pieces[i]!;
        i++;
        if (isEnd(p.kind)) return { parts, end: p };
        switch (p.kind) {
          case 'lit':
            if (p.text !== '') parts.push({ kind: 'literal', value: str(p.text), range: p.range });
            break;
          case 'interp':
            parts.push(p.expr);
            break;
          case 'if': {
            const thenPart = parseSeq();
            let elsePart: { parts: Expr[]; end?: TemplatePiece } = { parts: [] };
            if (thenPart.end?.kind === 'else') {
              elsePart = parseSeq();
              if (elsePart.end?.kind === 'else') {
                this.error(
                  'Unexpected else directive',
                  `Already in the else clause for the if started at ${rangeText(p.range)}.`,
                  elsePart.end.range,
                );
              }
            }
            const end = thenPart.end?.kind === 'else' ? elsePart.end : thenPart.end;
            this.expectEnd(end, 'if', 'endif', p.range, endRange);
            const full = rangeBetween(p.range, end!.range);
            parts.push({
              kind: 'conditional',
              condition: p.cond!,
              trueResult: { kind: 'template', parts: thenPart.parts, range: full },
              falseResult: { kind: 'template', parts: elsePart.parts, range: full },
              range: full,
            });
            break;
          }
          case 'for': {
            const body = parseSeq();
            this.expectEnd(body.end, 'for', 'endfor', p.range, endRange);
            const full = rangeBetween(p.range, body.end!.range);
            const tuple: ForExpr = {
              kind: 'for',
              keyVar: p.keyVar,
              valVar: p.valVar!,
              collection: p.collection!,
              keyExpr: undefined,
              valExpr: { kind: 'template', parts: body.parts, range: full },
              condition: undefined,
              group: false,
              openRange: p.range,
              closeRange: body.end!.range,
              range: full,
            };
            parts.push({ kind: 'templateJoin', tuple, range: full });
            break;
          }
        }
      }
      return { parts };
    };
    const top = parseSeq();
    if (top.end) {
      this.error(
        `Unexpected ${top.end.kind} directive`,
        'The control directives within this template are unbalanced.',
        top.end.range,
      );
    }
    return { kind: 'template', parts: top.parts, range };
  }

  /** Processes the escapes of a quoted string: \n \r \t \" \\ \uNNNN \UNNNNNNNN, $${ and %%{. */
  private unescapeQuoted(t: Token): string {
    const s = t.text;
    if (!s.includes('\\')) return unescapeTemplateSigils(s);
    let out = '';
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (c !== '\\') {
        if ((c === '$' || c === '%') && s[i + 1] === c && s[i + 2] === '{') {
          out += c;
          i++;
          continue;
        }
        out += c;
        continue;
      }
      const e = s[i + 1];
      const at = (len: number): Range =>
        this.map.range(t.start + i - this.shift, t.start + i + len - this.shift);
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case 'u':
        case 'U': {
          const len = e === 'u' ? 4 : 8;
          const hex = s.slice(i + 2, i + 2 + len);
          const cp =
            /^[0-9a-fA-F]+$/.test(hex) && hex.length === len ? Number.parseInt(hex, 16) : NaN;
          if (Number.isNaN(cp) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            this.error(
              'Invalid escape sequence',
              `The \\${e} escape sequence requires ${len} hexadecimal digits naming a Unicode character.`,
              at(2 + hex.length),
            );
          }
          out += String.fromCodePoint(cp);
          i += len;
          break;
        }
        default:
          this.error(
            'Invalid escape sequence',
            `The symbol "${e ?? ''}" is not a valid escape sequence selector.`,
            at(2),
          );
      }
      i++;
    }
    return out;
  }
}

/** Whether the `~` at i is a template strip marker: `${~`, `%{~` or `~}` closing a sequence. */
function isStripMarker(toks: readonly Token[], i: number): boolean {
  const prev = toks[i - 1];
  if (prev && (prev.type === 'interp' || prev.type === 'control') && prev.end === toks[i]!.start) {
    return true;
  }
  const next = toks[i + 1];
  const after = toks[i + 2];
  if (next?.type !== 'punct' || next.text !== '}' || next.start !== toks[i]!.end) return false;
  // the brace closes a template sequence when template text (or the string's end) follows
  return (
    after !== undefined &&
    [
      'quotedLit',
      'heredocLit',
      'cquote',
      'cheredoc',
      'interp',
      'control',
      'quotedNewline',
    ].includes(after.type)
  );
}

function isOpener(t: Token): boolean {
  if (t.type === 'punct') return t.text === '{' || t.text === '[' || t.text === '(';
  return (
    t.type === 'oquote' || t.type === 'oheredoc' || t.type === 'interp' || t.type === 'control'
  );
}

function isCloser(t: Token): boolean {
  if (t.type === 'punct') return t.text === '}' || t.text === ']' || t.text === ')';
  return t.type === 'cquote' || t.type === 'cheredoc' || t.type === 'quotedNewline';
}

/**
 * Strip markers (`~`) remove the spaces of the literal piece next to them, before `<<-`
 * indentation is measured (as hashicorp/hcl does).
 */
function applyStripMarkers(pieces: TemplatePiece[]): void {
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (p.kind === 'lit') continue;
    const prev = pieces[i - 1];
    const next = pieces[i + 1];
    if (p.stripLeft && prev?.kind === 'lit') prev.text = trimSpaceEnd(prev.text);
    if (p.stripRight && next?.kind === 'lit') next.text = trimSpaceStart(next.text);
  }
}

/** Go's unicode.IsSpace, which strip markers and `<<-` use to decide what a space is. */
function isSpace(c: number): boolean {
  if (c <= 0xff) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
  return (
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

function trimSpaceStart(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return s.slice(i);
}

function trimSpaceEnd(s: string): string {
  let i = s.length;
  while (i > 0 && isSpace(s.charCodeAt(i - 1))) i--;
  return s.slice(0, i);
}

/** `$${` → `${` and `%%{` → `%{` in template literal text. */
function unescapeTemplateSigils(s: string): string {
  return s.includes('$${') || s.includes('%%{') ? s.replace(/([$%])\1\{/g, '$1{') : s;
}

/**
 * `<<-`: removes the smallest indentation found at the start of any line from every line.
 * Blank lines do not count; a line starting with an interpolation has no indentation.
 */
function flushHeredoc(pieces: TemplatePiece[]): void {
  let min = Number.POSITIVE_INFINITY;
  let atLineStart = true;
  const adjust: Extract<TemplatePiece, { kind: 'lit' }>[] = [];
  for (const p of pieces) {
    if (atLineStart) {
      atLineStart = false;
      if (p.kind === 'lit') {
        const trimmed = trimSpaceStart(p.text);
        if (trimmed === '' && p.text.endsWith('\n')) {
          // a blank line: no say in the indentation
        } else {
          const spaces = [...p.text.slice(0, p.text.length - trimmed.length)].length;
          min = Math.min(min, spaces);
          adjust.push(p);
        }
      } else min = 0;
    }
    if (p.kind === 'lit' && p.text.endsWith('\n')) atLineStart = true;
  }
  if (!Number.isFinite(min) || min === 0) return;
  for (const p of adjust) {
    const chars = [...p.text];
    let k = 0;
    while (k < min && k < chars.length && isSpace(chars[k]!.codePointAt(0)!)) k++;
    p.text = chars.slice(k).join('');
  }
}

function rangeText(r: Range): string {
  return `${r.filename}:${r.start.line},${r.start.column}-${r.end.column}`;
}
