/**
 * The HCL native syntax front end: parse (parser.ts) into a tree with ranges (ast.ts),
 * evaluate expressions (evaluate.ts) into cty-style values (value.ts), read type constraints
 * (type-expr.ts). The Packer function library is in functions/.
 */
export * from './ast.js';
export {
  CAN_FUNCTION,
  type EvalContext,
  type EvalResult,
  evaluate,
  TRY_FUNCTION,
} from './evaluate.js';
export { type ParseResult, parseConfig, parseExpression, parseTemplate } from './parser.js';
export { type TypeConstraintResult, typeConstraint } from './type-expr.js';
export * from './value.js';
