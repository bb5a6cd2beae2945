/**
 * Reads a JSON document the way Go's strict encoding/json does (no comments, no trailing
 * commas, duplicate keys rejected as Packer does) and keeps every value's source position,
 * so later errors can point at `file:line:column`.
 */
import { type Node, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';
import { UserError } from '../lib/errors.js';
import type { SourceLoc } from './types.js';

export type JsonPath = Array<string | number>;

/** A parsed JSON document: its plain value plus a way back from any path to its source. */
export class JsonSource {
  private readonly lineStarts: number[];

  constructor(
    readonly file: string,
    readonly text: string,
    readonly root: Node,
  ) {
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++)
      if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  /** The plain JavaScript value of the whole document. */
  value(): unknown {
    return nodeValue(this.root);
  }

  /** 1-based line and column of a character offset. */
  locAt(offset: number): SourceLoc {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, column: offset - this.lineStarts[lo]! + 1 };
  }

  /** The node at a path (object keys and array indexes), or undefined. */
  nodeAt(path: JsonPath): Node | undefined {
    let node: Node | undefined = this.root;
    for (const seg of path) {
      if (!node) return undefined;
      if (node.type === 'object' && typeof seg === 'string') {
        const prop: Node | undefined = node.children?.find((p) => p.children?.[0]?.value === seg);
        node = prop?.children?.[1];
      } else if (node.type === 'array' && typeof seg === 'number') {
        node = node.children?.[seg];
      } else {
        return undefined;
      }
    }
    return node;
  }

  /**
   * Where a path is in the source. With `key`, points at the property name rather than its
   * value (better for "unknown key"). Falls back to the nearest existing ancestor.
   */
  locOf(path: JsonPath, opts: { key?: boolean } = {}): SourceLoc {
    for (let n = path.length; n >= 0; n--) {
      const node = this.nodeAt(path.slice(0, n));
      if (!node) continue;
      if (opts.key && n === path.length && node.parent?.type === 'property') {
        return this.locAt(node.parent.offset);
      }
      return this.locAt(node.offset);
    }
    return { file: this.file, line: 1, column: 1 };
  }

  /**
   * Where character `index` of the string value at `path` is in the source, following
   * escapes (`\n`, `\u00e9`…); the string's start when the path is not a string.
   */
  locInString(path: JsonPath, index: number): SourceLoc {
    const node = this.nodeAt(path);
    if (node?.type !== 'string') return this.locOf(path);
    let src = node.offset + 1;
    for (let i = 0; i < index && src < node.offset + node.length - 1; i++) {
      if (this.text[src] === '\\') src += this.text[src + 1] === 'u' ? 6 : 2;
      else src += 1;
    }
    return this.locAt(src);
  }

  /** The text of one source line (1-based), without its newline. */
  lineText(line: number): string {
    const start = this.lineStarts[line - 1] ?? this.text.length;
    const end = this.lineStarts[line] ?? this.text.length + 1;
    return this.text.slice(start, end - 1).replace(/\r$/, '');
  }
}

/** Formats `file:line:column` for messages. */
export function formatLoc(loc: SourceLoc): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

const WHAT: Record<string, string> = {
  InvalidSymbol: 'invalid character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':' after the property name",
  CommaExpected: "expected ',' or a closing bracket",
  CloseBraceExpected: "expected ',' or '}'",
  CloseBracketExpected: "expected ',' or ']'",
  EndOfFileExpected: 'unexpected content after the end of the document',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'comments are not allowed in JSON',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'invalid number',
  InvalidUnicode: 'invalid unicode escape',
  InvalidEscapeCharacter: 'invalid escape character in string',
  InvalidCharacter: 'invalid character in string (control characters must be escaped)',
};

/**
 * Parses JSON text strictly. Throws a UserError `file:line:column: what` with the offending
 * line and a caret under the column; duplicate keys are rejected like Packer does.
 */
export function parseJsonSource(file: string, text: string, what = 'JSON'): JsonSource {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const src = new JsonSource(file, text, root ?? ({ type: 'null', offset: 0, length: 0 } as Node));
  const first = errors[0];
  if (first || !root) {
    const offset = first ? first.offset : text.length;
    const code = first ? printParseErrorCode(first.error) : 'ValueExpected';
    const message =
      text.trim() === ''
        ? 'unexpected end of JSON input'
        : offset >= text.length
          ? 'unexpected end of JSON input'
          : (WHAT[code] ?? code);
    throw syntaxError(src, offset, `invalid ${what}: ${message}`);
  }
  const dup = findDuplicateKey(root);
  if (dup)
    throw syntaxError(
      src,
      dup.offset,
      `duplicate key "${String(dup.value)}" (Packer rejects templates with duplicate fields)`,
    );
  return src;
}

function syntaxError(src: JsonSource, offset: number, message: string): UserError {
  const loc = src.locAt(Math.min(offset, src.text.length));
  const lines: string[] = [];
  const width = String(loc.line).length;
  if (loc.line > 1)
    lines.push(`${String(loc.line - 1).padStart(width)} | ${src.lineText(loc.line - 1)}`);
  lines.push(`${String(loc.line).padStart(width)} | ${src.lineText(loc.line)}`);
  lines.push(`${' '.repeat(width)} | ${' '.repeat(loc.column - 1)}^`);
  // The location leads the message itself (`file:line:column: what`), as compilers print it.
  return new UserError('TemplateSyntax', `${formatLoc(loc)}: ${message}`, {
    details: lines,
    hint: 'Templates are strict JSON: no comments, no trailing commas, keys in double quotes.',
  });
}

function findDuplicateKey(node: Node): Node | undefined {
  if (node.type === 'object') {
    const seen = new Set<string>();
    for (const prop of node.children ?? []) {
      const key = prop.children?.[0];
      if (key && seen.has(key.value)) return key;
      if (key) seen.add(key.value);
      const v = prop.children?.[1];
      const d = v && findDuplicateKey(v);
      if (d) return d;
    }
  } else if (node.type === 'array') {
    for (const c of node.children ?? []) {
      const d = findDuplicateKey(c);
      if (d) return d;
    }
  }
  return undefined;
}

function nodeValue(node: Node): unknown {
  switch (node.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const prop of node.children ?? []) {
        const k = prop.children?.[0];
        const v = prop.children?.[1];
        if (k && v) out[k.value as string] = nodeValue(v);
      }
      return out;
    }
    case 'array':
      return (node.children ?? []).map(nodeValue);
    default:
      return node.value;
  }
}
