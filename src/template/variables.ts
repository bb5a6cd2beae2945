/**
 * User variables as Packer 1.6.6 resolves them: template defaults, then `-var-file`s (a later
 * file wins), then `-var` (always wins over every file, whatever the order on the command
 * line), then `{{ }}` in the values rendered with `env` allowed and `user` references
 * followed through other variables.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../lib/errors.js';
import { type InterpolationContext, InterpolationError, renderOnce } from './interpolate.js';
import { formatLoc, parseJsonSource } from './json-source.js';

/** A declared variable: `default` undefined means required (`null` in the template). */
export interface VariableDecl {
  name: string;
  default?: string;
  required: boolean;
}

/** Reads `-var-file`s and merges them with `-var`s as Packer does (values must be strings). */
export function readVarSources(
  varFiles: readonly string[],
  vars: ReadonlyArray<[string, string]>,
): Record<string, string> {
  const fromFiles: Record<string, string> = {};
  for (const file of varFiles) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UserError(
        'VarFileUnreadable',
        `cannot read the variable file ${file}: ${(err as Error).message}`,
        {
          hint: 'Check the path given to -var-file.',
        },
      );
    }
    const src = parseJsonSource(file, text, 'JSON in variable file');
    const value = src.value();
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new UserError(
        'VarFileInvalid',
        'a variable file must hold one JSON object of strings',
        {
          where: formatLoc(src.locAt(src.root.offset)),
        },
      );
    }
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') {
        throw new UserError(
          'VarFileInvalid',
          `variable "${k}" must be a string, found ${jsonType(v)}`,
          {
            where: formatLoc(src.locOf([k])),
            hint: 'Packer reads variable files as strings only: quote the value.',
          },
        );
      }
      fromFiles[k] = v;
    }
  }
  const merged = { ...fromFiles };
  for (const [k, v] of vars) merged[k] = v;
  return merged;
}

/** JSON's name for a value's type, for messages. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' ? 'number' : typeof v;
}

// `{{ .Field }}` inside a variable is kept for later (Packer's RenderRegex filter).
const DATA_REF = /\{\{(\s|)\.(.*?)(\s|)\}\}/g;

/**
 * Resolves every variable's final value. Throws one UserError naming each required variable
 * not given, or the variable whose value fails to render.
 */
export function resolveVariables(
  decls: readonly VariableDecl[],
  given: Record<string, string>,
  ctx: InterpolationContext,
  where: (name: string) => string,
): Record<string, string> {
  const missing = decls.filter((d) => d.required && !Object.hasOwn(given, d.name));
  if (missing.length > 0) {
    throw new UserError(
      'RequiredVariable',
      missing.length === 1
        ? `required variable "${missing[0]!.name}" is not set`
        : `required variables are not set: ${missing.map((d) => d.name).join(', ')}`,
      {
        details: missing.map(
          (d) => `${where(d.name)}: variable "${d.name}" is required (its default is null)`,
        ),
        hint: `Pass ${missing.map((d) => `-var ${d.name}=value`).join(' ')}, or set ${missing.length === 1 ? 'it' : 'them'} in a JSON file given with -var-file.`,
      },
    );
  }
  const raw: Record<string, string> = {};
  for (const d of decls) if (d.default !== undefined) raw[d.name] = d.default;
  for (const [k, v] of Object.entries(given)) raw[k] = v;

  const done: Record<string, string> = {};
  const visiting: string[] = [];
  const resolveOne = (name: string): string | undefined => {
    if (Object.hasOwn(done, name)) return done[name];
    if (!Object.hasOwn(raw, name)) return undefined;
    if (visiting.includes(name)) {
      throw new UserError(
        'VariableCycle',
        `variables refer to each other in a cycle: ${[...visiting, name].join(' → ')}`,
        {
          where: where(name),
        },
      );
    }
    visiting.push(name);
    const kept: string[] = [];
    const text = raw[name]!.replace(DATA_REF, (m) => {
      kept.push(m);
      return `\u0000KEEP${kept.length - 1}\u0000`;
    });
    let value: string;
    try {
      value = renderOnce(text, {
        ...ctx,
        enableEnv: true,
        userVariables: new Proxy({} as Record<string, string>, {
          get: (_t, k) => (typeof k === 'string' ? resolveOne(k) : undefined),
          has: (_t, k) => typeof k === 'string' && Object.hasOwn(raw, k),
          getOwnPropertyDescriptor: (_t, k) =>
            typeof k === 'string' && Object.hasOwn(raw, k)
              ? { configurable: true, enumerable: true, value: resolveOne(k) }
              : undefined,
        }),
      });
    } catch (err) {
      if (err instanceof InterpolationError) {
        const notSet = /variable not set: (.*)$/.exec(err.message);
        throw new UserError(
          'VariableInterpolation',
          notSet
            ? `variable "${name}" refers to variable "${notSet[1]}", which is not declared or given`
            : `cannot interpolate variable "${name}": ${err.message}`,
          {
            where: where(name),
            hint: notSet
              ? `Declare "${notSet[1]}" in "variables" or pass -var ${notSet[1]}=value (Packer treats variables used by other variables as required).`
              : undefined,
          },
        );
      }
      throw err;
    }
    value = value.replace(/\u0000KEEP(\d+)\u0000/g, (_m, i) => kept[Number(i)]!);
    visiting.pop();
    done[name] = value;
    return value;
  };
  for (const name of Object.keys(raw).sort()) resolveOne(name);
  return done;
}
