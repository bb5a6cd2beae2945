/**
 * HCL values and plain JavaScript values, both ways: a plugin block's evaluated attributes
 * become the plain objects the plugins' zod schemas validate (as Packer's hcl2shim turns cty
 * values into what mapstructure decodes), and plain data (a builder's generated values, a data
 * source's outputs, a JSON var file) becomes HCL values.
 */
import {
  bool,
  elementsOf,
  entriesOf,
  formatNumber,
  isKnown,
  isNull,
  NULL,
  num,
  object,
  str,
  tuple,
  type Value,
} from '../value.js';

/** Thrown when a value holds an unknown (it cannot be known before the build runs). */
export class UnknownValueError extends Error {}

/** The plain form of a value: strings, numbers, booleans, null, arrays and objects. */
export function toPlain(v: Value): unknown {
  if (!isKnown(v)) throw new UnknownValueError('the value is not known until the build runs');
  if (isNull(v)) return null;
  switch (v.type.kind) {
    case 'string':
    case 'bool':
      return v.raw;
    case 'number': {
      // cty numbers are exact decimals: keep integers as numbers, others as Go prints them
      const n = v.raw as number;
      return Number.isFinite(n) ? n : formatNumber(n);
    }
    case 'list':
    case 'set':
    case 'tuple':
      return elementsOf(v).map(toPlain);
    case 'map':
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, e] of entriesOf(v)) out[k] = toPlain(e);
      return out;
    }
    default:
      return null;
  }
}

/** The HCL value of plain data (arrays become tuples, objects objects). */
export function fromPlain(v: unknown): Value {
  if (v === null || v === undefined) return NULL;
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') return num(v);
  if (typeof v === 'boolean') return bool(v);
  if (typeof v === 'bigint') return num(Number(v));
  if (Array.isArray(v)) return tuple(v.map(fromPlain));
  if (typeof v === 'object') {
    const attrs: Record<string, Value> = {};
    for (const [k, e] of Object.entries(v as Record<string, unknown>)) attrs[k] = fromPlain(e);
    return object(attrs);
  }
  return str(String(v));
}

/** A value as a variable's string form (`LoadedTemplate.variables`): strings as they are, others as JSON. */
export function valueString(v: Value): string {
  if (!isKnown(v)) return '<unknown>';
  if (v.type.kind === 'string' && typeof v.raw === 'string') return v.raw;
  if (isNull(v)) return '';
  const p = toPlain(v);
  return typeof p === 'string' ? p : JSON.stringify(p);
}

/** Every string inside a value (for registering a sensitive value's parts as secrets). */
export function stringsIn(v: Value): string[] {
  if (!isKnown(v) || isNull(v)) return [];
  switch (v.type.kind) {
    case 'string':
      return [v.raw as string];
    case 'number':
      return [formatNumber(v.raw as number)];
    case 'list':
    case 'set':
    case 'tuple':
      return elementsOf(v).flatMap(stringsIn);
    case 'map':
    case 'object':
      return [...entriesOf(v).values()].flatMap(stringsIn);
    default:
      return [];
  }
}
