/**
 * `convert(value, type)`: its second argument is a type constraint (`list(string)`), which only
 * the evaluator can decode from the call's expression; it then calls convertTo, which applies
 * typeexpr.ConvertFunc's rules and error texts.
 */
import {
  ConversionError,
  convert,
  HclDiagnosticError,
  type HclType,
  type Value,
} from '../value.js';

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
