/**
 * Packer's HCL2 function library: every function of Packer's list that works offline, by
 * name, with Packer's argument rules, results and error texts. `makeFunctions` binds the file
 * functions to a template's folder and the clock; `functions` is the table for the working
 * folder. `try` and `can` are the evaluator's special forms (it evaluates their arguments
 * itself); `convert` takes a type expression, which only the evaluator can decode, so it comes
 * as `convertTo(value, type)` for the evaluator to call; `env` is the one function of variable
 * defaults (`variableDefaultFunctions`).
 *
 * Left out, with the reason: `aws_secretsmanager`, `aws_secretsmanager_raw`, `consul_key` and
 * `vault` read remote services.
 */

import { CAN_FUNCTION, TRY_FUNCTION } from '../evaluate.js';
import { asString, type FunctionDef, str, T } from '../value.js';
import { cidrFunctions } from './cidr.js';
import { collectionFunctions } from './collection.js';
import { cryptoFunctions } from './crypto.js';
import { dateTimeFunctions } from './datetime.js';
import { define, param } from './define.js';
import { encodingFunctions } from './encoding.js';
import { filesystemFunctions, type TemplateRenderer, templateFileFunction } from './filesystem.js';
import { numberFunctions } from './number.js';
import { stringFunctions } from './string.js';
import { renderHclTemplate } from './templatefile.js';
import { yamlFunctions } from './yaml.js';

export { convertTo } from './conversion.js';
export type { TemplateRenderer } from './filesystem.js';

/** What the library's functions are bound to for one template. */
export interface FunctionContext {
  /** The template's folder: relative paths of file, fileexists, fileset, templatefile. */
  baseDir: string;
  /** The clock for `timestamp` (default: the system clock). */
  now?: () => Date;
  /** When the template was loaded, for legacy_isotime/legacy_strftime (default: now). */
  loadedAt?: Date;
  /** templatefile's renderer (default: kiln's HCL template parser and evaluator). */
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
    ...yamlFunctions,
    try: TRY_FUNCTION,
    can: CAN_FUNCTION,
  };
  table.templatefile = templateFileFunction(
    ctx.baseDir,
    ctx.renderTemplate ?? renderHclTemplate,
    () => table,
  );
  return table;
}

/** The functions for templates in the working folder. */
export const functions: Readonly<Record<string, FunctionDef>> = makeFunctions({
  baseDir: process.cwd(),
});

/** The functions of Packer's HCL2 list that kiln leaves out, each with the reason. */
export const OMITTED_FUNCTIONS: Readonly<Record<string, string>> = {
  aws_secretsmanager: 'reads AWS Secrets Manager (a remote service)',
  aws_secretsmanager_raw: 'reads AWS Secrets Manager (a remote service)',
  consul_key: 'reads Consul (a remote service)',
  vault: 'reads HashiCorp Vault (a remote service)',
};

/** env(name): the environment variable's value or ''; Packer allows it in variable defaults only. */
export const variableDefaultFunctions: Readonly<Record<string, FunctionDef>> = {
  env: define('env', {
    params: [param('key', T.string)],
    returnType: T.string,
    impl: (args) => str(process.env[asString(args[0]!)] ?? ''),
  }),
};
