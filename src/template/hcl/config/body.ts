/**
 * A plugin block's body (attributes, nested blocks, `dynamic` blocks) evaluated into the plain
 * object its plugin's zod schema validates, as Packer decodes a body with the plugin's HCL2
 * spec: a nested block becomes an object, or one element of a list when the schema holds a
 * list there (`launch_block_device_mappings { … }` twice is a list of two). Every key's place
 * in the file is kept, so a schema problem at a path points at the attribute or block.
 */
import type { Body, Diagnostic, Range } from '../ast.js';
import { type EvalContext, evaluate } from '../evaluate.js';
import { elementsOf, entriesOf, isKnown, isNull, num, object, str, type Value } from '../value.js';
import { diag } from './diagnostics.js';
import { toPlain, UnknownValueError } from './plain.js';

/** A path inside a block: keys and list indexes. */
export type BlockPath = Array<string | number>;

/** Where each key of a decoded block was written: the key's name and its value. */
export class PlaceMap {
  private readonly places = new Map<string, { key: Range; value: Range }>();
  constructor(readonly block: Range) {}
  /** Records where the value at `path` was written. */
  set(path: BlockPath, key: Range, value: Range): void {
    this.places.set(JSON.stringify(path), { key, value });
  }
  /** Where the value at `path` (or its nearest recorded ancestor) was written. */
  find(path: BlockPath, atKey = false): Range {
    for (let n = path.length; n > 0; n--) {
      const p = this.places.get(JSON.stringify(path.slice(0, n)));
      if (p) return atKey && n === path.length ? p.key : p.value;
    }
    return this.block;
  }
  /** Adds another map's places (a source block's overrides). */
  merge(other: PlaceMap): void {
    for (const [k, v] of other.places) this.places.set(k, v);
  }
}

type Def = { type?: string; [k: string]: unknown };
const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } })?._zod?.def;
const WRAPPERS = new Set([
  'optional',
  'nullable',
  'default',
  'prefault',
  'catch',
  'readonly',
  'nonoptional',
]);

function unwrap(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const d = defOf(s);
    if (!d) return s;
    if (WRAPPERS.has(d.type ?? '')) s = d.innerType;
    else if (d.type === 'pipe') s = d.in;
    else if (d.type === 'lazy') s = (d.getter as () => unknown)();
    else return s;
  }
  return s;
}

/** The schema of the value at key `key` of an object schema (undefined: not known). */
function fieldSchema(schema: unknown, key: string): unknown {
  const d = defOf(unwrap(schema));
  if (!d) return undefined;
  if (d.type === 'object') return (d.shape as Record<string, unknown>)[key];
  if (d.type === 'record') return d.valueType;
  if (d.type === 'union') {
    for (const o of d.options as unknown[]) {
      const f = fieldSchema(o, key);
      if (f !== undefined) return f;
    }
  }
  return undefined;
}

/** Whether the schema holds a list at this place (blocks written there repeat). */
function isList(schema: unknown): boolean {
  const d = defOf(unwrap(schema));
  if (!d) return false;
  if (d.type === 'array') return true;
  if (d.type === 'union')
    return (d.options as unknown[]).some((o) => defOf(unwrap(o))?.type === 'array');
  return false;
}

function elementSchema(schema: unknown): unknown {
  const d = defOf(unwrap(schema));
  if (d?.type === 'array') return d.element;
  if (d?.type === 'union') {
    const arr = (d.options as unknown[]).find((o) => defOf(unwrap(o))?.type === 'array');
    return arr ? defOf(unwrap(arr))!.element : undefined;
  }
  return undefined;
}

/** Null attributes are as good as absent (hcl2shim drops them): remove them from objects. */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(v)) if (e !== null) out[k] = dropNulls(e);
    return out;
  }
  return v;
}

/** Decodes bodies of one block kind in one evaluation context. */
export interface BodyDecodeOptions {
  ctx: EvalContext;
  /** Attributes the caller reads itself (`only`, `override`, `name`…): left out. */
  skip?: ReadonlySet<string>;
  diagnostics: Diagnostic[];
}

/** Evaluates a body into a plain object, recording places; problems go to `opts.diagnostics`. */
export function decodeBody(
  body: Body,
  schema: unknown,
  places: PlaceMap,
  opts: BodyDecodeOptions,
  path: BlockPath = [],
  into: Record<string, unknown> = {},
): Record<string, unknown> {
  const out = into;
  for (const a of body.attributes) {
    if (path.length === 0 && opts.skip?.has(a.name)) continue;
    const r = evaluate(a.expr, opts.ctx);
    opts.diagnostics.push(...r.diagnostics);
    if (r.diagnostics.some((d) => d.severity === 'error')) continue;
    let plain: unknown;
    try {
      plain = toPlain(r.value);
    } catch (err) {
      if (!(err instanceof UnknownValueError)) throw err;
      opts.diagnostics.push(
        diag(
          'Unknown value',
          `The value of "${a.name}" cannot be known before the build runs.`,
          a.expr.range,
        ),
      );
      continue;
    }
    if (plain === null) continue;
    out[a.name] = dropNulls(plain);
    places.set([...path, a.name], a.nameRange, a.expr.range);
  }
  const counts = new Map<string, number>();
  const addBlock = (
    type: string,
    typeRange: Range,
    blockRange: Range,
    decode: (p: BlockPath, s: unknown) => Record<string, unknown>,
  ) => {
    if (path.length === 0 && opts.skip?.has(type)) return;
    const fs = fieldSchema(schema, type);
    if (isList(fs)) {
      if (!Object.hasOwn(out, type)) out[type] = [];
      const list = out[type];
      if (!Array.isArray(list)) return;
      const i = list.length;
      places.set([...path, type, i], typeRange, blockRange);
      if (i === 0) places.set([...path, type], typeRange, blockRange);
      list.push(decode([...path, type, i], elementSchema(fs)));
      return;
    }
    const n = (counts.get(type) ?? 0) + 1;
    counts.set(type, n);
    if (n > 1 || Object.hasOwn(out, type)) {
      opts.diagnostics.push(
        diag(
          'Duplicate block',
          `Only one "${type}" block is allowed here (or it was set as an argument too).`,
          typeRange,
        ),
      );
      return;
    }
    places.set([...path, type], typeRange, blockRange);
    out[type] = decode([...path, type], fs);
  };
  for (const b of body.blocks) {
    if (b.type === 'dynamic') {
      expandDynamic(b, places, opts, addBlock);
      continue;
    }
    if (b.labels.length > 0) {
      opts.diagnostics.push(
        diag(
          'Extraneous label',
          `A "${b.type}" block takes no labels here.`,
          b.labelRanges[0] ?? b.typeRange,
        ),
      );
      continue;
    }
    addBlock(b.type, b.typeRange, b.range, (p, s) => decodeBody(b.body, s, places, opts, p, {}));
  }
  return out;
}

/** `dynamic "type" { for_each, iterator, content { … } }`: one `type` block per element. */
function expandDynamic(
  b: Body['blocks'][number],
  places: PlaceMap,
  opts: BodyDecodeOptions,
  addBlock: (
    type: string,
    typeRange: Range,
    blockRange: Range,
    decode: (p: BlockPath, s: unknown) => Record<string, unknown>,
  ) => void,
): void {
  const type = b.labels[0];
  if (b.labels.length !== 1 || type === undefined) {
    opts.diagnostics.push(
      diag(
        'Missing block label',
        'A dynamic block needs one label: the type of the blocks it makes.',
        b.typeRange,
      ),
    );
    return;
  }
  let forEach: Value | undefined;
  let iterator = type;
  for (const a of b.body.attributes) {
    if (a.name === 'for_each') {
      const r = evaluate(a.expr, opts.ctx);
      opts.diagnostics.push(...r.diagnostics);
      forEach = r.value;
    } else if (a.name === 'iterator') {
      if (a.expr.kind !== 'variable') {
        opts.diagnostics.push(
          diag('Invalid dynamic iterator name', 'The iterator must be a bare name.', a.expr.range),
        );
        return;
      }
      iterator = a.expr.name;
    } else if (a.name !== 'labels') {
      opts.diagnostics.push(
        diag(
          'Unsupported argument',
          `An argument named "${a.name}" is not expected here.`,
          a.nameRange,
        ),
      );
    }
  }
  const contents = b.body.blocks.filter((c) => c.type === 'content');
  if (forEach === undefined || contents.length !== 1) {
    opts.diagnostics.push(
      diag(
        forEach === undefined ? 'Missing required argument' : 'Missing content block',
        forEach === undefined
          ? 'The argument "for_each" is required.'
          : 'A dynamic block needs exactly one "content" block.',
        b.typeRange,
      ),
    );
    return;
  }
  if (!isKnown(forEach) || isNull(forEach)) {
    opts.diagnostics.push(
      diag(
        'Invalid dynamic for_each value',
        'Cannot use a null or unknown value in for_each.',
        b.typeRange,
      ),
    );
    return;
  }
  const kind = forEach.type.kind;
  let items: Array<[Value, Value]>;
  if (kind === 'map' || kind === 'object')
    items = [...entriesOf(forEach)].map(([k, v]) => [str(k), v]);
  else if (kind === 'list' || kind === 'tuple' || kind === 'set')
    items = elementsOf(forEach).map((v, i) => [kind === 'set' ? v : num(i), v]);
  else {
    opts.diagnostics.push(
      diag(
        'Invalid dynamic for_each value',
        `Cannot use a ${kind} value in for_each. An iterable collection is required.`,
        b.typeRange,
      ),
    );
    return;
  }
  const content = contents[0]!;
  const parentVars = opts.ctx.variables;
  const entries =
    parentVars instanceof Map
      ? [...parentVars]
      : Object.entries((parentVars ?? {}) as Record<string, Value>);
  for (const [key, value] of items) {
    const vars = new Map<string, Value>(entries);
    vars.set(iterator, object({ key, value }));
    const inner: BodyDecodeOptions = { ...opts, ctx: { ...opts.ctx, variables: vars } };
    addBlock(type, b.labelRanges[0] ?? b.typeRange, content.range, (p, s) =>
      decodeBody(content.body, s, places, inner, p, {}),
    );
  }
}
