/**
 * templatefile's renderer over kiln's HCL parser and evaluator: the file is a standalone HCL
 * template; a variable the template names but `vars` lacks is refused before evaluation (as
 * Packer does, naming where it is referenced), and template errors read as HCL's diagnostics
 * do in a failed function call (`file:1,3-7: Summary; Detail`).
 */
import { type Diagnostic, formatRange, hasErrors, traversals } from '../ast.js';
import { evaluate } from '../evaluate.js';
import { parseTemplate } from '../parser.js';
import type { FunctionDef, Value } from '../value.js';
import { argError, fnError } from './define.js';

function diagnosticsText(diags: readonly Diagnostic[]): string {
  const errors = diags.filter((d) => d.severity === 'error');
  const one = (d: Diagnostic) => `${formatRange(d.subject)}: ${d.summary}; ${d.detail}`;
  if (errors.length === 1) return one(errors[0]!);
  return `${errors.length} problems:\n\n${errors.map((d) => `- ${one(d)}`).join('\n')}`;
}

/** Renders an HCL template text with the given variables and functions (templatefile's engine). */
export function renderHclTemplate(
  source: string,
  filename: string,
  variables: ReadonlyMap<string, Value>,
  functions: Readonly<Record<string, FunctionDef>>,
): Value {
  const parsed = parseTemplate(source, filename);
  if (hasErrors(parsed.diagnostics)) throw fnError(diagnosticsText(parsed.diagnostics));
  for (const t of traversals(parsed.value)) {
    if (!variables.has(t.root)) {
      throw argError(
        1,
        `vars map does not contain key ${JSON.stringify(t.root)}, referenced at ${formatRange(t.range)}`,
      );
    }
  }
  const result = evaluate(parsed.value, { variables, functions });
  if (hasErrors(result.diagnostics)) throw fnError(diagnosticsText(result.diagnostics));
  return result.value;
}
