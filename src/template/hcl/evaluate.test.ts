// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HCL source, where ${} is HCL syntax
import { describe, expect, it } from 'vitest';
import { formatRange } from './ast.js';
import { CAN_FUNCTION, type EvalContext, evaluate, TRY_FUNCTION } from './evaluate.js';
import { parseExpression } from './parser.js';
import {
  asString,
  type FunctionDef,
  HclDiagnosticError,
  list,
  listType,
  nullOf,
  num,
  object,
  set,
  str,
  T,
  tuple,
  UNKNOWN,
  unknownOf,
  type Value,
} from './value.js';

const upper: FunctionDef = {
  params: [{ name: 'str', type: T.string }],
  returnType: T.string,
  impl: ([s]) => str(asString(s!).toUpperCase()),
};
const concat: FunctionDef = {
  params: [],
  varParam: { name: 'strs', type: T.string },
  returnType: T.string,
  impl: (args) => str(args.map((a) => asString(a)).join('')),
};
const fail: FunctionDef = {
  params: [{ name: 'what', type: T.string }],
  returnType: T.string,
  impl: ([w]) => {
    throw new HclDiagnosticError('Invalid function argument', `bad ${asString(w!)}`, 0);
  },
};

const ctx: EvalContext = {
  variables: {
    var: object({
      name: str('web'),
      count: num(2),
      tags: list([str('a'), str('b')]),
      servers: list([object({ id: str('i-1') }), object({ id: str('i-2') })]),
      ids: set([str('y'), str('x')]),
      nothing: nullOf(T.string),
      later: unknownOf(T.string),
      obj: object({ k: num(1) }),
    }),
    local: object({ n: num(3) }),
  },
  functions: { upper, concat, fail, try: TRY_FUNCTION, can: CAN_FUNCTION },
};

/** The value as plain JSON-ish data; unknowns as "<unknown>". */
function plain(v: Value): unknown {
  if (v.raw === UNKNOWN) return '<unknown>';
  if (v.raw === null) return null;
  if (Array.isArray(v.raw)) return v.raw.map(plain);
  if (v.raw instanceof Map) return Object.fromEntries([...v.raw].map(([k, x]) => [k, plain(x)]));
  return v.raw;
}

function run(src: string, c: EvalContext = ctx) {
  const p = parseExpression(src, 'e.hcl');
  expect(p.diagnostics).toEqual([]);
  return evaluate(p.value, c);
}

function ok(src: string): unknown {
  const r = run(src);
  expect(r.diagnostics.map((d) => `${d.summary}: ${d.detail}`)).toEqual([]);
  return plain(r.value);
}

function err(src: string): string {
  const r = run(src);
  expect(r.diagnostics.length).toBeGreaterThan(0);
  const d = r.diagnostics[0]!;
  return `${formatRange(d.subject)}: ${d.summary}: ${d.detail}`;
}

describe('operators', () => {
  it('arithmetic with string conversion', () => {
    expect(ok('1 + 2 * 3 - 4 / 2')).toBe(5);
    expect(ok('"5" + 1')).toBe(6);
    expect(ok('-"5"')).toBe(-5);
    expect(ok('7 % -3')).toBe(1);
    expect(ok('-7 % 3')).toBe(-1);
    expect(ok('5 % 0')).toBe(5);
    expect(ok('1 / 0')).toBe(Number.POSITIVE_INFINITY);
  });
  it('decimal results as cty gives them', () => {
    expect(ok('0.1 + 0.2')).toBe(0.3);
    expect(ok('1.1 * 3')).toBe(3.3);
    expect(ok('1 / 3')).toBe(1 / 3);
  });
  it('comparison and logic', () => {
    expect(ok('1 < 2 && 2 >= 2 || false')).toBe(true);
    expect(ok('!true')).toBe(false);
    expect(ok('"true" && true')).toBe(true);
  });
  it('equality never converts', () => {
    expect(ok('1 == "1"')).toBe(false);
    expect(ok('null == null')).toBe(true);
    expect(ok('[1, "a"] == [1, "a"]')).toBe(true);
    expect(ok('{a = 1} != {a = 1}')).toBe(false);
    expect(ok('var.nothing == null')).toBe(true);
  });
  it('errors name the operand', () => {
    expect(err('"a" < 1')).toBe(
      'e.hcl:1,1-4: Invalid operand: Unsuitable value for left operand: a number is required.',
    );
    expect(run('"a" < "b"').diagnostics.length).toBe(2);
    expect(err('true && null')).toBe(
      'e.hcl:1,1-13: Operation failed: Error during operation: argument must not be null.',
    );
    expect(err('0 / 0')).toContain("can't divide zero by zero or infinity by infinity");
    expect(err('!1')).toBe(
      'e.hcl:1,2-3: Invalid operand: Unsuitable value for unary operand: bool required, but have number.',
    );
  });
  it('unknown operands give unknown results', () => {
    expect(ok('var.later == "x"')).toBe('<unknown>');
  });
});

describe('variables, attributes and indexes', () => {
  it('reads nested objects, lists and maps', () => {
    expect(ok('var.name')).toBe('web');
    expect(ok('var.tags[1]')).toBe('b');
    expect(ok('var.tags["0"]')).toBe('a');
    expect(ok('var.obj["k"]')).toBe(1);
    expect(ok('{a = {b = [10, 20]}}.a.b.1')).toBe(20);
  });
  it('unknown variables and attributes suggest the nearest name', () => {
    expect(err('vars.name')).toBe(
      'e.hcl:1,1-5: Unknown variable: There is no variable named "vars". Did you mean "var"?',
    );
    expect(err('var.nme')).toBe(
      'e.hcl:1,5-8: Unsupported attribute: This object does not have an attribute named "nme". Did you mean "name"?',
    );
  });
  it('attribute errors by value kind', () => {
    expect(err('var.name.x')).toContain(
      "Can't access attributes on a primitive-typed value (string).",
    );
    expect(err('var.nothing.x')).toContain('Attempt to get attribute from null value');
    expect(err('var.servers.id')).toContain(
      'Did you mean to access attribute "id" for a specific element of the list',
    );
    expect(err('{a = 1}["b"]')).toBe(
      'e.hcl:1,9-12: Invalid index: The given key does not identify an element in this collection value.',
    );
  });
  it('index errors', () => {
    expect(err('var.tags[2]')).toContain('greater than or equal to the length of the collection');
    expect(err('var.tags[-1]')).toContain('a negative number is not a valid index');
    expect(err('var.tags[0.5]')).toContain('the given index (0.5) has a fractional part');
    expect(err('var.tags["a"]')).toContain(': a number is required.');
    expect(err('var.ids[0]')).toContain('Elements of a set are identified only by their value');
    expect(err('var.tags[null]')).toContain("Can't use a null value as an indexing key.");
    expect(err('var.nothing[0]')).toContain('Attempt to index null value');
    expect(err('[][0]')).toContain('the collection has no elements');
  });
  it('no variables or functions where the context has none', () => {
    const p = parseExpression('a + f(1)', 'e.hcl').value;
    const r = evaluate(p, {});
    expect(r.diagnostics.map((d) => d.summary)).toEqual([
      'Variables not allowed',
      'Function calls not allowed',
    ]);
  });
  it('unknown values flow through attributes and indexes', () => {
    const c: EvalContext = { variables: { u: unknownOf(listType(T.string)) } };
    expect(plain(run('u[0]', c).value)).toBe('<unknown>');
    expect(run('u[0]', c).value.type).toEqual(T.string);
  });
});

describe('collections', () => {
  it('tuples and objects, keys from expressions', () => {
    expect(ok('[1, "a", true]')).toEqual([1, 'a', true]);
    expect(ok('{a = 1, "b c" = 2, (var.name) = 3, 4 = 5}')).toEqual({
      a: 1,
      'b c': 2,
      web: 3,
      '4': 5,
    });
    expect(ok('{a = 1, a = 2}')).toEqual({ a: 2 });
    expect(err('{(null) = 1}')).toContain("Null value as key: Can't use a null value as a key.");
    expect(err('{([]) = 1}')).toContain(
      "Incorrect key type: Can't use this value as a key: string required",
    );
  });
});

describe('for expressions', () => {
  it('over lists, maps (sorted) and sets', () => {
    expect(ok('[for x in var.tags: upper(x)]')).toEqual(['A', 'B']);
    expect(ok('[for i, x in var.tags: i]')).toEqual([0, 1]);
    expect(ok('[for k, v in {b = 1, a = 2}: k]')).toEqual(['a', 'b']);
    expect(ok('[for k, v in var.ids: "${k}${v}"]')).toEqual(['xx', 'yy']);
    expect(ok('{for i, v in ["a", "b"]: v => i}')).toEqual({ a: 0, b: 1 });
    expect(ok('[for i, v in ["a", "b", "c"]: v if i < 2]')).toEqual(['a', 'b']);
  });
  it('grouping', () => {
    expect(ok('{for i, v in ["a", "a", "b"]: v => i...}')).toEqual({ a: [0, 1], b: [2] });
  });
  it('errors', () => {
    expect(err('{for i, v in ["a", "a"]: v => i}')).toBe(
      `e.hcl:1,26-27: Duplicate object key: Two different items produced the key "a" in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key.`,
    );
    expect(err('[for x in null: x]')).toContain('Iteration over null value');
    expect(err('[for x in 1: x]')).toContain(
      'A value of type number cannot be used as the collection',
    );
    expect(err('[for x in [1]: x if x]')).toContain(
      "The 'if' clause value is invalid: bool required",
    );
    expect(err('[for x in [1]: x if null]')).toContain('Condition is null');
    expect(err('{for x in [null]: x => 1}')).toContain('Invalid object key');
  });
  it('an unknown collection gives an unknown result', () => {
    const c: EvalContext = { variables: { u: unknownOf(listType(T.string)) } };
    expect(plain(run('[for x in u: x]', c).value)).toBe('<unknown>');
  });
  it('for-bound names shadow outer ones', () => {
    expect(ok('[for var in [1]: var]')).toEqual([1]);
  });
});

describe('splats', () => {
  it('full and attribute-only', () => {
    expect(ok('var.servers[*].id')).toEqual(['i-1', 'i-2']);
    expect(ok('var.servers.*.id')).toEqual(['i-1', 'i-2']);
    expect(ok('[{a = [1]}, {a = [2]}][*].a[0]')).toEqual([1, 2]);
    expect(ok('[{a = [1]}, {a = [2]}].*.a[0]')).toEqual([1]);
  });
  it('a scalar becomes a one-element tuple, null an empty one', () => {
    expect(ok('"x"[*]')).toEqual(['x']);
    expect(ok('var.obj[*].k')).toEqual([1]);
    expect(ok('null[*]')).toEqual([]);
  });
  it('a list splat gives a list; a null list is an error', () => {
    expect(run('var.tags[*]').value.type).toEqual(listType(T.string));
    const c: EvalContext = { variables: { l: nullOf(listType(T.string)) } };
    expect(run('l[*]', c).diagnostics[0]!.summary).toBe('Splat of null value');
  });
  it('an empty list splat keeps the element type', () => {
    const c: EvalContext = { variables: { l: list([], listType(T.number)) } };
    expect(run('l[*][0]', c).value).toEqual(list([], T.number));
  });
});

describe('conditionals', () => {
  it('unifies result types', () => {
    expect(ok('true ? 1 : "a"')).toBe('1');
    expect(ok('false ? 1 : "a"')).toBe('a');
    expect(ok('true ? null : "a"')).toBe(null);
  });
  it('errors only from the chosen branch', () => {
    expect(ok('false ? var.tags[5] : "safe"')).toBe('safe');
    expect(err('true ? var.tags[5] : "safe"')).toContain('Invalid index');
  });
  it('condition errors and mismatched types', () => {
    expect(err('"maybe" ? 1 : 2')).toBe(
      'e.hcl:1,1-8: Incorrect condition type: The condition expression must be of type bool.',
    );
    expect(err('null ? 1 : 2')).toContain('Null condition');
    expect(err('true ? {} : "a"')).toBe(
      'e.hcl:1,8-16: Inconsistent conditional result types: The true and false result expressions must have consistent types. The given expressions are object and string, respectively.',
    );
  });
  it('an unknown condition gives an unknown of the unified type', () => {
    const r = run('var.later == "x" ? 1 : 2');
    expect(r.value).toEqual(unknownOf(T.number));
  });
});

describe('templates', () => {
  it('interpolation converts to string; a lone one is unwrapped', () => {
    expect(ok('"${var.name}-${var.count}-${true}"')).toBe('web-2-true');
    expect(ok('"${var.count}"')).toBe(2);
    expect(ok('"${var.tags}"')).toEqual(['a', 'b']);
  });
  it('directives', () => {
    expect(ok('"%{if var.count > 1}many%{else}one%{endif}"')).toBe('many');
    expect(ok('"%{ for t in var.tags }[${t}]%{ endfor }"')).toBe('[a][b]');
    expect(ok('"%{ for v in ["a", "b"] ~} ${v} %{~ endfor }"')).toBe('ab');
    expect(ok('"  ${~ "x" ~}  "')).toBe('x');
    expect(ok('"%{ for v in [true] }${v}%{ endfor }"')).toBe('true');
  });
  it('heredoc rendering', () => {
    // strip markers act before <<- measures indentation: the stripped line start counts as
    // zero spaces, so nothing is removed (Packer 1.6.6 prints the same)
    expect(
      ok(
        '<<-EOT\n  name: ${var.name}\n  %{~ for t in var.tags ~}\n  - ${t}\n  %{~ endfor ~}\n  EOT\n',
      ),
    ).toBe('  name: web\n  - a\n  - b\n');
    // a tab counts as one space
    expect(ok('<<-EOT\n    a\n\tb\n    EOT\n')).toBe('   a\nb\n');
    expect(ok('<<-EOT\n    a\n      b\n    EOT\n')).toBe('a\n  b\n');
  });
  it('errors', () => {
    expect(err('"x${var.nothing}"')).toBe(
      'e.hcl:1,5-16: Invalid template interpolation value: The expression result is null. Cannot include a null value in a string template.',
    );
    expect(err('"x${var.tags}"')).toContain(
      'Cannot include the given value in a string template: string required',
    );
  });
  it('an unknown part makes the string unknown', () => {
    expect(run('"x${var.later}"').value).toEqual(unknownOf(T.string));
  });
});

describe('function calls', () => {
  it('calls with converted arguments and expansion', () => {
    expect(ok('upper(var.count)')).toBe('2');
    expect(ok('concat("a", var.tags...)')).toBe('aab');
    expect(ok('concat(["x", "y"]...)')).toBe('xy');
  });
  it('arity errors as HCL words them', () => {
    expect(err('upper()')).toBe(
      'e.hcl:1,7-8: Not enough function arguments: Function "upper" expects 1 argument(s). Missing value for "str".',
    );
    expect(err('upper("a", "b")')).toBe(
      'e.hcl:1,12-15: Too many function arguments: Function "upper" expects only 1 argument(s).',
    );
  });
  it('argument errors point at the argument', () => {
    expect(err('upper("ok") == upper(null)')).toBe(
      'e.hcl:1,22-26: Invalid function argument: Invalid value for "str" parameter: argument must not be null.',
    );
    expect(err('upper([])')).toContain('Invalid value for "str" parameter: string required');
    expect(err('fail("x")')).toBe('e.hcl:1,6-9: Invalid function argument: bad x');
  });
  it('unknown functions suggest the nearest', () => {
    expect(err('uper("a")')).toBe(
      'e.hcl:1,1-5: Call to unknown function: There is no function named "uper". Did you mean "upper"?',
    );
  });
  it('expansion errors', () => {
    expect(err('concat(null...)')).toContain('must not be null');
    expect(err('concat("a"...)')).toContain('must be of a tuple, list, or set type');
  });
  it('unknown arguments give an unknown result', () => {
    expect(run('upper(var.later)').value).toEqual(unknownOf(T.string));
  });
  it('try and can', () => {
    expect(ok('try(var.tags[5], var.nope, "fallback")')).toBe('fallback');
    expect(ok('try(var.tags[0], "fallback")')).toBe('a');
    expect(ok('can(var.tags[5])')).toBe(false);
    expect(ok('can(var.tags[1])')).toBe(true);
    expect(err('try(var.tags[5])')).toContain('no expression succeeded');
  });
});

describe('values built by the evaluator', () => {
  it('are the value model`s values', () => {
    expect(run('[1, "a"]').value).toEqual(tuple([num(1), str('a')]));
    expect(run('{b = 1, a = 2}').value).toEqual(object({ a: num(2), b: num(1) }));
  });
});

describe('pathological input', () => {
  it('a chain of 100,000 operators ends in a diagnostic, not a stack overflow', () => {
    const p = parseExpression(Array(100_000).fill('1').join(' + '), 'long.hcl');
    expect(p.diagnostics).toEqual([]);
    const r = evaluate(p.value, {});
    expect(r.diagnostics.map((d) => d.summary)).toEqual(['Expression too complex']);
    expect(r.value.raw).toBe(UNKNOWN);
  });
  it('150 nested tuples evaluate', () => {
    const r = run(`${'['.repeat(150)}1${']'.repeat(150)}`);
    expect(r.diagnostics).toEqual([]);
  });
});
