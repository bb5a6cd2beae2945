/**
 * HCL's value model: types, values (with null and unknown), equality and conversion.
 *
 * It follows go-cty, the type system under hashicorp/hcl and Packer: the same type kinds,
 * the same conversion rules (safe and unsafe), the same unification of element types and the
 * same error texts, so templates accept and reject what Packer accepts and rejects.
 * Numbers are JavaScript doubles where cty has arbitrary precision: values beyond 2^53 lose
 * their low digits (no Packer template is known to depend on them).
 */
import { UserError } from '../../lib/errors.js';

// ---------------------------------------------------------------------------------------------
// Types

/** An HCL type; `dynamic` is cty's DynamicPseudoType, written `any` in type expressions. */
export type HclType =
  | { readonly kind: 'string' }
  | { readonly kind: 'number' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'dynamic' }
  | { readonly kind: 'list'; readonly element: HclType }
  | { readonly kind: 'map'; readonly element: HclType }
  | { readonly kind: 'set'; readonly element: HclType }
  | {
      readonly kind: 'object';
      readonly attributes: ReadonlyMap<string, HclType>;
      /** Attributes that may be absent on conversion (`optional(T)` in a type constraint). */
      readonly optional?: ReadonlySet<string>;
    }
  | { readonly kind: 'tuple'; readonly elements: readonly HclType[] };

/** The primitive and dynamic types, shared. */
export const T = {
  string: { kind: 'string' } as HclType,
  number: { kind: 'number' } as HclType,
  bool: { kind: 'bool' } as HclType,
  dynamic: { kind: 'dynamic' } as HclType,
} as const;

/** list(element). */
export function listType(element: HclType): HclType {
  return { kind: 'list', element };
}
/** map(element). */
export function mapType(element: HclType): HclType {
  return { kind: 'map', element };
}
/** set(element). */
export function setType(element: HclType): HclType {
  return { kind: 'set', element };
}
/** object({...}); `optional` names attributes that conversion may fill with null. */
export function objectType(
  attributes: Record<string, HclType> | ReadonlyMap<string, HclType>,
  optional?: Iterable<string>,
): HclType {
  const map = attributes instanceof Map ? attributes : new Map(Object.entries(attributes));
  const opt = optional ? new Set(optional) : undefined;
  return opt && opt.size > 0
    ? { kind: 'object', attributes: sortedMap(map), optional: opt }
    : { kind: 'object', attributes: sortedMap(map) };
}
/** tuple([...]). */
export function tupleType(elements: readonly HclType[]): HclType {
  return { kind: 'tuple', elements };
}

/** True for string, number and bool. */
export function isPrimitiveType(t: HclType): boolean {
  return t.kind === 'string' || t.kind === 'number' || t.kind === 'bool';
}
/** True for list, map and set. */
export function isCollectionType(
  t: HclType,
): t is { readonly kind: 'list' | 'map' | 'set'; readonly element: HclType } {
  return t.kind === 'list' || t.kind === 'map' || t.kind === 'set';
}

/** Whether two types are the same type (optional attributes included). */
export function typeEquals(a: HclType, b: HclType): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'list':
    case 'map':
    case 'set':
      return typeEquals(a.element, (b as typeof a).element);
    case 'tuple': {
      const be = (b as typeof a).elements;
      return a.elements.length === be.length && a.elements.every((e, i) => typeEquals(e, be[i]!));
    }
    case 'object': {
      const bo = b as typeof a;
      if (a.attributes.size !== bo.attributes.size) return false;
      for (const [k, t] of a.attributes) {
        const u = bo.attributes.get(k);
        if (!u || !typeEquals(t, u)) return false;
      }
      const ao = a.optional ?? new Set<string>();
      const bopt = bo.optional ?? new Set<string>();
      return ao.size === bopt.size && [...ao].every((k) => bopt.has(k));
    }
    default:
      return true;
  }
}

/** Whether a type contains `dynamic` anywhere (cty's HasDynamicTypes). */
export function hasDynamicTypes(t: HclType): boolean {
  switch (t.kind) {
    case 'dynamic':
      return true;
    case 'list':
    case 'map':
    case 'set':
      return hasDynamicTypes(t.element);
    case 'tuple':
      return t.elements.some(hasDynamicTypes);
    case 'object':
      return [...t.attributes.values()].some(hasDynamicTypes);
    default:
      return false;
  }
}

/** The type with `optional` markers removed, at every depth. */
export function withoutOptional(t: HclType): HclType {
  switch (t.kind) {
    case 'list':
    case 'map':
    case 'set':
      return { kind: t.kind, element: withoutOptional(t.element) };
    case 'tuple':
      return tupleType(t.elements.map(withoutOptional));
    case 'object': {
      const attrs = new Map<string, HclType>();
      for (const [k, a] of t.attributes) attrs.set(k, withoutOptional(a));
      return { kind: 'object', attributes: attrs };
    }
    default:
      return t;
  }
}

/** cty's FriendlyName: "string", "list of number", "object", "dynamic"… (used in messages). */
export function friendlyTypeName(t: HclType): string {
  switch (t.kind) {
    case 'list':
    case 'map':
    case 'set':
      return `${t.kind} of ${friendlyTypeName(t.element)}`;
    default:
      return t.kind;
  }
}

/** cty's FriendlyNameForConstraint: like friendlyTypeName but `any type` for dynamic. */
export function friendlyConstraintName(t: HclType): string {
  switch (t.kind) {
    case 'dynamic':
      return 'any type';
    case 'list':
    case 'map':
    case 'set':
      return `${t.kind} of ${friendlyConstraintName(t.element)}`;
    default:
      return t.kind;
  }
}

/** The type as an HCL type expression: `list(string)`, `object({a=number})`, `any`. */
export function typeExpression(t: HclType): string {
  switch (t.kind) {
    case 'dynamic':
      return 'any';
    case 'list':
    case 'map':
    case 'set':
      return `${t.kind}(${typeExpression(t.element)})`;
    case 'tuple':
      return `tuple([${t.elements.map(typeExpression).join(', ')}])`;
    case 'object': {
      const parts = [...t.attributes].map(([k, a]) =>
        t.optional?.has(k) ? `${k}=optional(${typeExpression(a)})` : `${k}=${typeExpression(a)}`,
      );
      return `object({${parts.join(', ')}})`;
    }
    default:
      return t.kind;
  }
}

// ---------------------------------------------------------------------------------------------
// Values

/** The payload of an unknown value (cty's "not known until apply"). */
export const UNKNOWN: unique symbol = Symbol('unknown');

/** The payload of a value: its JavaScript form for its type, null, or UNKNOWN. */
export type Raw =
  | null
  | typeof UNKNOWN
  | string
  | number
  | boolean
  | readonly Value[] // list, set (deduplicated, ordered as cty orders sets), tuple
  | ReadonlyMap<string, Value>; // map, object (keys sorted as cty sorts them)

/** A typed HCL value. A value of type `dynamic` is always null or unknown. */
export interface Value {
  readonly type: HclType;
  readonly raw: Raw;
}

/** A string value (NFC-normalised, as cty normalises every string). */
export function str(s: string): Value {
  return { type: T.string, raw: s.normalize('NFC') };
}
/** A number value. */
export function num(n: number): Value {
  return { type: T.number, raw: n };
}
/** A bool value. */
export function bool(b: boolean): Value {
  return b ? TRUE : FALSE;
}
/** true. */
export const TRUE: Value = { type: T.bool, raw: true };
/** false. */
export const FALSE: Value = { type: T.bool, raw: false };
/** The null of a type. */
export function nullOf(type: HclType): Value {
  return { type, raw: null };
}
/** The unknown of a type. */
export function unknownOf(type: HclType): Value {
  return { type, raw: UNKNOWN };
}
/** cty.DynamicVal: an unknown of unknown type. */
export const DYNAMIC: Value = { type: T.dynamic, raw: UNKNOWN };
/** cty.NilVal's stand-in: null of dynamic type. */
export const NULL: Value = { type: T.dynamic, raw: null };

/** A tuple of the given elements. */
export function tuple(elements: readonly Value[]): Value {
  return { type: tupleType(elements.map((e) => e.type)), raw: elements };
}

/** An object with the given attributes. */
export function object(attrs: Record<string, Value> | ReadonlyMap<string, Value>): Value {
  const map = sortedMap(attrs instanceof Map ? attrs : new Map(Object.entries(attrs)));
  const types = new Map<string, HclType>();
  for (const [k, v] of map) types.set(k, v.type);
  return { type: { kind: 'object', attributes: types }, raw: map };
}

/**
 * A list. Every element must have the same type (cty.ListVal); the element type is needed
 * only for an empty list. Throws HclDiagnosticError on mixed types — unify them first.
 */
export function list(elements: readonly Value[], elementType?: HclType): Value {
  const ety = collectionElementType(elements, elementType, 'list');
  return { type: listType(ety), raw: elements };
}

/** A set: duplicates removed and elements ordered as cty orders them. */
export function set(elements: readonly Value[], elementType?: HclType): Value {
  const ety = collectionElementType(elements, elementType, 'set');
  const out: Value[] = [];
  const seen = new Set<string>();
  for (const e of elements) {
    // unknowns are never merged: each may turn out to be any value
    if (e.raw === UNKNOWN) {
      out.push(e);
      continue;
    }
    const key = canonicalKey(e);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(e);
    }
  }
  out.sort(setOrder);
  return { type: setType(ety), raw: out };
}

/** A map; every element must have the same type (see list). */
export function map(
  elements: Record<string, Value> | ReadonlyMap<string, Value>,
  elementType?: HclType,
): Value {
  const m = sortedMap(elements instanceof Map ? elements : new Map(Object.entries(elements)));
  const ety = collectionElementType([...m.values()], elementType, 'map');
  return { type: mapType(ety), raw: m };
}

function collectionElementType(
  elements: readonly Value[],
  given: HclType | undefined,
  kind: string,
): HclType {
  if (elements.length === 0) {
    if (!given) throw new Error(`an empty ${kind} needs its element type`);
    return given;
  }
  const first = elements[0]!.type;
  for (const e of elements) {
    if (!typeEquals(e.type, first)) {
      throw new HclDiagnosticError(
        `Inconsistent ${kind} element types`,
        `All elements of a ${kind} must have the same type.`,
      );
    }
  }
  return first;
}

/** Whether the value is null. */
export function isNull(v: Value): boolean {
  return v.raw === null;
}
/** Whether the value is known (an unknown nested inside a known collection still counts). */
export function isKnown(v: Value): boolean {
  return v.raw !== UNKNOWN;
}
/** Whether the value and everything inside it is known. */
export function isWhollyKnown(v: Value): boolean {
  if (v.raw === UNKNOWN) return false;
  if (Array.isArray(v.raw)) return (v.raw as readonly Value[]).every(isWhollyKnown);
  if (v.raw instanceof Map) return [...v.raw.values()].every(isWhollyKnown);
  return true;
}

/** The string inside a known, non-null string value. */
export function asString(v: Value): string {
  if (v.type.kind !== 'string' || typeof v.raw !== 'string') throw notA(v, 'string');
  return v.raw;
}
/** The number inside a known, non-null number value. */
export function asNumber(v: Value): number {
  if (v.type.kind !== 'number' || typeof v.raw !== 'number') throw notA(v, 'number');
  return v.raw;
}
/** The boolean inside a known, non-null bool value. */
export function asBool(v: Value): boolean {
  if (v.type.kind !== 'bool' || typeof v.raw !== 'boolean') throw notA(v, 'bool');
  return v.raw;
}
/** The elements of a known, non-null list, set or tuple. */
export function elementsOf(v: Value): readonly Value[] {
  if (!Array.isArray(v.raw)) throw notA(v, 'list, set or tuple');
  return v.raw as readonly Value[];
}
/** The entries (sorted by key) of a known, non-null map or object. */
export function entriesOf(v: Value): ReadonlyMap<string, Value> {
  if (!(v.raw instanceof Map)) throw notA(v, 'map or object');
  return v.raw;
}
/** The number of elements of a known, non-null collection or structural value. */
export function lengthOf(v: Value): number {
  if (Array.isArray(v.raw)) return v.raw.length;
  if (v.raw instanceof Map) return v.raw.size;
  throw notA(v, 'collection');
}

function notA(v: Value, what: string): Error {
  const state = v.raw === null ? 'null ' : v.raw === UNKNOWN ? 'unknown ' : '';
  return new Error(`internal: expected a known ${what}, got ${state}${friendlyTypeName(v.type)}`);
}

/** Whether the type can hold elements by index (list, set, tuple). */
export function isSequenceType(t: HclType): boolean {
  return t.kind === 'list' || t.kind === 'set' || t.kind === 'tuple';
}

/** Whether two values are identical: same type, same payload, unknowns equal to unknowns. */
export function rawEquals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (!typeEquals(a.type, b.type)) return false;
  return rawPayloadEquals(a.raw, b.raw);
}

function rawPayloadEquals(a: Raw, b: Raw): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((e: Value, i: number) => rawEquals(e, b[i]));
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) {
      const w = b.get(k);
      if (!w || !rawEquals(v, w)) return false;
    }
    return true;
  }
  return false;
}

/**
 * HCL's `==`: a bool value, unknown when the answer depends on an unknown. Nulls of any type
 * are equal; values of different types are never equal (`1 == "1"` is false).
 */
export function equals(a: Value, b: Value): Value {
  const ak = isKnown(a);
  const bk = isKnown(b);
  if (!ak || !bk) {
    if (!ak && !bk) return unknownOf(T.bool);
    const [known, unknown] = ak ? [a, b] : [b, a];
    if (isNull(known) || hasDynamicTypes(unknown.type)) return unknownOf(T.bool);
    if (!typeEquals(known.type, unknown.type)) return FALSE;
    return unknownOf(T.bool);
  }
  if (isNull(a) && isNull(b)) return TRUE;
  if (isNull(a) || isNull(b)) return FALSE;
  if (!typeEquals(a.type, b.type)) {
    if (hasDynamicTypes(a.type) || hasDynamicTypes(b.type)) return unknownOf(T.bool);
    return FALSE;
  }
  return deepEquals(a, b);
}

function deepEquals(a: Value, b: Value): Value {
  if (!isKnown(a) || !isKnown(b)) return unknownOf(T.bool);
  if (isNull(a) || isNull(b)) return bool(isNull(a) && isNull(b));
  const ar = a.raw;
  const br = b.raw;
  if (Array.isArray(ar) && Array.isArray(br)) {
    if (ar.length !== br.length) return FALSE;
    if (a.type.kind === 'set') {
      // sets with unknowns cannot be compared element by element
      if (!isWhollyKnown(a) || !isWhollyKnown(b)) return unknownOf(T.bool);
      return bool(rawEquals(a, b));
    }
    let unknown = false;
    for (let i = 0; i < ar.length; i++) {
      const r = equals(ar[i] as Value, br[i] as Value);
      if (r.raw === false) return FALSE;
      if (r.raw === UNKNOWN) unknown = true;
    }
    return unknown ? unknownOf(T.bool) : TRUE;
  }
  if (ar instanceof Map && br instanceof Map) {
    if (ar.size !== br.size) return FALSE;
    let unknown = false;
    for (const [k, v] of ar) {
      const w = br.get(k);
      if (!w) return FALSE;
      const r = equals(v, w);
      if (r.raw === false) return FALSE;
      if (r.raw === UNKNOWN) unknown = true;
    }
    return unknown ? unknownOf(T.bool) : TRUE;
  }
  return bool(ar === br);
}

/** cty's set ordering: known before unknown, nulls last, strings by code point, numbers by value. */
function setOrder(a: Value, b: Value): number {
  if (a.raw === null || b.raw === null) return (a.raw === null ? 1 : 0) - (b.raw === null ? 1 : 0);
  if (a.raw === UNKNOWN || b.raw === UNKNOWN)
    return (a.raw === UNKNOWN ? 1 : 0) - (b.raw === UNKNOWN ? 1 : 0);
  if (typeof a.raw === 'string' && typeof b.raw === 'string')
    return compareCodePoints(a.raw, b.raw);
  if (typeof a.raw === 'number' && typeof b.raw === 'number') return a.raw - b.raw;
  if (typeof a.raw === 'boolean' && typeof b.raw === 'boolean')
    return Number(a.raw) - Number(b.raw);
  // cty orders other element types by an internal hash: any consistent order will do
  return compareCodePoints(canonicalKey(a), canonicalKey(b));
}

function canonicalKey(v: Value): string {
  if (v.raw === null) return '\u0000null';
  if (v.raw === UNKNOWN) return '\u0000unknown';
  if (Array.isArray(v.raw)) return `[${(v.raw as readonly Value[]).map(canonicalKey).join(';')}]`;
  if (v.raw instanceof Map)
    return `{${[...v.raw].map(([k, e]) => `${JSON.stringify(k)}=${canonicalKey(e)}`).join(';')}}`;
  // String(), not JSON: JSON writes both infinities as null
  return typeof v.raw === 'number' ? String(v.raw + 0) : JSON.stringify(v.raw);
}

const HIGH = /[\ud800-\uffff]/;

/** Compares strings by Unicode code point (= UTF-8 byte order, Go's string order). */
export function compareCodePoints(a: string, b: string): number {
  // UTF-16 order is code point order unless a surrogate meets a character above U+D7FF
  if (!HIGH.test(a) || !HIGH.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // a surrogate (an astral code point) sorts above every BMP character
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function sortedMap<V>(m: ReadonlyMap<string, V>): ReadonlyMap<string, V> {
  const keys = [...m.keys()];
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (compareCodePoints(keys[i - 1]!, keys[i]!) > 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return m;
  keys.sort(compareCodePoints);
  return new Map(keys.map((k) => [k, m.get(k)!]));
}

// ---------------------------------------------------------------------------------------------
// Numbers as text

/** A number as cty prints it: plain decimal, never an exponent (1e21 → "1000000000000000000000"). */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (Object.is(n, -0)) return '0';
  const s = String(n);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const neg = s.startsWith('-');
  const mantissa = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const intLen = (dot < 0 ? mantissa.length : dot) + exp;
  let out: string;
  if (intLen <= 0) out = `0.${'0'.repeat(-intLen)}${digits}`;
  else if (intLen >= digits.length) out = digits + '0'.repeat(intLen - digits.length);
  else out = `${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  return neg ? `-${out}` : out;
}

const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a decimal number as cty.ParseNumberVal does; undefined when it is not one. */
export function parseNumber(s: string): number | undefined {
  if (!NUMBER_TEXT.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

// ---------------------------------------------------------------------------------------------
// Conversion

/** A conversion of one value, throwing ConversionError when the value cannot convert. */
type Conv = (v: Value, path: string) => Value;

/** Why a value did not convert; `path` locates the element (`[0].name`), empty for the top. */
export class ConversionError extends UserError {
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string) {
    super('HclConversion', path ? `${path}: ${reason}` : reason);
    this.name = 'ConversionError';
    this.path = path;
    this.reason = reason;
  }
}

/**
 * Converts a value to a type with cty's (unsafe) rules: number↔string, bool↔string,
 * tuple→list/set, object→map, list↔set, map→object, unification of element types.
 * Throws ConversionError with cty's message when it cannot.
 */
export function convert(v: Value, want: HclType): Value {
  if (typeEquals(v.type, withoutOptional(want))) return v;
  const conv = getConversion(v.type, want, true);
  if (!conv) throw new ConversionError('', mismatchMessage(v.type, want));
  return conv(v, '');
}

/** Whether a value of type `from` can convert to `to` (some values may still fail). */
export function canConvert(from: HclType, to: HclType, unsafe = true): boolean {
  return typeEquals(from, to) || getConversion(from, to, unsafe) !== undefined;
}

function getConversion(from: HclType, to: HclType, unsafe: boolean): Conv | undefined {
  const conv = getKnownConversion(from, to, unsafe);
  if (!conv) return undefined;
  return (v, path) => {
    if (to.kind === 'dynamic') return v;
    if (v.raw === UNKNOWN) return unknownOf(dynamicReplace(v.type, withoutOptional(to)));
    if (v.raw === null) return nullOf(dynamicReplace(v.type, withoutOptional(to)));
    return conv(v, path);
  };
}

function getKnownConversion(from: HclType, to: HclType, unsafe: boolean): Conv | undefined {
  if (to.kind === 'dynamic') return (v) => v;
  if (from.kind === 'dynamic') {
    // only null and unknown have dynamic type; getConversion handles both
    return unsafe ? (v) => v : undefined;
  }
  if (isPrimitiveType(from) && isPrimitiveType(to)) return primitiveConversion(from, to, unsafe);
  if (from.kind === 'object' && to.kind === 'object') return objectToObject(from, to, unsafe);
  if (from.kind === 'tuple' && to.kind === 'tuple') return tupleToTuple(from, to, unsafe);
  if (to.kind === 'list' && (from.kind === 'list' || from.kind === 'set')) {
    const ec = typeEquals(from.element, to.element)
      ? undefined
      : getConversion(from.element, to.element, unsafe);
    if (!typeEquals(from.element, to.element) && !ec) return undefined;
    return collectionToSequence('list', to.element, ec);
  }
  if (to.kind === 'set' && (from.kind === 'list' || from.kind === 'set')) {
    if (from.kind === 'list' && !unsafe) return undefined;
    const same = typeEquals(from.element, to.element);
    const ec = same ? undefined : getConversion(from.element, to.element, unsafe);
    if (!same && !ec) return undefined;
    return collectionToSequence('set', to.element, ec);
  }
  if (to.kind === 'map' && from.kind === 'map') {
    const ec = getConversion(from.element, to.element, unsafe);
    if (!ec) return undefined;
    return mapToMap(to.element, ec);
  }
  if ((to.kind === 'list' || to.kind === 'set') && from.kind === 'tuple') {
    return tupleToSequence(from, to.kind, to.element, unsafe);
  }
  if (to.kind === 'map' && from.kind === 'object') return objectToMap(from, to.element, unsafe);
  if (to.kind === 'object' && from.kind === 'map') {
    return unsafe ? mapToObject(from, to, unsafe) : undefined;
  }
  return undefined;
}

function primitiveConversion(from: HclType, to: HclType, unsafe: boolean): Conv | undefined {
  if (from.kind === to.kind) return (v) => v;
  if (to.kind === 'string') {
    if (from.kind === 'number') return (v) => str(formatNumber(v.raw as number));
    return (v) => str(v.raw ? 'true' : 'false');
  }
  if (!unsafe || from.kind !== 'string') return undefined;
  if (to.kind === 'number') {
    return (v, path) => {
      const n = parseNumber(v.raw as string);
      if (n === undefined) throw new ConversionError(path, 'a number is required');
      return num(n);
    };
  }
  return (v, path) => {
    const s = v.raw as string;
    if (s === 'true' || s === '1') return TRUE;
    if (s === 'false' || s === '0') return FALSE;
    const lower = s.toLowerCase();
    if (lower === 'true' || lower === 'false') {
      throw new ConversionError(
        path,
        `a bool is required; to convert from string, use lowercase "${lower}"`,
      );
    }
    throw new ConversionError(path, 'a bool is required');
  };
}

function objectToObject(
  from: Extract<HclType, { kind: 'object' }>,
  to: Extract<HclType, { kind: 'object' }>,
  unsafe: boolean,
): Conv | undefined {
  const convs = new Map<string, Conv | undefined>();
  for (const [name, outT] of to.attributes) {
    const inT = from.attributes.get(name);
    if (!inT) {
      if (to.optional?.has(name)) continue;
      return undefined;
    }
    if (typeEquals(inT, outT)) {
      convs.set(name, undefined);
      continue;
    }
    const c = getConversion(inT, outT, unsafe);
    if (!c) return undefined;
    convs.set(name, c);
  }
  return (v, path) => {
    const out = new Map<string, Value>();
    for (const [name, e] of v.raw as ReadonlyMap<string, Value>) {
      if (!convs.has(name)) continue;
      const c = convs.get(name);
      out.set(name, c ? c(e, `${path}.${name}`) : e);
    }
    for (const name of to.optional ?? []) {
      if (!out.has(name)) out.set(name, nullOf(withoutOptional(to.attributes.get(name)!)));
    }
    return object(out);
  };
}

function tupleToTuple(
  from: Extract<HclType, { kind: 'tuple' }>,
  to: Extract<HclType, { kind: 'tuple' }>,
  unsafe: boolean,
): Conv | undefined {
  if (from.elements.length !== to.elements.length) return undefined;
  const convs: (Conv | undefined)[] = [];
  for (let i = 0; i < to.elements.length; i++) {
    const a = from.elements[i]!;
    const b = to.elements[i]!;
    if (typeEquals(a, b)) {
      convs.push(undefined);
      continue;
    }
    const c = getConversion(a, b, unsafe);
    if (!c) return undefined;
    convs.push(c);
  }
  return (v, path) =>
    tuple((v.raw as readonly Value[]).map((e, i) => convs[i]?.(e, `${path}[${i}]`) ?? e));
}

function collectionToSequence(kind: 'list' | 'set', ety: HclType, ec: Conv | undefined): Conv {
  return (v, path) => {
    const elems = (v.raw as readonly Value[]).map((e, i) => (ec ? ec(e, `${path}[${i}]`) : e));
    if (elems.length === 0) {
      const t = ety.kind === 'dynamic' ? (v.type as { element: HclType }).element : ety;
      return kind === 'list' ? list([], withoutOptional(t)) : set([], withoutOptional(t));
    }
    requireSameTypes(elems, path, `element types must all match for conversion to ${kind}`);
    return kind === 'list' ? list(elems) : set(elems);
  };
}

function mapToMap(ety: HclType, ec: Conv): Conv {
  return (v, path) => {
    const out = new Map<string, Value>();
    for (const [k, e] of v.raw as ReadonlyMap<string, Value>)
      out.set(k, ec(e, `${path}[${JSON.stringify(k)}]`));
    if (out.size === 0) {
      const t = ety.kind === 'dynamic' ? (v.type as { element: HclType }).element : ety;
      return map(out, withoutOptional(t));
    }
    const unified =
      isCollectionType(ety) || ety.kind === 'object' ? unifyElements(out, path, false) : out;
    requireSameTypes(
      [...unified.values()],
      path,
      'element types must all match for conversion to map',
    );
    return map(unified);
  };
}

function tupleToSequence(
  from: Extract<HclType, { kind: 'tuple' }>,
  kind: 'list' | 'set',
  wantEty: HclType,
  unsafe: boolean,
): Conv | undefined {
  const etys = from.elements;
  if (etys.length === 0) {
    return () =>
      kind === 'list' ? list([], withoutOptional(wantEty)) : set([], withoutOptional(wantEty));
  }
  let ety = wantEty;
  if (ety.kind === 'dynamic') {
    const u = unify(etys, unsafe);
    if (!u) return undefined;
    if (u.kind === 'dynamic' && !etys.every((t) => t.kind === 'dynamic')) return undefined;
    ety = u;
  }
  const convs: (Conv | undefined)[] = [];
  for (const t of etys) {
    if (typeEquals(t, ety)) {
      convs.push(undefined);
      continue;
    }
    const c = getConversion(t, ety, unsafe);
    if (!c) return undefined;
    convs.push(c);
  }
  return (v, path) => {
    let elems = (v.raw as readonly Value[]).map((e, i) => convs[i]?.(e, `${path}[${i}]`) ?? e);
    if (kind === 'list') {
      const u = unify(
        elems.map((e) => e.type),
        unsafe,
      );
      if (!u) throw new ConversionError(path, 'cannot find a common base type for all elements');
      elems = elems.map((e, i) =>
        typeEquals(e.type, u) ? e : getConversion(e.type, u, unsafe)!(e, `${path}[${i}]`),
      );
    }
    requireSameTypes(elems, path, `element types must all match for conversion to ${kind}`);
    return kind === 'list' ? list(elems) : set(elems);
  };
}

function objectToMap(
  from: Extract<HclType, { kind: 'object' }>,
  wantEty: HclType,
  unsafe: boolean,
): Conv | undefined {
  if (from.attributes.size === 0) return () => map(new Map(), withoutOptional(wantEty));
  let ety = wantEty;
  if (ety.kind === 'dynamic') {
    const u = unify([...from.attributes.values()], unsafe);
    if (!u) return undefined;
    ety = u;
  }
  const convs = new Map<string, Conv>();
  for (const [name, t] of from.attributes) {
    if (typeEquals(t, ety)) continue;
    const c = getConversion(t, ety, unsafe);
    if (!c) return undefined;
    convs.set(name, c);
  }
  const finalEty = ety;
  return (v, path) => {
    let out = new Map<string, Value>();
    for (const [k, e] of v.raw as ReadonlyMap<string, Value>) {
      const c = convs.get(k);
      out.set(k, c ? c(e, `${path}.${k}`) : e);
    }
    if (isCollectionType(finalEty) || finalEty.kind === 'object')
      out = unifyElements(out, path, unsafe);
    requireSameTypes(
      [...out.values()],
      path,
      'attribute types must all match for conversion to map',
    );
    return map(out);
  };
}

function mapToObject(
  from: Extract<HclType, { kind: 'list' | 'map' | 'set' }>,
  to: Extract<HclType, { kind: 'object' }>,
  unsafe: boolean,
): Conv | undefined {
  const convs = new Map<string, Conv | undefined>();
  for (const [name, t] of to.attributes) {
    if (typeEquals(t, from.element)) continue;
    const c = getConversion(from.element, t, unsafe);
    if (!c && !(to.optional?.has(name) && unsafe)) return undefined;
    convs.set(name, c);
  }
  return (v, path) => {
    const out = new Map<string, Value>();
    for (const [k, e] of v.raw as ReadonlyMap<string, Value>) {
      const want = to.attributes.get(k);
      if (!want) continue;
      let val = e;
      if (convs.has(k)) {
        const c = convs.get(k);
        if (!c) {
          throw new ConversionError(
            path,
            `map element type is incompatible with attribute "${k}": ${mismatchMessage(e.type, want)}`,
          );
        }
        val = c(e, `${path}["${k}"]`);
      }
      out.set(k, val);
    }
    for (const [name, t] of to.attributes) {
      if (out.has(name)) continue;
      if (to.optional?.has(name)) out.set(name, nullOf(withoutOptional(t)));
      else throw new ConversionError(path, `map has no element for required attribute "${name}"`);
    }
    return object(out);
  };
}

function unifyElements(
  elems: Map<string, Value>,
  path: string,
  unsafe: boolean,
): Map<string, Value> {
  const u = unify(
    [...elems.values()].map((e) => e.type),
    unsafe,
  );
  if (!u) throw new ConversionError(path, 'cannot find a common base type for all elements');
  const out = new Map<string, Value>();
  for (const [k, e] of elems) {
    if (typeEquals(e.type, u)) out.set(k, e);
    else {
      const c = getConversion(e.type, u, unsafe);
      if (!c) throw new ConversionError(path, 'cannot find a common base type for all elements');
      out.set(k, c(e, `${path}["${k}"]`));
    }
  }
  return out;
}

function requireSameTypes(elems: readonly Value[], path: string, message: string): void {
  const first = elems[0]?.type;
  if (first && !elems.every((e) => typeEquals(e.type, first)))
    throw new ConversionError(path, message);
}

/** cty's dynamicReplace: the wanted type with `dynamic` parts filled from the input type. */
function dynamicReplace(inT: HclType, out: HclType): HclType {
  if (inT.kind === 'dynamic') return out;
  switch (out.kind) {
    case 'dynamic':
      return inT;
    case 'string':
    case 'number':
    case 'bool':
      return out;
    case 'map':
      if (inT.kind === 'map') return mapType(dynamicReplace(inT.element, out.element));
      if (inT.kind === 'object') {
        const u = unify([...inT.attributes.values()], true) ?? T.dynamic;
        return mapType(dynamicReplace(u, out.element));
      }
      return out;
    case 'object': {
      const attrs = new Map<string, HclType>();
      for (const [k, t] of out.attributes) {
        const src =
          inT.kind === 'map'
            ? inT.element
            : inT.kind === 'object'
              ? inT.attributes.get(k)
              : undefined;
        attrs.set(k, src ? dynamicReplace(src, t) : t);
      }
      return { kind: 'object', attributes: attrs };
    }
    case 'tuple': {
      if (inT.kind === 'tuple' && inT.elements.length === out.elements.length)
        return tupleType(out.elements.map((t, i) => dynamicReplace(inT.elements[i]!, t)));
      if (inT.kind === 'list')
        return tupleType(out.elements.map((t) => dynamicReplace(inT.element, t)));
      return out;
    }
    case 'list':
    case 'set': {
      if (inT.kind === 'list' || inT.kind === 'set')
        return { kind: out.kind, element: dynamicReplace(inT.element, out.element) };
      if (inT.kind === 'tuple') {
        const u = unify(inT.elements, true) ?? T.dynamic;
        return { kind: out.kind, element: dynamicReplace(u, out.element) };
      }
      return out;
    }
  }
}

/**
 * The one type every given type converts to, cty's Unify (unsafe allows string→number and
 * the like); undefined when there is none.
 */
export function unify(types: readonly HclType[], unsafe = false): HclType | undefined {
  if (types.length === 0) return undefined;
  let maps = 0;
  let lists = 0;
  let sets = 0;
  let objects = 0;
  let tuples = 0;
  let dynamics = 0;
  for (const t of types) {
    if (t.kind === 'map') maps++;
    else if (t.kind === 'list') lists++;
    else if (t.kind === 'set') sets++;
    else if (t.kind === 'object') objects++;
    else if (t.kind === 'tuple') tuples++;
    else if (t.kind === 'dynamic') dynamics++;
  }
  const n = types.length;
  if (maps > 0 && maps + dynamics === n)
    return unifyCollections('map', types, unsafe, dynamics > 0);
  if (maps > 0 && maps + objects + dynamics === n) {
    const r = unifyStructuralAs('map', types, unsafe);
    if (r) return r;
  } else if (lists > 0 && lists + dynamics === n) {
    return unifyCollections('list', types, unsafe, dynamics > 0);
  } else if (lists > 0 && lists + tuples + dynamics === n) {
    const r = unifyStructuralAs('list', types, unsafe);
    if (r) return r;
  } else if (sets > 0 && sets + dynamics === n) {
    return unifyCollections('set', types, unsafe, dynamics > 0);
  } else if (objects > 0 && objects + dynamics === n) {
    return unifyObjects(types, unsafe, dynamics > 0);
  } else if (tuples > 0 && tuples + dynamics === n) {
    return unifyTuples(types, unsafe, dynamics > 0);
  } else if (objects > 0 && tuples > 0) {
    return undefined;
  }
  for (const i of preferenceOrder(types)) {
    const want = types[i]!;
    if (types.every((t, j) => j === i || typeEquals(t, want) || getConversion(t, want, unsafe)))
      return want;
  }
  return undefined;
}

function unifyStructuralAs(kind: 'map' | 'list', types: readonly HclType[], unsafe: boolean) {
  const structural = types.filter((t) => t.kind === (kind === 'map' ? 'object' : 'tuple'));
  const asColl =
    kind === 'map' ? unifyObjectsToMap(structural, unsafe) : unifyTuplesToList(structural, unsafe);
  if (!asColl) return undefined;
  const replaced = types.map((t) =>
    t.kind === (kind === 'map' ? 'object' : 'tuple') ? asColl : t,
  );
  const r = unify(replaced, unsafe);
  return r && r.kind === kind ? r : undefined;
}

function unifyCollections(
  kind: 'map' | 'list' | 'set',
  types: readonly HclType[],
  unsafe: boolean,
  hasDynamic: boolean,
): HclType | undefined {
  if (hasDynamic) return T.dynamic;
  const ety = unify(
    types.map((t) => (t as { element: HclType }).element),
    unsafe,
  );
  if (!ety) return undefined;
  const ret: HclType = { kind, element: ety };
  return types.every((t) => typeEquals(t, ret) || getConversion(t, ret, unsafe)) ? ret : undefined;
}

function unifyObjects(types: readonly HclType[], unsafe: boolean, hasDynamic: boolean) {
  if (hasDynamic) return T.dynamic;
  const objs = types as Extract<HclType, { kind: 'object' }>[];
  const first = objs[0]!.attributes;
  for (const o of objs.slice(1)) {
    if (o.attributes.size !== first.size || [...o.attributes.keys()].some((k) => !first.has(k)))
      return unifyObjectsToMap(types, unsafe);
  }
  const attrs = new Map<string, HclType>();
  for (const name of first.keys()) {
    const u = unify(
      objs.map((o) => o.attributes.get(name)!),
      unsafe,
    );
    if (!u) return undefined;
    attrs.set(name, u);
  }
  const ret: HclType = { kind: 'object', attributes: attrs };
  return types.every((t) => typeEquals(t, ret) || getConversion(t, ret, unsafe))
    ? ret
    : unifyObjectsToMap(types, unsafe);
}

function unifyObjectsToMap(types: readonly HclType[], unsafe: boolean): HclType | undefined {
  const atys = types.flatMap((t) => [
    ...(t as Extract<HclType, { kind: 'object' }>).attributes.values(),
  ]);
  const ety = unify(atys, unsafe);
  if (!ety) return undefined;
  const ret = mapType(ety);
  return types.every((t) => typeEquals(t, ret) || getConversion(t, ret, unsafe)) ? ret : undefined;
}

function unifyTuples(types: readonly HclType[], unsafe: boolean, hasDynamic: boolean) {
  if (hasDynamic) return T.dynamic;
  const tups = types as Extract<HclType, { kind: 'tuple' }>[];
  const len = tups[0]!.elements.length;
  if (tups.some((t) => t.elements.length !== len)) return unifyTuplesToList(types, unsafe);
  const etys: HclType[] = [];
  for (let i = 0; i < len; i++) {
    const u = unify(
      tups.map((t) => t.elements[i]!),
      unsafe,
    );
    if (!u) return undefined;
    etys.push(u);
  }
  const ret = tupleType(etys);
  return types.every((t) => typeEquals(t, ret) || getConversion(t, ret, unsafe))
    ? ret
    : unifyTuplesToList(types, unsafe);
}

function unifyTuplesToList(types: readonly HclType[], unsafe: boolean): HclType | undefined {
  const etys = types.flatMap((t) => (t as Extract<HclType, { kind: 'tuple' }>).elements);
  const ety = unify(etys, unsafe);
  if (!ety) return undefined;
  const ret = listType(ety);
  return types.every((t) => typeEquals(t, ret) || getConversion(t, ret, unsafe)) ? ret : undefined;
}

/** cty's sortTypes: a topological order with the most general type (string, dynamic) first. */
function preferenceOrder(types: readonly HclType[]): number[] {
  const n = types.length;
  const edges: number[][] = types.map(() => []);
  for (let i = 0; i < n - 1; i++) {
    for (let j = i + 1; j < n; j++) {
      const c = compareTypes(types[i]!, types[j]!);
      if (c < 0) edges[i]!.push(j);
      else if (c > 0) edges[j]!.push(i);
    }
  }
  const inDegree = new Array<number>(n).fill(0);
  for (const outs of edges) for (const j of outs) inDegree[j]!++;
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (inDegree[i] === 0) queue.push(i);
  for (let q = 0; q < queue.length; q++) {
    for (const j of edges[queue[q]!]!) {
      inDegree[j]!--;
      if (inDegree[j] === 0) queue.push(j);
    }
  }
  return queue;
}

/** Negative when a is the more general (preferred) type. */
function compareTypes(a0: HclType, b0: HclType): number {
  let a = a0;
  let b = b0;
  if (a.kind === 'dynamic' || b.kind === 'dynamic') {
    if (a.kind !== 'dynamic') return -1;
    if (b.kind !== 'dynamic') return 1;
    return 0;
  }
  if (isPrimitiveType(a) && isPrimitiveType(b) && (a.kind === 'string' || b.kind === 'string')) {
    if (a.kind !== 'string') return 1;
    if (b.kind !== 'string') return -1;
    return 0;
  }
  if (isCollectionType(a) && isCollectionType(b) && a.kind === b.kind)
    return compareTypes(a.element, b.element);
  let swap = 1;
  if (
    (a.kind === 'tuple' && b.kind === 'list') ||
    (a.kind === 'object' && b.kind === 'map') ||
    (a.kind === 'set' && (b.kind === 'tuple' || b.kind === 'list'))
  ) {
    [a, b] = [b, a];
    swap = -1;
  }
  if (b.kind === 'set' && (a.kind === 'tuple' || a.kind === 'list')) return -swap;
  if (a.kind === 'list' && b.kind === 'tuple') return -swap;
  if (a.kind === 'map' && b.kind === 'object') return -swap;
  const pairs: [HclType, HclType][] = [];
  if (a.kind === 'object' && b.kind === 'object') {
    if (a.attributes.size !== b.attributes.size) return 0;
    for (const [k, t] of a.attributes) {
      const u = b.attributes.get(k);
      if (!u) return 0;
      pairs.push([t, u]);
    }
  } else if (a.kind === 'tuple' && b.kind === 'tuple') {
    if (a.elements.length !== b.elements.length) return 0;
    const be = b.elements;
    for (let i = 0; i < a.elements.length; i++) pairs.push([a.elements[i]!, be[i]!]);
  } else {
    return 0;
  }
  let aSuper = false;
  let bSuper = false;
  for (const [x, y] of pairs) {
    const c = compareTypes(x, y);
    if (c < 0) aSuper = true;
    else if (c > 0) bSuper = true;
  }
  if (aSuper && bSuper) return 0;
  if (aSuper) return -swap;
  if (bSuper) return swap;
  return 0;
}

/** cty's MismatchMessage: why a value of type `got` cannot be used where `want` is required. */
export function mismatchMessage(got: HclType, want: HclType): string {
  if (got.kind === 'object' && want.kind === 'object') {
    const missing = [...want.attributes.keys()]
      .filter((k) => !got.attributes.has(k) && !want.optional?.has(k))
      .sort(compareCodePoints);
    if (missing.length === 1) return `attribute "${missing[0]}" is required`;
    if (missing.length === 2) return `attributes "${missing[0]}" and "${missing[1]}" are required`;
    if (missing.length > 2) {
      const head = missing
        .slice(0, -1)
        .map((m) => `"${m}", `)
        .join('');
      return `attributes ${head}and "${missing[missing.length - 1]}" are required`;
    }
    for (const [k, w] of want.attributes) {
      const g = got.attributes.get(k);
      if (g && !typeEquals(g, w) && !getConversion(g, w, true))
        return `attribute "${k}": ${mismatchMessage(g, w)}`;
    }
    return 'incorrect object attributes';
  }
  if (got.kind === 'tuple' && want.kind === 'list' && want.element.kind === 'dynamic')
    return 'all list elements must have the same type';
  if (got.kind === 'tuple' && want.kind === 'set' && want.element.kind === 'dynamic')
    return 'all set elements must have the same type';
  if (got.kind === 'object' && want.kind === 'map' && want.element.kind === 'dynamic')
    return 'all map elements must have the same type';
  if ((got.kind === 'tuple' || got.kind === 'object') && isCollectionType(want)) {
    if ((want.kind === 'map') !== (got.kind === 'object'))
      return `${friendlyConstraintName(want)} required`;
    const inner: [string, HclType][] =
      got.kind === 'tuple'
        ? got.elements.map((t, i) => [String(i), t])
        : [...got.attributes].map(([k, t]) => [JSON.stringify(k), t]);
    for (const [name, t] of inner) {
      if (!typeEquals(t, want.element) && !getConversion(t, want.element, true))
        return `element ${name}: ${mismatchMessage(t, want.element)}`;
    }
    return `all elements must be ${friendlyConstraintName(want.element)}`;
  }
  if (isCollectionType(got) && isCollectionType(want)) {
    const seq = (t: HclType) => t.kind === 'list' || t.kind === 'set';
    if (want.kind === 'map' ? got.kind !== 'map' : !seq(got))
      return `${friendlyConstraintName(want)} required`;
    return `incorrect ${want.kind} element type: ${mismatchMessage(got.element, want.element)}`;
  }
  if (!likelyConfusing(got, want))
    return `${friendlyTypeName(want)} required, but have ${friendlyTypeName(got)}`;
  return `${friendlyConstraintName(want)} required`;
}

function likelyConfusing(got: HclType, want: HclType): boolean {
  // cty drops the "but have X" part where naming X would mislead (list vs tuple and the like)
  if (isPrimitiveType(got) !== isPrimitiveType(want)) return false;
  if (want.kind === 'string') return false;
  if (
    (want.kind === 'bool' && got.kind === 'number') ||
    (got.kind === 'bool' && want.kind === 'number')
  )
    return false;
  if (
    isCollectionType(got) &&
    isCollectionType(want) &&
    !hasDynamicTypes(got.element) &&
    hasDynamicTypes(want.element)
  )
    return false;
  if (got.kind === 'tuple' && want.kind === 'object') return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Functions

/** One parameter of a function. */
export interface FunctionParam {
  name: string;
  /** The argument is converted to this type before the call (dynamic: passed as is). */
  type: HclType;
  /** Null may be passed; otherwise a null argument is an error. */
  allowNull?: boolean;
  /** Unknown may be passed; otherwise an unknown argument makes the result unknown. */
  allowUnknown?: boolean;
  /** A value of dynamic type (an untyped unknown or null) may be passed. */
  allowDynamicType?: boolean;
}

/** An HCL function (cty's function.Spec): typed parameters, return type, implementation. */
export interface FunctionDef {
  /** One line, for errors and docs. */
  description?: string;
  params: readonly FunctionParam[];
  /** The variadic tail: every further argument has this parameter's rules. */
  varParam?: FunctionParam;
  /**
   * The return type, or a function of the (converted) arguments computing it; it may throw
   * HclDiagnosticError to reject arguments before the call.
   */
  returnType: HclType | ((args: readonly Value[]) => HclType);
  /** The implementation; receives converted arguments and the computed return type. */
  impl: (args: readonly Value[], returnType: HclType) => Value;
}

/**
 * A function (or evaluation) error: summary and detail as HCL prints them. `argIndex` tells the
 * evaluator which argument to point at (cty's function.NewArgError).
 */
export class HclDiagnosticError extends UserError {
  readonly summary: string;
  readonly detail: string;
  readonly argIndex: number | undefined;
  constructor(summary: string, detail: string, argIndex?: number) {
    super('HclDiagnostic', detail ? `${summary}: ${detail}` : summary);
    this.name = 'HclDiagnosticError';
    this.summary = summary;
    this.detail = detail;
    this.argIndex = argIndex;
  }
}

/**
 * Calls a function as cty's Function.Call does: arity check, arguments converted to their
 * parameter types, null and unknown rules applied, return type computed. Throws
 * HclDiagnosticError (with argIndex when one argument is at fault).
 */
export function callFunction(fn: FunctionDef, args: readonly Value[]): Value {
  const min = fn.params.length;
  if (args.length < min || (!fn.varParam && args.length > min)) {
    const expect = fn.varParam ? `at least ${min}` : `exactly ${min}`;
    const plural = min === 1 && !fn.varParam ? 'argument' : 'arguments';
    throw new HclDiagnosticError(
      args.length < min ? 'Not enough function arguments' : 'Too many function arguments',
      `Function expects ${expect} ${plural}.`,
    );
  }
  const converted: Value[] = [];
  let unknownResult = false;
  let dynamicResult = false;
  for (let i = 0; i < args.length; i++) {
    const p = (i < min ? fn.params[i] : fn.varParam)!;
    let a = args[i]!;
    if (a.raw === null && !p.allowNull) {
      throw new HclDiagnosticError(
        'Invalid function argument',
        `Invalid value for "${p.name}" parameter: argument must not be null.`,
        i,
      );
    }
    // an argument whose type is not known yet makes the result's type unknown too
    if (a.type.kind === 'dynamic' && !p.allowDynamicType) dynamicResult = true;
    try {
      a = convert(a, p.type);
    } catch (err) {
      if (!(err instanceof ConversionError)) throw err;
      throw new HclDiagnosticError(
        'Invalid function argument',
        `Invalid value for "${p.name}" parameter: ${err.message}.`,
        i,
      );
    }
    if (!isWhollyKnown(a) && !p.allowUnknown) unknownResult = true;
    converted.push(a);
  }
  if (dynamicResult) return DYNAMIC;
  if (unknownResult) {
    let rt: HclType = T.dynamic;
    if (typeof fn.returnType !== 'function') rt = fn.returnType;
    else {
      try {
        rt = fn.returnType(converted);
      } catch {
        rt = T.dynamic;
      }
    }
    return unknownOf(rt);
  }
  const rt = typeof fn.returnType === 'function' ? fn.returnType(converted) : fn.returnType;
  return fn.impl(converted, rt);
}
