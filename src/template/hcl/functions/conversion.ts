/**
 * The functions whose arguments are not plain values: `try` and `can` take expressions (they
 * must see an argument's errors instead of failing on them), and `convert` takes a type
 * constraint (`convert(x, list(string))`). The evaluator calls these with closures over the
 * argument expressions and with the decoded type; everything else about them lives here.
 */
import {
  ConversionError,
  convert,
  DYNAMIC,
  FALSE,
  HclDiagnosticError,
  type HclType,
  isWhollyKnown,
  T,
  TRUE,
  unknownOf,
  type Value,
} from '../value.js';

/** One error found while evaluating an argument expression. */
export interface ClosureDiagnostic {
  summary: string;
  detail: string;
  /** Where, as HCL prints a range: `file.pkr.hcl:3,5-12`. */
  subject?: string;
}

/** An argument expression, evaluated on demand: its value, or the errors it produced. */
export type ExpressionClosure = () =>
  | { value: Value; diagnostics?: undefined }
  | { value?: undefined; diagnostics: readonly ClosureDiagnostic[] };

/** try(expr...): the first expression that evaluates without error (HCL's tryfunc). */
export function tryExpressions(closures: readonly ExpressionClosure[]): Value {
  if (closures.length === 0) {
    throw new HclDiagnosticError(
      'Error in function call',
      'Call to function "try" failed: at least one argument is required.',
    );
  }
  const diags: ClosureDiagnostic[] = [];
  for (const c of closures) {
    const r = c();
    if (r.diagnostics) {
      diags.push(...r.diagnostics);
      continue;
    }
    // An unknown result could still fail once known, so the answer is unknown too.
    if (!isWhollyKnown(r.value)) return DYNAMIC;
    return r.value;
  }
  let text = 'no expression succeeded:\n';
  for (const d of diags) {
    text += d.subject
      ? `- ${d.summary} (at ${d.subject})\n  ${d.detail}\n`
      : `- ${d.summary}\n  ${d.detail}\n`;
  }
  text += '\nAt least one expression must produce a successful result';
  throw new HclDiagnosticError('Error in function call', `Call to function "try" failed: ${text}.`);
}

/** can(expr): whether the expression evaluates without error (unknown while it is unknown). */
export function canExpression(closure: ExpressionClosure): Value {
  const r = closure();
  if (r.diagnostics) return FALSE;
  if (!isWhollyKnown(r.value)) return unknownOf(T.bool);
  return TRUE;
}

/** convert(value, type): the value converted to a type constraint, with cty's rules and texts. */
export function convertTo(value: Value, type: HclType): Value {
  try {
    return convert(value, type);
  } catch (err) {
    if (err instanceof ConversionError) {
      throw new HclDiagnosticError(
        'Invalid function argument',
        `Invalid value for "value" parameter: ${err.message}.`,
        0,
      );
    }
    throw err;
  }
}
