/**
 * Packer's HCL2 function library: every function of Packer's list that works offline, by
 * name, with Packer's argument rules, results and error texts. `makeFunctions` binds the file
 * functions to a template's folder, the clock, and the evaluator's template renderer;
 * `functions` is the table for the working folder. `try`, `can` and `convert` need the
 * evaluator's help (closures, a type expression) and come as `expressionFunctions`; `env` is
 * the one function of variable defaults (`variableDefaultFunctions`).
 *
 * Left out, with the reason: `aws_secretsmanager`, `aws_secretsmanager_raw`, `consul_key` and
 * `vault` read remote services; `yamlencode`/`yamldecode` need a YAML 1.1 library kiln does not
 * have.
 */
import { asString, type FunctionDef, str, T } from '../value.js';
import { cidrFunctions } from './cidr.js';
import { collectionFunctions } from './collection.js';
import { canExpression, convertTo, tryExpressions } from './conversion.js';
import { cryptoFunctions } from './crypto.js';
import { dateTimeFunctions } from './datetime.js';
import { define, param } from './define.js';
import { encodingFunctions } from './encoding.js';
import { filesystemFunctions, type TemplateRenderer, templateFileFunction } from './filesystem.js';
import { numberFunctions } from './number.js';
import { stringFunctions } from './string.js';

export type { ClosureDiagnostic, ExpressionClosure } from './conversion.js';
export type { TemplateRenderer } from './filesystem.js';

/** What the library's functions are bound to for one template. */
export interface FunctionContext {
  /** The template's folder: relative paths of file, fileexists, fileset, templatefile. */
  baseDir: string;
  /** The clock for `timestamp` (default: the system clock). */
  now?: () => Date;
  /** When the template was loaded, for legacy_isotime/legacy_strftime (default: now). */
  loadedAt?: Date;
  /** The evaluator's template renderer; without it there is no `templatefile`. */
  renderTemplate?: TemplateRenderer;
}

/** The function table for one template: name → FunctionDef. */
export function makeFunctions(ctx: FunctionContext): Record<string, FunctionDef> {
  const now = ctx.now ?? (() => new Date());
  const table: Record<string, FunctionDef> = {
    ...stringFunctions,
    ...collectionFunctions,
    ...numberFunctions,
    ...encodingFunctions,
    ...filesystemFunctions(ctx.baseDir),
    ...dateTimeFunctions({ now, loadedAt: ctx.loadedAt ?? now() }),
    ...cryptoFunctions,
    ...cidrFunctions,
  };
  if (ctx.renderTemplate) {
    table.templatefile = templateFileFunction(ctx.baseDir, ctx.renderTemplate, () => table);
  }
  return table;
}

/** The functions for templates in the working folder (no templatefile: it needs a renderer). */
export const functions: Readonly<Record<string, FunctionDef>> = makeFunctions({
  baseDir: process.cwd(),
});

/** The functions the evaluator calls with closures or a type instead of values. */
export const expressionFunctions = {
  try: tryExpressions,
  can: canExpression,
  convert: convertTo,
} as const;

/** The names of every function Packer's HCL2 offers, with those kiln leaves out. */
export const OMITTED_FUNCTIONS: Readonly<Record<string, string>> = {
  aws_secretsmanager: 'reads AWS Secrets Manager (a remote service)',
  aws_secretsmanager_raw: 'reads AWS Secrets Manager (a remote service)',
  consul_key: 'reads Consul (a remote service)',
  vault: 'reads HashiCorp Vault (a remote service)',
  yamldecode: 'needs a YAML 1.1 parser; kiln has no YAML library',
  yamlencode: 'needs a YAML emitter matching go-yaml; kiln has no YAML library',
};

/** env(name): the environment variable's value or ''; Packer allows it in variable defaults only. */
export const variableDefaultFunctions: Readonly<Record<string, FunctionDef>> = {
  env: define('env', {
    params: [param('key', T.string)],
    returnType: T.string,
    impl: (args) => str(process.env[asString(args[0]!)] ?? ''),
  }),
};
