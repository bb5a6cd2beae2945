/**
 * How the library's functions are declared and how their failures reach the user: a function
 * throws FnError (optionally naming the argument at fault) and `define` turns it into the
 * diagnostic HCL prints — `Invalid value for "str" parameter: …` or `Call to function "x"
 * failed: …` — so every function words its errors exactly as Packer's does.
 */
import {
  ConversionError,
  type FunctionDef,
  type FunctionParam,
  HclDiagnosticError,
  type HclType,
  type Value,
} from '../value.js';

/** A function's failure; argIndex names the argument at fault (cty's function.NewArgError). */
export class FnError extends Error {
  constructor(
    message: string,
    readonly argIndex?: number,
  ) {
    super(message);
    this.name = 'FnError';
  }
}

/** Throws the failure of argument i (0-based, counting variadic arguments too). */
export function argError(i: number, message: string): FnError {
  return new FnError(message, i);
}

/** A function failure not tied to one argument. */
export function fnError(message: string): FnError {
  return new FnError(message);
}

/** A parameter: name, type, and which of null / unknown / dynamic-typed arguments it takes. */
export function param(
  name: string,
  type: HclType,
  opts: Omit<FunctionParam, 'name' | 'type'> = {},
): FunctionParam {
  return { name, type, ...opts };
}

function toDiagnostic(name: string, spec: FunctionDef, err: unknown): unknown {
  if (err instanceof FnError) {
    if (err.argIndex !== undefined) {
      const p = spec.params[err.argIndex] ?? spec.varParam ?? spec.params[spec.params.length - 1];
      return new HclDiagnosticError(
        'Invalid function argument',
        `Invalid value for "${p?.name ?? 'argument'}" parameter: ${err.message}.`,
        err.argIndex,
      );
    }
    return new HclDiagnosticError(
      'Error in function call',
      `Call to function "${name}" failed: ${err.message}.`,
    );
  }
  // A conversion inside a function (not of its arguments) fails the call as a whole.
  if (err instanceof ConversionError) {
    return new HclDiagnosticError(
      'Error in function call',
      `Call to function "${name}" failed: ${err.message}.`,
    );
  }
  return err;
}

/** Declares a function whose FnErrors become HCL diagnostics worded as Packer's. */
export function define(name: string, spec: FunctionDef): FunctionDef {
  const rt = spec.returnType;
  return {
    ...spec,
    returnType:
      typeof rt === 'function'
        ? (args: readonly Value[]) => {
            try {
              return rt(args);
            } catch (err) {
              throw toDiagnostic(name, spec, err);
            }
          }
        : rt,
    impl: (args: readonly Value[], returnType: HclType) => {
      try {
        return spec.impl(args, returnType);
      } catch (err) {
        throw toDiagnostic(name, spec, err);
      }
    },
  };
}
