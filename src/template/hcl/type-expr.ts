/**
 * Type expressions, as a variable's `type = list(string)` is written (hashicorp/hcl
 * `ext/typeexpr`): keywords and constructor calls read from the syntax tree, never evaluated.
 */
import type { Diagnostic, Expr } from './ast.js';
import { evaluate } from './evaluate.js';
import {
  DYNAMIC,
  type HclType,
  listType,
  mapType,
  objectType,
  setType,
  T,
  tupleType,
  type Value,
} from './value.js';

/** A type constraint and, for `optional(T, default)` attributes, their defaults by path. */
export interface TypeConstraintResult {
  type: HclType;
  /** Default values of optional object attributes: `[attribute path] → value`. */
  defaults: { path: string[]; value: Value }[];
  diagnostics: Diagnostic[];
}

const SUMMARY = 'Invalid type specification';

/** Reads a type constraint (`any` and `optional(...)` allowed), as a variable's `type`. */
export function typeConstraint(expr: Expr): TypeConstraintResult {
  const diagnostics: Diagnostic[] = [];
  const defaults: { path: string[]; value: Value }[] = [];
  const type = read(expr, [], diagnostics, defaults);
  return { type, defaults, diagnostics };
}

function fail(diags: Diagnostic[], detail: string, e: Expr): HclType {
  diags.push({ severity: 'error', summary: SUMMARY, detail, subject: e.range });
  return T.dynamic;
}

function keyword(e: Expr): string | undefined {
  if (e.kind === 'variable') return e.name;
  // `null`, `true` and `false` parse as literals but read as keywords here, as in HCL
  if (e.kind === 'literal' && e.value.type.kind !== 'number') {
    if (e.value.raw === null) return 'null';
    if (typeof e.value.raw === 'boolean') return String(e.value.raw);
  }
  return undefined;
}

function read(
  e: Expr,
  path: string[],
  diags: Diagnostic[],
  defaults: { path: string[]; value: Value }[],
): HclType {
  const kw = keyword(e);
  if (kw !== undefined) {
    switch (kw) {
      case 'bool':
        return T.bool;
      case 'string':
        return T.string;
      case 'number':
        return T.number;
      case 'any':
        return T.dynamic;
      case 'list':
      case 'map':
      case 'set':
        return fail(
          diags,
          `The ${kw} type constructor requires one argument specifying the element type.`,
          e,
        );
      case 'object':
        return fail(
          diags,
          'The object type constructor requires one argument specifying the attribute types and values as a map.',
          e,
        );
      case 'tuple':
        return fail(
          diags,
          'The tuple type constructor requires one argument specifying the element types as a list.',
          e,
        );
      default:
        return fail(diags, `The keyword "${kw}" is not a valid type specification.`, e);
    }
  }
  if (e.kind !== 'call') {
    return fail(
      diags,
      'A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).',
      e,
    );
  }
  const name = e.name;
  switch (name) {
    case 'bool':
    case 'string':
    case 'number':
      return fail(diags, `Primitive type keyword "${name}" does not expect arguments.`, e);
    case 'any':
      return fail(diags, `Type constraint keyword "${name}" does not expect arguments.`, e);
    case 'list':
    case 'set':
    case 'map':
    case 'object':
    case 'tuple':
      break;
    default:
      return fail(diags, `Keyword "${name}" is not a valid type constructor.`, e);
  }
  if (e.args.length !== 1 || e.expandFinal) {
    const subject = e.args.length > 1 ? e.args[1]! : e;
    if (name === 'object') {
      return fail(
        diags,
        'The object type constructor requires one argument specifying the attribute types and values as a map.',
        subject,
      );
    }
    if (name === 'tuple') {
      return fail(
        diags,
        'The tuple type constructor requires one argument specifying the element types as a list.',
        subject,
      );
    }
    return fail(
      diags,
      `The ${name} type constructor requires one argument specifying the element type.`,
      subject,
    );
  }
  const arg = e.args[0]!;
  switch (name) {
    case 'list':
      return listType(read(arg, [...path, '*'], diags, defaults));
    case 'set':
      return setType(read(arg, [...path, '*'], diags, defaults));
    case 'map':
      return mapType(read(arg, [...path, '*'], diags, defaults));
    case 'tuple': {
      if (arg.kind !== 'tuple')
        return fail(diags, 'Tuple type constructor requires a list of element types.', arg);
      return tupleType(arg.elements.map((x, i) => read(x, [...path, String(i)], diags, defaults)));
    }
    default:
      return readObject(arg, path, diags, defaults);
  }
}

function readObject(
  arg: Expr,
  path: string[],
  diags: Diagnostic[],
  defaults: { path: string[]; value: Value }[],
): HclType {
  if (arg.kind !== 'object') {
    return fail(
      diags,
      'Object type constructor requires a map whose keys are attribute names and whose values are the corresponding attribute types.',
      arg,
    );
  }
  const attrs = new Map<string, HclType>();
  const optional: string[] = [];
  for (const item of arg.items) {
    const key = item.keyIsName ? (item.key as { value: Value }).value.raw : keyword(item.key);
    if (typeof key !== 'string') {
      fail(diags, 'Object constructor map keys must be attribute names.', item.key);
      continue;
    }
    if (attrs.has(key)) {
      fail(diags, 'Object constructor map keys must be unique.', item.key);
      continue;
    }
    let typeExpr = item.value;
    if (typeExpr.kind === 'call' && typeExpr.name === 'optional') {
      const opt = typeExpr;
      if (opt.args.length < 1) {
        fail(
          diags,
          'Optional attribute modifier requires the attribute type as its argument.',
          opt,
        );
        continue;
      }
      if (opt.args.length > 2) {
        fail(
          diags,
          'Optional attribute modifier expects at most two arguments: the attribute type, and a default value.',
          opt,
        );
        continue;
      }
      typeExpr = opt.args[0]!;
      optional.push(key);
      if (opt.args[1]) {
        const r = evaluate(opt.args[1], {});
        diags.push(...r.diagnostics);
        if (r.diagnostics.length === 0 && r.value !== DYNAMIC) {
          defaults.push({ path: [...path, key], value: r.value });
        }
      }
    }
    attrs.set(key, read(typeExpr, [...path, key], diags, defaults));
  }
  return objectType(attrs, optional);
}
