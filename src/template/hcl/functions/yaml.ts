/**
 * yamldecode and yamlencode as Packer 1.6.6 has them (go-cty-yaml v1.0.1, a port of libyaml).
 *
 * Decoding: the `yaml` package parses (YAML 1.2 syntax, failsafe schema: every scalar comes
 * back as its text with its style and explicit tag), then each scalar is resolved as
 * go-cty-yaml resolves it — its YAML 1.1 flavour: `yes`/`on`/`y` are true, `~` and empty are
 * null, `2001-12-14` becomes an RFC 3339 string, `1_000` is 1000, `0x1F` stays a string; quoted
 * scalars are always strings. Mappings become objects (keys converted to strings, `<<` merges),
 * sequences tuples; anchors and aliases are followed. A top-level null is null (today's
 * go-cty-yaml; 1.6.6 returned an unknown value).
 *
 * Encoding: no library writes what libyaml's emitter writes (double-quoted strings folded at
 * column 80, `|`/`|-`/`|+` blocks with an indentation hint, sequences not indented under a
 * key, `...` after a plain scalar at the top), so the emitter below follows libyaml's
 * emitterc.go for the events go-cty-yaml sends: block mappings and sequences, `[]`/`{}` for
 * empty ones, strings double-quoted (a literal block when they hold a newline), numbers,
 * bools and null plain.
 */
import { createRequire } from 'node:module';
import type { Document, LineCounter, Node, Scalar } from 'yaml';
import {
  asBool,
  asNumber,
  asString,
  elementsOf,
  entriesOf,
  FALSE,
  type FunctionDef,
  isNull,
  isWhollyKnown,
  NULL,
  nullOf,
  num,
  object,
  str,
  T,
  TRUE,
  tuple,
  unknownOf,
  type Value,
} from '../value.js';
import { define, fnError, param } from './define.js';
import { goQuote } from './go-text.js';
import { numberText } from './values.js';

/**
 * The `yaml` package, loaded by the first yamldecode rather than with the function library:
 * its ~70 modules are most of what loading the library would cost, and few templates call it.
 */
let yamlLib: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  yamlLib ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yamlLib;
}

// ---------------------------------------------------------------------------------------------
// yamldecode

const TAG = 'tag:yaml.org,2002:';
const STR = `${TAG}str`;
const BINARY = `${TAG}binary`;
const BOOL = `${TAG}bool`;
const INT = `${TAG}int`;
const FLOAT = `${TAG}float`;
const NULL_TAG = `${TAG}null`;
const TIMESTAMP = `${TAG}timestamp`;
const MAP = `${TAG}map`;
const SEQ = `${TAG}seq`;
const RESOLVABLE = new Set(['', STR, BOOL, INT, FLOAT, NULL_TAG, TIMESTAMP, BINARY]);

/** Plain scalars go-cty-yaml resolves by table (YAML 1.1 booleans, null, infinities). */
const RESOLVE_MAP = new Map<string, Value>();
for (const [v, words] of [
  [TRUE, 'y Y yes Yes YES true True TRUE on On ON'],
  [FALSE, 'n N no No NO false False FALSE off Off OFF'],
  [NULL, ' ~ null Null NULL'],
  [num(Infinity), '.inf .Inf .INF +.inf +.Inf +.INF'],
  [num(-Infinity), '-.inf -.Inf -.INF'],
] as const) {
  for (const w of words.split(' ')) RESOLVE_MAP.set(w, v);
}

/** The first character's hint, as resolve.go's resolveTable has it (undefined: none). */
function hintOf(src: string): string | undefined {
  if (src === '') return 'N';
  const c = src[0]!;
  if (c === '+' || c === '-') return 'S';
  if (c >= '0' && c <= '9') return 'D';
  if ('yYnNtTfFoO~'.includes(c)) return 'M';
  if (c === '.') return '.';
  return undefined;
}

// big.ParseFloat(s, 10, …) as cty.ParseNumberVal uses it: decimal mantissa, a decimal (e) or
// binary (p) exponent, or an infinity.
const GO_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:([eEpP])([+-]?\d+))?$/;

function parseNumberVal(s: string): number | undefined {
  if (/^[+-]?[iI]nf$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  const m = GO_FLOAT.exec(s);
  if (!m) return undefined;
  if (m[1] === 'p' || m[1] === 'P') {
    const mantissa = Number(s.slice(0, s.search(/[pP]/)));
    return mantissa * 2 ** Number(m[2]);
  }
  return Number(s);
}

/** strconv.ParseInt(s, 0, 64) (and ParseUint): sign, then 0x / 0o / 0b / leading-0 octal or decimal. */
function parseGoInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9]\d*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  let n: bigint;
  if (body === '0') n = 0n;
  else if (/^0[oO]/.test(body)) n = BigInt(`0o${body.slice(2)}`);
  else if (/^0[0-7]+$/.test(body)) n = BigInt(`0o${body.slice(1)}`);
  else n = BigInt(body);
  if (m[1] === '-') n = -n;
  if (n < -(2n ** 63n) || n >= 2n ** 64n) return undefined;
  return Number(n);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * resolve.go's parseTimestamp: time.Parse with "2006-1-2T15:4:5.999999999Z07:00" (also with a
 * lower-case t), "2006-1-2 15:4:5.999999999" and "2006-1-2", formatted as RFC 3339.
 */
function parseTimestamp(s: string): string | undefined {
  if (!/^\d{4}-/.test(s)) return undefined;
  const m =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:([Tt]| +)(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(
      s,
    );
  if (!m) return undefined;
  const [, y, mo, d, sep, h, mi, se, zone] = m;
  // the space-separated layout has no zone; the T/t layouts need one
  if (sep?.startsWith(' ') ? zone !== undefined : sep !== undefined && zone === undefined)
    return undefined;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12) return undefined;
  const daysIn = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysIn) return undefined;
  const [hour, min, sec] = [Number(h ?? 0), Number(mi ?? 0), Number(se ?? 0)];
  if (hour > 23 || min > 59 || sec > 59) return undefined;
  let offset = 'Z';
  if (zone && zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh !== 0 || om !== 0) offset = zone;
  }
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(min)}:${pad(sec)}${offset}`;
}

/** A scalar's value as go-cty-yaml's resolveScalar (v1.0.1) finds it. */
function resolveScalar(tag: string, src: string, quoted: boolean): Value {
  if (!RESOLVABLE.has(tag)) throw new YamlProblem(`unsupported tag ${goQuote(tag)}`);
  const hint = hintOf(src);
  if (hint !== undefined && tag !== STR && tag !== BINARY) {
    if (quoted) return str(src);
    const known = RESOLVE_MAP.get(src);
    if (known) return known;
    if (tag === '' && (src === '.nan' || src === '.NaN' || src === '.NAN'))
      throw new YamlProblem('floating point NaN is not supported');
    if (hint === '.') {
      const n = parseNumberVal(src);
      if (n !== undefined) return num(n);
    } else if (hint === 'D' || hint === 'S') {
      if (tag === '' || tag === TIMESTAMP) {
        const t = parseTimestamp(src);
        if (t !== undefined) return str(t);
      }
      const plain = src.replaceAll('_', '');
      const n = parseNumberVal(plain);
      if (n !== undefined) return num(n);
      if (plain.startsWith('0b') || plain.startsWith('-0b')) tag = INT;
    }
  }
  switch (tag) {
    case STR:
      return str(src);
    case BINARY:
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(src))
        throw new YamlProblem(`cannot parse ${goQuote(src)} as ${tag}: not valid base64`);
      return str(src);
    case BOOL: {
      const v = RESOLVE_MAP.get(src);
      if (v?.type.kind !== 'bool') throw new YamlProblem(`cannot parse ${goQuote(src)} as ${tag}`);
      return v;
    }
    case FLOAT:
    case INT: {
      const plain = src.replaceAll('_', '');
      const n = parseNumberVal(plain) ?? parseGoInt(plain);
      if (n !== undefined) return num(n);
      throw new YamlProblem(`cannot parse ${goQuote(src)} as ${tag}`);
    }
    case TIMESTAMP: {
      const t = parseTimestamp(src);
      if (t !== undefined) return str(t);
      throw new YamlProblem(`cannot parse ${goQuote(src)} as ${tag}`);
    }
    case NULL_TAG:
      return NULL;
    default:
      return str(src);
  }
}

/** A problem in the YAML text; `offset` places it (line and column in the message). */
class YamlProblem extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(message);
  }
}

const MERGE = Symbol('merge');

/** Walks one document's nodes in order, as go-cty-yaml walks libyaml's events. */
class Decoder {
  private readonly anchors = new Map<string, Value>();
  /** Anchors whose node is being read, counted (an anchor may be redefined inside itself). */
  private readonly pending = new Map<string, number>();

  value(node: Node | null, offset: number): Value {
    if (node === null || node === undefined) return resolveScalar('', '', false);
    const at = node.range?.[0] ?? offset;
    if (yaml().isAlias(node)) {
      if (this.pending.has(node.source))
        throw new YamlProblem(
          `cannot refer to anchor ${goQuote(node.source)} from inside its own definition`,
          at,
        );
      const v = this.anchors.get(node.source);
      if (!v) throw new YamlProblem(`reference to undefined anchor ${goQuote(node.source)}`, at);
      return v;
    }
    const anchor = node.anchor;
    if (anchor) this.pending.set(anchor, (this.pending.get(anchor) ?? 0) + 1);
    let v: Value;
    if (yaml().isScalar(node)) {
      v = this.scalar(node, at);
      if (v === (MERGE as unknown)) v = str('<<');
    } else if (yaml().isMap(node)) {
      if (node.tag && node.tag !== MAP)
        throw new YamlProblem(`can't interpret mapping as ${node.tag}`, at);
      const attrs = new Map<string, Value>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        const keyAt = key?.range?.[0] ?? at;
        if (key !== null && !yaml().isScalar(key))
          throw new YamlProblem('only strings are allowed as mapping keys', keyAt);
        const k = key ? this.scalar(key, keyAt) : resolveScalar('', '', false);
        if (k === (MERGE as unknown)) {
          const merged = this.value(pair.value as Node | null, keyAt);
          const kind = merged.type.kind;
          if (kind !== 'object' && kind !== 'map')
            throw new YamlProblem(`cannot merge ${friendly(merged)} into mapping`, keyAt);
          if (!isNull(merged)) for (const [mk, mv] of entriesOf(merged)) attrs.set(mk, mv);
          continue;
        }
        if (isNull(k)) throw new YamlProblem('mapping key cannot be null', keyAt);
        const name =
          k.type.kind === 'string'
            ? asString(k)
            : k.type.kind === 'number'
              ? numberText(asNumber(k))
              : asBool(k)
                ? 'true'
                : 'false';
        attrs.set(name, this.value(pair.value as Node | null, keyAt));
      }
      v = object(attrs);
    } else if (yaml().isSeq(node)) {
      if (node.tag && node.tag !== SEQ)
        throw new YamlProblem(`can't interpret sequence as ${node.tag}`, at);
      v = tuple(node.items.map((item) => this.value(item as Node | null, at)));
    } else {
      throw new YamlProblem('unexpected YAML node', at);
    }
    if (anchor) {
      const n = this.pending.get(anchor)! - 1;
      if (n === 0) this.pending.delete(anchor);
      else this.pending.set(anchor, n);
      this.anchors.set(anchor, v);
    }
    return v;
  }

  private scalar(node: Scalar, at: number): Value {
    const src = String(node.value ?? '');
    const quoted =
      node.type === yaml().Scalar.QUOTE_DOUBLE || node.type === yaml().Scalar.QUOTE_SINGLE;
    const tag = node.tag ?? '';
    try {
      // `<<` untagged is a merge key, quoted or not (v1.0.1); elsewhere the string "<<"
      if (tag === '' && src === '<<') return MERGE as unknown as Value;
      const v = resolveScalar(tag, src, quoted);
      // An untagged block scalar (`|`, `>`) is resolved like a plain one, then converted to the
      // string its implied type says it is: `>-\n  1.50` is "1.5", `>-\n  yes` is "true".
      if (tag === '' && !quoted && node.type !== yaml().Scalar.PLAIN && v.type.kind !== 'string')
        return isNull(v)
          ? nullOf(T.string)
          : str(v.type.kind === 'number' ? numberText(asNumber(v)) : asBool(v) ? 'true' : 'false');
      return v;
    } catch (err) {
      if (err instanceof YamlProblem && err.offset === undefined)
        throw new YamlProblem(err.message, at);
      throw err;
    }
  }
}

function friendly(v: Value): string {
  const k = v.type.kind;
  return k === 'dynamic' ? 'dynamic' : k;
}

function located(lines: LineCounter, err: YamlProblem): string {
  if (err.offset === undefined) return err.message;
  const { line, col } = lines.linePos(err.offset);
  return `on line ${line}, column ${col}: ${err.message}`;
}

/** Decodes one YAML document into the value its content implies; FnError when it cannot. */
export function yamlDecode(text: string): Value {
  const lines = new (yaml().LineCounter)();
  const docs = yaml().parseAllDocuments(text, {
    schema: 'failsafe',
    // explicit tags (!!binary, !!timestamp…) are resolved here, as go-cty-yaml does
    resolveKnownTags: false,
    merge: false,
    uniqueKeys: false,
    prettyErrors: false,
    lineCounter: lines,
  }) as Document.Parsed[];
  try {
    if (docs.length === 0) throw new YamlProblem('missing start of document', 0);
    const first = docs[0]!;
    const problem = docs.flatMap((d) => d.errors)[0];
    if (problem) throw new YamlProblem(problem.message.replace(/\.$/, ''), problem.pos[0]);
    if (docs.length > 1)
      throw new YamlProblem('unexpected extra content after value', docs[1]!.range[0]);
    return new Decoder().value(first.contents as Node | null, first.range[0]);
  } catch (err) {
    if (err instanceof YamlProblem) throw fnError(located(lines, err));
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// yamlencode: libyaml's emitter (emitterc.go) for the events go-cty-yaml's Marshal sends

const BEST_INDENT = 2;
const BEST_WIDTH = 80;

const isBreak = (c: string | undefined) =>
  c === '\r' || c === '\n' || c === '\u0085' || c === '\u2028' || c === '\u2029';
const isSpace = (c: string | undefined) => c === ' ';
const isBlank = (c: string | undefined) => c === ' ' || c === '\t';

/** libyaml's is_printable over UTF-8 (so characters beyond the BMP are not "printable"). */
function isPrintable(c: string): boolean {
  const cp = c.codePointAt(0)!;
  if (cp === 0x0a) return true;
  if (cp >= 0x20 && cp <= 0x7e) return true;
  if (cp >= 0xa0 && cp <= 0xd7ff) return true;
  if (cp >= 0xe000 && cp <= 0xfffd) return cp !== 0xfeff;
  return false;
}

interface Analysis {
  multiline: boolean;
  blockPlainAllowed: boolean;
  flowPlainAllowed: boolean;
  blockAllowed: boolean;
}

/** yaml_emitter_analyze_scalar (the flags the chosen events need). */
function analyze(chars: readonly string[]): Analysis {
  if (chars.length === 0)
    return {
      multiline: false,
      flowPlainAllowed: false,
      blockPlainAllowed: true,
      blockAllowed: false,
    };
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  let precededByWhitespace = true;
  const head = chars.slice(0, 3).join('');
  if (head === '---' || head === '...') {
    blockIndicators = true;
    flowIndicators = true;
  }
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const followedByWhitespace = i + 1 >= chars.length || isBlank(chars[i + 1]);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(c)) {
        flowIndicators = true;
        blockIndicators = true;
      } else if (c === '?' || c === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (c === '-' && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else if (',?[]{}'.includes(c)) {
      flowIndicators = true;
    } else if (c === ':') {
      flowIndicators = true;
      if (followedByWhitespace) blockIndicators = true;
    } else if (c === '#' && precededByWhitespace) {
      flowIndicators = true;
      blockIndicators = true;
    }
    if (!isPrintable(c)) special = true;
    if (isSpace(c)) {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlank(c) || isBreak(c) || c === '\0';
  }
  const a: Analysis = {
    multiline: lineBreaks,
    flowPlainAllowed: true,
    blockPlainAllowed: true,
    blockAllowed: true,
  };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
  }
  if (trailingSpace) a.blockAllowed = false;
  if (breakSpace) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
  }
  if (spaceBreak || special) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
    a.blockAllowed = false;
  }
  if (lineBreaks) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
  }
  if (flowIndicators) a.flowPlainAllowed = false;
  if (blockIndicators) a.blockPlainAllowed = false;
  return a;
}

type Style = 'plain' | 'single' | 'double' | 'literal';

const ESCAPES: Record<string, string> = {
  '\0': '0',
  '\x07': 'a',
  '\b': 'b',
  '\t': 't',
  '\n': 'n',
  '\v': 'v',
  '\f': 'f',
  '\r': 'r',
  '\x1b': 'e',
  '"': '"',
  '\\': '\\',
  '\u0085': 'N',
  '\u00a0': '_',
  '\u2028': 'L',
  '\u2029': 'P',
};

class Emitter {
  out = '';
  private column = 0;
  private indent = -1;
  private readonly indents: number[] = [];
  private whitespace = true;
  private indention = true;
  private openEnded = false;
  private flowLevel = 0;
  private rootContext = false;
  private mappingContext = false;
  private simpleKeyContext = false;

  private put(c: string): void {
    this.out += c;
    this.column++;
  }

  private putBreak(): void {
    this.out += '\n';
    this.column = 0;
  }

  private write(c: string): void {
    this.out += c;
    this.column++;
  }

  private writeBreak(c: string): void {
    if (c === '\n') this.putBreak();
    else {
      this.out += c;
      this.column = 0;
    }
  }

  private writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace))
      this.putBreak();
    while (this.column < indent) this.put(' ');
    this.whitespace = true;
    this.indention = true;
  }

  private writeIndicator(
    indicator: string,
    needWhitespace: boolean,
    isWhitespace: boolean,
    isIndention: boolean,
  ): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    for (const c of indicator) this.write(c);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
    this.openEnded = false;
  }

  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }

  private popIndent(): void {
    this.indent = this.indents.pop()!;
  }

  /** The whole stream: one implicit document holding `v`. */
  document(v: Value): string {
    this.node(v, true, false, false);
    // DOCUMENT-END (implicit)
    this.writeIndent();
    // STREAM-END
    if (this.openEnded) {
      this.writeIndicator('...', true, false, false);
      this.writeIndent();
    }
    return this.out;
  }

  private node(v: Value, root: boolean, mapping: boolean, simpleKey: boolean): void {
    this.rootContext = root;
    this.mappingContext = mapping;
    this.simpleKeyContext = simpleKey;
    const kind = v.type.kind;
    if (isNull(v)) this.scalar('null', 'plain');
    else if (kind === 'string') {
      const s = asString(v);
      this.scalar(s, s.includes('\n') ? 'literal' : 'double');
    } else if (kind === 'number') this.scalar(numberText(asNumber(v)), 'plain');
    else if (kind === 'bool') this.scalar(asBool(v) ? 'true' : 'false', 'plain');
    else if (kind === 'list' || kind === 'set' || kind === 'tuple') this.sequence(elementsOf(v));
    else if (kind === 'map' || kind === 'object') this.mapping([...entriesOf(v)]);
    else throw fnError(`can't marshal ${kind} as YAML`);
  }

  private sequence(items: readonly Value[]): void {
    if (items.length === 0) {
      this.writeIndicator('[', true, true, false);
      this.increaseIndent(true, false);
      this.flowLevel++;
      this.flowLevel--;
      this.popIndent();
      this.writeIndicator(']', false, false, false);
      return;
    }
    this.increaseIndent(false, this.mappingContext && !this.indention);
    for (const item of items) {
      this.writeIndent();
      this.writeIndicator('-', true, false, true);
      this.node(item, false, false, false);
    }
    this.popIndent();
  }

  private mapping(entries: ReadonlyArray<readonly [string, Value]>): void {
    if (entries.length === 0) {
      this.writeIndicator('{', true, true, false);
      this.increaseIndent(true, false);
      this.flowLevel++;
      this.flowLevel--;
      this.popIndent();
      this.writeIndicator('}', false, false, false);
      return;
    }
    this.increaseIndent(false, false);
    for (const [k, v] of entries) {
      this.writeIndent();
      const key = str(k);
      // yaml_emitter_check_simple_key: one line and at most 128 bytes
      if (!k.includes('\n') && !/[\r\u0085\u2028\u2029]/.test(k) && Buffer.byteLength(k) <= 128) {
        this.node(key, false, true, true);
        this.writeIndicator(':', false, false, false);
      } else {
        this.writeIndicator('?', true, false, true);
        this.node(key, false, true, false);
        this.writeIndent();
        this.writeIndicator(':', true, false, true);
      }
      this.node(v, false, true, false);
    }
    this.popIndent();
  }

  /** yaml_emitter_emit_scalar: pick the style, then write at one more level of indentation. */
  private scalar(text: string, requested: Style): void {
    const chars = [...text];
    const a = analyze(chars);
    let style = requested;
    if (this.simpleKeyContext && a.multiline) style = 'double';
    if (style === 'plain') {
      if (
        (this.flowLevel > 0 && !a.flowPlainAllowed) ||
        (this.flowLevel === 0 && !a.blockPlainAllowed)
      )
        style = 'single';
      if (chars.length === 0 && (this.flowLevel > 0 || this.simpleKeyContext)) style = 'single';
    }
    // (plain scalars here are numbers, bools and null: never quoted)
    if (style === 'literal' && (!a.blockAllowed || this.flowLevel > 0 || this.simpleKeyContext))
      style = 'double';
    this.increaseIndent(true, false);
    if (style === 'plain') this.plain(chars, !this.simpleKeyContext);
    else if (style === 'literal') this.literal(chars);
    else this.doubleQuoted(chars, !this.simpleKeyContext);
    this.popIndent();
  }

  private plain(chars: readonly string[], allowBreaks: boolean): void {
    if (!this.whitespace) this.put(' ');
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i]!;
      if (isSpace(c)) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && !isSpace(chars[i + 1]))
          this.writeIndent();
        else this.write(c);
        spaces = true;
      } else {
        this.write(c);
        this.indention = false;
        spaces = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
    if (this.rootContext) this.openEnded = true;
  }

  private doubleQuoted(chars: readonly string[], allowBreaks: boolean): void {
    let spaces = false;
    this.writeIndicator('"', true, false, false);
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i]!;
      const cp = c.codePointAt(0)!;
      if (!isPrintable(c) || cp === 0xfeff || isBreak(c) || c === '"' || c === '\\') {
        this.put('\\');
        const e = ESCAPES[c];
        if (e !== undefined) this.put(e);
        else {
          const [letter, width] = cp <= 0xff ? ['x', 2] : cp <= 0xffff ? ['u', 4] : ['U', 8];
          this.put(letter);
          for (const d of cp.toString(16).toUpperCase().padStart(width, '0')) this.put(d);
        }
        spaces = false;
      } else if (isSpace(c)) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 && i < chars.length - 1) {
          this.writeIndent();
          if (isSpace(chars[i + 1])) this.put('\\');
        } else this.write(c);
        spaces = true;
      } else {
        this.write(c);
        spaces = false;
      }
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private literal(chars: readonly string[]): void {
    this.writeIndicator('|', true, false, false);
    // yaml_emitter_write_block_scalar_hints
    if (isSpace(chars[0]) || isBreak(chars[0]))
      this.writeIndicator(String(BEST_INDENT), false, false, false);
    this.openEnded = false;
    let chomp = '';
    const last = chars.length - 1;
    if (chars.length === 0 || !isBreak(chars[last])) chomp = '-';
    else if (last === 0 || isBreak(chars[last - 1])) chomp = '+';
    // (the '+' hint's open_ended is reset by writing the hint, as in libyaml)
    if (chomp) this.writeIndicator(chomp, false, false, false);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const c of chars) {
      if (isBreak(c)) {
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.write(c);
        this.indention = false;
        breaks = false;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** yamldecode and yamlencode, by name. */
export const yamlFunctions: Record<string, FunctionDef> = {
  yamldecode: define('yamldecode', {
    params: [param('src', T.string)],
    returnType: (args) => yamlDecode(asString(args[0]!)).type,
    impl: (args) => yamlDecode(asString(args[0]!)),
  }),
  yamlencode: define('yamlencode', {
    params: [
      param('value', T.dynamic, { allowUnknown: true, allowDynamicType: true, allowNull: true }),
    ],
    returnType: T.string,
    impl: (args) => {
      const v = args[0]!;
      if (!isWhollyKnown(v)) return unknownOf(T.string);
      return str(new Emitter().document(v));
    },
  }),
};
