/**
 * The `packer { required_version, required_plugins }` block. kiln stands for Packer 1.6.6 with
 * its plugins built in: `required_version` is checked against 1.6.6 (hashicorp/go-version
 * constraints); `required_plugins` cannot be installed, so each entry is checked against the
 * components kiln has and a warning names what it lacks.
 */
import type { Registry } from '../../../core/plugin.js';
import { PACKER_COMPAT_VERSION } from '../../interpolate.js';
import type { Attribute, Block, Diagnostic } from '../ast.js';
import { evaluate } from '../evaluate.js';
import { entriesOf, isKnown, isNull, type Value } from '../value.js';
import { unsupportedAttribute, unsupportedBlock } from './decode.js';
import { diag } from './diagnostics.js';

const VERSION = /^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

function parse(v: string): { seg: number[]; pre: string } | undefined {
  const m = VERSION.exec(v.trim());
  if (!m) return undefined;
  return { seg: m[1]!.split('.').map(Number), pre: m[2] ?? '' };
}

function cmp(a: { seg: number[]; pre: string }, b: { seg: number[]; pre: string }): number {
  for (let i = 0; i < Math.max(a.seg.length, b.seg.length, 3); i++) {
    const d = (a.seg[i] ?? 0) - (b.seg[i] ?? 0);
    if (d !== 0) return d;
  }
  if (a.pre === b.pre) return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  return a.pre < b.pre ? -1 : 1;
}

/**
 * Whether `version` meets a go-version constraint list (`>= 1.6.0, < 2.0.0`, `~> 1.6`);
 * undefined when the constraint is malformed.
 */
export function meetsConstraint(version: string, constraint: string): boolean | undefined {
  const have = parse(version)!;
  for (const part of constraint.split(',')) {
    const m = /^\s*(=|!=|>=|<=|>|<|~>)?\s*(\S+)\s*$/.exec(part);
    if (!m) return undefined;
    const want = parse(m[2]!);
    if (!want) return undefined;
    const c = cmp(have, want);
    switch (m[1] ?? '=') {
      case '=':
        if (c !== 0) return false;
        break;
      case '!=':
        if (c === 0) return false;
        break;
      case '>':
        if (c <= 0) return false;
        break;
      case '<':
        if (c >= 0) return false;
        break;
      case '>=':
        if (c < 0) return false;
        break;
      case '<=':
        if (c > 0) return false;
        break;
      case '~>': {
        // pessimistic: >= want, and the segments but the last written one stay the same
        if (c < 0) return false;
        const fixed = Math.max(1, m[2]!.replace(/^v/, '').split('-')[0]!.split('.').length - 1);
        for (let i = 0; i < fixed; i++) if ((have.seg[i] ?? 0) !== (want.seg[i] ?? 0)) return false;
        break;
      }
    }
  }
  return true;
}

/**
 * The `source` of one `required_plugins` entry, which must be an object whose `source` is a
 * fully qualified address (`<hostname>/<namespace>/<name>`), as Packer ≥ 1.7 requires
 * (developer.hashicorp.com/packer/docs/templates/hcl_templates/blocks/packer#specifying-plugin-requirements);
 * undefined after a diagnostic.
 */
function pluginSource(a: Attribute, v: Value, diags: Diagnostic[]): string | undefined {
  const example = `${a.name} = { source = "github.com/hashicorp/${a.name}", version = ">= 1.0.0" }`;
  if (v.type.kind !== 'object' && v.type.kind !== 'map') {
    diags.push(
      diag(
        'Invalid required_plugins entry',
        `"${a.name}" must be an object with a "source" and a "version", such as ${example}.`,
        a.expr.range,
      ),
    );
    return undefined;
  }
  const s = entriesOf(v).get('source');
  const source = s && typeof s.raw === 'string' ? s.raw : '';
  const parts = source.split('/');
  if (parts.length < 3 || parts.some((p) => p === '')) {
    diags.push(
      diag(
        'Invalid plugin source',
        `${source ? `"${source}" is not` : `"${a.name}" has no`} a fully qualified plugin source: write it as <hostname>/<namespace>/<name>, such as ${example}.`,
        a.expr.range,
      ),
    );
    return undefined;
  }
  return source;
}

/** Checks every `packer` block; returns warnings (plugins kiln lacks), problems go to `diags`. */
export function checkPackerBlocks(
  blocks: readonly Block[],
  registry: Registry,
  diags: Diagnostic[],
): string[] {
  const warnings: string[] = [];
  for (const b of blocks) {
    for (const a of b.body.attributes) {
      if (a.name !== 'required_version') {
        unsupportedAttribute(a, ['required_version'], diags);
        continue;
      }
      const r = evaluate(a.expr, {});
      diags.push(...r.diagnostics);
      if (r.diagnostics.length > 0 || typeof r.value.raw !== 'string') continue;
      const ok = meetsConstraint(PACKER_COMPAT_VERSION, r.value.raw);
      if (ok === undefined)
        diags.push(
          diag('Invalid version constraint', `Malformed constraint: ${r.value.raw}`, a.expr.range),
        );
      else if (!ok)
        diags.push(
          diag(
            'Unsupported Packer Core version',
            `This configuration does not support Packer version ${PACKER_COMPAT_VERSION} (kiln follows Packer ${PACKER_COMPAT_VERSION}). To proceed, either choose another supported Packer version or update this version constraint. Version constraints are normally set for good reason, so updating the constraint may lead to other errors or unexpected behavior.`,
            a.expr.range,
          ),
        );
    }
    for (const inner of b.body.blocks) {
      if (inner.type !== 'required_plugins') {
        unsupportedBlock(inner, ['required_plugins'], diags);
        continue;
      }
      for (const a of inner.body.attributes) {
        const r = evaluate(a.expr, {});
        diags.push(...r.diagnostics);
        if (r.diagnostics.length > 0 || !isKnown(r.value) || isNull(r.value)) continue;
        const source = pluginSource(a, r.value, diags);
        if (source === undefined) continue;
        // github.com/hashicorp/amazon → amazon: kiln's components of that plugin start with it
        const plugin = (source.split('/').pop() ?? a.name).replace(/^packer-plugin-/, '');
        const names = [
          ...Object.keys(registry.builders),
          ...Object.keys(registry.provisioners),
          ...Object.keys(registry.postProcessors),
          ...Object.keys(registry.dataSources ?? {}),
        ];
        const has = names.filter((n) => n === plugin || n.startsWith(`${plugin}-`));
        warnings.push(
          has.length > 0
            ? `required_plugins "${a.name}" (${source || a.name}): kiln has its own ${has.join(', ')} built in; the version constraint is not checked and nothing is installed`
            : `required_plugins "${a.name}" (${source || a.name}): kiln has no component of this plugin built in; blocks of its types will be rejected`,
        );
      }
    }
  }
  return warnings;
}
