/**
 * Input variables as Packer's HCL2 resolves them: `variable` blocks (type, default,
 * description, sensitive, validation) and `variables { name = default }`, then values from
 * `PKR_VAR_name` environment variables, `*.auto.pkrvars.hcl`, `-var-file` (HCL or JSON) and
 * `-var`, each later source winning; a value given as text (-var, env) is read as an HCL
 * expression unless the variable's type is a primitive. Every variable must end with a value.
 */
import { readFileSync } from 'node:fs';
import type { Attribute, Block, Diagnostic, Expr, Range } from '../ast.js';
import { evaluate } from '../evaluate.js';
import { variableDefaultFunctions } from '../functions/index.js';
import { parseExpression } from '../parser.js';
import { applyTypeDefaults, type TypeDefault } from '../type-defaults.js';
import { typeConstraint } from '../type-expr.js';
import {
  ConversionError,
  convert,
  type FunctionDef,
  type HclType,
  isKnown,
  isNull,
  isPrimitiveType,
  object,
  str,
  T,
  type Value,
} from '../value.js';
import { diag } from './diagnostics.js';
import { parseFile } from './files.js';
import { fromPlain } from './plain.js';

/** One `validation` block of a variable. */
interface Validation {
  condition: Expr;
  errorMessage: string;
  range: Range;
}

/** A declared variable and, once resolved, its value. */
export interface VariableDecl {
  name: string;
  type: HclType;
  /** The type was written (a value given as text is then read by it). */
  typed: boolean;
  default?: Value;
  description: string;
  sensitive: boolean;
  validations: Validation[];
  /** Defaults of `optional(T, default)` attributes in the type. */
  typeDefaults: TypeDefault[];
  range: Range;
  /** Where the final value came from (for messages). */
  value?: Value;
}

const VARIABLE_ATTRS = ['type', 'default', 'description', 'sensitive'];

function unsupported(a: Attribute, diags: Diagnostic[]): void {
  diags.push(
    diag(
      'Unsupported argument',
      `An argument named "${a.name}" is not expected here.`,
      a.nameRange,
    ),
  );
}

/** The functions of a variable's default: `env`, reading the given environment. */
function defaultFunctions(env: NodeJS.ProcessEnv): Record<string, FunctionDef> {
  const base = variableDefaultFunctions.env!;
  return {
    env: { ...base, impl: (args) => str(env[String(args[0]!.raw)] ?? '') },
  };
}

/** Decodes a `variable "name" { … }` block. */
export function decodeVariableBlock(
  b: Block,
  env: NodeJS.ProcessEnv,
  diags: Diagnostic[],
): VariableDecl {
  const name = b.labels[0] ?? '';
  const decl: VariableDecl = {
    name,
    type: T.dynamic,
    typed: false,
    description: '',
    sensitive: false,
    validations: [],
    typeDefaults: [],
    range: b.range,
  };
  const funcs = defaultFunctions(env);
  for (const a of b.body.attributes) {
    if (!VARIABLE_ATTRS.includes(a.name)) {
      unsupported(a, diags);
      continue;
    }
    if (a.name === 'type') {
      const t = typeConstraint(a.expr);
      diags.push(...t.diagnostics);
      decl.type = t.type;
      decl.typeDefaults = t.defaults;
      decl.typed = true;
      continue;
    }
    const r = evaluate(a.expr, { functions: funcs });
    diags.push(...r.diagnostics);
    if (r.diagnostics.length > 0) continue;
    if (a.name === 'default') decl.default = r.value;
    else if (a.name === 'description' || a.name === 'sensitive') {
      const want = a.name === 'description' ? T.string : T.bool;
      try {
        const v = convert(r.value, want);
        if (a.name === 'description') decl.description = isNull(v) ? '' : String(v.raw);
        else decl.sensitive = v.raw === true;
      } catch (err) {
        if (!(err instanceof ConversionError)) throw err;
        diags.push(
          diag(
            'Incorrect attribute value type',
            `Inappropriate value for attribute "${a.name}": ${err.message}.`,
            a.expr.range,
          ),
        );
      }
    }
  }
  for (const vb of b.body.blocks) {
    if (vb.type !== 'validation') {
      diags.push(
        diag(
          'Unsupported block type',
          `Blocks of type "${vb.type}" are not expected here.`,
          vb.typeRange,
        ),
      );
      continue;
    }
    const cond = vb.body.attributes.find((a) => a.name === 'condition');
    const msg = vb.body.attributes.find((a) => a.name === 'error_message');
    for (const a of vb.body.attributes)
      if (a.name !== 'condition' && a.name !== 'error_message') unsupported(a, diags);
    if (!cond || !msg) {
      diags.push(
        diag(
          'Missing required argument',
          `The argument "${cond ? 'error_message' : 'condition'}" is required, but no definition was found.`,
          vb.closeBraceRange,
        ),
      );
      continue;
    }
    const m = evaluate(msg.expr, {});
    diags.push(...m.diagnostics);
    if (m.diagnostics.length > 0) continue;
    decl.validations.push({
      condition: cond.expr,
      errorMessage: String(m.value.raw),
      range: vb.range,
    });
  }
  if (decl.default !== undefined) {
    if (!decl.typed) decl.type = decl.default.type;
    else {
      try {
        decl.default = convert(decl.default, decl.type);
      } catch (err) {
        if (!(err instanceof ConversionError)) throw err;
        const attr = b.body.attributes.find((a) => a.name === 'default')!;
        diags.push(
          diag(
            'Invalid default value for variable',
            `This default value is not compatible with the variable's type constraint: ${err.message}.`,
            attr.expr.range,
          ),
        );
      }
    }
  }
  return decl;
}

/** `variables { name = default … }`: each attribute declares a variable with that default. */
export function decodeVariablesBlock(
  b: Block,
  env: NodeJS.ProcessEnv,
  diags: Diagnostic[],
): VariableDecl[] {
  const out: VariableDecl[] = [];
  for (const a of b.body.attributes) {
    const r = evaluate(a.expr, { functions: defaultFunctions(env) });
    diags.push(...r.diagnostics);
    out.push({
      name: a.name,
      type: r.value.type,
      typed: false,
      default: r.value,
      description: '',
      sensitive: false,
      validations: [],
      typeDefaults: [],
      range: a.range,
    });
  }
  for (const vb of b.body.blocks)
    diags.push(
      diag(
        'Unsupported block type',
        `Blocks of type "${vb.type}" are not expected here.`,
        vb.typeRange,
      ),
    );
  return out;
}

/** Where a value came from, for messages. */
type Origin = 'env' | 'file' | 'arg';

/** Reads a value given as text (-var, PKR_VAR_): literal for primitive types, an expression otherwise. */
function textValue(
  decl: VariableDecl,
  text: string,
  fakeFile: string,
  diags: Diagnostic[],
): Value | undefined {
  if (
    isPrimitiveType(decl.type) ||
    (!decl.typed && decl.default && isPrimitiveType(decl.default.type))
  )
    return str(text);
  if (decl.type.kind === 'dynamic' && !decl.default) return str(text);
  const p = parseExpression(text, fakeFile);
  if (p.diagnostics.length > 0) {
    diags.push(...p.diagnostics);
    return undefined;
  }
  const r = evaluate(p.value, {});
  diags.push(...r.diagnostics);
  return r.diagnostics.length > 0 ? undefined : r.value;
}

/** The given values, in precedence order, for `resolveVariables`. */
export interface VariableInputs {
  env: NodeJS.ProcessEnv;
  autoVarFiles: readonly string[];
  varFiles: readonly string[];
  vars: ReadonlyArray<[string, string]>;
  /** The functions a validation rule's condition may call (Packer's whole library). */
  functions?: Readonly<Record<string, FunctionDef>>;
}

/** Reads a var file (`.json`: one object; otherwise HCL attributes) into name → value. */
function readVarFile(
  file: string,
  diags: Diagnostic[],
  sources: Map<string, string>,
): Array<{ name: string; value: Value; range?: Range }> {
  if (file.endsWith('.json')) {
    let parsed: unknown;
    const text = readFileSync(file, 'utf8');
    sources.set(file, text);
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      const at = { line: 1, column: 1, byte: 0 };
      diags.push(
        diag('Invalid JSON', (err as Error).message, { filename: file, start: at, end: at }),
      );
      return [];
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      const at = { line: 1, column: 1, byte: 0 };
      diags.push(
        diag('Invalid variable file', 'A JSON variable file must hold one object.', {
          filename: file,
          start: at,
          end: at,
        }),
      );
      return [];
    }
    return Object.entries(parsed as Record<string, unknown>).map(([name, v]) => ({
      name,
      value: fromPlain(v),
    }));
  }
  const f = parseFile(file, diags, 'variable');
  sources.set(file, f.text);
  for (const b of f.file.body.blocks) {
    diags.push(
      diag(
        'Unexpected block',
        `Blocks are not allowed here: a variable file holds only "name = value" lines.`,
        b.typeRange,
      ),
    );
  }
  const out: Array<{ name: string; value: Value; range?: Range }> = [];
  for (const a of f.file.body.attributes) {
    const r = evaluate(a.expr, {});
    diags.push(...r.diagnostics);
    if (r.diagnostics.length === 0) out.push({ name: a.name, value: r.value, range: a.expr.range });
  }
  return out;
}

/**
 * Gives every declared variable its final value (`decl.value`), checks types and validation
 * rules; problems go to `diags`, notes about undeclared values to `warnings`.
 */
export function resolveVariables(
  decls: Map<string, VariableDecl>,
  inputs: VariableInputs,
  diags: Diagnostic[],
  warnings: string[],
  sources: Map<string, string>,
): void {
  const given = new Map<string, { value: Value; origin: Origin; range?: Range }>();
  for (const [k, text] of Object.entries(inputs.env)) {
    if (!k.startsWith('PKR_VAR_') || text === undefined) continue;
    const decl = decls.get(k.slice('PKR_VAR_'.length));
    if (!decl) continue;
    const v = textValue(decl, text, `<value for var.${decl.name} from environment>`, diags);
    if (v) given.set(decl.name, { value: v, origin: 'env' });
  }
  for (const file of [...inputs.autoVarFiles, ...inputs.varFiles]) {
    for (const { name, value, range } of readVarFile(file, diags, sources)) {
      if (!decls.has(name)) {
        warnings.push(
          `${file}: a value is given for variable "${name}", which is not declared; it is ignored`,
        );
        continue;
      }
      given.set(name, { value, origin: 'file', range });
    }
  }
  const noPlace: Range = {
    filename: '<command line>',
    start: { line: 1, column: 1, byte: 0 },
    end: { line: 1, column: 1, byte: 0 },
  };
  for (const [name, text] of inputs.vars) {
    const decl = decls.get(name);
    if (!decl) {
      diags.push(
        diag(
          'Undefined -var variable',
          `A "${name}" variable was passed in the command line but was not found in known variables. To declare variable "${name}", place this block in one of your .pkr.hcl files, such as variables.pkr.hcl`,
          noPlace,
        ),
      );
      continue;
    }
    const v = textValue(decl, text, `<value for var.${name} from arguments>`, diags);
    if (v) given.set(name, { value: v, origin: 'arg' });
  }

  for (const decl of decls.values()) {
    const g = given.get(decl.name);
    let value = g?.value ?? decl.default;
    if (value === undefined) {
      diags.push(
        diag(
          `Unset variable "${decl.name}"`,
          'A used variable must be set or have a default value; pass it with -var, -var-file or PKR_VAR_' +
            `${decl.name}.`,
          decl.range,
        ),
      );
      continue;
    }
    if (g && decl.type.kind !== 'dynamic') {
      try {
        value = convert(value, decl.type);
      } catch (err) {
        if (!(err instanceof ConversionError)) throw err;
        const what = g.origin === 'arg' ? '-var' : g.origin === 'env' ? 'environment' : 'file';
        diags.push(
          diag(
            `Invalid value for ${what} variable`,
            `The value given for ${decl.name} is not compatible with the variable's type constraint: ${err.message}.`,
            g.range ?? decl.range,
          ),
        );
        continue;
      }
    }
    value = applyTypeDefaults(value, decl.type, decl.typeDefaults);
    decl.value = value;
    for (const v of decl.validations) {
      const r = evaluate(v.condition, {
        variables: { var: object({ [decl.name]: value }) },
        functions: inputs.functions,
      });
      diags.push(...r.diagnostics);
      if (r.diagnostics.length > 0 || !isKnown(r.value)) continue;
      let ok: boolean;
      try {
        ok = convert(r.value, T.bool).raw === true;
      } catch {
        diags.push(
          diag(
            'Invalid validation result',
            'The condition must be true or false.',
            v.condition.range,
          ),
        );
        continue;
      }
      if (!ok) {
        diags.push(
          diag(
            'Invalid value for variable',
            `${v.errorMessage} (this was checked by the validation rule at ${v.range.filename}:${v.range.start.line},${v.range.start.column})`,
            g?.range ?? v.range,
          ),
        );
      }
    }
  }
}
