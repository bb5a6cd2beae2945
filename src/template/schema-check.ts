/**
 * Validates a plugin block with the plugin's zod schema the way Packer's weakly typed decoder
 * would accept it (numbers and booleans where strings are expected, `"a,b"` where a list is
 * expected…), and turns every remaining zod issue into a path and a message a user can act
 * on: unknown keys with the nearest valid key, wrong types with what was expected and found.
 */
import type { z } from 'zod';
import { nearest } from '../lib/suggest.js';
import type { JsonPath } from './json-source.js';
import { jsonType } from './variables.js';

export interface SchemaProblem {
  /** Path inside the block. */
  path: JsonPath;
  message: string;
  atKey?: boolean;
}

type Def = { type?: string; [k: string]: unknown };

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

/** Strips wrappers (optional, default, nullable, pipe…) to reach the schema that shapes the value. */
function unwrap(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const d = defOf(s);
    if (!d) return s;
    if (
      [
        'optional',
        'nullable',
        'default',
        'prefault',
        'catch',
        'readonly',
        'nonoptional',
        'success',
      ].includes(d.type ?? '')
    ) {
      s = d.innerType;
    } else if (d.type === 'pipe') {
      s = d.in;
    } else if (d.type === 'lazy') {
      s = (d.getter as () => unknown)();
    } else return s;
  }
  return s;
}

/** The valid keys of the object schema found at a path, if any. */
export function keysAt(schema: unknown, path: JsonPath): string[] {
  let s = unwrap(schema);
  for (const seg of path) {
    const d = defOf(s);
    if (!d) return [];
    if (d.type === 'object') s = unwrap((d.shape as Record<string, unknown>)[String(seg)]);
    else if (d.type === 'array') s = unwrap(d.element);
    else if (d.type === 'record') s = unwrap(d.valueType);
    else if (d.type === 'union') {
      const obj = (d.options as unknown[]).map(unwrap).find((o) => defOf(o)?.type === 'object');
      if (!obj) return [];
      s = unwrap((defOf(obj)!.shape as Record<string, unknown>)[String(seg)]);
    } else return [];
  }
  const d = defOf(s);
  if (d?.type === 'object') return Object.keys(d.shape as Record<string, unknown>);
  if (d?.type === 'union') {
    return (d.options as unknown[]).flatMap((o) => {
      const od = defOf(unwrap(o));
      return od?.type === 'object' ? Object.keys(od.shape as Record<string, unknown>) : [];
    });
  }
  return [];
}

function getAt(v: unknown, path: JsonPath): unknown {
  let cur = v;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function setAt(v: unknown, path: JsonPath, value: unknown): void {
  let cur = v as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) cur = cur[seg] as Record<string | number, unknown>;
  cur[path[path.length - 1]!] = value;
}

const NO = Symbol('no-conversion');

/** mapstructure's WeaklyTypedInput plus Packer's "a,b" → list hook. */
function weakConvert(v: unknown, expected: string): unknown {
  switch (expected) {
    case 'string':
      if (typeof v === 'number') return String(v);
      if (typeof v === 'boolean') return v ? '1' : '0';
      return NO;
    case 'number':
    case 'int':
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string') {
        if (v.trim() === '') return 0;
        const n = Number(v);
        return Number.isFinite(n) && (expected === 'number' || Number.isInteger(n)) ? n : NO;
      }
      return NO;
    case 'boolean':
      if (typeof v === 'number') return v !== 0;
      if (typeof v === 'string') {
        if (v === '') return false;
        if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
        if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
      }
      return NO;
    case 'array':
      if (typeof v === 'string') return v === '' ? [] : v.split(',');
      if (v !== undefined && v !== null && typeof v !== 'object') return [v];
      return NO;
    default:
      return NO;
  }
}

function describeExpected(e: string): string {
  if (e === 'int') return 'an integer';
  if (e === 'array') return 'an array';
  if (e === 'object' || e === 'record') return 'an object';
  if (e === 'boolean') return 'true or false';
  if (e === 'string') return 'a string';
  if (e === 'number') return 'a number';
  return e;
}

/** Validates `value` (a plugin block) with `schema`; returns the parsed config or every problem. */
export function checkSchema(
  schema: z.ZodType<unknown>,
  value: Record<string, unknown>,
): { ok: true; config: unknown } | { ok: false; problems: SchemaProblem[] } {
  const v = structuredClone(value);
  for (let round = 0; round < 50; round++) {
    const r = schema.safeParse(v);
    if (r.success) return { ok: true, config: r.data };
    let changed = false;
    for (const issue of r.error.issues) {
      if (issue.code !== 'invalid_type' || issue.path.length === 0) continue;
      const path = issue.path as JsonPath;
      const conv = weakConvert(getAt(v, path), issue.expected);
      if (conv !== NO) {
        setAt(v, path, conv);
        changed = true;
      }
    }
    if (changed) continue;
    const problems: SchemaProblem[] = [];
    // Refinements see half-valid data when a key is unknown or mistyped: their complaints
    // ("X or Y is required" when Y was misspelt) only mislead, so report the root causes.
    const basic = r.error.issues.some(
      (i) => i.code === 'unrecognized_keys' || i.code === 'invalid_type',
    );
    for (const issue of r.error.issues) {
      if (basic && issue.code === 'custom') continue;
      const path = issue.path as JsonPath;
      if (issue.code === 'unrecognized_keys') {
        const valid = keysAt(schema, path);
        for (const key of issue.keys) {
          const near = nearest(key, valid);
          problems.push({
            path: [...path, key],
            message: `unknown key "${key}"${near ? `; did you mean "${near}"?` : ''}`,
            atKey: true,
          });
        }
      } else if (issue.code === 'invalid_type') {
        const found = getAt(v, path);
        problems.push({
          path,
          message:
            found === undefined
              ? `required: expected ${describeExpected(issue.expected)}`
              : `expected ${describeExpected(issue.expected)}, found ${jsonType(found)}`,
        });
      } else {
        problems.push({ path, message: issue.message });
      }
    }
    return { ok: false, problems };
  }
  return {
    ok: false,
    problems: [{ path: [], message: 'the configuration could not be validated' }],
  };
}
