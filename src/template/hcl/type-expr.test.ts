import { describe, expect, it } from 'vitest';
import { formatRange } from './ast.js';
import { parseExpression } from './parser.js';
import { typeConstraint } from './type-expr.js';
import {
  listType,
  mapType,
  num,
  objectType,
  setType,
  str,
  T,
  tupleType,
  typeExpression,
} from './value.js';

function read(src: string) {
  const p = parseExpression(src, 'v.pkr.hcl');
  expect(p.diagnostics).toEqual([]);
  return typeConstraint(p.value);
}

describe('type constraints', () => {
  it('keywords and constructors', () => {
    expect(read('string').type).toEqual(T.string);
    expect(read('any').type).toEqual(T.dynamic);
    expect(read('list(number)').type).toEqual(listType(T.number));
    expect(read('map(set(bool))').type).toEqual(mapType(setType(T.bool)));
    expect(read('tuple([string, number])').type).toEqual(tupleType([T.string, T.number]));
    expect(read('object({ name = string, tags = map(string) })').type).toEqual(
      objectType({ name: T.string, tags: mapType(T.string) }),
    );
  });
  it('optional attributes and their defaults', () => {
    const r = read('object({ a = string, b = optional(number, 3), c = optional(list(string)) })');
    expect(r.diagnostics).toEqual([]);
    expect(typeExpression(r.type)).toBe(
      'object({a=string, b=optional(number), c=optional(list(string))})',
    );
    expect(r.defaults).toEqual([{ path: ['b'], value: num(3) }]);
    expect(read('list(object({ x = optional(string, "d") }))').defaults).toEqual([
      { path: ['*', 'x'], value: str('d') },
    ]);
  });
  const bad: [string, string, string][] = [
    [
      'list',
      'v.pkr.hcl:1,1-5',
      'The list type constructor requires one argument specifying the element type.',
    ],
    ['strin', 'v.pkr.hcl:1,1-6', 'The keyword "strin" is not a valid type specification.'],
    ['string()', 'v.pkr.hcl:1,1-9', 'Primitive type keyword "string" does not expect arguments.'],
    [
      'list(string, number)',
      'v.pkr.hcl:1,14-20',
      'The list type constructor requires one argument specifying the element type.',
    ],
    ['lst(string)', 'v.pkr.hcl:1,1-12', 'Keyword "lst" is not a valid type constructor.'],
    [
      '"string"',
      'v.pkr.hcl:1,1-9',
      'A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).',
    ],
    [
      'object({ "a" = string })',
      'v.pkr.hcl:1,10-13',
      'Object constructor map keys must be attribute names.',
    ],
    [
      'object({ a = string, a = number })',
      'v.pkr.hcl:1,22-23',
      'Object constructor map keys must be unique.',
    ],
    [
      'object([string])',
      'v.pkr.hcl:1,8-16',
      'Object type constructor requires a map whose keys are attribute names and whose values are the corresponding attribute types.',
    ],
    [
      'tuple(string)',
      'v.pkr.hcl:1,7-13',
      'Tuple type constructor requires a list of element types.',
    ],
  ];
  for (const [src, where, detail] of bad) {
    it(`rejects ${src}`, () => {
      const r = read(src);
      expect(
        r.diagnostics.map((d) => `${formatRange(d.subject)}: ${d.summary}: ${d.detail}`),
      ).toEqual([`${where}: Invalid type specification: ${detail}`]);
    });
  }
});
