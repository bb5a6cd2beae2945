/**
 * What `packer inspect` (1.6.6, HCL2 mode) shows for an HCL2 template: input variables and
 * locals with their values (sensitive ones hidden, unset ones `<unknown>`), then each build's
 * sources, provisioners and post-processor chains, as three lines said to the user.
 */
import { goQuote } from '../../../core/go-quote.js';
import type { Registry } from '../../../core/plugin.js';
import type { InspectLine } from '../../inspect.js';
import type { Diagnostic } from '../ast.js';
import { hasErrors } from '../ast.js';
import { evaluate } from '../evaluate.js';
import { makeFunctions } from '../functions/index.js';
import {
  elementsOf,
  entriesOf,
  formatNumber,
  isKnown,
  isNull,
  object,
  str,
  unknownOf,
  type Value,
} from '../value.js';
import { decodeFiles } from './decode.js';
import { diagnosticsError } from './diagnostics.js';
import { expandChains, expandDynamicRefs } from './dynamic-refs.js';
import { parseFile, templateFiles } from './files.js';
import { DataSources, pathObject, Scope } from './scope.js';
import { resolveVariables } from './variables.js';

/** A value as Packer's inspect prints it: strings bare, others in HCL syntax (hclwrite's layout). */
export function inspectValue(v: Value, indent = '', top = true): string {
  if (!isKnown(v)) return '<unknown>';
  if (isNull(v)) return 'null';
  switch (v.type.kind) {
    case 'string':
      return top ? (v.raw as string) : hclQuote(v.raw as string);
    case 'number':
      return formatNumber(v.raw as number);
    case 'bool':
      return String(v.raw);
    case 'list':
    case 'set':
    case 'tuple': {
      const els = elementsOf(v);
      if (els.length === 0) return '[]';
      const inner = `${indent}  `;
      return `[\n${els.map((e) => `${inner}${inspectValue(e, inner, false)},\n`).join('')}${indent}]`;
    }
    case 'map':
    case 'object': {
      // Packer's printer (hcl2shim, then the repl's formatter) leaves out null attributes
      const es = [...entriesOf(v)].filter(([, e]) => !(isKnown(e) && isNull(e)));
      if (es.length === 0) return '{}';
      const inner = `${indent}  `;
      return `{\n${es.map(([k, e]) => `${inner}${hclQuote(k)} = ${inspectValue(e, inner, false)}\n`).join('')}${indent}}`;
    }
    default:
      return '<unknown>';
  }
}

function hclQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += ch;
  }
  return `${out.replaceAll('${', '$${').replaceAll('%{', '%%{')}"`;
}

/** The lines `packer inspect TEMPLATE` prints for an HCL2 template, in order. */
export async function hclInspectLines(
  path: string,
  opts: {
    registry: Registry;
    env?: NodeJS.ProcessEnv;
    /** `-var` and `-var-file`, as `packer inspect` takes them: shown as the variables' values. */
    vars?: ReadonlyArray<[string, string]>;
    varFiles?: readonly string[];
  },
): Promise<InspectLine[]> {
  const env = opts.env ?? process.env;
  const diags: Diagnostic[] = [];
  const tf = templateFiles(path);
  const files = tf.files.map((f) => parseFile(f, diags));
  const sources = new Map(files.map((f) => [f.name, f.text]));
  if (hasErrors(diags)) throw diagnosticsError(diags, sources, path);
  const decls = decodeFiles(files, env, diags);
  if (hasErrors(diags)) throw diagnosticsError(diags, sources, path);
  const varDiags: Diagnostic[] = [];
  resolveVariables(
    decls.variables,
    { env, autoVarFiles: tf.autoVarFiles, varFiles: opts.varFiles ?? [], vars: opts.vars ?? [] },
    varDiags,
    [],
    sources,
  );
  // an unset variable is shown as <unknown>, not an error
  diags.push(...varDiags.filter((d) => !d.summary.startsWith('Unset variable')));
  if (hasErrors(diags)) throw diagnosticsError(diags, sources, path);
  const vars = new Map<string, Value>();
  for (const v of decls.variables.values()) {
    v.value ??= unknownOf(v.type);
    vars.set(v.name, v.sensitive ? str('<sensitive>') : v.value);
  }
  const data = new DataSources(decls.data, {}, []);
  const scope = new Scope(
    object(vars),
    decls.locals,
    data,
    makeFunctions({ baseDir: process.cwd() }),
    pathObject(tf.dir, process.cwd()),
    [],
  );
  await scope.evaluateAll();

  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  let vs = '> input-variables:\n\n';
  for (const name of [...vars.keys()].sort(byName)) {
    const v = decls.variables.get(name)!;
    vs += `var.${name}: ${goQuote(v.sensitive ? '<sensitive>' : inspectValue(v.value!))}\n`;
  }
  vs += '\n> local-variables:\n\n';
  const locals = scope.localValues();
  for (const name of [...locals.keys()].sort(byName)) {
    vs += `local.${name}: ${goQuote(inspectValue(locals.get(name)!))}\n`;
  }

  let bs = '> builds:\n';
  for (const b of decls.builds) {
    const ctx = scope.ctx();
    const strOf = (a: typeof b.nameAttr) => {
      if (!a) return '';
      const v = evaluate(a.expr, ctx).value;
      return typeof v.raw === 'string' ? v.raw : '';
    };
    const name = strOf(b.nameAttr) || `<unnamed build ${b.index}>`;
    bs += `\n  > ${name}:\n`;
    const desc = strOf(b.descriptionAttr);
    if (desc) bs += `\n  > Description: ${desc}\n`;
    bs += '\n    sources:\n';
    const refs: string[] = [];
    if (b.sourcesAttr) {
      const v = evaluate(b.sourcesAttr.expr, ctx).value;
      if (isKnown(v) && !isNull(v))
        for (const e of elementsOf(v)) if (typeof e.raw === 'string') refs.push(e.raw);
    }
    for (const sb of b.sourceBlocks) refs.push(sb.labels[0]!);
    if (refs.length === 0) bs += '\n      <no source>\n';
    for (const r of refs) bs += `\n      ${r.replace(/^source\./, '')}\n`;
    bs += '\n    provisioners:\n\n';
    const provisioners = expandDynamicRefs(b.provisioners, ctx, []);
    if (provisioners.length === 0) bs += '      <no provisioner>\n';
    for (const p of provisioners) bs += `      ${p.type}\n`;
    bs += '\n    post-processors:\n\n';
    const chains = expandChains(b.postProcessors, ctx, []);
    if (chains.length === 0) bs += '      <no post-processor>\n';
    for (const [i, chain] of chains.entries()) {
      if (i > 0) bs += '\n';
      bs += `      ${i}:\n`;
      for (const pp of chain) {
        const n = pp.block.body.attributes.find((a) => a.name === 'name');
        const ppName = n ? strOf(n) : '';
        bs += `        ${ppName ? `${pp.type}.${ppName}` : pp.type}\n`;
      }
    }
  }
  return [{ say: 'Packer Inspect: HCL2 mode\n' }, { say: vs }, { say: bs }];
}
