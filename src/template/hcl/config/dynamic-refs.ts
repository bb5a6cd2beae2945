/**
 * `dynamic "provisioner"` (or `"post-processor"`, `"post-processors"`) `{ for_each, iterator,
 * labels, content { … } }` in a build block: one block per element, in the place of the dynamic
 * block, as Packer expands a build's body with hashicorp/hcl's `dynblock` (Packer 1.6.6 does) —
 * inside a `post-processors` chain too, and inside the chains a `dynamic "post-processors"`
 * makes. Each made block is evaluated with the iterator (`<name>.key`, `<name>.value`) bound.
 */
import type { Block, Diagnostic } from '../ast.js';
import { type EvalContext, evaluate } from '../evaluate.js';
import {
  ConversionError,
  convert,
  elementsOf,
  entriesOf,
  isKnown,
  isNull,
  listType,
  num,
  object,
  str,
  T,
  type Value,
} from '../value.js';
import { decodeChain, type PluginBlockRef, type PostProcessorEntry } from './decode.js';
import { diag } from './diagnostics.js';

/** A plugin block, with the root variables a dynamic block binds for it. */
export interface BoundRef extends PluginBlockRef {
  bindings?: Record<string, Value>;
}

/** The refs with each dynamic one replaced by the blocks it makes (problems go to `diags`). */
export function expandDynamicRefs(
  refs: readonly BoundRef[],
  ctx: EvalContext,
  diags: Diagnostic[],
): BoundRef[] {
  return refs.flatMap((r) => {
    if (!r.dynamic) return [r];
    // a dynamic block inside another's content sees the outer iterator too
    const outer = r.bindings ?? {};
    return expand(r.block, withBindings(ctx, outer), diags, 1).map(({ block, bindings }) => ({
      type: block.labels[0]!,
      block,
      bindings: { ...outer, ...bindings },
    }));
  });
}

/** A build's post-processor chains with every dynamic block expanded, in order. */
export function expandChains(
  entries: readonly PostProcessorEntry[],
  ctx: EvalContext,
  diags: Diagnostic[],
): BoundRef[][] {
  const chains: BoundRef[][] = [];
  for (const e of entries) {
    if (e.kind === 'chain') chains.push(expandDynamicRefs(e.refs, ctx, diags));
    else if (e.kind === 'dynamic-post-processor')
      chains.push(...expandDynamicRefs([e.ref], ctx, diags).map((r) => [r]));
    else
      for (const { block, bindings } of expand(e.block, ctx, diags, 0)) {
        const refs = decodeChain(block.body, []).map((r) => ({ ...r, bindings }));
        chains.push(expandDynamicRefs(refs, ctx, diags));
      }
  }
  return chains;
}

function withBindings(ctx: EvalContext, bindings: Record<string, Value>): EvalContext {
  if (Object.keys(bindings).length === 0) return ctx;
  const vars = ctx.variables instanceof Map ? Object.fromEntries(ctx.variables) : ctx.variables;
  return { ...ctx, variables: { ...vars, ...bindings } };
}

/**
 * The blocks a dynamic block makes: its content with the labels it computes (`want` of them:
 * a provisioner or post-processor has one, its type; `post-processors` none) and the iterator.
 */
function expand(
  b: Block,
  ctx: EvalContext,
  diags: Diagnostic[],
  want: number,
): Array<{ block: Block; bindings: Record<string, Value> }> {
  const kind = b.labels[0]!;
  let iterator = kind;
  const forEachAttr = b.body.attributes.find((a) => a.name === 'for_each');
  const labelsAttr = b.body.attributes.find((a) => a.name === 'labels');
  for (const a of b.body.attributes) {
    if (a.name === 'iterator') {
      if (a.expr.kind !== 'variable') {
        diags.push(
          diag('Invalid dynamic iterator name', 'The iterator must be a bare name.', a.expr.range),
        );
        return [];
      }
      iterator = a.expr.name;
    } else if (!['for_each', 'labels'].includes(a.name)) {
      diags.push(
        diag(
          'Unsupported argument',
          `An argument named "${a.name}" is not expected here.`,
          a.nameRange,
        ),
      );
    }
  }
  const contents = b.body.blocks.filter((c) => c.type === 'content');
  if (!forEachAttr || (!labelsAttr && want > 0) || contents.length !== 1) {
    diags.push(
      diag(
        contents.length !== 1 ? 'Missing content block' : 'Missing required argument',
        contents.length !== 1
          ? 'A dynamic block needs exactly one "content" block.'
          : `The argument "${forEachAttr ? 'labels' : 'for_each'}" is required: a ${kind} block has a label (its type).`,
        b.typeRange,
      ),
    );
    return [];
  }
  const r = evaluate(forEachAttr.expr, ctx);
  diags.push(...r.diagnostics);
  if (r.diagnostics.length > 0) return [];
  const forEach = r.value;
  if (!isKnown(forEach) || isNull(forEach)) {
    diags.push(
      diag(
        'Invalid dynamic for_each value',
        'Cannot use a null or unknown value in for_each.',
        forEachAttr.expr.range,
      ),
    );
    return [];
  }
  const k = forEach.type.kind;
  let items: Array<[Value, Value]>;
  if (k === 'map' || k === 'object') items = [...entriesOf(forEach)].map(([n, v]) => [str(n), v]);
  else if (k === 'list' || k === 'tuple' || k === 'set')
    items = elementsOf(forEach).map((v, i) => [k === 'set' ? v : num(i), v]);
  else {
    diags.push(
      diag(
        'Invalid dynamic for_each value',
        `Cannot use a ${k} value in for_each. An iterable collection is required.`,
        forEachAttr.expr.range,
      ),
    );
    return [];
  }
  const content = contents[0]!;
  const vars = ctx.variables instanceof Map ? Object.fromEntries(ctx.variables) : ctx.variables;
  const out: Array<{ block: Block; bindings: Record<string, Value> }> = [];
  for (const [key, value] of items) {
    const bindings = { [iterator]: object({ key, value }) };
    if (!labelsAttr) {
      out.push({
        block: { ...content, type: kind, labels: [], labelRanges: [], typeRange: b.typeRange },
        bindings,
      });
      continue;
    }
    const lr = evaluate(labelsAttr.expr, { ...ctx, variables: { ...vars, ...bindings } });
    diags.push(...lr.diagnostics);
    if (lr.diagnostics.length > 0) return [];
    let labels: string[];
    try {
      labels = elementsOf(convert(lr.value, listType(T.string))).map((v) => String(v.raw));
    } catch (err) {
      if (!(err instanceof ConversionError)) throw err;
      labels = [];
    }
    if (labels.length !== want) {
      diags.push(
        diag(
          'Invalid dynamic block labels',
          want === 0
            ? `A ${kind} block has no labels: leave out "labels".`
            : `A ${kind} block has one label, its type: write labels = ["<type>"].`,
          labelsAttr.expr.range,
        ),
      );
      return [];
    }
    const block: Block = {
      ...content,
      type: kind,
      labels,
      labelRanges: labels.map(() => labelsAttr.expr.range),
      typeRange: b.labelRanges[0] ?? b.typeRange,
    };
    out.push({ block, bindings });
  }
  return out;
}
