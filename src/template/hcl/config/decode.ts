/**
 * The top level of an HCL2 template, read from all its files as Packer reads it: `packer`,
 * `variable`/`variables`, `locals`/`local`, `data`, `source` and `build` blocks, each checked
 * for its labels and duplicates. Bodies are kept unevaluated: evaluation follows Packer's order
 * (variables → locals and data → sources → builds) in load.ts.
 */
import { nearest } from '../../../lib/suggest.js';
import type { Attribute, Block, Body, Diagnostic, Expr, Range } from '../ast.js';
import { diag } from './diagnostics.js';
import type { ParsedFile } from './files.js';
import { decodeVariableBlock, decodeVariablesBlock, type VariableDecl } from './variables.js';

/** A `locals` attribute or a `local "name"` block. */
export interface LocalDef {
  name: string;
  expr: Expr;
  sensitive: boolean;
  range: Range;
}

/** A `source "type" "name"` or `data "type" "name"` block. */
export interface LabelledBlock {
  type: string;
  name: string;
  block: Block;
}

/** A `source "source.type.name"` use inside a build, or an entry of `sources`. */
export interface SourceUse {
  type: string;
  name: string;
  /** The body of a `source` block in the build: `name` renames, the rest overrides. */
  override?: Body;
  range: Range;
}

/** A provisioner or post-processor block of a build. */
export interface PluginBlockRef {
  type: string;
  block: Block;
  /** A `dynamic "provisioner"` or `"post-processor"` block, expanded once values are known (dynamic-refs.ts). */
  dynamic?: boolean;
}

/**
 * One entry of a build's post-processors, in order: a chain (a lone `post-processor` is a chain
 * of one; a `post-processors` block may hold `dynamic "post-processor"` blocks, expanded in
 * place), a `dynamic "post-processor"` (one chain of one per element) or a
 * `dynamic "post-processors"` (one chain per element).
 */
export type PostProcessorEntry =
  | { kind: 'chain'; refs: PluginBlockRef[] }
  | { kind: 'dynamic-post-processor'; ref: PluginBlockRef }
  | { kind: 'dynamic-post-processors'; block: Block };

/** A `build` block, its parts still unevaluated. */
export interface BuildBlock {
  block: Block;
  /** The index among the template's builds (`<unnamed build N>`). */
  index: number;
  nameAttr?: Attribute;
  descriptionAttr?: Attribute;
  sourcesAttr?: Attribute;
  sourceBlocks: Block[];
  provisioners: PluginBlockRef[];
  errorCleanup?: PluginBlockRef;
  /** The post-processor chains, as written (expanded by dynamic-refs.ts `expandChains`). */
  postProcessors: PostProcessorEntry[];
}

/** Everything the files declare. */
export interface Declarations {
  variables: Map<string, VariableDecl>;
  locals: Map<string, LocalDef>;
  data: Map<string, LabelledBlock>;
  sources: Map<string, LabelledBlock>;
  builds: BuildBlock[];
  packer: Block[];
}

const TOP_BLOCKS: Record<string, number> = {
  packer: 0,
  variable: 1,
  variables: 0,
  locals: 0,
  local: 1,
  data: 2,
  source: 2,
  build: 0,
};

const BUILD_BLOCKS: Record<string, number> = {
  source: 1,
  provisioner: 1,
  'post-processor': 1,
  'post-processors': 0,
  'error-cleanup-provisioner': 1,
};

/** Checks a block's label count as hashicorp/hcl's schema decode does. */
export function checkLabels(b: Block, want: number, diags: Diagnostic[]): boolean {
  if (b.labels.length === want) return true;
  if (b.labels.length < want) {
    diags.push(
      diag(
        'Missing name for ' + b.type,
        `All ${b.type} blocks must have ${want} label${want === 1 ? '' : 's'}.`,
        b.openBraceRange,
      ),
    );
  } else {
    diags.push(
      diag(
        `Extraneous label for ${b.type}`,
        want === 0
          ? 'No labels are expected for ' + b.type + ' blocks.'
          : `Only ${want} label${want === 1 ? '' : 's'} expected for ${b.type} blocks.`,
        b.labelRanges[want] ?? b.typeRange,
      ),
    );
  }
  return false;
}

/** Reports a block type not expected in a body, with the nearest expected one. */
export function unsupportedBlock(b: Block, expected: string[], diags: Diagnostic[]): void {
  const near = nearest(b.type, expected);
  diags.push(
    diag(
      'Unsupported block type',
      `Blocks of type "${b.type}" are not expected here.${near ? ` Did you mean "${near}"?` : ''}`,
      b.typeRange,
    ),
  );
}

/** Reports an attribute not expected in a body, with the nearest expected one. */
export function unsupportedAttribute(a: Attribute, expected: string[], diags: Diagnostic[]): void {
  const near = nearest(a.name, expected);
  diags.push(
    diag(
      'Unsupported argument',
      `An argument named "${a.name}" is not expected here.${near ? ` Did you mean "${near}"?` : ''}`,
      a.nameRange,
    ),
  );
}

/** Reads every file's top-level blocks into declarations; problems go to `diags`. */
export function decodeFiles(
  files: readonly ParsedFile[],
  env: NodeJS.ProcessEnv,
  diags: Diagnostic[],
): Declarations {
  const d: Declarations = {
    variables: new Map(),
    locals: new Map(),
    data: new Map(),
    sources: new Map(),
    builds: [],
    packer: [],
  };
  const addVariable = (v: VariableDecl) => {
    const prev = d.variables.get(v.name);
    if (prev) {
      diags.push(
        diag(
          'Duplicate variable',
          `Duplicate ${v.name} variable definition found (first at ${prev.range.filename}:${prev.range.start.line}).`,
          v.range,
        ),
      );
      return;
    }
    d.variables.set(v.name, v);
  };
  const addLocal = (l: LocalDef) => {
    const prev = d.locals.get(l.name);
    if (prev) {
      diags.push(
        diag(
          'Duplicate local',
          `Duplicate ${l.name} local definition found (first at ${prev.range.filename}:${prev.range.start.line}).`,
          l.range,
        ),
      );
      return;
    }
    d.locals.set(l.name, l);
  };
  for (const f of files) {
    for (const a of f.file.body.attributes) unsupportedAttribute(a, [], diags);
    for (const b of f.file.body.blocks) {
      const want = TOP_BLOCKS[b.type];
      if (want === undefined) {
        unsupportedBlock(b, Object.keys(TOP_BLOCKS), diags);
        continue;
      }
      if (!checkLabels(b, want, diags)) continue;
      switch (b.type) {
        case 'packer':
          d.packer.push(b);
          break;
        case 'variable':
          addVariable(decodeVariableBlock(b, env, diags));
          break;
        case 'variables':
          for (const v of decodeVariablesBlock(b, env, diags)) addVariable(v);
          break;
        case 'locals':
          for (const a of b.body.attributes)
            addLocal({ name: a.name, expr: a.expr, sensitive: false, range: a.range });
          for (const inner of b.body.blocks) unsupportedBlock(inner, [], diags);
          break;
        case 'local': {
          const expr = b.body.attributes.find((a) => a.name === 'expression');
          let sensitive = false;
          for (const a of b.body.attributes) {
            if (a.name === 'sensitive') {
              sensitive = a.expr.kind === 'literal' && a.expr.value.raw === true;
            } else if (a.name !== 'expression')
              unsupportedAttribute(a, ['expression', 'sensitive'], diags);
          }
          if (!expr) {
            diags.push(
              diag(
                'Missing required argument',
                'The argument "expression" is required, but no definition was found.',
                b.closeBraceRange,
              ),
            );
            break;
          }
          addLocal({ name: b.labels[0]!, expr: expr.expr, sensitive, range: b.range });
          break;
        }
        case 'data':
        case 'source': {
          const key = `${b.labels[0]}.${b.labels[1]}`;
          const map = b.type === 'data' ? d.data : d.sources;
          const prev = map.get(key);
          if (prev) {
            diags.push(
              diag(
                `Duplicate ${b.type} block`,
                `This ${b.type} block has the same type and name as a previous block (${prev.block.range.filename}:${prev.block.range.start.line}); each must be unique.`,
                b.range,
              ),
            );
            break;
          }
          map.set(key, { type: b.labels[0]!, name: b.labels[1]!, block: b });
          break;
        }
        case 'build':
          d.builds.push(decodeBuild(b, d.builds.length, diags));
          break;
      }
    }
  }
  return d;
}

function decodeBuild(b: Block, index: number, diags: Diagnostic[]): BuildBlock {
  const out: BuildBlock = {
    block: b,
    index,
    sourceBlocks: [],
    provisioners: [],
    postProcessors: [],
  };
  for (const a of b.body.attributes) {
    if (a.name === 'name') out.nameAttr = a;
    else if (a.name === 'description') out.descriptionAttr = a;
    else if (a.name === 'sources') out.sourcesAttr = a;
    else unsupportedAttribute(a, ['name', 'description', 'sources'], diags);
  }
  for (const inner of b.body.blocks) {
    if (inner.type === 'dynamic' && inner.labels.length === 1) {
      const ref = { type: '', block: inner, dynamic: true };
      if (inner.labels[0] === 'provisioner') {
        out.provisioners.push(ref);
        continue;
      }
      if (inner.labels[0] === 'post-processor') {
        out.postProcessors.push({ kind: 'dynamic-post-processor', ref });
        continue;
      }
      if (inner.labels[0] === 'post-processors') {
        // the content is checked once here; each element's chain is read when expanded
        const content = inner.body.blocks.find((c) => c.type === 'content');
        if (content) decodeChain(content.body, diags);
        out.postProcessors.push({ kind: 'dynamic-post-processors', block: inner });
        continue;
      }
    }
    const want = BUILD_BLOCKS[inner.type];
    if (want === undefined) {
      unsupportedBlock(inner, Object.keys(BUILD_BLOCKS), diags);
      continue;
    }
    if (!checkLabels(inner, want, diags)) continue;
    switch (inner.type) {
      case 'source':
        out.sourceBlocks.push(inner);
        break;
      case 'provisioner':
        out.provisioners.push({ type: inner.labels[0]!, block: inner });
        break;
      case 'error-cleanup-provisioner':
        if (out.errorCleanup) {
          diags.push(
            diag(
              'Duplicate error-cleanup-provisioner block',
              'Only one error-cleanup-provisioner block is allowed in a build.',
              inner.typeRange,
            ),
          );
        } else out.errorCleanup = { type: inner.labels[0]!, block: inner };
        break;
      case 'post-processor':
        out.postProcessors.push({
          kind: 'chain',
          refs: [{ type: inner.labels[0]!, block: inner }],
        });
        break;
      case 'post-processors':
        out.postProcessors.push({ kind: 'chain', refs: decodeChain(inner.body, diags) });
        break;
    }
  }
  return out;
}

/** The body of a `post-processors` block: `post-processor` and `dynamic "post-processor"` blocks. */
export function decodeChain(body: Body, diags: Diagnostic[]): PluginBlockRef[] {
  const chain: PluginBlockRef[] = [];
  for (const a of body.attributes) unsupportedAttribute(a, [], diags);
  for (const pp of body.blocks) {
    if (pp.type === 'dynamic' && pp.labels.length === 1 && pp.labels[0] === 'post-processor') {
      chain.push({ type: '', block: pp, dynamic: true });
      continue;
    }
    if (pp.type !== 'post-processor') {
      unsupportedBlock(pp, ['post-processor'], diags);
      continue;
    }
    if (checkLabels(pp, 1, diags)) chain.push({ type: pp.labels[0]!, block: pp });
  }
  return chain;
}
