// biome-ignore-all lint/suspicious/noTemplateCurlyInString: HCL template text, not JavaScript
/**
 * The function library beyond what Packer 1.6.6 can be asked (packer-compat.test.ts covers
 * that): functions newer than 1.6.6 with the examples of Packer's documentation
 * (developer.hashicorp.com/packer/docs/templates/hcl_templates/functions), today's go-cty
 * behaviour where 1.6.6 differs, nulls, unknowns, wrong types and the table's shape.
 */
import { constants, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluate } from '../evaluate.js';
import { parseExpression } from '../parser.js';
import {
  asString,
  callFunction,
  DYNAMIC,
  HclDiagnosticError,
  isKnown,
  list,
  listType,
  nullOf,
  num,
  set,
  setType,
  str,
  T,
  unknownOf,
  type Value,
} from '../value.js';
import { bcryptBase64Decode, bcryptHash } from './bcrypt.js';
import { compileGoRegexp, goFindAll } from './go-regexp.js';
import {
  convertTo,
  functions,
  makeFunctions,
  OMITTED_FUNCTIONS,
  variableDefaultFunctions,
} from './index.js';
import { callWith, type Literal, lit, testTable } from './test-helpers.js';
import { jsonMarshal } from './values.js';

const table = testTable();
const call = (name: string, ...args: Array<Literal | Value>) => callWith(table, name, ...args);
const json = (name: string, ...args: Array<Literal | Value>) => jsonMarshal(call(name, ...args));

function failure(f: () => unknown): HclDiagnosticError {
  try {
    f();
  } catch (e) {
    if (e instanceof HclDiagnosticError) return e;
    throw e;
  }
  throw new Error('expected an HclDiagnosticError');
}

describe('the table', () => {
  it('has every function of Packer’s list but the remote ones', () => {
    const packer =
      `abs abspath alltrue anytrue base64decode base64encode base64gzip bcrypt can ceil chomp
      chunklist cidrhost cidrnetmask cidrsubnet cidrsubnets coalesce coalescelist compact concat contains
      convert csvdecode dirname distinct element endswith file filebase64 fileexists fileset flatten floor
      format formatdate formatlist indent index join jsondecode jsonencode keys legacy_isotime
      legacy_strftime length log lookup lower max md5 merge min parseint pathexpand pow range reverse
      replace regex regexall regex_replace rfc3339_parse rsadecrypt setintersection setproduct setunion
      sha1 sha256 sha512 signum slice sort split startswith strcontains strrev substr sum
      textdecodebase64 textencodebase64 timestamp timeadd title trim trimprefix trimspace trimsuffix try
      unix_timestamp_parse upper urlencode uuidv4 uuidv5 values yamldecode yamlencode zipmap
      templatefile basename`.split(/\s+/);
    // convert takes a type expression: the evaluator decodes it and calls convertTo.
    expect(packer.filter((name) => !(name in functions))).toEqual(['convert']);
    expect(Object.keys(OMITTED_FUNCTIONS).sort()).toEqual(
      ['aws_secretsmanager', 'aws_secretsmanager_raw', 'consul_key', 'vault'].sort(),
    );
  });

  it('names the parameter of a wrong argument, as HCL does', () => {
    expect(failure(() => call('upper', null)).detail).toBe(
      'Invalid value for "str" parameter: argument must not be null.',
    );
    expect(failure(() => call('join', ',', 'x')).detail).toMatch(
      /^Invalid value for "lists" parameter/,
    );
    expect(failure(() => call('substr', 'abc', 1.5, 1)).detail).toBe(
      'Call to function "substr" failed: value must be a whole number, between -9223372036854775808 and 9223372036854775807.',
    );
    expect(failure(() => call('upper')).summary).toBe('Not enough function arguments');
  });

  it('gives unknown for unknown arguments, and checks types first', () => {
    expect(isKnown(call('upper', unknownOf(T.string)))).toBe(false);
    // upper takes dynamic-typed arguments (its result is a string); trimspace does not.
    expect(call('upper', DYNAMIC)).toEqual(unknownOf(T.string));
    expect(call('trimspace', DYNAMIC)).toEqual(DYNAMIC);
    expect(call('length', unknownOf(listType(T.string)))).toEqual(unknownOf(T.number));
    expect(call('keys', unknownOf({ kind: 'map', element: T.string }))).toEqual(
      unknownOf(listType(T.string)),
    );
    expect(call('format', 'a%s', unknownOf(T.string))).toEqual(unknownOf(T.string));
    expect(call('jsonencode', unknownOf(T.string))).toEqual(unknownOf(T.string));
  });

  it('env() reads the environment, for variable defaults only', () => {
    process.env.KILN_H7_TEST = 'v';
    expect(asString(callFunction(variableDefaultFunctions.env!, [str('KILN_H7_TEST')]))).toBe('v');
    expect(asString(callFunction(variableDefaultFunctions.env!, [str('KILN_H7_UNSET_X')]))).toBe(
      '',
    );
    expect(table.env).toBeUndefined();
  });
});

describe('string functions newer than Packer 1.6.6', () => {
  it('startswith, endswith, strcontains', () => {
    expect(json('startswith', 'hello world', 'hello')).toBe('true');
    expect(json('startswith', 'hello world', 'world')).toBe('false');
    expect(json('endswith', 'hello world', 'world')).toBe('true');
    expect(json('endswith', 'hello world', 'hello')).toBe('false');
    expect(json('strcontains', 'hello world', 'wor')).toBe('true');
    expect(json('strcontains', 'hello world', 'wod')).toBe('false');
  });

  it('regex: a match, tuple of groups, object of named groups', () => {
    expect(json('regex', '[a-z]+', '53453453.345345aaabbbccc23454')).toBe('"aaabbbccc"');
    expect(json('regex', '(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)', '2019-02-01')).toBe(
      '["2019","02","01"]',
    );
    expect(
      json(
        'regex',
        '^(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?',
        'https://terraform.io/docs/',
      ),
    ).toBe('{"authority":"terraform.io","scheme":"https"}');
    expect(json('regex', '(a)|(b)', 'b')).toBe('[null,"b"]');
    expect(failure(() => call('regex', '[a-z]+', '12345')).detail).toBe(
      'Call to function "regex" failed: pattern did not match any part of the given string.',
    );
    expect(failure(() => call('regex', '(a)(?P<n>b)', 'ab')).detail).toBe(
      'Invalid value for "pattern" parameter: invalid regexp pattern: cannot mix both named and unnamed capture groups.',
    );
    expect(failure(() => call('regex', '(a', 'ab')).detail).toBe(
      'Invalid value for "pattern" parameter: invalid regexp pattern: missing closing ) in (a.',
    );
  });

  it('regexall: every match, Go’s rule for empty matches', () => {
    expect(json('regexall', '[a-z]+', '1234abcd5678efgh9')).toBe('["abcd","efgh"]');
    expect(json('length', call('regexall', '[a-z]+', '123456789'))).toBe('0');
    expect(json('regexall', 'a*', 'baaab')).toBe('["","aaa",""]');
    expect(json('regexall', '(\\w)=(\\d)', 'a=1 b=2')).toBe('[["a","1"],["b","2"]]');
  });

  it('translates RE2 to JavaScript: flags, classes, escapes', () => {
    const all = (p: string, s: string) => goFindAll(compileGoRegexp(p), s).map((m) => m.text);
    expect(all('(?i)ab', 'AB ab aB')).toEqual(['AB', 'ab', 'aB']);
    expect(all('a(?i:b)c', 'abc aBc ABC')).toEqual(['abc', 'aBc']);
    expect(all('(?s)a.b', 'a\nb')).toEqual(['a\nb']);
    expect(all('a.b', 'a\nb a\rb')).toEqual(['a\rb']);
    expect(all('\\pL+', 'héllo wörld 42')).toEqual(['héllo', 'wörld']);
    expect(all('\\p{Greek}+', 'abc αβγ')).toEqual(['αβγ']);
    expect(all('[[:digit:][:upper:]]+', 'ab12CDef')).toEqual(['12CD']);
    expect(all('[^[:alpha:]]+', 'ab12-c')).toEqual(['12-']);
    expect(all('\\Qa.b\\E', 'axb a.b')).toEqual(['a.b']);
    expect(all('\\x41\\x{42}\\101', 'ABA')).toEqual(['ABA']);
    expect(all('\\s+', 'a\u00a0 \tb')).toEqual([' \t']);
    expect(all('\\Aa|b\\z', 'aab')).toEqual(['a', 'b']);
    expect(all('(?U)a+', 'aaa')).toEqual(['a', 'a', 'a']);
    expect(all('\\#\\@', '#@')).toEqual(['#@']);
    expect(() => compileGoRegexp('a**')).toThrow('invalid nested repetition operator');
    expect(() => compileGoRegexp('\\1')).toThrow('invalid escape sequence');
    expect(() => compileGoRegexp('(?<=a)b')).toThrow();
    expect(() => compileGoRegexp('[a')).toThrow('missing closing ]');
    expect(() => compileGoRegexp('x{1001}')).toThrow('invalid repeat count');
  });
});

describe('collection functions newer than Packer 1.6.6, and today’s go-cty', () => {
  it('sum', () => {
    expect(json('sum', [10, 13, 6, 4.5])).toBe('33.5');
    expect(json('sum', [0.1, 0.2])).toBe('0.3');
    expect(failure(() => call('sum', [])).detail).toBe(
      'Invalid value for "list" parameter: cannot sum an empty list.',
    );
    expect(failure(() => call('sum', ['a'])).detail).toBe(
      'Invalid value for "list" parameter: argument must be list, set, or tuple of number values.',
    );
    expect(failure(() => call('sum', { a: 1 })).detail).toBe(
      'Invalid value for "list" parameter: argument must be list, set, or tuple. Received object.',
    );
    expect(failure(() => call('sum', 1)).detail).toBe(
      'Invalid value for "list" parameter: cannot sum noniterable.',
    );
  });

  it('alltrue, anytrue', () => {
    expect(json('alltrue', ['true', true])).toBe('true');
    expect(json('alltrue', [true, false])).toBe('false');
    expect(json('alltrue', [])).toBe('true');
    expect(json('anytrue', ['true'])).toBe('true');
    expect(json('anytrue', [true, false])).toBe('true');
    expect(json('anytrue', [])).toBe('false');
    expect(failure(() => call('alltrue', ['x'])).summary).toBe('Invalid function argument');
  });

  it('index finds a value’s position (Packer’s own, not go-cty’s)', () => {
    expect(json('index', ['a', 'b', 'c'], 'b')).toBe('1');
    expect(failure(() => call('index', ['a'], 'z')).detail).toBe(
      'Call to function "index" failed: item not found.',
    );
    expect(failure(() => call('index', [], 'z')).detail).toBe(
      'Call to function "index" failed: cannot search an empty list.',
    );
    expect(failure(() => call('index', 'abc', 'z')).detail).toBe(
      'Call to function "index" failed: argument must be a list or tuple.',
    );
  });

  it('element wraps negative indexes; range refuses a zero step', () => {
    expect(json('element', ['a', 'b', 'c'], -1)).toBe('"c"');
    expect(failure(() => call('range', 1, 2, 0)).detail).toBe(
      'Invalid value for "params" parameter: step must not be zero.',
    );
  });

  it('contains may look for null; merge of nothing is an empty object', () => {
    expect(json('contains', ['a', null], nullOf(T.string))).toBe('true');
    // a bare null has no type yet: the answer waits for one (cty's dynamic-typed argument rule)
    expect(call('contains', [null, 1], null)).toEqual(DYNAMIC);
    expect(call('merge').type).toEqual({ kind: 'object', attributes: new Map() });
  });

  it('lookup needs its default, like today’s go-cty', () => {
    expect(failure(() => call('lookup', { a: 1 }, 'a')).summary).toBe(
      'Not enough function arguments',
    );
  });

  it('sets: results ordered as cty orders them, duplicates merged', () => {
    const s = set([str('b'), str('a')], T.string);
    expect(json('setunion', s, ['c', 'a'])).toBe('["a","b","c"]');
    expect(json('setintersection', s, ['b'])).toBe('["b"]');
    expect(json('setproduct', s, [1])).toBe('[["a",1],["b",1]]');
    expect(json('length', s)).toBe('2');
    expect(failure(() => call('slice', s, 0, 1)).detail).toMatch(/cannot slice a set/);
  });

  it('compact, distinct, sort and flatten on typed lists', () => {
    const l = list([str('b'), str(''), str('a'), str('b')], T.string);
    expect(json('compact', l)).toBe('["b","a","b"]');
    expect(json('distinct', l)).toBe('["b","","a"]');
    expect(json('sort', l)).toBe('["","a","b","b"]');
    expect(json('flatten', [l, [[]]])).toBe('["b","","a","b"]');
    expect(call('sort', list([str('a'), unknownOf(T.string)], T.string))).toEqual(
      unknownOf(listType(T.string)),
    );
  });
});

describe('numbers', () => {
  it('documented examples', () => {
    expect(json('abs', -12.4)).toBe('12.4');
    expect(json('ceil', 5.1)).toBe('6');
    expect(json('floor', -4.1)).toBe('-5');
    expect(json('log', 16, 2)).toBe('4');
    expect(json('max', 12, 54, 3)).toBe('54');
    expect(json('min', 12, 54, 3)).toBe('3');
    expect(json('pow', 3, 2)).toBe('9');
    expect(json('signum', -13)).toBe('-1');
    expect(json('parseint', 'FF', 16)).toBe('255');
    expect(json('parseint', '-10', 16)).toBe('-16');
    expect(json('parseint', 'zz', 36)).toBe('1295');
    expect(failure(() => call('parseint', 'FF', 10)).detail).toBe(
      'Invalid value for "number" parameter: cannot parse "FF" as a base 10 integer.',
    );
    expect(failure(() => call('parseint', 1, 10)).detail).toBe(
      'Invalid value for "number" parameter: first argument must be a string, not number.',
    );
  });
});

describe('encoding', () => {
  it('base64gzip decodes back to the text, with Go’s header', () => {
    const b64 = asString(call('base64gzip', 'hello world'));
    const raw = Buffer.from(b64, 'base64');
    expect(raw[9]).toBe(0xff);
    expect(gunzipSync(raw).toString()).toBe('hello world');
  });

  it('textencodebase64 / textdecodebase64', () => {
    expect(json('textencodebase64', 'Hello World', 'UTF-16LE')).toBe(
      '"SABlAGwAbABvACAAVwBvAHIAbABkAA=="',
    );
    expect(json('textdecodebase64', 'SABlAGwAbABvACAAVwBvAHIAbABkAA==', 'UTF-16LE')).toBe(
      '"Hello World"',
    );
    expect(json('textencodebase64', 'é', 'ISO-8859-1')).toBe('"6Q=="');
    expect(failure(() => call('textencodebase64', 'a', 'windows-1252')).detail).toMatch(
      /is not a supported IANA encoding name or alias/,
    );
    expect(json('textencodebase64', 'a', 'UTF-16')).toBe('"/v8AYQ=="');
    expect(failure(() => call('textencodebase64', '€', 'ISO-8859-1')).detail).toBe(
      'Invalid value for "string" parameter: the given string contains characters that cannot be represented in ISO-8859-1.',
    );
    expect(failure(() => call('textencodebase64', 'a', 'klingon')).detail).toBe(
      'Invalid value for "encoding" parameter: "klingon" is not a supported IANA encoding name or alias.',
    );
    expect(failure(() => call('textdecodebase64', 'a!', 'UTF-8')).detail).toBe(
      'Invalid value for "source" parameter: the given value is has an invalid base64 symbol at offset 1.',
    );
  });

  it('jsondecode gives objects and tuples; jsonencode of null', () => {
    expect(call('jsondecode', '{"a":[1,"x"]}').type.kind).toBe('object');
    expect(json('jsonencode', null)).toBe('"null"');
    expect(json('jsondecode', 'null')).toBe('null');
    expect(failure(() => call('jsondecode', '{"a":1,"a":2}')).detail).toBe(
      'Call to function "jsondecode" failed: duplicate "a" property in JSON object.',
    );
  });
});

describe('files', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'kiln-hcl-fs-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'tpl'));
  writeFileSync(path.join(root, 'tpl', 'hello.tmpl'), 'Hello, ${name}!');
  writeFileSync(path.join(root, 'data.bin'), Buffer.from([0, 255, 1]));

  it('filebase64 reads bytes (relative to the working folder, as Packer’s does)', () => {
    expect(json('filebase64', path.join(root, 'data.bin'))).toBe('"AP8B"');
    expect(failure(() => call('filebase64', path.join(root, 'none'))).detail).toBe(
      `Call to function "filebase64" failed: failed to read file "${root}/none": open ${root}/none: no such file or directory.`,
    );
  });

  it('file and fileexists resolve against the template folder', () => {
    const t = makeFunctions({ baseDir: root });
    expect(asString(callWith(t, 'file', 'tpl/hello.tmpl'))).toBe('Hello, ${name}!');
    expect(jsonMarshal(callWith(t, 'fileexists', 'tpl/hello.tmpl'))).toBe('true');
    expect(jsonMarshal(callWith(t, 'fileset', '.', '**/*.tmpl'))).toBe('["tpl/hello.tmpl"]');
  });

  it('templatefile renders the file with the evaluator, with every function but itself', () => {
    writeFileSync(
      path.join(root, 'tpl', 'list.tmpl'),
      '%{ for x in items ~}\n- ${upper(x)}\n%{ endfor ~}\n',
    );
    writeFileSync(path.join(root, 'tpl', 'self.tmpl'), '${templatefile("hello.tmpl", {})}');
    writeFileSync(path.join(root, 'tpl', 'bad.tmpl'), 'a ${nope(1)}');
    writeFileSync(path.join(root, 'tpl', 'whole.tmpl'), '${items}');
    const t = makeFunctions({ baseDir: root });
    expect(asString(callWith(t, 'templatefile', 'tpl/hello.tmpl', { name: 'kiln' }))).toBe(
      'Hello, kiln!',
    );
    expect(asString(callWith(t, 'templatefile', 'tpl/list.tmpl', { items: ['a', 'b'] }))).toBe(
      '- A\n- B\n',
    );
    // a template that is one interpolation gives that value, whatever its type
    expect(jsonMarshal(callWith(t, 'templatefile', 'tpl/whole.tmpl', { items: [1, 2] }))).toBe(
      '[1,2]',
    );
    expect(failure(() => callWith(t, 'templatefile', 'tpl/hello.tmpl', {})).detail).toBe(
      'Invalid value for "vars" parameter: vars map does not contain key "name", referenced at tpl/hello.tmpl:1,10-14.',
    );
    expect(failure(() => callWith(t, 'templatefile', 'tpl/self.tmpl', {})).detail).toMatch(
      /cannot recursively call templatefile from inside templatefile call/,
    );
    expect(failure(() => callWith(t, 'templatefile', 'tpl/bad.tmpl', {})).detail).toMatch(
      /^Call to function "templatefile" failed: tpl\/bad.tmpl:1,5-9: Call to unknown function; There is no function named "nope"/,
    );
    expect(failure(() => callWith(t, 'templatefile', 'tpl/hello.tmpl', 'x')).detail).toBe(
      'Invalid value for "vars" parameter: invalid vars value: must be a map.',
    );
    expect(
      failure(() => callWith(t, 'templatefile', 'tpl/hello.tmpl', { 'a b': 1 })).detail,
    ).toMatch(/invalid template variable name "a b"/);
    expect(failure(() => callWith(t, 'templatefile', 'missing.tmpl', {})).detail).toBe(
      `Call to function "templatefile" failed: no file exists at ${root}/missing.tmpl.`,
    );
  });
});

describe('date and time', () => {
  it('timestamp and the legacy functions use the clock given', () => {
    expect(json('timestamp')).toBe('"2020-01-02T03:04:05Z"');
    expect(json('legacy_isotime')).toBe('"2020-01-02T03:04:05Z"');
    expect(json('legacy_isotime', '06-01-02')).toBe('"20-01-02"');
    expect(json('legacy_strftime', '%Y-%m-%d %H:%M:%S')).toBe('"2020-01-02 03:04:05"');
    expect(failure(() => call('legacy_isotime', 'a', 'b')).summary).toBe('Error in function call');
  });

  it('rfc3339_parse and unix_timestamp_parse', () => {
    expect(json('rfc3339_parse', '2023-07-25T23:43:16Z')).toBe(
      '{"day":25,"hour":23,"iso_week":30,"iso_year":2023,"minute":43,"month":7,"month_name":"July","second":16,"unix":1690328596,"weekday":2,"weekday_name":"Tuesday","year":2023,"year_day":206}',
    );
    expect(json('rfc3339_parse', '2023-07-25 23:43:16.5-01:00')).toMatch(
      /"hour":23,.*"unix":1690332196/,
    );
    expect(failure(() => call('rfc3339_parse', 'x')).detail).toBe(
      'Invalid value for "timestamp" parameter: "x" is not a valid RFC3339 timestamp.',
    );
    expect(json('unix_timestamp_parse', 1690328596)).toBe(
      '{"day":25,"hour":23,"iso_week":30,"iso_year":2023,"minute":43,"month":7,"month_name":"July","rfc3339":"2023-07-25T23:43:16Z","second":16,"weekday":2,"weekday_name":"Tuesday","year":2023,"year_day":206}',
    );
    expect(json('unix_timestamp_parse', 0)).toMatch(/"iso_week":1,"iso_year":1970/);
    expect(json('rfc3339_parse', '2021-01-01T00:00:00Z')).toMatch(/"iso_week":53,"iso_year":2020/);
  });

  it('today’s strict RFC 3339', () => {
    expect(failure(() => call('formatdate', 'YYYY', '2018-01-02T1:00:00Z')).detail).toBe(
      'Invalid value for "time" parameter: not a valid RFC3339 timestamp: hour must have exactly two digits.',
    );
    expect(failure(() => call('formatdate', 'YYYY', '2018-01-02T00:00:00+25:00')).detail).toBe(
      'Invalid value for "time" parameter: not a valid RFC3339 timestamp: timezone hour out of range.',
    );
  });
});

describe('crypto', () => {
  it('bcrypt matches the reference vectors and Go’s output shape', () => {
    const salt = bcryptBase64Decode('CCCCCCCCCCCCCCCCCCCCC.');
    expect(bcryptHash(Buffer.from('U*U'), 5, salt)).toBe(
      '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW',
    );
    expect(bcryptHash(Buffer.from(''), 6, bcryptBase64Decode('DCq7YPn5Rq63x1Lad4cll.'))).toBe(
      '$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.',
    );
    expect(asString(call('bcrypt', 'hello', 4))).toMatch(/^\$2a\$04\$[./A-Za-z0-9]{53}$/);
    expect(failure(() => call('bcrypt', 'a', 4, 5)).detail).toBe(
      'Call to function "bcrypt" failed: bcrypt() takes no more than two arguments.',
    );
  });

  it('rsadecrypt decrypts PKCS #1 v1.5 with a PKCS #1 key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const cipher = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.from('secret message'),
    ).toString('base64');
    expect(asString(call('rsadecrypt', cipher, pem))).toBe('secret message');
    expect(failure(() => call('rsadecrypt', '!!', pem)).detail).toBe(
      'Call to function "rsadecrypt" failed: failed to decode input "!!": cipher text must be base64-encoded.',
    );
    expect(failure(() => call('rsadecrypt', cipher, 'nope')).detail).toBe(
      'Call to function "rsadecrypt" failed: failed to parse key: no key found.',
    );
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(failure(() => call('rsadecrypt', cipher, pkcs8)).detail).toMatch(/ParsePKCS8PrivateKey/);
  });

  it('uuidv4 is random and well formed', () => {
    const a = asString(call('uuidv4'));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(asString(call('uuidv4'))).not.toBe(a);
  });
});

describe('through the evaluator', () => {
  const run = (src: string, variables: Record<string, Value> = {}) => {
    const parsed = parseExpression(src, 'test.pkr.hcl');
    expect(parsed.diagnostics).toEqual([]);
    return evaluate(parsed.value, { variables, functions: table });
  };
  const value = (src: string, variables?: Record<string, Value>) => {
    const r = run(src, variables);
    expect(r.diagnostics.map((d) => d.detail)).toEqual([]);
    return jsonMarshal(r.value);
  };

  it('calls the library with HCL’s argument expansion', () => {
    expect(value('upper("a")')).toBe('"A"');
    expect(value('join("-", [["a", "b"], ["c"]]...)')).toBe('"a-b-c"');
    expect(value('formatdate("YYYY-MM-DD", timeadd("2020-12-31T23:00:00Z", "2h"))')).toBe(
      '"2021-01-01"',
    );
    expect(value('cidrsubnets("10.0.0.0/16", 8, 8)[1]')).toBe('"10.0.1.0/24"');
    expect(value('length(regexall("o", "foo boo"))')).toBe('4');
  });

  it('try and can are the evaluator’s, in the table', () => {
    const v = { var: lit({ a: 'x' }) };
    expect(value('try(var.nope, var.a, "d")', v)).toBe('"x"');
    expect(value('try(var.nope, "d")', v)).toBe('"d"');
    expect(value('can(regex("^a", "abc"))')).toBe('true');
    expect(value('can(regex("^z", "abc"))')).toBe('false');
    const r = run('try(var.nope)', v);
    expect(r.diagnostics[0]?.detail).toMatch(
      /^Call to function "try" failed: no expression succeeded/,
    );
  });

  it('reports a failing call at the call, with Packer’s words', () => {
    const r = run('upper(null)');
    expect(r.diagnostics.map((d) => [d.summary, d.detail])).toEqual([
      [
        'Invalid function argument',
        'Invalid value for "str" parameter: argument must not be null.',
      ],
    ]);
  });
});

describe('convert (the evaluator decodes the type and calls convertTo)', () => {
  it('follows the documented examples', () => {
    expect(convertTo(num(3), T.string)).toEqual(str('3'));
    expect(convertTo(str('false'), T.bool)).toEqual({ type: T.bool, raw: false });
    expect(convertTo(nullOf(T.string), T.number)).toEqual(nullOf(T.number));
    expect(jsonMarshal(convertTo(lit(['c', 'b', 'b']), setType(T.string)))).toBe('["b","c"]');
    expect(failure(() => convertTo(str('x'), T.number)).summary).toBe('Invalid function argument');
  });
});
