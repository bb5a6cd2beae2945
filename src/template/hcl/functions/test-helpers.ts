/**
 * Test helpers: HCL values from JavaScript literals (arrays are tuples and objects are objects,
 * as HCL's `[...]` and `{...}` literals are) and one-line calls into the function table.
 */
import {
  bool,
  callFunction,
  type FunctionDef,
  NULL,
  num,
  object,
  str,
  tuple,
  type Value,
} from '../value.js';
import { makeFunctions } from './index.js';

/** A JavaScript literal as the HCL literal value it would be written as. */
export type Literal =
  | string
  | number
  | boolean
  | null
  | Value
  | Literal[]
  | { [k: string]: Literal };

/** The HCL value of a literal. */
export function lit(x: Literal | Value): Value {
  if (x === null) return NULL;
  if (typeof x === 'object' && !Array.isArray(x) && 'type' in x && 'raw' in x) return x as Value;
  if (typeof x === 'string') return str(x);
  if (typeof x === 'number') return num(x);
  if (typeof x === 'boolean') return bool(x);
  if (Array.isArray(x)) return tuple(x.map((e) => lit(e)));
  return object(
    Object.fromEntries(Object.entries(x as Record<string, Literal>).map(([k, v]) => [k, lit(v)])),
  );
}

/** Calls a function of the table with literal (or ready-made Value) arguments. */
export function callWith(
  table: Readonly<Record<string, FunctionDef>>,
  name: string,
  ...args: Literal[]
): Value {
  const fn = table[name];
  if (!fn) throw new Error(`no function ${name}`);
  const vals = args.map((a) => lit(a as Literal));
  return callFunction(fn, vals);
}

/** A function table for tests, on the given folder and a fixed clock. */
export function testTable(baseDir = process.cwd()): Record<string, FunctionDef> {
  const fixed = new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 678));
  return makeFunctions({ baseDir, now: () => fixed, loadedAt: fixed });
}
