/**
 * Packer's string functions (go-cty's stdlib and Packer's own): case, trimming, splitting and
 * joining, substrings by grapheme cluster, `format`/`formatlist` with Go's verbs, and the RE2
 * functions `regex`, `regexall`, `regex_replace`.
 */
import {
  asNumber,
  asString,
  bool,
  convert,
  elementsOf,
  type FunctionDef,
  type HclType,
  isKnown,
  isNull,
  isWhollyKnown,
  list,
  listType,
  nullOf,
  num,
  object,
  objectType,
  str,
  T,
  tuple,
  tupleType,
  unknownOf,
  type Value,
} from '../value.js';
import { argError, define, fnError, param } from './define.js';
import { floatText, formatFloat, formatInteger, type VerbSpec } from './go-fmt.js';
import {
  compileGoRegexp,
  type GoRegexp,
  GoRegexpError,
  goFind,
  goFindAll,
  goReplaceAll,
} from './go-regexp.js';
import {
  goJsonString,
  goLower,
  goSplit,
  goReplaceAll as goStringReplaceAll,
  goTitle,
  goTrim,
  goTrimSpace,
  goUpper,
  graphemes,
} from './go-text.js';
import { goInt, jsonMarshal } from './values.js';

const s = (name: string) => param(name, T.string);

function stringFn(name: string, f: (x: string) => string, dyn = false): FunctionDef {
  return define(name, {
    params: [param('str', T.string, dyn ? { allowDynamicType: true } : {})],
    returnType: T.string,
    impl: (args) => str(f(asString(args[0]!))),
  });
}

function string2(
  name: string,
  p2: string,
  f: (a: string, b: string) => Value,
  ret: HclType,
): FunctionDef {
  return define(name, {
    params: [s('str'), s(p2)],
    returnType: ret,
    impl: (args) => f(asString(args[0]!), asString(args[1]!)),
  });
}

/** substr(str, offset, length) over grapheme clusters, as go-cty's SubstrFunc. */
function substr(input: string, offset: number, length: number): string {
  const gs = graphemes(input);
  if (offset < 0) offset += gs.length;
  else if (length === 0) return '';
  // go-cty walks clusters from the offset; an offset past the end gives ''.
  if (offset > 0 && offset >= gs.length) return '';
  const rest = gs.slice(Math.max(0, offset));
  // A zero length reaches here only after a negative offset, where go-cty keeps the rest.
  if (length <= 0) return rest.join('');
  return rest.slice(0, length).join('');
}

// ---------------------------------------------------------------------------------------------
// format / formatlist

interface Verb extends VerbSpec {
  raw: string;
  offset: number;
  argNum: number;
  mode: string;
}

const utf8Len = (x: string) => Buffer.byteLength(x, 'utf8');

/** Pads to the verb's width in grapheme clusters ('0' pads with zeros, even on the right). */
function padWidth(v: Verb, text: string): string {
  if (v.width < 0) return text;
  const have = graphemes(text).length;
  if (have >= v.width) return text;
  const pads = (v.zero ? '0' : ' ').repeat(v.width - have);
  return v.minus ? text + pads : pads + text;
}

function verbError(v: Verb, why: string): never {
  throw fnError(`unsupported value for ${goJsonString(v.raw)} at ${v.offset}: ${why}`);
}

function convertFor(v: Verb, arg: Value, t: HclType): Value {
  try {
    return convert(arg, t);
  } catch (err) {
    verbError(v, (err as Error).message);
  }
}

function appendVerb(v: Verb, args: readonly Value[]): string {
  const idx = v.argNum - 1;
  if (idx >= args.length) {
    throw fnError(
      `not enough arguments for ${goJsonString(v.raw)} at ${v.offset}: need index ${v.argNum} but have ${args.length} total`,
    );
  }
  const arg = args[idx]!;
  if (v.mode !== 'v' && isNull(arg)) verbError(v, 'null value cannot be formatted');
  switch (v.mode) {
    case 'v':
      if (!v.sharp && !isNull(arg)) {
        if (arg.type.kind === 'string') return padWidth(v, asString(arg));
        if (arg.type.kind === 'number') return padWidth(v, floatText(asNumber(arg), 'g', -1));
      }
      return padWidth(v, jsonMarshal(arg));
    case 't':
      return convertFor(v, arg, T.bool).raw ? 'true' : 'false';
    case 'b':
    case 'd':
    case 'o':
    case 'x':
    case 'X': {
      const n = asNumber(convertFor(v, arg, T.number));
      if (!Number.isInteger(n)) verbError(v, 'an integer is required');
      return formatInteger(BigInt(n), v.mode, v);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'g':
    case 'G':
      return formatFloat(asNumber(convertFor(v, arg, T.number)), v.mode, v);
    case 's':
    case 'q': {
      let text = asString(convertFor(v, arg, T.string));
      if (v.prec > 0) text = graphemes(text).slice(0, v.prec).join('');
      return padWidth(v, v.mode === 's' ? text : goJsonString(text));
    }
    default:
      throw fnError(
        `unsupported format verb '${v.mode}' in ${goJsonString(v.raw)} at offset ${v.offset}`,
      );
  }
}

/** go-cty's formatFSM: Go-style verbs `%[flags][width][.prec][[n]]verb` against the arguments. */
export function goFormat(format: string, args: readonly Value[]): string {
  let out = '';
  let next = 1;
  let highest = 0;
  let i = 0;
  let byteAt = 0;
  const chars = [...format];
  const bytePos = (k: number) => {
    // byte offset of chars[k]
    let b = 0;
    for (let j = 0; j < k; j++) b += utf8Len(chars[j]!);
    return b;
  };
  while (i < chars.length) {
    const c = chars[i]!;
    if (c !== '%') {
      out += c;
      byteAt += utf8Len(c);
      i++;
      continue;
    }
    if (chars[i + 1] === '%') {
      out += '%';
      byteAt += 2;
      i += 2;
      continue;
    }
    const start = i;
    const v: Verb = {
      raw: '',
      offset: byteAt,
      argNum: next,
      mode: '',
      plus: false,
      minus: false,
      sharp: false,
      zero: false,
      space: false,
      width: -1,
      prec: -1,
    };
    i++;
    const bad = (): never => {
      if (i >= chars.length)
        throw fnError(`invalid format string starting at offset ${bytePos(i)}`);
      throw fnError(`unrecognized format character '${chars[i]}' at offset ${bytePos(i)}`);
    };
    while (i < chars.length && '0#-+ '.includes(chars[i]!)) {
      const f = chars[i]!;
      if (f === '0') v.zero = true;
      else if (f === '#') v.sharp = true;
      else if (f === '-') v.minus = true;
      else if (f === '+') v.plus = true;
      else v.space = true;
      i++;
    }
    if (/[1-9]/.test(chars[i] ?? '')) {
      let w = 0;
      while (/[0-9]/.test(chars[i] ?? '')) w = w * 10 + Number(chars[i++]);
      v.width = w;
    }
    if (chars[i] === '.') {
      i++;
      let p = 0;
      while (/[0-9]/.test(chars[i] ?? '')) p = p * 10 + Number(chars[i++]);
      v.prec = p;
    }
    if (chars[i] === '[') {
      i++;
      if (!/[1-9]/.test(chars[i] ?? '')) bad();
      let n = 0;
      while (/[0-9]/.test(chars[i] ?? '')) n = n * 10 + Number(chars[i++]);
      if (chars[i] !== ']') bad();
      i++;
      v.argNum = n;
    }
    if (!/[A-Za-z]/.test(chars[i] ?? '')) bad();
    v.mode = chars[i]!;
    i++;
    v.raw = chars.slice(start, i).join('');
    if (v.argNum > highest) highest = v.argNum;
    out += appendVerb(v, args);
    next = v.argNum + 1;
    byteAt += utf8Len(v.raw);
  }
  if (highest < args.length) {
    if (highest === 0) throw argError(highest + 1, 'too many arguments; no verbs in format string');
    throw argError(highest + 1, `too many arguments; only ${highest} used by format string`);
  }
  return out;
}

const formatFn = define('format', {
  params: [s('format')],
  varParam: param('args', T.dynamic, {
    allowNull: true,
    allowUnknown: true,
    allowDynamicType: true,
  }),
  returnType: T.string,
  impl: (args) => {
    if (!args.slice(1).every(isWhollyKnown)) return unknownOf(T.string);
    return str(goFormat(asString(args[0]!), args.slice(1)));
  },
});

const formatlistFn = define('formatlist', {
  params: [s('format')],
  varParam: param('args', T.dynamic, {
    allowNull: true,
    allowUnknown: true,
    allowDynamicType: true,
  }),
  returnType: listType(T.string),
  impl: (all) => {
    const fmt = asString(all[0]!);
    const args = all.slice(1);
    if (args.length === 0) return list([str(goFormat(fmt, []))]);
    let iterLen = -1;
    let chooser = -1;
    const seqs: Array<readonly Value[] | undefined> = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const k = a.type.kind;
      if ((k === 'list' || k === 'set' || k === 'tuple') && !isNull(a)) {
        if (!isKnown(a)) return unknownOf(listType(T.string));
        const len = elementsOf(a).length;
        if (iterLen === -1) {
          iterLen = len;
          chooser = i;
        } else if (len !== iterLen) {
          throw argError(
            i + 1,
            `argument ${i + 1} has length ${len}, which is inconsistent with argument ${chooser + 1} of length ${iterLen}`,
          );
        }
        seqs.push(elementsOf(a));
      } else {
        if (!isKnown(a) && k === 'dynamic') return unknownOf(listType(T.string));
        seqs.push(undefined);
      }
    }
    if (iterLen === 0) return list([], T.string);
    if (iterLen === -1) iterLen = 1;
    const out: Value[] = [];
    for (let n = 0; n < iterLen; n++) {
      const row = args.map((a, i) => seqs[i]?.[n] ?? a);
      if (!row.every(isWhollyKnown)) {
        out.push(unknownOf(T.string));
        continue;
      }
      try {
        out.push(str(goFormat(fmt, row)));
      } catch (err) {
        throw fnError(`error on format iteration ${n}: ${(err as Error).message}`);
      }
    }
    return list(out, T.string);
  },
});

// ---------------------------------------------------------------------------------------------
// regular expressions

function compilePattern(pattern: string, i: number): GoRegexp {
  try {
    return compileGoRegexp(pattern);
  } catch (err) {
    if (err instanceof GoRegexpError) {
      throw argError(i, `invalid regexp pattern: ${err.code} in ${err.expr}`);
    }
    throw err;
  }
}

function regexResultType(re: GoRegexp): HclType {
  const named = re.groupNames.filter((n) => n !== '');
  const unnamed = re.groupNames.length - named.length;
  if (re.groupNames.length === 0) return T.string;
  if (unnamed > 0 && named.length > 0) {
    throw argError(0, 'invalid regexp pattern: cannot mix both named and unnamed capture groups');
  }
  if (unnamed > 0) return tupleType(re.groupNames.map(() => T.string));
  return objectType(Object.fromEntries(named.map((n) => [n, T.string])));
}

function regexResult(
  re: GoRegexp,
  groups: Array<string | undefined>,
  whole: string,
  t: HclType,
): Value {
  if (t.kind === 'string') return str(whole);
  const vals = groups.map((g) => (g === undefined ? nullOf(T.string) : str(g)));
  if (t.kind === 'tuple') return tuple(vals);
  return object(Object.fromEntries(re.groupNames.map((n, i) => [n, vals[i]!])));
}

const regexFn = define('regex', {
  params: [s('pattern'), s('string')],
  returnType: (args) => regexResultType(compilePattern(asString(args[0]!), 0)),
  impl: (args, rt) => {
    const re = compilePattern(asString(args[0]!), 0);
    const m = goFind(re, asString(args[1]!));
    if (!m) throw fnError('pattern did not match any part of the given string');
    return regexResult(re, m.groups, m.text, rt);
  },
});

const regexallFn = define('regexall', {
  params: [s('pattern'), s('string')],
  returnType: (args) => listType(regexResultType(compilePattern(asString(args[0]!), 0))),
  impl: (args, rt) => {
    const re = compilePattern(asString(args[0]!), 0);
    const ety = (rt as { element: HclType }).element;
    const ms = goFindAll(re, asString(args[1]!));
    return list(
      ms.map((m) => regexResult(re, m.groups, m.text, ety)),
      ety,
    );
  },
});

const regexReplaceFn = define('regex_replace', {
  params: [s('str'), s('pattern'), s('replace')],
  returnType: T.string,
  impl: (args) => {
    let re: GoRegexp;
    try {
      re = compileGoRegexp(asString(args[1]!));
    } catch (err) {
      if (err instanceof GoRegexpError) throw fnError(`error parsing regexp: ${err.message}`);
      throw err;
    }
    return str(goReplaceAll(re, asString(args[0]!), asString(args[2]!)));
  },
});

// ---------------------------------------------------------------------------------------------

/** The string functions, by name. */
export const stringFunctions: Record<string, FunctionDef> = {
  chomp: stringFn('chomp', (x) => x.replace(/(?:\r\n?|\n)*$/, '')),
  endswith: define('endswith', {
    params: [s('str'), s('suffix')],
    returnType: T.bool,
    impl: (args) => bool(asString(args[0]!).endsWith(asString(args[1]!))),
  }),
  format: formatFn,
  formatlist: formatlistFn,
  indent: define('indent', {
    params: [param('spaces', T.number), s('str')],
    returnType: T.string,
    impl: (args) => {
      const n = goInt(args[0]!);
      return str(
        asString(args[1]!)
          .split('\n')
          .join(`\n${' '.repeat(Math.max(0, n))}`),
      );
    },
  }),
  join: define('join', {
    params: [s('separator')],
    varParam: param('lists', listType(T.string)),
    returnType: T.string,
    impl: (args) => {
      const lists = args.slice(1);
      if (lists.length === 0) throw fnError('at least one list is required');
      if (!lists.every(isWhollyKnown)) return unknownOf(T.string);
      const items: string[] = [];
      lists.forEach((l, li) => {
        elementsOf(l).forEach((e, ei) => {
          if (isNull(e)) {
            throw argError(
              li + 1,
              lists.length > 1
                ? `element ${ei} of list ${li + 1} is null; cannot concatenate null values`
                : `element ${ei} is null; cannot concatenate null values`,
            );
          }
          items.push(asString(e));
        });
      });
      return str(items.join(asString(args[0]!)));
    },
  }),
  lower: stringFn('lower', goLower, true),
  regex: regexFn,
  regex_replace: regexReplaceFn,
  regexall: regexallFn,
  replace: define('replace', {
    params: [s('str'), s('substr'), s('replace')],
    returnType: T.string,
    impl: (args) =>
      str(goStringReplaceAll(asString(args[0]!), asString(args[1]!), asString(args[2]!))),
  }),
  split: define('split', {
    params: [s('separator'), s('str')],
    returnType: listType(T.string),
    impl: (args) =>
      list(
        goSplit(asString(args[1]!), asString(args[0]!)).map((x) => str(x)),
        T.string,
      ),
  }),
  startswith: define('startswith', {
    params: [s('str'), s('prefix')],
    returnType: T.bool,
    impl: (args) => bool(asString(args[0]!).startsWith(asString(args[1]!))),
  }),
  strcontains: string2('strcontains', 'substr', (a, b) => bool(a.includes(b)), T.bool),
  strrev: stringFn('strrev', (x) => graphemes(x).reverse().join(''), true),
  substr: define('substr', {
    params: [
      param('str', T.string, { allowDynamicType: true }),
      param('offset', T.number, { allowDynamicType: true }),
      param('length', T.number, { allowDynamicType: true }),
    ],
    returnType: T.string,
    impl: (args) => str(substr(asString(args[0]!), goInt(args[1]!), goInt(args[2]!))),
  }),
  title: stringFn('title', goTitle),
  trim: string2('trim', 'cutset', (a, b) => str(goTrim(a, b)), T.string),
  trimprefix: string2(
    'trimprefix',
    'prefix',
    (a, b) => str(b !== '' && a.startsWith(b) ? a.slice(b.length) : a),
    T.string,
  ),
  trimspace: stringFn('trimspace', goTrimSpace),
  trimsuffix: string2(
    'trimsuffix',
    'suffix',
    (a, b) => str(b !== '' && a.endsWith(b) ? a.slice(0, a.length - b.length) : a),
    T.string,
  ),
  upper: stringFn('upper', goUpper, true),
};

/** The number of grapheme clusters in a string (what `length` counts for a string). */
export function stringLength(x: string): Value {
  return num(graphemes(x).length);
}
