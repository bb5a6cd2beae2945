import { describe, expect, it } from 'vitest';
import {
  asString,
  ConversionError,
  callFunction,
  canConvert,
  convert,
  DYNAMIC,
  elementsOf,
  equals,
  FALSE,
  type FunctionDef,
  formatNumber,
  HclDiagnosticError,
  list,
  listType,
  map,
  mapType,
  mismatchMessage,
  nullOf,
  num,
  object,
  objectType,
  parseNumber,
  set,
  setType,
  str,
  T,
  TRUE,
  tuple,
  tupleType,
  typeEquals,
  typeExpression,
  UNKNOWN,
  unify,
  unknownOf,
} from './value.js';

describe('primitive conversion', () => {
  it('number and bool to string', () => {
    expect(convert(num(1.5), T.string)).toEqual(str('1.5'));
    expect(convert(num(1e21), T.string)).toEqual(str('1000000000000000000000'));
    expect(convert(num(1e-7), T.string)).toEqual(str('0.0000001'));
    expect(convert(TRUE, T.string)).toEqual(str('true'));
  });
  it('string to number accepts decimals and exponents only', () => {
    expect(convert(str('42'), T.number)).toEqual(num(42));
    expect(convert(str('-1.5e2'), T.number)).toEqual(num(-150));
    expect(() => convert(str('0x10'), T.number)).toThrow('a number is required');
    expect(() => convert(str(' 1'), T.number)).toThrow(ConversionError);
  });
  it('string to bool as cty: true/false/1/0, a hint for capitalised', () => {
    expect(convert(str('1'), T.bool)).toEqual(TRUE);
    expect(convert(str('false'), T.bool)).toEqual(FALSE);
    expect(() => convert(str('True'), T.bool)).toThrow('use lowercase "true"');
    expect(() => convert(str('yes'), T.bool)).toThrow('a bool is required');
  });
  it('number to bool is not allowed', () => {
    expect(() => convert(num(1), T.bool)).toThrow('bool required, but have number');
  });
});

describe('structural conversion', () => {
  it('tuple to list unifies element types (string wins)', () => {
    const v = convert(tuple([num(1), str('a')]), listType(T.dynamic));
    expect(v).toEqual(list([str('1'), str('a')]));
  });
  it('tuple to list(number) converts each element', () => {
    expect(convert(tuple([str('1'), num(2)]), listType(T.number))).toEqual(list([num(1), num(2)]));
  });
  it('tuple of object and string has no list type', () => {
    expect(() => convert(tuple([object({}), str('a')]), listType(T.dynamic))).toThrow(
      'all list elements must have the same type',
    );
  });
  it('object to map and map to object', () => {
    const o = object({ b: num(2), a: str('x') });
    expect(convert(o, mapType(T.string))).toEqual(map({ a: str('x'), b: str('2') }));
    const m = map({ a: str('1') });
    expect(convert(m, objectType({ a: T.number }))).toEqual(object({ a: num(1) }));
    expect(() => convert(m, objectType({ a: T.number, c: T.string }))).toThrow(
      'map has no element for required attribute "c"',
    );
  });
  it('optional attributes are filled with null', () => {
    const got = convert(object({ a: num(1) }), objectType({ a: T.number, b: T.string }, ['b']));
    expect(got).toEqual(object({ a: num(1), b: nullOf(T.string) }));
  });
  it('object to object drops extra attributes and reports missing ones', () => {
    expect(convert(object({ a: num(1), x: TRUE }), objectType({ a: T.string }))).toEqual(
      object({ a: str('1') }),
    );
    expect(() => convert(object({}), objectType({ a: T.string }))).toThrow(
      'attribute "a" is required',
    );
  });
  it('list to set deduplicates and orders', () => {
    const v = convert(list([str('b'), str('a'), str('b')]), setType(T.string));
    expect(v).toEqual(set([str('a'), str('b')]));
    expect((v.raw as unknown[]).length).toBe(2);
  });
  it('null and unknown convert to null and unknown of the target type', () => {
    expect(convert(nullOf(T.dynamic), T.string)).toEqual(nullOf(T.string));
    expect(convert(DYNAMIC, listType(T.number))).toEqual(unknownOf(listType(T.number)));
    expect(convert(unknownOf(T.number), T.string)).toEqual(unknownOf(T.string));
  });
  it('anything converts to dynamic unchanged', () => {
    const t = tuple([num(1)]);
    expect(convert(t, T.dynamic)).toBe(t);
  });
  it('conversion errors carry a path', () => {
    try {
      convert(tuple([num(1), str('x')]), listType(T.number));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConversionError);
      expect((err as ConversionError).path).toBe('[1]');
    }
  });
  it('canConvert', () => {
    expect(canConvert(T.string, T.number)).toBe(true);
    expect(canConvert(T.string, T.number, false)).toBe(false);
    expect(canConvert(listType(T.string), setType(T.string), false)).toBe(false);
    expect(canConvert(T.bool, T.number)).toBe(false);
  });
});

describe('unify', () => {
  it('prefers string among primitives', () => {
    expect(unify([T.number, T.string, T.bool])).toEqual(T.string);
  });
  it('tuples of different lengths unify to a list', () => {
    expect(unify([tupleType([T.string]), tupleType([T.string, T.string])])).toEqual(
      listType(T.string),
    );
  });
  it('objects with different attributes unify to a map', () => {
    expect(unify([objectType({ a: T.string }), objectType({ b: T.number })])).toEqual(
      mapType(T.string),
    );
  });
  it('dynamic with a collection gives dynamic; nothing for object+tuple', () => {
    expect(unify([listType(T.string), T.dynamic])).toEqual(T.dynamic);
    expect(unify([objectType({}), tupleType([])])).toBeUndefined();
  });
});

describe('equality', () => {
  it('different types are never equal; nulls always are', () => {
    expect(equals(num(1), str('1'))).toEqual(FALSE);
    expect(equals(nullOf(T.string), nullOf(T.number))).toEqual(TRUE);
    expect(equals(nullOf(T.string), str(''))).toEqual(FALSE);
  });
  it('deep equality of tuples and objects', () => {
    expect(equals(tuple([num(1), str('a')]), tuple([num(1), str('a')]))).toEqual(TRUE);
    expect(equals(object({ a: num(1) }), object({ a: num(2) }))).toEqual(FALSE);
  });
  it('unknown makes the answer unknown unless types already differ', () => {
    expect(equals(unknownOf(T.number), num(1)).raw).toBe(UNKNOWN);
    expect(equals(unknownOf(T.number), str('1'))).toEqual(FALSE);
    expect(equals(DYNAMIC, str('1')).raw).toBe(UNKNOWN);
    expect(equals(tuple([unknownOf(T.number)]), tuple([num(1)])).raw).toBe(UNKNOWN);
  });
});

describe('types and numbers as text', () => {
  it('typeExpression and typeEquals', () => {
    const t = objectType({ b: listType(T.string), a: T.dynamic });
    expect(typeExpression(t)).toBe('object({a=any, b=list(string)})');
    expect(typeEquals(t, objectType({ a: T.dynamic, b: listType(T.string) }))).toBe(true);
    expect(typeEquals(listType(T.string), setType(T.string))).toBe(false);
  });
  it('formatNumber never uses an exponent', () => {
    expect(formatNumber(-2.5e-3)).toBe('-0.0025');
    expect(formatNumber(1.25e22)).toBe('12500000000000000000000');
    expect(formatNumber(-0)).toBe('0');
    expect(formatNumber(123)).toBe('123');
  });
  it('parseNumber', () => {
    expect(parseNumber('.5')).toBe(0.5);
    expect(parseNumber('1e')).toBeUndefined();
    expect(parseNumber('Infinity')).toBeUndefined();
  });
  it('mismatch messages as cty words them', () => {
    expect(mismatchMessage(T.bool, T.number)).toBe('number required, but have bool');
    expect(mismatchMessage(tupleType([T.string]), mapType(T.string))).toBe(
      'map of string required',
    );
  });
  it('a list of mixed element types is refused', () => {
    expect(() => list([num(1), str('a')])).toThrow(HclDiagnosticError);
  });
});

describe('callFunction', () => {
  const upper: FunctionDef = {
    params: [{ name: 'str', type: T.string }],
    returnType: T.string,
    impl: ([s]) => str((s!.raw as string).toUpperCase()),
  };
  const join: FunctionDef = {
    params: [{ name: 'separator', type: T.string }],
    varParam: { name: 'lists', type: listType(T.string) },
    returnType: T.string,
    impl: ([sep, ...lists]) =>
      str(
        lists
          .flatMap((l) => elementsOf(l))
          .map((e) => asString(e))
          .join(asString(sep!)),
      ),
  };
  it('converts arguments to parameter types', () => {
    expect(callFunction(upper, [num(1)])).toEqual(str('1'));
    expect(callFunction(join, [str(','), tuple([str('a'), num(2)])])).toEqual(str('a,2'));
  });
  it('arity errors', () => {
    expect(() => callFunction(upper, [])).toThrow('Not enough function arguments');
    expect(() => callFunction(upper, [str('a'), str('b')])).toThrow('Too many function arguments');
  });
  it('a null argument is refused, pointing at the argument', () => {
    try {
      callFunction(join, [str(','), nullOf(listType(T.string))]);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HclDiagnosticError);
      expect((err as HclDiagnosticError).argIndex).toBe(1);
      expect((err as HclDiagnosticError).detail).toBe(
        'Invalid value for "lists" parameter: argument must not be null.',
      );
    }
  });
  it('a non-convertible argument names the parameter', () => {
    expect(() => callFunction(upper, [tuple([])])).toThrow(
      'Invalid value for "str" parameter: string required',
    );
  });
  it('unknown arguments give an unknown result of the return type', () => {
    expect(callFunction(upper, [unknownOf(T.string)])).toEqual(unknownOf(T.string));
    expect(callFunction(upper, [DYNAMIC])).toEqual(DYNAMIC);
  });
});

describe('sets and numbers at scale', () => {
  it('deduplicates 20,000 elements quickly and keeps the infinities apart', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => str(String(i % 5000)));
    const t0 = performance.now();
    const s = set(many);
    expect((s.raw as unknown[]).length).toBe(5000);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(
      (set([num(Number.POSITIVE_INFINITY), num(Number.NEGATIVE_INFINITY)]).raw as unknown[]).length,
    ).toBe(2);
  });
  it('a long digit string that is not a number fails fast', () => {
    const t0 = performance.now();
    expect(parseNumber(`${'1'.repeat(50_000)}x`)).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
