/**
 * The template layer's entry point: `loadTemplate` reads a Packer 1.6.6 JSON template and
 * returns every build interpolated and validated, or throws one UserError listing every
 * problem with its `file:line:column`. It starts no process and writes nothing.
 */
import { isHclTemplatePath } from './hcl/config/files.js';
import { loadHclTemplate } from './hcl/config/load.js';
import { formatLoc } from './json-source.js';
import { checkMinPackerVersion } from './min-version.js';
import { prepareBuilds } from './prepare.js';
import {
  parseRawTemplate,
  problemsError,
  readTemplateSource,
  validateRawTemplate,
} from './raw-template.js';
import type { LoadedTemplate, LoadOptions } from './types.js';
import { readVarSources, resolveVariables } from './variables.js';
import { volatility } from './volatile.js';

export { parseGoDurationMs, parseGoDurationNs } from '../lib/duration.js';
export { formatGoTime, formatStrftime } from './go-time.js';
export { isHclTemplatePath } from './hcl/config/files.js';
export { hclInspectLines } from './hcl/config/inspect.js';
export { type InspectLine, inspectLines } from './inspect.js';
export {
  BUILTIN_FUNCS,
  type InterpolationContext,
  InterpolationError,
  PACKER_COMPAT_VERSION,
  parseTemplate,
  render,
  renderDeep,
  renderOnce,
  validateSyntax,
} from './interpolate.js';
export { parseRawTemplate, type RawTemplate, readTemplateSource } from './raw-template.js';
export type * from './types.js';
export { readVarSources } from './variables.js';

/** Reads a template's JSON and structure only (no variables, no plugins): what `inspect` needs. */
export function readRawTemplate(path: string) {
  return parseRawTemplate(readTemplateSource(path));
}

/**
 * Loads a template for validate/build (a `.pkr.hcl` file or a folder goes to the HCL2 front
 * end, hcl/config/): structure, `min_packer_version`, variables
 * (defaults < -var-file < -var), then each build after -only/-except with its plugins'
 * schemas and `prepare()`. Throws a UserError with every problem found.
 */
export async function loadTemplate(path: string, opts: LoadOptions): Promise<LoadedTemplate> {
  if (isHclTemplatePath(path)) return loadHclTemplate(path, opts);
  const env = opts.env ?? process.env;
  const src = readTemplateSource(path);
  const tpl = parseRawTemplate(src);
  const given = readVarSources(opts.varFiles ?? [], opts.vars ?? []);
  const initTime = opts.initTime ?? new Date();
  const declared = new Set(tpl.variables.map((v) => v.name));
  const warnings = Object.keys(given)
    .filter((k) => !declared.has(k))
    .map(
      (k) =>
        `variable "${k}" is given with -var or -var-file but not declared in the template's "variables"; it is still available to {{ user \`${k}\` }}`,
    );

  const base = {
    path: tpl.path,
    dir: tpl.dir,
    description: tpl.description,
    minPackerVersion: tpl.minPackerVersion,
    sensitiveVariables: [...tpl.sensitiveVariables],
    initTime,
  };
  if (opts.syntaxOnly) {
    const variables: Record<string, string> = {};
    for (const v of tpl.variables) if (v.default !== undefined) variables[v.name] = v.default;
    Object.assign(variables, given);
    return {
      ...base,
      variables,
      ...volatility(tpl.variables, variables, { templatePath: tpl.path, initTime, env }),
      sensitiveValues: [],
      builds: [],
      warnings,
    };
  }

  validateRawTemplate(tpl);
  checkMinPackerVersion(tpl.minPackerVersion, formatLoc(src.locOf(['min_packer_version'])));
  const variables = resolveVariables(
    tpl.variables,
    given,
    { templatePath: tpl.path, initTime, env },
    (name) => formatLoc(src.locOf(['variables', name], { key: true })),
  );
  const sensitiveValues = tpl.sensitiveVariables
    .map((n) => variables[n])
    .filter((v): v is string => typeof v === 'string' && v !== '');

  const prepared = await prepareBuilds({
    tpl,
    registry: opts.registry,
    variables,
    initTime,
    env,
    catalog: opts.catalog,
    only: opts.only ?? [],
    except: opts.except ?? [],
    ...(opts.fetchSource ? { fetchSource: opts.fetchSource } : {}),
  });
  if (prepared.problems.length > 0) throw problemsError(src, prepared.problems);
  const names = new Set(prepared.builds.map((b) => b.name));
  for (const n of [...(opts.only ?? []), ...(opts.except ?? [])]) {
    // Packer 1.6.6 silently ignores a name that matches no build (no globs): say so.
    if (!names.has(n) && !(opts.except ?? []).includes(n))
      warnings.push(`-only names "${n}", which matches no build`);
  }
  return {
    ...base,
    variables,
    ...volatility(tpl.variables, variables, { templatePath: tpl.path, initTime, env }),
    sensitiveValues,
    builds: prepared.builds,
    warnings: [...warnings, ...prepared.warnings],
  };
}
