// yamldecode/yamlencode beyond what packer-compat.test.ts checks against Packer 1.6.6's own
// answers: where kiln follows today's go-cty-yaml, how errors are placed, unknown values.
import { describe, expect, it } from 'vitest';
import { HclDiagnosticError, isKnown, T, unknownOf, type Value } from '../value.js';
import { callWith, type Literal, lit, testTable } from './test-helpers.js';
import { jsonMarshal } from './values.js';

const table = testTable();
const call = (name: string, ...args: Array<Literal | Value>) => callWith(table, name, ...args);

function detail(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof HclDiagnosticError) return e.detail;
    throw e;
  }
  throw new Error('expected an HclDiagnosticError');
}

describe('yamldecode', () => {
  it('gives null for a document that is only null (today’s go-cty-yaml; 1.6.6 gave unknown)', () => {
    for (const src of ['~', '---', 'null', '--- ~\n...']) {
      const v = call('yamldecode', src);
      expect(v.raw, src).toBeNull();
    }
  });

  it('reads the YAML infinities (which jsonencode then refuses, as cty does)', () => {
    const v = call('yamldecode', 'a: .inf\nb: -.Inf');
    const m = v.raw as ReadonlyMap<string, Value>;
    expect([m.get('a')!.raw, m.get('b')!.raw]).toEqual([Infinity, -Infinity]);
    expect(detail(() => call('jsonencode', v))).toBe(
      'Call to function "jsonencode" failed: cannot serialize infinity as JSON.',
    );
  });

  it('converts an untagged block scalar to a string, as its implied type says', () => {
    expect(jsonMarshal(call('yamldecode', 'a: >-\n  1.50\nb: >-\n  yes\nc: |\n  x\n'))).toBe(
      '{"a":"1.5","b":"true","c":"x\\n"}',
    );
  });

  it('names the line and column of the problem, counting from 1', () => {
    expect(detail(() => call('yamldecode', 'a: 1\nb:\n  c: 2\n  ~: 3\n'))).toBe(
      'Call to function "yamldecode" failed: on line 4, column 3: mapping key cannot be null.',
    );
    expect(detail(() => call('yamldecode', 'x: [1, 2]\ny: *nope'))).toBe(
      'Call to function "yamldecode" failed: on line 2, column 4: reference to undefined anchor "nope".',
    );
    expect(detail(() => call('yamldecode', 'a: 1\n--- 2'))).toMatch(
      /on line 2, column 1: unexpected extra content after value\.$/,
    );
    expect(detail(() => call('yamldecode', 'a: [1, 2\nb: 3'))).toMatch(
      /^Call to function "yamldecode" failed: on line \d+, column \d+: /,
    );
  });

  it('types mappings as objects and sequences as tuples, so they convert as HCL literals do', () => {
    const v = call('yamldecode', 'a: [1, x, true]\nb: {c: ~}');
    expect(v.type.kind).toBe('object');
    const a = (v.raw as ReadonlyMap<string, Value>).get('a')!;
    expect(a.type.kind).toBe('tuple');
    expect(jsonMarshal(v)).toBe('{"a":[1,"x",true],"b":{"c":null}}');
  });

  it('is unknown for an unknown argument', () => {
    expect(isKnown(call('yamldecode', unknownOf(T.string)))).toBe(false);
    expect(isKnown(call('yamlencode', unknownOf(T.string)))).toBe(false);
  });
});

describe('yamlencode', () => {
  it('reads back as the same value (decode ∘ encode), through literal blocks and folded lines', () => {
    const value = {
      list: ['a', ['b', 'c'], { d: 'e' }],
      text: 'line 1\nline 2\n',
      long: Array(40).fill('word').join(' '),
      spaced: ' lead\n',
      keep: 'x\n\n',
      n: 1.5,
      t: true,
      z: null,
      empty: [],
      none: {},
    };
    const yaml = call('yamlencode', value);
    expect(jsonMarshal(call('yamldecode', yaml))).toBe(jsonMarshal(lit(value)));
  });
});
