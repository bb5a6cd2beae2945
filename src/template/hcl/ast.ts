/**
 * The HCL native syntax tree: every node carries a Range, and problems are Diagnostics
 * (a list, each with severity, summary, detail and subject range), as in hashicorp/hcl.
 */
import type { Value } from './value.js';

/** A position in a source file: 1-based line and column (code points), 0-based UTF-8 byte. */
export interface Pos {
  line: number;
  column: number;
  byte: number;
}

/** A span of a source file. */
export interface Range {
  filename: string;
  start: Pos;
  end: Pos;
}

/** One problem found while parsing or evaluating. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  summary: string;
  detail: string;
  /** The part of the source the problem is about. */
  subject: Range;
}

/** What turns string offsets into positions (the scanner's SourceMap). */
export interface PositionSource {
  readonly filename: string;
  pos(offset: number): Pos;
}

/**
 * A Range that works out its positions only when asked: a big file makes tens of thousands
 * of ranges and reads a handful (the ones in diagnostics).
 */
export class SourceRange implements Range {
  private startPos: Pos | undefined;
  private endPos: Pos | undefined;
  constructor(
    private readonly source: PositionSource,
    readonly startOffset: number,
    readonly endOffset: number,
  ) {}
  get filename(): string {
    return this.source.filename;
  }
  get start(): Pos {
    this.startPos ??= this.source.pos(this.startOffset);
    return this.startPos;
  }
  get end(): Pos {
    this.endPos ??= this.source.pos(this.endOffset);
    return this.endPos;
  }
  /** A plain copy, for JSON output and comparisons. */
  toJSON(): Range {
    return { filename: this.filename, start: this.start, end: this.end };
  }
  /** Whether this is the same place as another range. */
  equals(other: Range): boolean {
    return (
      other.filename === this.filename &&
      other.start.byte === this.start.byte &&
      other.end.byte === this.end.byte
    );
  }
}

/** The smallest range covering both. */
export function rangeBetween(a: Range, b: Range): Range {
  if (a instanceof SourceRange && b instanceof SourceRange) {
    return new SourceRange(
      (a as unknown as { source: PositionSource }).source,
      a.startOffset,
      b.endOffset,
    );
  }
  return { filename: a.filename, start: a.start, end: b.end };
}

/** `file:line,column-column` as HCL prints a range in its messages. */
export function formatRange(r: Range): string {
  return r.start.line === r.end.line
    ? `${r.filename}:${r.start.line},${r.start.column}-${r.end.column}`
    : `${r.filename}:${r.start.line},${r.start.column}-${r.end.line},${r.end.column}`;
}

/** Whether any diagnostic is an error. */
export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

/** The binary operators, loosest to tightest binding in BINARY_LEVELS (parser.ts). */
export type BinaryOp =
  | '||'
  | '&&'
  | '=='
  | '!='
  | '<'
  | '>'
  | '<='
  | '>='
  | '+'
  | '-'
  | '*'
  | '/'
  | '%';

/** An expression of the native syntax. */
export type Expr =
  | { kind: 'literal'; value: Value; range: Range }
  | { kind: 'variable'; name: string; range: Range }
  | { kind: 'getAttr'; source: Expr; name: string; nameRange: Range; range: Range }
  | { kind: 'index'; source: Expr; key: Expr; bracketRange: Range; range: Range }
  | { kind: 'splat'; source: Expr; each: Expr; item: AnonSymbol; markerRange: Range; range: Range }
  | AnonSymbol
  | { kind: 'tuple'; elements: Expr[]; range: Range }
  | { kind: 'object'; items: ObjectItem[]; range: Range }
  | {
      kind: 'call';
      name: string;
      nameRange: Range;
      args: Expr[];
      /** The last argument was followed by `...`: its elements are the remaining arguments. */
      expandFinal: boolean;
      openParenRange: Range;
      closeParenRange: Range;
      range: Range;
    }
  | { kind: 'conditional'; condition: Expr; trueResult: Expr; falseResult: Expr; range: Range }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; range: Range }
  | { kind: 'unary'; op: '-' | '!'; operand: Expr; range: Range }
  | { kind: 'parens'; expr: Expr; range: Range }
  | ForExpr
  | { kind: 'template'; parts: Expr[]; range: Range }
  /** A template that is exactly one interpolation: its value is not converted to string. */
  | { kind: 'templateWrap'; wrapped: Expr; range: Range }
  /** A `%{ for }` directive: the tuple `for` expression's elements joined as strings. */
  | { kind: 'templateJoin'; tuple: ForExpr; range: Range }
  /** What the parser produced where the source had a syntax error: evaluates to unknown. */
  | { kind: 'invalid'; range: Range };

/** The element placeholder inside a splat (`each` refers to it). */
export interface AnonSymbol {
  kind: 'anon';
  range: Range;
}

/** `[for k, v in coll: expr if cond]` or `{for k, v in coll: key => value... if cond}`. */
export interface ForExpr {
  kind: 'for';
  keyVar: string | undefined;
  valVar: string;
  collection: Expr;
  /** Present for an object `for`. */
  keyExpr: Expr | undefined;
  valExpr: Expr;
  condition: Expr | undefined;
  /** `...` after the value: group values by key. */
  group: boolean;
  openRange: Range;
  closeRange: Range;
  range: Range;
}

/** One `key = value` (or `key: value`) of an object constructor. */
export interface ObjectItem {
  key: Expr;
  /** The key was a bare identifier: it names the attribute literally. */
  keyIsName: boolean;
  value: Expr;
}

/** `name = expr` in a body. */
export interface Attribute {
  name: string;
  expr: Expr;
  nameRange: Range;
  equalsRange: Range;
  range: Range;
}

/** `type "label" label { body }`. */
export interface Block {
  type: string;
  labels: string[];
  body: Body;
  typeRange: Range;
  labelRanges: Range[];
  openBraceRange: Range;
  closeBraceRange: Range;
  range: Range;
}

/** A body: its attributes and blocks, each in source order. */
export interface Body {
  attributes: Attribute[];
  blocks: Block[];
  range: Range;
  /** Where the body ends (the closing brace, or the end of the file). */
  endRange: Range;
}

/** A parsed file. */
export interface File {
  body: Body;
  /** The source text, for rendering diagnostics with the offending line. */
  source: string;
}

/** A reference to a variable: its root name and the static attribute/index steps after it. */
export interface Traversal {
  root: string;
  steps: (string | number)[];
  range: Range;
}

/** Every variable reference in an expression (for dependency ordering: locals, variables). */
export function traversals(expr: Expr): Traversal[] {
  const out: Traversal[] = [];
  const visit = (e: Expr, bound: ReadonlySet<string>): void => {
    const t = staticTraversal(e);
    if (t) {
      if (!bound.has(t.root)) out.push(t);
      // index keys inside a traversal may themselves reference variables
      for (let cur: Expr = e; cur.kind === 'getAttr' || cur.kind === 'index'; cur = cur.source) {
        if (cur.kind === 'index') visit(cur.key, bound);
      }
      return;
    }
    if (e.kind === 'for') {
      visit(e.collection, bound);
      const inner = new Set(bound);
      if (e.keyVar) inner.add(e.keyVar);
      inner.add(e.valVar);
      if (e.keyExpr) visit(e.keyExpr, inner);
      visit(e.valExpr, inner);
      if (e.condition) visit(e.condition, inner);
      return;
    }
    for (const c of children(e)) visit(c, bound);
  };
  visit(expr, new Set());
  return out;
}

function staticTraversal(e: Expr): Traversal | undefined {
  const steps: (string | number)[] = [];
  let cur = e;
  for (;;) {
    if (cur.kind === 'getAttr') {
      steps.unshift(cur.name);
      cur = cur.source;
    } else if (cur.kind === 'index') {
      const k = cur.key;
      if (
        k.kind === 'literal' &&
        (typeof k.value.raw === 'string' || typeof k.value.raw === 'number')
      )
        steps.unshift(k.value.raw);
      else if (k.kind === 'template' && k.parts.length === 1 && k.parts[0]!.kind === 'literal')
        steps.unshift(k.parts[0]!.value.raw as string);
      else return undefined;
      cur = cur.source;
    } else break;
  }
  if (cur.kind !== 'variable') return undefined;
  return { root: cur.name, steps, range: e.range };
}

/** The direct sub-expressions of an expression (object keys that are bare names excluded). */
export function children(e: Expr): Expr[] {
  switch (e.kind) {
    case 'getAttr':
      return [e.source];
    case 'index':
      return [e.source, e.key];
    case 'splat':
      return [e.source, e.each];
    case 'tuple':
      return e.elements;
    case 'object':
      return e.items.flatMap((i) => (i.keyIsName ? [i.value] : [i.key, i.value]));
    case 'call':
      return e.args;
    case 'conditional':
      return [e.condition, e.trueResult, e.falseResult];
    case 'binary':
      return [e.left, e.right];
    case 'unary':
      return [e.operand];
    case 'parens':
      return [e.expr];
    case 'template':
      return e.parts;
    case 'templateWrap':
      return [e.wrapped];
    case 'templateJoin':
      return [e.tuple];
    case 'for':
      return [
        e.collection,
        ...(e.keyExpr ? [e.keyExpr] : []),
        e.valExpr,
        ...(e.condition ? [e.condition] : []),
      ];
    default:
      return [];
  }
}
