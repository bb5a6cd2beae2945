/**
 * `optional(T, default)` in a type constraint: once a value has been converted to the type
 * (absent optional attributes are then null), every null optional attribute that has a
 * default takes it — at any depth, in the elements of collections too, and inside defaults
 * themselves — as hashicorp/hcl's `typeexpr.Defaults.Apply` does for Packer ≥ 1.8
 * (https://developer.hashicorp.com/packer/docs/templates/hcl_templates/variables#optional-object-type-attributes).
 */
import {
  convert,
  entriesOf,
  type HclType,
  isKnown,
  isNull,
  list,
  map,
  object,
  set,
  tuple,
  type Value,
  withoutOptional,
} from './value.js';

/** One default of an optional attribute, by its path in the type (`*` for any element). */
export interface TypeDefault {
  path: string[];
  value: Value;
}

/** The value with every null optional attribute that has a default set to that default. */
export function applyTypeDefaults(
  value: Value,
  type: HclType,
  defaults: readonly TypeDefault[],
): Value {
  if (defaults.length === 0) return value;
  const byPath = new Map(defaults.map((d) => [d.path.join('\u0000'), d.value]));
  return apply(value, type, [], byPath);
}

function apply(v: Value, t: HclType, path: string[], defaults: Map<string, Value>): Value {
  if (isNull(v) || !isKnown(v)) return v;
  switch (t.kind) {
    case 'object': {
      const out = new Map<string, Value>();
      for (const [name, child] of entriesOf(v)) {
        const childType = t.attributes.get(name);
        if (!childType) {
          out.set(name, child);
          continue;
        }
        const at = [...path, name];
        const fallback = defaults.get(at.join('\u0000'));
        const filled =
          isNull(child) && fallback !== undefined ? convert(fallback, childType) : child;
        out.set(name, apply(filled, childType, at, defaults));
      }
      return object(out);
    }
    case 'list':
    case 'set': {
      const at = [...path, '*'];
      const elements = (v.raw as readonly Value[]).map((e) => apply(e, t.element, at, defaults));
      const ety = elements[0]?.type ?? withoutOptional(t.element);
      return t.kind === 'list' ? list(elements, ety) : set(elements, ety);
    }
    case 'map': {
      const at = [...path, '*'];
      const out = new Map<string, Value>();
      for (const [k, e] of entriesOf(v)) out.set(k, apply(e, t.element, at, defaults));
      return map(out, withoutOptional(t.element));
    }
    case 'tuple':
      return tuple(
        (v.raw as readonly Value[]).map((e, i) =>
          apply(e, t.elements[i]!, [...path, String(i)], defaults),
        ),
      );
    default:
      return v;
  }
}
