/** Packer's numeric functions (go-cty's stdlib): abs, ceil, floor, log, max, min, pow, signum, parseint. */
import { asNumber, asString, type FunctionDef, friendlyTypeName, num, T } from '../value.js';
import { argError, define, FnError, fnError, param } from './define.js';
import { goQuote } from './go-text.js';
import { goInt } from './values.js';

const n1 = (name: string, f: (x: number) => number, dyn = false): FunctionDef =>
  define(name, {
    params: [param('num', T.number, dyn ? { allowDynamicType: true } : {})],
    returnType: T.number,
    impl: (args) => num(f(asNumber(args[0]!))),
  });

const n2 = (name: string, p2: string, f: (a: number, b: number) => number): FunctionDef =>
  define(name, {
    params: [param('num', T.number), param(p2, T.number)],
    returnType: T.number,
    impl: (args) => {
      const r = f(asNumber(args[0]!), asNumber(args[1]!));
      // cty has no NaN: go-cty panics, and the panic becomes the call's error.
      if (Number.isNaN(r))
        throw fnError("panic in function implementation: can't convert NaN to number");
      return num(r);
    },
  });

const extreme = (name: string, pick: (a: number, b: number) => boolean): FunctionDef =>
  define(name, {
    params: [],
    varParam: param('numbers', T.number, { allowDynamicType: true }),
    returnType: T.number,
    impl: (args) => {
      if (args.length === 0) throw fnError('must pass at least one number');
      let best = asNumber(args[0]!);
      for (const a of args.slice(1)) if (pick(asNumber(a), best)) best = asNumber(a);
      return num(best);
    },
  });

/** The digit values big.Int.SetString gives a character for a base (letters: a-z then A-Z above 36). */
function digitValue(ch: string, base: number): number {
  const c = ch.charCodeAt(0);
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 122) return c - 97 + 10;
  if (c >= 65 && c <= 90) return base <= 36 ? c - 65 + 10 : c - 65 + 36;
  return 99;
}

/** big.Int.SetString for a base from 2 to 62: an optional sign then at least one digit. */
function parseBigInt(text: string, base: number): bigint | undefined {
  let s = text;
  let neg = false;
  if (s.startsWith('+') || s.startsWith('-')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '') return undefined;
  let n = 0n;
  const b = BigInt(base);
  for (const ch of s) {
    const d = digitValue(ch, base);
    if (d >= base) return undefined;
    n = n * b + BigInt(d);
  }
  return neg ? -n : n;
}

const parseint = define('parseint', {
  params: [param('number', T.dynamic), param('base', T.number)],
  returnType: (args) => {
    if (args[0]!.type.kind !== 'string') {
      throw argError(0, `first argument must be a string, not ${friendlyTypeName(args[0]!.type)}`);
    }
    return T.number;
  },
  impl: (args) => {
    const text = asString(args[0]!);
    let base: number;
    try {
      base = goInt(args[1]!);
    } catch (err) {
      if (err instanceof FnError) throw argError(1, err.message);
      throw err;
    }
    if (base < 2 || base > 62) {
      throw argError(1, 'base must be a whole number between 2 and 62 inclusive');
    }
    const n = parseBigInt(text, base);
    if (n === undefined)
      throw argError(0, `cannot parse ${goQuote(text)} as a base ${base} integer`);
    return num(Number(n));
  },
});

const signum = define('signum', {
  params: [param('num', T.number)],
  returnType: T.number,
  impl: (args) => num(Math.sign(goInt(args[0]!)) || 0),
});

/** The numeric functions, by name. */
export const numberFunctions: Record<string, FunctionDef> = {
  abs: n1('abs', (x) => Math.abs(x), true),
  ceil: n1('ceil', (x) => (Number.isFinite(x) ? Math.ceil(x) || 0 : x)),
  floor: n1('floor', (x) => (Number.isFinite(x) ? Math.floor(x) : x)),
  log: n2('log', 'base', (x, b) => Math.log(x) / Math.log(b)),
  max: extreme('max', (a, b) => a > b),
  min: extreme('min', (a, b) => a < b),
  parseint,
  pow: n2('pow', 'power', (x, p) => x ** p),
  signum,
};
