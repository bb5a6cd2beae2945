/**
 * Evaluates HCL expressions against an EvalContext (variables and functions), with HCL's
 * operator semantics, cty conversions and unknown propagation. Problems are diagnostics with
 * the range of the sub-expression at fault; an expression that fails yields an unknown value,
 * so one mistake does not cascade into more.
 */
import { nearest } from '../../lib/suggest.js';
import { type Diagnostic, type Expr, type ForExpr, type Range, rangeBetween } from './ast.js';
import {
  bool,
  ConversionError,
  callFunction,
  convert,
  DYNAMIC,
  equals,
  type FunctionDef,
  formatNumber,
  friendlyTypeName,
  HclDiagnosticError,
  type HclType,
  isKnown,
  isNull,
  isWhollyKnown,
  list,
  listType,
  NULL,
  num,
  object,
  rawEquals,
  str,
  T,
  tuple,
  tupleType,
  typeEquals,
  UNKNOWN,
  unify,
  unknownOf,
  type Value,
} from './value.js';

/** What an expression can see: variables (nested objects) and functions. */
export interface EvalContext {
  /** Undefined: variables are not allowed here at all (as in a variable's default). */
  variables?: ReadonlyMap<string, Value> | Readonly<Record<string, Value>>;
  /** Undefined: function calls are not allowed here. */
  functions?: ReadonlyMap<string, FunctionDef> | Readonly<Record<string, FunctionDef>>;
}

/** A value and the problems met computing it (the value is unknown where it failed). */
export interface EvalResult {
  value: Value;
  diagnostics: Diagnostic[];
}

/**
 * The `try` and `can` functions: they take their arguments unevaluated, so the evaluator
 * implements them; put these in the function table to make them callable.
 */
export const TRY_FUNCTION: FunctionDef = specialForm('try');
/** See TRY_FUNCTION. */
export const CAN_FUNCTION: FunctionDef = specialForm('can');

function specialForm(name: string): FunctionDef {
  return {
    description: `${name} (evaluated by the HCL evaluator)`,
    params: [],
    varParam: { name: 'expressions', type: T.dynamic },
    returnType: T.dynamic,
    impl: () => {
      throw new HclDiagnosticError(
        'Error in function call',
        `${name} must be called from an expression.`,
      );
    },
  };
}

/** Evaluates an expression. */
export function evaluate(expr: Expr, ctx: EvalContext = {}): EvalResult {
  const ev = new Evaluator(ctx);
  try {
    const value = ev.eval(expr, undefined);
    return { value, diagnostics: ev.diagnostics };
  } catch (err) {
    // a chain of thousands of operators nests too deep for a recursive evaluation
    if (!(err instanceof RangeError)) throw err;
    const diagnostics: Diagnostic[] = [
      ...ev.diagnostics,
      {
        severity: 'error',
        summary: 'Expression too complex',
        detail:
          'This expression is nested too deeply to evaluate; split it into smaller ones (locals).',
        subject: expr.range,
      },
    ];
    return { value: DYNAMIC, diagnostics };
  }
}

/** A child scope of a `for` expression or a splat: the names it binds over its parent's. */
interface Scope {
  readonly vars: ReadonlyMap<string, Value>;
  readonly anon: ReadonlyMap<Expr, Value>;
  readonly parent: Scope | undefined;
}

function lookupVar(scope: Scope | undefined, name: string): Value | undefined {
  for (let s = scope; s; s = s.parent) {
    const v = s.vars.get(name);
    if (v) return v;
  }
  return undefined;
}

function lookupAnon(scope: Scope | undefined, e: Expr): Value | undefined {
  for (let s = scope; s; s = s.parent) {
    const v = s.anon.get(e);
    if (v) return v;
  }
  return undefined;
}

const EMPTY_VARS: ReadonlyMap<string, Value> = new Map();
const EMPTY_ANON: ReadonlyMap<Expr, Value> = new Map();

class Evaluator {
  readonly diagnostics: Diagnostic[] = [];
  private readonly vars: ReadonlyMap<string, Value> | undefined;
  private readonly funcs: ReadonlyMap<string, FunctionDef> | undefined;

  constructor(ctx: EvalContext) {
    this.vars = toMap(ctx.variables);
    this.funcs = toMap(ctx.functions);
  }

  private fail(summary: string, detail: string, subject: Range): Value {
    this.diagnostics.push({ severity: 'error', summary, detail, subject });
    return DYNAMIC;
  }

  /** Evaluates in a sandbox: the diagnostics it produced are returned, not kept. */
  private probe(f: () => Value): { value: Value; diagnostics: Diagnostic[] } {
    const mark = this.diagnostics.length;
    const value = f();
    return { value, diagnostics: this.diagnostics.splice(mark) };
  }

  eval(e: Expr, scope: Scope | undefined): Value {
    switch (e.kind) {
      case 'literal':
        return e.value;
      case 'variable':
        return this.variable(e.name, e.range, scope);
      case 'anon':
        return lookupAnon(scope, e) ?? DYNAMIC;
      case 'parens':
        return this.eval(e.expr, scope);
      case 'getAttr':
        return this.getAttr(this.eval(e.source, scope), e.name, e.nameRange, e.range);
      case 'index':
        return this.index(
          this.eval(e.source, scope),
          this.eval(e.key, scope),
          e.key.range,
          e.range,
        );
      case 'splat':
        return this.splat(e, scope);
      case 'tuple':
        return tuple(e.elements.map((x) => this.eval(x, scope)));
      case 'object':
        return this.object(e, scope);
      case 'call':
        return this.call(e, scope);
      case 'conditional':
        return this.conditional(e, scope);
      case 'binary':
        return this.binary(e, scope);
      case 'unary':
        return this.unary(e, scope);
      case 'for':
        return this.forExpr(e, scope);
      case 'template':
        return this.template(e.parts, scope);
      case 'templateWrap':
        return this.eval(e.wrapped, scope);
      case 'templateJoin':
        return this.templateJoin(e.tuple, e.range, scope);
      case 'invalid':
        return DYNAMIC;
    }
  }

  private variable(name: string, range: Range, scope: Scope | undefined): Value {
    const local = lookupVar(scope, name);
    if (local) return local;
    if (!this.vars) {
      return this.fail('Variables not allowed', 'Variables may not be used here.', range);
    }
    const v = this.vars.get(name);
    if (v) return v;
    const near = nearest(name, this.vars.keys());
    return this.fail(
      'Unknown variable',
      `There is no variable named "${name}".${near ? ` Did you mean "${near}"?` : ''}`,
      range,
    );
  }

  private getAttr(obj: Value, name: string, nameRange: Range, range: Range): Value {
    if (isNull(obj)) {
      return this.fail(
        'Attempt to get attribute from null value',
        'This value is null, so it does not have any attributes.',
        nameRange,
      );
    }
    const t = obj.type;
    switch (t.kind) {
      case 'object': {
        const at = t.attributes.get(name);
        if (!at) {
          const near = nearest(name, t.attributes.keys());
          return this.fail(
            'Unsupported attribute',
            `This object does not have an attribute named "${name}".${near ? ` Did you mean "${near}"?` : ''}`,
            nameRange,
          );
        }
        if (!isKnown(obj)) return unknownOf(at);
        return (obj.raw as ReadonlyMap<string, Value>).get(name)!;
      }
      case 'map': {
        if (!isKnown(obj)) return unknownOf(t.element);
        const v = (obj.raw as ReadonlyMap<string, Value>).get(name);
        if (!v) {
          return this.fail(
            'Missing map element',
            `This map does not have an element with the key "${name}".`,
            nameRange,
          );
        }
        return v;
      }
      case 'dynamic':
        return DYNAMIC;
      case 'list':
      case 'set':
        if (t.element.kind === 'object') {
          const what = t.kind === 'list' ? 'a list' : 'a set';
          const detail =
            t.kind === 'list'
              ? t.element.attributes.has(name)
                ? `Can't access attributes on a list of objects. Did you mean to access attribute "${name}" for a specific element of the list, or across all elements of the list?`
                : `Can't access attributes on ${what} of objects. Did you mean to access an attribute for a specific element of the list, or across all elements of the list?`
              : "Can't access attributes on a set of objects. Did you mean to access an attribute across all elements of the set?";
          return this.fail('Unsupported attribute', detail, nameRange);
        }
        return this.fail(
          'Unsupported attribute',
          'This value does not have any attributes.',
          nameRange,
        );
      case 'string':
      case 'number':
      case 'bool':
        return this.fail(
          'Unsupported attribute',
          `Can't access attributes on a primitive-typed value (${t.kind}).`,
          nameRange,
        );
      default:
        void range;
        return this.fail(
          'Unsupported attribute',
          'This value does not have any attributes.',
          nameRange,
        );
    }
  }

  private index(coll: Value, key: Value, keyRange: Range, range: Range): Value {
    const invalid = (detail: string) => this.fail('Invalid index', detail, keyRange);
    const noElement = 'The given key does not identify an element in this collection value';
    if (isNull(coll)) {
      return this.fail(
        'Attempt to index null value',
        'This value is null, so it does not have any indices.',
        range,
      );
    }
    if (isNull(key)) return invalid("Can't use a null value as an indexing key.");
    const t = coll.type;
    if (t.kind === 'dynamic' || key.type.kind === 'dynamic') return DYNAMIC;
    switch (t.kind) {
      case 'list':
      case 'tuple': {
        let k: Value;
        try {
          k = convert(key, T.number);
        } catch (err) {
          return invalid(`${noElement}: ${reason(err)}.`);
        }
        if (!isKnown(k) || !isKnown(coll))
          return t.kind === 'list' ? unknownOf(t.element) : DYNAMIC;
        const n = k.raw as number;
        if (!Number.isInteger(n)) {
          return invalid(
            `${noElement}: indexing a sequence requires a whole number, but the given index (${formatNumber(n)}) has a fractional part.`,
          );
        }
        if (n < 0)
          return invalid(`${noElement}: a negative number is not a valid index for a sequence.`);
        const elems = coll.raw as readonly Value[];
        if (n >= elems.length) {
          return invalid(
            elems.length === 0
              ? `${noElement}: the collection has no elements.`
              : `${noElement}: the given index is greater than or equal to the length of the collection.`,
          );
        }
        return elems[n]!;
      }
      case 'map':
      case 'object': {
        let k: Value;
        try {
          k = convert(key, T.string);
        } catch (err) {
          return invalid(`${noElement}: ${reason(err)}.`);
        }
        if (!isKnown(k)) return t.kind === 'map' ? unknownOf(t.element) : DYNAMIC;
        const name = k.raw as string;
        if (t.kind === 'object' && !t.attributes.has(name)) return invalid(`${noElement}.`);
        if (!isKnown(coll)) {
          return t.kind === 'map' ? unknownOf(t.element) : unknownOf(t.attributes.get(name)!);
        }
        const v = (coll.raw as ReadonlyMap<string, Value>).get(name);
        return v ?? invalid(`${noElement}.`);
      }
      case 'set':
        return invalid(
          "Elements of a set are identified only by their value and don't have any separate index or key to select with, so it's only possible to perform operations across all elements of the set.",
        );
      default:
        return invalid('This value does not have any indices.');
    }
  }

  private splat(e: Extract<Expr, { kind: 'splat' }>, scope: Scope | undefined): Value {
    let source = this.eval(e.source, scope);
    let st = source.type;
    const autoUpgrade = !(st.kind === 'tuple' || st.kind === 'list' || st.kind === 'set');
    if (isNull(source)) {
      if (autoUpgrade) return tuple([]);
      return this.fail(
        'Splat of null value',
        'Splat expressions (with the * symbol) cannot be applied to null sequences.',
        e.source.range,
      );
    }
    if (st.kind === 'dynamic') return DYNAMIC;
    if (autoUpgrade) {
      if (!isKnown(source)) return DYNAMIC;
      source = tuple([source]);
      st = source.type;
    }
    const withItem = (item: Value): Scope => ({
      vars: EMPTY_VARS,
      anon: new Map([[e.item as Expr, item]]),
      parent: scope,
    });
    const resultType = (): HclType => {
      if (st.kind === 'list' || st.kind === 'set') {
        const r = this.probe(() => this.eval(e.each, withItem(unknownOf(st.element))));
        return listType(r.value.type);
      }
      if (st.kind === 'tuple') {
        return tupleType(
          st.elements.map(
            (t) => this.probe(() => this.eval(e.each, withItem(unknownOf(t)))).value.type,
          ),
        );
      }
      return T.dynamic;
    };
    if (!isKnown(source)) return unknownOf(resultType());
    const vals: Value[] = [];
    let failed = false;
    for (const item of source.raw as readonly Value[]) {
      const mark = this.diagnostics.length;
      vals.push(this.eval(e.each, withItem(item)));
      if (this.diagnostics.length > mark) failed = true;
    }
    if (failed) return unknownOf(resultType());
    if (st.kind === 'list' || st.kind === 'set') {
      if (vals.length === 0) {
        const rt = resultType();
        return list([], rt.kind === 'list' ? rt.element : T.dynamic);
      }
      const first = vals[0]!.type;
      if (!vals.every((v) => typeEquals(v.type, first))) {
        return this.fail(
          'Invalid nested splat expressions',
          "The second level of splat expression produced elements of different types, so it isn't possible to construct a valid list to represent the top-level result.\n\nConsider using a for expression instead, to produce a tuple-typed result which can therefore have non-homogenous element types.",
          e.each.range,
        );
      }
      return list(vals);
    }
    return tuple(vals);
  }

  private object(e: Extract<Expr, { kind: 'object' }>, scope: Scope | undefined): Value {
    const attrs = new Map<string, Value>();
    let known = true;
    for (const item of e.items) {
      let keyVal = item.keyIsName
        ? str((item.key as { value: Value }).value.raw as string)
        : this.eval(item.key, scope);
      const value = this.eval(item.value, scope);
      if (isNull(keyVal)) {
        this.fail('Null value as key', "Can't use a null value as a key.", item.key.range);
        known = false;
        continue;
      }
      try {
        keyVal = convert(keyVal, T.string);
      } catch (err) {
        this.fail(
          'Incorrect key type',
          `Can't use this value as a key: ${reason(err)}.`,
          item.key.range,
        );
        known = false;
        continue;
      }
      if (!isKnown(keyVal)) {
        known = false;
        continue;
      }
      attrs.set(keyVal.raw as string, value);
    }
    return known ? object(attrs) : DYNAMIC;
  }

  private call(e: Extract<Expr, { kind: 'call' }>, scope: Scope | undefined): Value {
    if (!this.funcs) {
      return this.fail('Function calls not allowed', 'Functions may not be called here.', e.range);
    }
    const fn = this.funcs.get(e.name);
    if (!fn) {
      const near = nearest(e.name, this.funcs.keys());
      return this.fail(
        'Call to unknown function',
        `There is no function named "${e.name}".${near ? ` Did you mean "${near}"?` : ''}`,
        e.nameRange,
      );
    }
    if (fn === TRY_FUNCTION || fn === CAN_FUNCTION)
      return this.tryOrCan(e, fn === TRY_FUNCTION, scope);

    const args: Value[] = [];
    const argRanges: Range[] = [];
    let hadError = false;
    e.args.forEach((a, i) => {
      const mark = this.diagnostics.length;
      const v = this.eval(a, scope);
      if (this.diagnostics.length > mark) hadError = true;
      if (e.expandFinal && i === e.args.length - 1) {
        if (isNull(v)) {
          this.fail(
            'Invalid expanding argument value',
            'The expanding argument (indicated by ...) must not be null.',
            a.range,
          );
          hadError = true;
          return;
        }
        const k = v.type.kind;
        if (k === 'dynamic' || !isKnown(v)) {
          hadError = true; // the arguments cannot be known: the result is unknown
          return;
        }
        if (k !== 'list' && k !== 'set' && k !== 'tuple') {
          this.fail(
            'Invalid expanding argument value',
            'The expanding argument (indicated by ...) must be of a tuple, list, or set type.',
            a.range,
          );
          hadError = true;
          return;
        }
        for (const el of v.raw as readonly Value[]) {
          args.push(el);
          argRanges.push(a.range);
        }
        return;
      }
      args.push(v);
      argRanges.push(a.range);
    });
    if (hadError) return DYNAMIC;

    const params = fn.params;
    if (args.length < params.length) {
      const missing = params[args.length]!;
      return this.fail(
        'Not enough function arguments',
        `Function "${e.name}" expects ${params.length} argument(s). Missing value for "${missing.name}".`,
        e.closeParenRange,
      );
    }
    if (!fn.varParam && args.length > params.length) {
      return this.fail(
        'Too many function arguments',
        `Function "${e.name}" expects only ${params.length} argument(s).`,
        argRanges[params.length] ?? e.range,
      );
    }
    try {
      return callFunction(fn, args);
    } catch (err) {
      if (err instanceof HclDiagnosticError) {
        const subject = err.argIndex !== undefined ? (argRanges[err.argIndex] ?? e.range) : e.range;
        return this.fail(err.summary, err.detail, subject);
      }
      if (err instanceof ConversionError) {
        return this.fail(
          'Error in function call',
          `Call to function "${e.name}" failed: ${err.message}.`,
          e.range,
        );
      }
      // a bug in a function must not take the whole evaluation down: report it where it happened
      const message = err instanceof Error ? err.message : String(err);
      return this.fail(
        'Error in function call',
        `Call to function "${e.name}" failed: ${message}.`,
        e.range,
      );
    }
  }

  /** try(a, b, …): the first argument that evaluates without error; can(x): whether x does. */
  private tryOrCan(
    e: Extract<Expr, { kind: 'call' }>,
    isTry: boolean,
    scope: Scope | undefined,
  ): Value {
    if (e.expandFinal) {
      return this.fail(
        'Invalid expanding argument value',
        `The ${isTry ? 'try' : 'can'} function does not accept an expanding argument.`,
        e.range,
      );
    }
    if (isTry) {
      if (e.args.length === 0) {
        return this.fail(
          'Error in function call',
          'Call to function "try" failed: at least one argument is required.',
          e.range,
        );
      }
      const problems: string[] = [];
      for (const a of e.args) {
        const r = this.probe(() => this.eval(a, scope));
        if (r.diagnostics.length === 0) {
          // an unknown result may still turn out to fail: the answer is not known yet
          return isWhollyKnown(r.value) ? r.value : DYNAMIC;
        }
        for (const d of r.diagnostics)
          problems.push(
            `- ${d.subject.filename}:${d.subject.start.line},${d.subject.start.column}: ${d.summary}: ${d.detail}`,
          );
      }
      return this.fail(
        'Error in function call',
        `Call to function "try" failed: no expression succeeded:\n${problems.join('\n')}\n\nAt least one expression must produce a successful result.`,
        e.range,
      );
    }
    if (e.args.length !== 1) {
      return this.fail(
        e.args.length === 0 ? 'Not enough function arguments' : 'Too many function arguments',
        e.args.length === 0
          ? 'Function "can" expects 1 argument(s). Missing value for "expression".'
          : 'Function "can" expects only 1 argument(s).',
        e.range,
      );
    }
    const r = this.probe(() => this.eval(e.args[0]!, scope));
    if (r.diagnostics.length > 0) return bool(false);
    return isWhollyKnown(r.value) ? bool(true) : unknownOf(T.bool);
  }

  private conditional(e: Extract<Expr, { kind: 'conditional' }>, scope: Scope | undefined): Value {
    const t = this.probe(() => this.eval(e.trueResult, scope));
    const f = this.probe(() => this.eval(e.falseResult, scope));
    let resultType: HclType | undefined;
    if (rawEquals(t.value, NULL)) resultType = f.value.type;
    else if (rawEquals(f.value, NULL)) resultType = t.value.type;
    else resultType = unify([t.value.type, f.value.type], true);
    if (!resultType) {
      this.diagnostics.push(...t.diagnostics, ...f.diagnostics);
      return this.fail(
        'Inconsistent conditional result types',
        `The true and false result expressions must have consistent types. The given expressions are ${friendlyTypeName(t.value.type)} and ${friendlyTypeName(f.value.type)}, respectively.`,
        rangeBetween(e.trueResult.range, e.falseResult.range),
      );
    }
    const rt = resultType;
    const cond = this.eval(e.condition, scope);
    if (isNull(cond)) {
      this.fail(
        'Null condition',
        'The condition value is null. Conditions must either be true or false.',
        e.condition.range,
      );
      return unknownOf(rt);
    }
    if (!isKnown(cond)) {
      this.diagnostics.push(...t.diagnostics, ...f.diagnostics);
      return unknownOf(rt);
    }
    let c: Value;
    try {
      c = convert(cond, T.bool);
    } catch {
      this.fail(
        'Incorrect condition type',
        'The condition expression must be of type bool.',
        e.condition.range,
      );
      return unknownOf(rt);
    }
    const chosen = c.raw ? t : f;
    this.diagnostics.push(...chosen.diagnostics);
    if (chosen.diagnostics.length > 0) return unknownOf(rt);
    try {
      return convert(chosen.value, rt);
    } catch (err) {
      this.fail(
        'Inconsistent conditional result types',
        `The ${c.raw ? 'true' : 'false'} result value has the wrong type: ${reason(err)}.`,
        (c.raw ? e.trueResult : e.falseResult).range,
      );
      return unknownOf(rt);
    }
  }

  private binary(e: Extract<Expr, { kind: 'binary' }>, scope: Scope | undefined): Value {
    const op = e.op;
    const [paramType, resultType]: [HclType, HclType] =
      op === '==' || op === '!='
        ? [T.dynamic, T.bool]
        : op === '&&' || op === '||'
          ? [T.bool, T.bool]
          : op === '<' || op === '>' || op === '<=' || op === '>='
            ? [T.number, T.bool]
            : [T.number, T.number];
    const mark = this.diagnostics.length;
    const lv = this.eval(e.left, scope);
    const rv = this.eval(e.right, scope);
    let l: Value = lv;
    let r: Value = rv;
    try {
      l = convert(lv, paramType);
    } catch (err) {
      this.fail(
        'Invalid operand',
        `Unsuitable value for left operand: ${reason(err)}.`,
        e.left.range,
      );
    }
    try {
      r = convert(rv, paramType);
    } catch (err) {
      this.fail(
        'Invalid operand',
        `Unsuitable value for right operand: ${reason(err)}.`,
        e.right.range,
      );
    }
    if (this.diagnostics.length > mark) return unknownOf(resultType);
    if (op === '==' || op === '!=') {
      const eq = equals(l, r);
      if (eq.raw === UNKNOWN) return eq;
      return op === '==' ? eq : bool(!eq.raw);
    }
    if (isNull(l) || isNull(r)) {
      this.fail('Operation failed', 'Error during operation: argument must not be null.', e.range);
      return unknownOf(resultType);
    }
    if (!isKnown(l) || !isKnown(r)) return unknownOf(resultType);
    const a = l.raw as number & boolean;
    const b = r.raw as number & boolean;
    switch (op) {
      case '&&':
        return bool(a && b);
      case '||':
        return bool(a || b);
      case '<':
        return bool(a < b);
      case '>':
        return bool(a > b);
      case '<=':
        return bool(a <= b);
      case '>=':
        return bool(a >= b);
      default:
        return this.arithmetic(op, a, b, e.range);
    }
  }

  private arithmetic(op: '+' | '-' | '*' | '/' | '%', a: number, b: number, range: Range): Value {
    let v: number;
    switch (op) {
      case '+':
        v = a + b;
        break;
      case '-':
        v = a - b;
        break;
      case '*':
        v = a * b;
        break;
      case '/':
        v = a / b;
        break;
      case '%':
        // cty: x % 0 is x; otherwise truncated remainder
        v = !Number.isFinite(a) || !Number.isFinite(b) ? a * b : b === 0 ? a : a % b;
        break;
    }
    if (Number.isNaN(v)) {
      const why: Record<typeof op, string> = {
        '+': "can't compute sum of opposing infinities",
        '-': "can't subtract infinity from itself",
        '*': "can't multiply zero by infinity",
        '/': "can't divide zero by zero or infinity by infinity",
        '%': "can't use modulo with zero and infinity",
      };
      this.fail('Operation failed', `Error during operation: ${why[op]}.`, range);
      return unknownOf(T.number);
    }
    return num(tidy(v));
  }

  private unary(e: Extract<Expr, { kind: 'unary' }>, scope: Scope | undefined): Value {
    const t = e.op === '-' ? T.number : T.bool;
    const v0 = this.eval(e.operand, scope);
    let v: Value;
    try {
      v = convert(v0, t);
    } catch (err) {
      this.fail(
        'Invalid operand',
        `Unsuitable value for unary operand: ${reason(err)}.`,
        e.operand.range,
      );
      return unknownOf(t);
    }
    if (isNull(v)) {
      this.fail('Operation failed', 'Error during operation: argument must not be null.', e.range);
      return unknownOf(t);
    }
    if (!isKnown(v)) return unknownOf(t);
    return e.op === '-' ? num(-(v.raw as number) + 0) : bool(!v.raw);
  }

  private forExpr(e: ForExpr, scope: Scope | undefined): Value {
    const coll = this.eval(e.collection, scope);
    if (isNull(coll)) {
      return this.fail(
        'Iteration over null value',
        "A null value cannot be used as the collection in a 'for' expression.",
        e.collection.range,
      );
    }
    const ck = coll.type.kind;
    if (ck === 'dynamic') return DYNAMIC;
    if (!['list', 'map', 'set', 'tuple', 'object'].includes(ck)) {
      return this.fail(
        'Iteration over non-iterable value',
        `A value of type ${friendlyTypeName(coll.type)} cannot be used as the collection in a 'for' expression.`,
        e.collection.range,
      );
    }
    if (!isKnown(coll)) return DYNAMIC;
    const pairs: [Value, Value][] =
      coll.raw instanceof Map
        ? [...coll.raw].map(([k, v]) => [str(k), v])
        : (coll.raw as readonly Value[]).map((v, i) => [ck === 'set' ? v : num(i), v]);
    let known = true;
    const tupleVals: Value[] = [];
    const objVals = new Map<string, Value>();
    const groups = new Map<string, Value[]>();
    for (const [k, v] of pairs) {
      const vars = new Map<string, Value>();
      if (e.keyVar) vars.set(e.keyVar, k);
      vars.set(e.valVar, v);
      const child: Scope = { vars, anon: EMPTY_ANON, parent: scope };
      if (e.condition) {
        const c = this.eval(e.condition, child);
        if (isNull(c)) {
          this.fail(
            'Condition is null',
            "The value of the 'if' clause must not be null.",
            e.condition.range,
          );
          known = false;
          continue;
        }
        let cb: Value;
        try {
          cb = convert(c, T.bool);
        } catch (err) {
          this.fail(
            "Invalid 'for' condition",
            `The 'if' clause value is invalid: ${reason(err)}.`,
            e.condition.range,
          );
          known = false;
          continue;
        }
        if (!isKnown(cb)) {
          known = false;
          continue;
        }
        if (!cb.raw) continue;
      }
      if (e.keyExpr) {
        let kv = this.eval(e.keyExpr, child);
        const vv = this.eval(e.valExpr, child);
        if (isNull(kv)) {
          this.fail(
            'Invalid object key',
            "Key expression in 'for' expression must not produce a null value.",
            e.keyExpr.range,
          );
          known = false;
          continue;
        }
        try {
          kv = convert(kv, T.string);
        } catch (err) {
          this.fail(
            'Invalid object key',
            `The key expression produced an invalid result: ${reason(err)}.`,
            e.keyExpr.range,
          );
          known = false;
          continue;
        }
        if (!isKnown(kv)) {
          known = false;
          continue;
        }
        const key = kv.raw as string;
        if (e.group) {
          const g = groups.get(key);
          if (g) g.push(vv);
          else groups.set(key, [vv]);
        } else if (objVals.has(key)) {
          this.fail(
            'Duplicate object key',
            `Two different items produced the key "${key}" in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key.`,
            e.keyExpr.range,
          );
          known = false;
        } else objVals.set(key, vv);
      } else {
        tupleVals.push(this.eval(e.valExpr, child));
      }
    }
    if (!known) return DYNAMIC;
    if (!e.keyExpr) return tuple(tupleVals);
    if (e.group) {
      const out = new Map<string, Value>();
      for (const [k, vs] of groups) out.set(k, tuple(vs));
      return object(out);
    }
    return object(objVals);
  }

  private template(parts: readonly Expr[], scope: Scope | undefined): Value {
    let out = '';
    let known = true;
    for (const p of parts) {
      const v = this.eval(p, scope);
      if (isNull(v)) {
        this.fail(
          'Invalid template interpolation value',
          'The expression result is null. Cannot include a null value in a string template.',
          p.range,
        );
        continue;
      }
      if (!isKnown(v)) {
        known = false;
        continue;
      }
      let s: Value;
      try {
        s = convert(v, T.string);
      } catch (err) {
        this.fail(
          'Invalid template interpolation value',
          `Cannot include the given value in a string template: ${reason(err)}.`,
          p.range,
        );
        continue;
      }
      if (!isKnown(s)) known = false;
      else out += s.raw as string;
    }
    return known ? str(out) : unknownOf(T.string);
  }

  private templateJoin(forExpr: ForExpr, range: Range, scope: Scope | undefined): Value {
    const tup = this.eval(forExpr, scope);
    if (!isKnown(tup)) return unknownOf(T.string);
    let out = '';
    let known = true;
    for (const v of (tup.raw as readonly Value[] | null) ?? []) {
      if (isNull(v)) {
        this.fail(
          'Invalid template interpolation value',
          'An iteration result is null. Cannot include a null value in a string template.',
          range,
        );
        continue;
      }
      if (!isKnown(v)) {
        known = false;
        continue;
      }
      try {
        out += convert(v, T.string).raw as string;
      } catch (err) {
        this.fail(
          'Invalid template interpolation value',
          `Cannot include one of the interpolation results into the string template: ${reason(err)}.`,
          range,
        );
      }
    }
    return known ? str(out) : unknownOf(T.string);
  }
}

// A function table is one object for a whole template: made into a Map once, not per evaluation.
const asMaps = new WeakMap<object, ReadonlyMap<string, unknown>>();

function toMap<V>(x: ReadonlyMap<string, V> | Readonly<Record<string, V>> | undefined) {
  if (x === undefined) return undefined;
  if (x instanceof Map) return x as ReadonlyMap<string, V>;
  let m = asMaps.get(x) as ReadonlyMap<string, V> | undefined;
  if (!m) {
    m = new Map(Object.entries(x as Record<string, V>));
    asMaps.set(x, m);
  }
  return m;
}

function reason(err: unknown): string {
  if (err instanceof ConversionError) return err.message;
  throw err;
}

/**
 * cty computes with 512-bit floats, so `0.1 + 0.2` is 0.3 there; with doubles it is
 * 0.30000000000000004. Snapping a result within two ulps of a 15-digit decimal gives
 * cty's answer in those cases, and leaves true results (1/3) alone.
 */
function tidy(v: number): number {
  if (!Number.isFinite(v) || Number.isInteger(v)) return v;
  const s = Number(v.toPrecision(15));
  return Math.abs(s - v) <= 2 * Math.abs(v) * Number.EPSILON ? s : v;
}
