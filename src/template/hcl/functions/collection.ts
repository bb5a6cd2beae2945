/**
 * Packer's collection functions (go-cty's stdlib, go-cty-funcs' `coalesce`, and Packer's own
 * `length`, `index`, `sum`, `alltrue`, `anytrue`): their argument rules, result types and
 * error texts follow go-cty, including how lists, sets, tuples, maps and objects differ.
 */
import {
  asBool,
  asNumber,
  asString,
  compareCodePoints,
  convert,
  DYNAMIC,
  elementsOf,
  entriesOf,
  equals,
  FALSE,
  type FunctionDef,
  friendlyTypeName,
  type HclType,
  isKnown,
  isNull,
  isWhollyKnown,
  list,
  listType,
  map,
  mapType,
  num,
  object,
  objectType,
  rawEquals,
  set,
  setType,
  str,
  T,
  TRUE,
  tuple,
  tupleType,
  typeEquals,
  unify,
  unknownOf,
  type Value,
} from '../value.js';
import { argError, define, FnError, fnError, param } from './define.js';
import { stringLength } from './string.js';
import { goInt } from './values.js';

const dyn = T.dynamic;

function isSeq(t: HclType): boolean {
  return t.kind === 'list' || t.kind === 'set' || t.kind === 'tuple';
}

function elementType(t: HclType): HclType {
  return (t as { element: HclType }).element;
}

/** A list of the given values, which share the type `ety` (the list's element type). */
function listOf(vals: readonly Value[], ety: HclType): Value {
  return list(vals, ety);
}

/** Sums and ranges of decimal fractions come out as cty's exact arithmetic gives them (0.1+0.2 = 0.3). */
function tidy(n: number): number {
  if (!Number.isFinite(n) || Number.isInteger(n)) return n;
  return Number(n.toPrecision(15));
}

function intArg(v: Value, what: string, i?: number): number {
  try {
    return goInt(v);
  } catch (err) {
    if (err instanceof FnError) {
      throw i === undefined
        ? fnError(`${what}: ${err.message}`)
        : argError(i, `${what}: ${err.message}`);
    }
    throw err;
  }
}

const alltrue = define('alltrue', {
  params: [param('list', listType(T.bool))],
  returnType: T.bool,
  impl: (args) => {
    for (const v of elementsOf(args[0]!)) {
      if (!isKnown(v)) return unknownOf(T.bool);
      if (isNull(v) || !asBool(v)) return FALSE;
    }
    return TRUE;
  },
});

const anytrue = define('anytrue', {
  params: [param('list', listType(T.bool))],
  returnType: T.bool,
  impl: (args) => {
    let unknown = false;
    for (const v of elementsOf(args[0]!)) {
      if (!isKnown(v)) unknown = true;
      else if (!isNull(v) && asBool(v)) return TRUE;
    }
    return unknown ? unknownOf(T.bool) : FALSE;
  },
});

const chunklist = define('chunklist', {
  params: [param('list', listType(dyn)), param('size', T.number)],
  returnType: (args) => listType(args[0]!.type),
  impl: (args) => {
    const l = args[0]!;
    const size = intArg(args[1]!, 'invalid size');
    if (size < 0) throw fnError('the size argument must be positive');
    const elems = elementsOf(l);
    if (elems.length === 0) return listOf([], l.type);
    if (size === 0) return listOf([l], l.type);
    const out: Value[] = [];
    for (let i = 0; i < elems.length; i += size) {
      out.push(listOf(elems.slice(i, i + size), elementType(l.type)));
    }
    return listOf(out, l.type);
  },
});

const coalesce = define('coalesce', {
  params: [],
  varParam: param('vals', dyn, { allowUnknown: true, allowDynamicType: true, allowNull: true }),
  returnType: (args) => {
    const t = unify(
      args.map((a) => a.type),
      true,
    );
    if (!t) throw fnError('all arguments must have the same type');
    return t;
  },
  impl: (args, rt) => {
    for (let a of args) {
      try {
        a = convert(a, rt);
      } catch {
        // go-cty-funcs ignores the conversion error and tests the value as given
      }
      if (!isKnown(a)) return unknownOf(rt);
      if (isNull(a)) continue;
      if (rt.kind === 'string' && a.raw === '') continue;
      return a;
    }
    throw fnError('no non-null, non-empty-string arguments');
  },
});

const coalescelist = define('coalescelist', {
  params: [],
  varParam: param('vals', dyn, { allowUnknown: true, allowDynamicType: true, allowNull: true }),
  returnType: (args) => {
    if (args.length === 0) throw fnError('at least one argument is required');
    for (const a of args) {
      if (!isKnown(a)) return dyn;
      if (a.type.kind !== 'list' && a.type.kind !== 'tuple') {
        throw fnError('coalescelist arguments must be lists or tuples');
      }
    }
    const first = args[0]!.type;
    return args.every((a) => typeEquals(a.type, first)) ? first : dyn;
  },
  impl: (args, rt) => {
    for (const a of args) {
      if (!isKnown(a)) return unknownOf(rt);
      if (isNull(a)) continue;
      if (elementsOf(a).length > 0) return a;
    }
    throw fnError('no non-null arguments');
  },
});

const compact = define('compact', {
  params: [param('list', listType(T.string))],
  returnType: listType(T.string),
  impl: (args) => {
    const out = elementsOf(args[0]!).filter((v) => !isNull(v) && asString(v) !== '');
    return listOf(out, T.string);
  },
});

const concat = define('concat', {
  params: [],
  varParam: param('seqs', dyn),
  returnType: (args) => {
    if (args.length === 0) throw fnError('at least one argument is required');
    if (args[0]!.type.kind === 'list' && args.every((a) => a.type.kind === 'list')) {
      const common = unify(
        args.map((a) => a.type),
        true,
      );
      if (common) return common;
    }
    const etys: HclType[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a.type.kind === 'tuple') etys.push(...a.type.elements);
      else if (a.type.kind === 'list') {
        if (!isKnown(a)) return dyn;
        for (let j = 0; j < elementsOf(a).length; j++) etys.push(a.type.element);
      } else {
        throw argError(i, `all arguments must be lists or tuples; got ${friendlyTypeName(a.type)}`);
      }
    }
    return tupleType(etys);
  },
  impl: (args, rt) => {
    const vals: Value[] = [];
    if (rt.kind === 'list') {
      args.forEach((a, i) => {
        let c: Value;
        try {
          c = convert(a, rt);
        } catch (err) {
          throw argError(i, (err as Error).message);
        }
        vals.push(...elementsOf(c));
      });
      return listOf(vals, rt.element);
    }
    for (const a of args) vals.push(...elementsOf(a));
    return tuple(vals);
  },
});

const contains = define('contains', {
  params: [param('list', dyn), param('value', dyn, { allowNull: true })],
  returnType: T.bool,
  impl: (args) => {
    const l = args[0]!;
    if (!isSeq(l.type)) throw fnError('argument must be list, tuple, or set');
    if (elementsOf(l).length === 0) return FALSE;
    let unknown = false;
    for (const v of elementsOf(l)) {
      const eq = equals(args[1]!, v);
      if (!isKnown(eq)) unknown = true;
      else if (eq.raw === true) return TRUE;
    }
    return unknown ? unknownOf(T.bool) : FALSE;
  },
});

const distinct = define('distinct', {
  params: [param('list', listType(dyn))],
  returnType: (args) => args[0]!.type,
  impl: (args, rt) => {
    const out: Value[] = [];
    for (const v of elementsOf(args[0]!)) {
      if (!out.some((o) => equals(o, v).raw === true)) out.push(v);
    }
    return listOf(out, elementType(rt));
  },
});

function wrapIndex(index: number, len: number): number {
  let i = index % len;
  if (i < 0) i += len;
  return i;
}

const element = define('element', {
  params: [param('list', dyn), param('index', T.number)],
  returnType: (args) => {
    const t = args[0]!.type;
    if (t.kind === 'list') return t.element;
    if (t.kind === 'tuple') {
      if (!isKnown(args[1]!)) return dyn;
      const idx = intArg(args[1]!, 'invalid index');
      if (t.elements.length === 0) throw fnError('cannot use element function with an empty list');
      return t.elements[wrapIndex(idx, t.elements.length)]!;
    }
    throw fnError(`cannot read elements from ${friendlyTypeName(t)}`);
  },
  impl: (args, rt) => {
    const idx = intArg(args[1]!, 'invalid index');
    const l = args[0]!;
    if (!isKnown(l)) return unknownOf(rt);
    const elems = elementsOf(l);
    if (elems.length === 0) throw fnError('cannot use element function with an empty list');
    return elems[wrapIndex(idx, elems.length)]!;
  },
});

/** go-cty's flattener: nested lists, sets and tuples spread into one sequence. */
function flattenValues(v: Value): Value[] | undefined {
  if (!isKnown(v)) return undefined;
  const out: Value[] = [];
  for (const e of elementsOf(v)) {
    if (!isNull(e) && isSeq(e.type)) {
      const inner = flattenValues(e);
      if (!inner) return undefined;
      out.push(...inner);
    } else {
      if (e.type.kind === 'dynamic' && !isKnown(e)) return undefined;
      out.push(e);
    }
  }
  return out;
}

const flatten = define('flatten', {
  params: [param('list', dyn)],
  returnType: (args) => {
    const a = args[0]!;
    if (!isWhollyKnown(a)) return dyn;
    if (!isSeq(a.type)) throw fnError('can only flatten lists, sets and tuples');
    const vals = flattenValues(a);
    return vals ? tupleType(vals.map((v) => v.type)) : dyn;
  },
  impl: (args, rt) => {
    const vals = flattenValues(args[0]!);
    return vals ? tuple(vals) : unknownOf(rt);
  },
});

const index = define('index', {
  params: [param('list', dyn), param('value', dyn)],
  returnType: T.number,
  impl: (args) => {
    const l = args[0]!;
    if (l.type.kind !== 'list' && l.type.kind !== 'tuple') {
      throw fnError('argument must be a list or tuple');
    }
    if (!isKnown(l)) return unknownOf(T.number);
    const elems = elementsOf(l);
    if (elems.length === 0) throw fnError('cannot search an empty list');
    for (let i = 0; i < elems.length; i++) {
      const eq = equals(elems[i]!, args[1]!);
      if (!isKnown(eq)) return unknownOf(T.number);
      if (eq.raw === true) return num(i);
    }
    throw fnError('item not found');
  },
});

const keys = define('keys', {
  params: [param('inputMap', dyn, { allowUnknown: true })],
  returnType: (args) => {
    const t = args[0]!.type;
    if (t.kind === 'map') return listType(T.string);
    if (t.kind === 'object') return tupleType([...t.attributes.keys()].map(() => T.string));
    throw argError(0, 'must have map or object type');
  },
  impl: (args, rt) => {
    const m = args[0]!;
    if (m.type.kind === 'object') return tuple([...m.type.attributes.keys()].map((k) => str(k)));
    if (!isKnown(m)) return unknownOf(rt);
    return listOf(
      [...entriesOf(m).keys()].map((k) => str(k)),
      T.string,
    );
  },
});

const length = define('length', {
  params: [param('value', dyn, { allowDynamicType: true, allowUnknown: true })],
  returnType: (args) => {
    const k = args[0]!.type.kind;
    if (k === 'bool' || k === 'number') {
      throw fnError('argument must be a string, a collection type, or a structural type');
    }
    return T.number;
  },
  impl: (args) => {
    const v = args[0]!;
    const t = v.type;
    if (t.kind === 'dynamic') return unknownOf(T.number);
    if (t.kind === 'tuple') return num(t.elements.length);
    if (t.kind === 'object') return num(t.attributes.size);
    if (!isKnown(v)) return unknownOf(T.number);
    if (t.kind === 'string') return stringLength(asString(v));
    return num(elementsOrEntries(v));
  },
});

function elementsOrEntries(v: Value): number {
  return v.raw instanceof Map ? v.raw.size : elementsOf(v).length;
}

const lookup = define('lookup', {
  params: [param('inputMap', dyn), param('key', T.string), param('default', dyn)],
  returnType: (args) => {
    const t = args[0]!.type;
    if (t.kind === 'object') {
      if (!isKnown(args[1]!)) return dyn;
      const key = asString(args[1]!);
      const at = t.attributes.get(key);
      if (at) return at;
      return args[2]!.type;
    }
    if (t.kind === 'map') {
      try {
        convert(args[2]!, t.element);
      } catch {
        throw argError(2, 'the default value must have the same type as the map elements');
      }
      return t.element;
    }
    throw argError(0, 'lookup() requires a map as the first argument');
  },
  impl: (args, rt) => {
    const m = args[0]!;
    const key = asString(args[1]!);
    if (!isWhollyKnown(m)) return unknownOf(rt);
    const found = entriesOf(m).get(key);
    if (found) return found;
    return convert(args[2]!, rt);
  },
});

function goTypeName(t: HclType): string {
  return `"${friendlyTypeName(t)}"`;
}

const merge = define('merge', {
  params: [],
  varParam: param('maps', dyn, { allowDynamicType: true, allowNull: true }),
  returnType: (args) => {
    if (args.length === 0) return objectType({});
    const attrs = new Map<string, HclType>();
    let first: HclType | undefined;
    let matching = true;
    let attrsKnown = true;
    for (const a of args) {
      let t = a.type;
      if (t.kind === 'dynamic') return dyn;
      if (t.kind !== 'map' && t.kind !== 'object') {
        throw fnError(`arguments must be maps or objects, got ${goTypeName(t)}`);
      }
      if (t.kind === 'object') {
        if (isNull(a)) t = objectType({});
        for (const [k, at] of (t as { attributes: ReadonlyMap<string, HclType> }).attributes)
          attrs.set(k, at);
      } else if (!isNull(a)) {
        if (isKnown(a)) for (const k of entriesOf(a).keys()) attrs.set(k, t.element);
        else attrsKnown = false;
      }
      if (first === undefined) first = t;
      else if (matching && !typeEquals(t, first)) matching = false;
    }
    if (matching) return first!;
    if (!attrsKnown) return dyn;
    return objectType(attrs);
  },
  impl: (args, rt) => {
    const out = new Map<string, Value>();
    for (const a of args) {
      if (isNull(a)) continue;
      for (const [k, v] of entriesOf(a)) out.set(k, v);
    }
    if (rt.kind === 'map') return map(out, rt.element);
    return object(out);
  },
});

const range = define('range', {
  params: [],
  varParam: param('params', T.number),
  returnType: listType(T.number),
  impl: (args) => {
    const n = args.map(asNumber);
    let start: number;
    let end: number;
    let step: number;
    switch (n.length) {
      case 1:
        [start, end, step] = [0, n[0]!, n[0]! < 0 ? -1 : 1];
        break;
      case 2:
        [start, end, step] = [n[0]!, n[1]!, n[1]! < n[0]! ? -1 : 1];
        break;
      case 3:
        [start, end, step] = [n[0]!, n[1]!, n[2]!];
        break;
      default:
        throw fnError('must have one, two, or three arguments');
    }
    if (step === 0) throw argError(2, 'step must not be zero');
    const down = step < 0;
    if (down && end > start) throw argError(1, 'end must be less than start when step is negative');
    if (!down && end < start)
      throw argError(1, 'end must be greater than start when step is positive');
    const vals: Value[] = [];
    for (let i = 0; ; i++) {
      const x = tidy(start + i * step);
      if (down ? x <= end : x >= end) break;
      if (vals.length >= 1024) {
        throw fnError(
          'more than 1024 values were generated; either decrease the difference between start and end or use a smaller step',
        );
      }
      vals.push(num(x));
    }
    return listOf(vals, T.number);
  },
});

const reverse = define('reverse', {
  params: [param('list', dyn)],
  returnType: (args) => {
    const t = args[0]!.type;
    if (t.kind === 'tuple') return tupleType([...t.elements].reverse());
    if (t.kind === 'list' || t.kind === 'set') return listType(t.element);
    throw argError(0, `can only reverse list or tuple values, not ${friendlyTypeName(t)}`);
  },
  impl: (args, rt) => {
    const vals = [...elementsOf(args[0]!)].reverse();
    return rt.kind === 'tuple' ? tuple(vals) : listOf(vals, elementType(rt));
  },
});

function setReturnType(args: readonly Value[]): HclType {
  const etys: HclType[] = [];
  for (const a of args) {
    const ety = elementType(a.type);
    if (isKnown(a) && elementsOf(a).length === 0 && ety.kind === 'dynamic') continue;
    etys.push(ety);
  }
  if (etys.length === 0) return setType(dyn);
  const t = unify(etys, true);
  if (!t) throw fnError('given sets must all have compatible element types');
  return setType(t);
}

function setOperation(
  name: string,
  op: (a: readonly Value[], b: readonly Value[]) => Value[],
  allowUnknowns: boolean,
): FunctionDef {
  const setParam = (n: string) => param(n, setType(dyn), { allowDynamicType: true });
  return define(name, {
    params: [setParam('first_set')],
    varParam: setParam('other_sets'),
    returnType: setReturnType,
    impl: (args, rt) => {
      let acc: Value[] | undefined;
      for (let i = 0; i < args.length; i++) {
        let c: Value;
        try {
          c = convert(args[i]!, rt);
        } catch (err) {
          throw argError(i, (err as Error).message);
        }
        if (!allowUnknowns && !isWhollyKnown(c)) return unknownOf(rt);
        acc = acc === undefined ? [...elementsOf(c)] : op(acc, elementsOf(c));
      }
      return set(acc!, elementType(rt));
    },
  });
}

const has = (xs: readonly Value[], v: Value) => xs.some((x) => rawEquals(x, v));

const setproduct = define('setproduct', {
  params: [],
  varParam: param('sets', dyn, { allowUnknown: true }),
  returnType: (args) => {
    if (args.length < 2) throw fnError('at least two arguments are required');
    let lists = 0;
    const etys: HclType[] = args.map((a, i) => {
      const t = a.type;
      if (t.kind === 'set') return t.element;
      if (t.kind === 'list') {
        lists++;
        return t.element;
      }
      if (t.kind === 'tuple') {
        lists++;
        if (t.elements.length === 0) return dyn;
        const u = unify(t.elements, true);
        if (!u) throw argError(i, 'all elements must be of the same type');
        return u;
      }
      throw argError(i, 'a set or a list is required');
    });
    return lists === args.length ? listType(tupleType(etys)) : setType(tupleType(etys));
  },
  impl: (args, rt) => {
    if (!args.every(isKnown)) return unknownOf(rt);
    const ety = elementType(rt) as { elements: readonly HclType[] };
    let rows: Value[][] = [[]];
    args.forEach((a, j) => {
      const next: Value[][] = [];
      for (const row of rows) {
        for (const e of elementsOf(a)) next.push([...row, convert(e, ety.elements[j]!)]);
      }
      rows = next;
    });
    const vals = rows.map((r) => tuple(r));
    return rt.kind === 'list' ? listOf(vals, elementType(rt)) : set(vals, elementType(rt));
  },
});

function sliceIndexes(args: readonly Value[]): { start: number; end: number; known: boolean } {
  const l = args[0]!;
  let len: number | undefined;
  if (l.type.kind === 'tuple') len = l.type.elements.length;
  else if (isKnown(l)) len = elementsOf(l).length;
  let start = 0;
  let end = 0;
  const sk = isKnown(args[1]!);
  const ek = isKnown(args[2]!);
  if (sk) {
    start = intArg(args[1]!, 'invalid start index', 1);
    if (start < 0) throw argError(1, 'start index must not be less than zero');
    if (len !== undefined && start > len) {
      throw argError(1, 'start index must not be greater than the length of the list');
    }
  }
  if (ek) {
    end = intArg(args[2]!, 'invalid end index', 2);
    if (end < 0) throw argError(2, 'end index must not be less than zero');
    if (len !== undefined && end > len) {
      throw argError(2, 'end index must not be greater than the length of the list');
    }
  }
  if (sk && ek && start > end) throw argError(1, 'start index must not be greater than end index');
  return { start, end, known: sk && ek };
}

const slice = define('slice', {
  params: [param('list', dyn), param('start_index', T.number), param('end_index', T.number)],
  returnType: (args) => {
    const t = args[0]!.type;
    if (t.kind === 'set') {
      throw argError(
        0,
        'cannot slice a set, because its elements do not have indices; explicitly convert to a list if the ordering of the result is not important',
      );
    }
    if (t.kind !== 'list' && t.kind !== 'tuple') throw argError(0, 'must be a list or tuple value');
    const { start, end, known } = sliceIndexes(args);
    if (t.kind === 'list') return t;
    if (!known || t.kind !== 'tuple') return dyn;
    return tupleType(t.elements.slice(start, end));
  },
  impl: (args, rt) => {
    if (rt.kind === 'dynamic') return DYNAMIC;
    const { start, end } = sliceIndexes(args);
    const vals = elementsOf(args[0]!).slice(start, end);
    return rt.kind === 'tuple' ? tuple(vals) : listOf(vals, elementType(rt));
  },
});

const sort = define('sort', {
  params: [param('list', listType(T.string), { allowUnknown: true })],
  returnType: listType(T.string),
  impl: (args) => {
    const l = args[0]!;
    if (!isWhollyKnown(l)) return unknownOf(listType(T.string));
    const strs = elementsOf(l).map((v, i) => {
      if (isNull(v))
        throw fnError(`given list element ${i} is null; a null string cannot be sorted`);
      return asString(v);
    });
    strs.sort(compareCodePoints);
    return listOf(
      strs.map((x) => str(x)),
      T.string,
    );
  },
});

const sum = define('sum', {
  params: [param('list', dyn)],
  returnType: T.number,
  impl: (args) => {
    const l = args[0]!;
    const k = l.type.kind;
    if (!isSeq(l.type) && k !== 'map' && k !== 'object')
      throw argError(0, 'cannot sum noniterable');
    const items = l.raw instanceof Map ? [...l.raw.values()] : elementsOf(l);
    if (items.length === 0) throw argError(0, 'cannot sum an empty list');
    if (!isSeq(l.type)) {
      throw argError(
        0,
        `argument must be list, set, or tuple. Received ${friendlyTypeName(l.type)}`,
      );
    }
    if (!isWhollyKnown(l)) return unknownOf(T.number);
    let total = 0;
    for (const v of items) {
      let n: number;
      try {
        if (isNull(v)) throw new Error('null');
        n = asNumber(convert(v, T.number));
      } catch {
        throw argError(0, 'argument must be list, set, or tuple of number values');
      }
      if (Number.isFinite(total) === false && Number.isFinite(n) === false && total !== n) {
        throw fnError("can't compute sum of opposing infinities");
      }
      total += n;
    }
    return num(tidy(total));
  },
});

const values = define('values', {
  params: [param('mapping', dyn)],
  returnType: (args) => {
    const t = args[0]!.type;
    if (t.kind === 'map') return listType(t.element);
    if (t.kind === 'object') return tupleType([...t.attributes.values()]);
    throw fnError('values() requires a map as the first argument');
  },
  impl: (args, rt) => {
    const vals = [...entriesOf(args[0]!).values()];
    return rt.kind === 'tuple' ? tuple(vals) : listOf(vals, elementType(rt));
  },
});

const zipmap = define('zipmap', {
  params: [param('keys', listType(T.string)), param('values', dyn)],
  returnType: (args) => {
    const [ks, vs] = args as [Value, Value];
    if (vs.type.kind === 'list') return mapType(vs.type.element);
    if (vs.type.kind === 'tuple') {
      if (!isWhollyKnown(ks)) return dyn;
      const keyVals = elementsOf(ks);
      if (keyVals.length !== vs.type.elements.length) {
        throw fnError(
          `number of keys (${keyVals.length}) does not match number of values (${vs.type.elements.length})`,
        );
      }
      const attrs = new Map<string, HclType>();
      keyVals.forEach((k, i) => {
        if (isNull(k)) throw fnError(`keys list has null value at index ${i}`);
        attrs.set(asString(k), (vs.type as { elements: readonly HclType[] }).elements[i]!);
      });
      return objectType(attrs);
    }
    throw fnError('values argument must be a list or tuple value');
  },
  impl: (args, rt) => {
    const [ks, vs] = args as [Value, Value];
    const keyVals = elementsOf(ks);
    const vals = elementsOf(vs);
    if (keyVals.length !== vals.length) {
      throw fnError(
        `number of keys (${keyVals.length}) does not match number of values (${vals.length})`,
      );
    }
    const out = new Map<string, Value>();
    keyVals.forEach((k, i) => {
      out.set(asString(k), vals[i]!);
    });
    return rt.kind === 'map' ? map(out, rt.element) : object(out);
  },
});

/** The collection functions, by name. */
export const collectionFunctions: Record<string, FunctionDef> = {
  alltrue,
  anytrue,
  chunklist,
  coalesce,
  coalescelist,
  compact,
  concat,
  contains,
  distinct,
  element,
  flatten,
  index,
  keys,
  length,
  lookup,
  merge,
  range,
  reverse,
  setintersection: setOperation('setintersection', (a, b) => a.filter((x) => has(b, x)), false),
  setproduct,
  setunion: setOperation('setunion', (a, b) => [...a, ...b.filter((x) => !has(a, x))], true),
  slice,
  sort,
  sum,
  values,
  zipmap,
};
