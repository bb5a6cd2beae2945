/**
 * The HCL2 front end's entry: reads a `.pkr.hcl` file or a folder and returns the same
 * LoadedTemplate the JSON front end does, in Packer's order — variables, then locals and
 * data sources, then sources, then builds — with every problem found reported at once with
 * its place. Builds are named as Packer 1.6.6 prints them: `type.name`, or
 * `build-name.type.name` when the build block has a name.
 */

import { resolve as resolvePath } from 'node:path';
import type { PrepareContext } from '../../../core/plugin.js';
import { parseGoDurationNs } from '../../../lib/duration.js';
import { UserError } from '../../../lib/errors.js';
import { nearest } from '../../../lib/suggest.js';
import { FuncError, type InterpolationContext, renderDeep } from '../../interpolate.js';
import { lateInterpolator } from '../../prepare.js';
import { checkSchema } from '../../schema-check.js';
import type {
  LoadedTemplate,
  LoadOptions,
  PreparedBuild,
  PreparedPlugin,
  PreparedPostProcessor,
  PreparedProvisioner,
} from '../../types.js';
import { volatility } from '../../volatile.js';
import type { Attribute, Block, Body, Diagnostic, Range } from '../ast.js';
import { hasErrors } from '../ast.js';
import { type EvalContext, evaluate } from '../evaluate.js';
import { globToRegExp } from '../functions/filesystem.js';
import { makeFunctions } from '../functions/index.js';
import {
  ConversionError,
  convert,
  type FunctionDef,
  isKnown,
  isNull,
  listType,
  object,
  str,
  T,
  type Value,
} from '../value.js';
import { type BlockPath, decodeBody, PlaceMap } from './body.js';
import { type BuildBlock, type Declarations, decodeFiles, type SourceUse } from './decode.js';
import { diag, diagnosticsError, locOf } from './diagnostics.js';
import { type BoundRef, expandChains, expandDynamicRefs } from './dynamic-refs.js';
import { parseFile, templateFiles } from './files.js';
import { checkPackerBlocks } from './packer-block.js';
import { fromPlain, stringsIn, toPlain, valueString } from './plain.js';
import { DataSources, nullDataSource, pathObject, Scope } from './scope.js';
import { resolveVariables } from './variables.js';

/** Marks a string of `asWritten` that renders differently on every run (see `markVolatile`). */
const VOLATILE_MARK = '\u0000hcl-volatile\u0000';
const FIXED_TIME = new Date(Date.UTC(2000, 0, 1));
const FIXED_UUID = '00000000-0000-4000-8000-000000000000';

// What `build.X` holds while a template loads: Packer's placeholders for the generated data.
const BUILD_KEYS = [
  'ID',
  'Host',
  'Port',
  'User',
  'Password',
  'SSHPublicKey',
  'SSHPrivateKey',
  'WinRMPassword',
  'ConnType',
  'PackerRunUUID',
  'PackerHTTPIP',
  'PackerHTTPPort',
  'PackerHTTPAddr',
  'SourceAMI',
  'SourceAMIName',
  'SourceAMIOwner',
  'SourceAMIOwnerName',
  'SourceAMICreationDate',
  'BuildRegion',
];

const PROVISIONER_META = new Set([
  'only',
  'except',
  'override',
  'pause_before',
  'max_retries',
  'timeout',
  'name',
]);
const POST_PROCESSOR_META = new Set(['only', 'except', 'name', 'keep_input_artifact']);

/** One build to prepare: a source used by a build block. */
interface BuildUse extends SourceUse {
  build: BuildBlock;
  fullName: string;
  /** `type.name` (after a rename): what provisioners' only/except name. */
  sourceName: string;
  /** The top-level `source` block. */
  sourceBlock: Block;
  /** The build block's `name` (`build.name`), or empty. */
  buildName: string;
}

/** Loads an HCL2 template (a `.pkr.hcl` file or a folder) for validate and build. */
export async function loadHclTemplate(path: string, opts: LoadOptions): Promise<LoadedTemplate> {
  const env = opts.env ?? process.env;
  const initTime = opts.initTime ?? new Date();
  const diags: Diagnostic[] = [];
  const warnings: string[] = [];
  const tf = templateFiles(path);
  const files = tf.files.map((f) => parseFile(f, diags));
  const sources = new Map<string, string>(files.map((f) => [f.name, f.text]));
  const what = path;
  const fail = () => diagnosticsError(diags, sources, what);
  if (hasErrors(diags)) throw fail();

  const decls = decodeFiles(files, env, diags);
  if (hasErrors(diags)) throw fail();
  warnings.push(...checkPackerBlocks(decls.packer, opts.registry, diags));
  const abs = resolvePath(path);
  const dir = resolvePath(tf.dir);
  const base = {
    path: abs,
    dir,
    description: undefined as string | undefined,
    minPackerVersion: undefined,
    sensitiveVariables: [...decls.variables.values()].filter((v) => v.sensitive).map((v) => v.name),
    initTime,
  };
  if (opts.syntaxOnly) {
    if (hasErrors(diags)) throw fail();
    return {
      ...base,
      variables: {},
      ...volatility([], {}, { templatePath: abs, initTime, env }),
      sensitiveValues: [],
      builds: [],
      warnings,
    };
  }

  const realFns = withEnv(
    makeFunctions({ baseDir: process.cwd(), now: () => new Date(), loadedAt: initTime }),
    env,
  );
  resolveVariables(
    decls.variables,
    {
      env,
      autoVarFiles: tf.autoVarFiles,
      varFiles: opts.varFiles ?? [],
      vars: opts.vars ?? [],
      functions: realFns,
    },
    diags,
    warnings,
    sources,
  );
  if (hasErrors(diags)) throw fail();
  const varValues = new Map<string, Value>();
  for (const v of decls.variables.values()) varValues.set(v.name, v.value!);
  const varObject = object(varValues);

  const dataPlugins = { null: nullDataSource, ...(opts.registry.dataSources ?? {}) };
  const data = new DataSources(decls.data, dataPlugins, diags);
  const pathValue = pathObject(dir, process.cwd());
  const fixedFns = withEnv(
    {
      ...makeFunctions({ baseDir: process.cwd(), now: () => FIXED_TIME, loadedAt: FIXED_TIME }),
      uuidv4: { ...realFns.uuidv4!, impl: () => str(FIXED_UUID) },
    },
    env,
  );
  const real = new Scope(varObject, decls.locals, data, realFns, pathValue, diags);
  await real.evaluateAll();
  // every data source is read, used or not, as Packer does
  for (const key of decls.data.keys()) await data.get(key, real);
  if (hasErrors(diags)) throw fail();
  const fixed = new Scope(varObject, decls.locals, data, fixedFns, pathValue, []);
  await fixed.evaluateAll();

  const uses = buildUses(decls, real, diags);
  if (hasErrors(diags)) throw fail();
  const descriptions = uses.map((u) => u.build.descriptionAttr).filter((a) => a !== undefined);
  if (descriptions[0]) {
    const r = evaluate(descriptions[0].expr, real.ctx());
    if (r.value.type.kind === 'string' && typeof r.value.raw === 'string')
      base.description = r.value.raw;
  }

  // -only/-except are glob patterns over build names (`-only='qemu.*'`), as Packer's HCL2 has them
  const only = filterPatterns(opts.only ?? [], 'only');
  const except = filterPatterns(opts.except ?? [], 'except');
  const selected = uses.filter((u) => {
    if (only.length > 0 && !only.some((p) => p.re.test(u.fullName))) return false;
    return !except.some((p) => p.re.test(u.fullName));
  });
  for (const p of only)
    if (!uses.some((u) => p.re.test(u.fullName)))
      warnings.push(`-only names "${p.text}", which matches no build`);

  const builds: PreparedBuild[] = [];
  for (const u of selected) {
    const b = await prepareBuild(u, {
      real,
      fixed,
      opts,
      env,
      initTime,
      dir,
      abs,
      diags,
      warnings,
      sources,
    });
    if (b) builds.push(b);
  }
  if (hasErrors(diags)) throw fail();

  const sensitiveValues: string[] = [];
  const variables: Record<string, string> = {};
  for (const v of decls.variables.values()) {
    variables[v.name] = valueString(v.value!);
    if (v.sensitive) sensitiveValues.push(...stringsIn(v.value!).filter((s) => s !== ''));
  }
  for (const l of decls.locals.values()) {
    const v = real.localValues().get(l.name);
    if (l.sensitive && v) sensitiveValues.push(...stringsIn(v).filter((s) => s !== ''));
  }
  const json = volatility([], {}, { templatePath: abs, initTime, env });
  return {
    ...base,
    variables,
    volatileVariables: {},
    isVolatile: (s) => s.startsWith(VOLATILE_MARK) || json.isVolatile(s),
    sensitiveValues,
    builds,
    warnings,
  };
}

/** `env()` reads the given environment rather than the process's. */
function withEnv(
  fns: Record<string, FunctionDef>,
  env: NodeJS.ProcessEnv,
): Record<string, FunctionDef> {
  const e = fns.env;
  if (!e) return fns;
  return { ...fns, env: { ...e, impl: (args) => str(env[String(args[0]!.raw)] ?? '') } };
}

function stringAttr(
  a: Attribute | undefined,
  ctx: EvalContext,
  diags: Diagnostic[],
): string | undefined {
  if (!a) return undefined;
  const r = evaluate(a.expr, ctx);
  diags.push(...r.diagnostics);
  if (hasErrors(r.diagnostics)) return undefined;
  try {
    const v = convert(r.value, T.string);
    return isNull(v) || !isKnown(v) ? undefined : String(v.raw);
  } catch (err) {
    if (!(err instanceof ConversionError)) throw err;
    diags.push(
      diag(
        'Incorrect attribute value type',
        `Inappropriate value for attribute "${a.name}": ${err.message}.`,
        a.expr.range,
      ),
    );
    return undefined;
  }
}

function stringList(a: Attribute | undefined, ctx: EvalContext, diags: Diagnostic[]): string[] {
  if (!a) return [];
  const r = evaluate(a.expr, ctx);
  diags.push(...r.diagnostics);
  if (hasErrors(r.diagnostics)) return [];
  try {
    const v = convert(r.value, listType(T.string));
    return isNull(v) ? [] : (toPlain(v) as string[]);
  } catch (err) {
    if (!(err instanceof ConversionError)) throw err;
    diags.push(
      diag(
        'Incorrect attribute value type',
        `Inappropriate value for attribute "${a.name}": ${err.message}.`,
        a.expr.range,
      ),
    );
    return [];
  }
}

/** Every (build, source) pair, in Packer's order: each build's `sources` list, then its `source` blocks. */
function buildUses(decls: Declarations, scope: Scope, diags: Diagnostic[]): BuildUse[] {
  const out: BuildUse[] = [];
  const known = [...decls.sources.keys()].map((k) => `source.${k}`);
  const find = (ref: string, range: Range): { type: string; name: string } | undefined => {
    // `type.name` alone is accepted too, as Packer does (its fixtures write `null.test`)
    const m = /^(?:source\.)?([^.]+)\.([^.]+)$/.exec(ref);
    if (m && decls.sources.has(`${m[1]}.${m[2]}`)) return { type: m[1]!, name: m[2]! };
    const near = nearest(ref, known);
    diags.push(
      diag(
        'Unknown source',
        `Unknown source ${ref}: a build refers to a source as "source.<type>.<name>"${near ? `; did you mean "${near}"?` : '.'}`,
        range,
      ),
    );
    return undefined;
  };
  for (const build of decls.builds) {
    const ctx = scope.ctx();
    const buildName = stringAttr(build.nameAttr, ctx, diags);
    const add = (s: { type: string; name: string }, range: Range, override?: Body) => {
      const sourceBlock = decls.sources.get(`${s.type}.${s.name}`)!.block;
      let name = s.name;
      if (override) {
        const rename = override.attributes.find((a) => a.name === 'name');
        const n = stringAttr(rename, ctx, diags);
        if (n !== undefined) name = n;
      }
      const sourceName = `${s.type}.${name}`;
      out.push({
        type: s.type,
        name,
        override,
        range,
        build,
        sourceBlock,
        sourceName,
        fullName: buildName ? `${buildName}.${sourceName}` : sourceName,
        buildName: buildName ?? '',
      });
    };
    if (build.sourcesAttr) {
      const refs = stringList(build.sourcesAttr, ctx, diags);
      for (const ref of refs) {
        const s = find(ref, build.sourcesAttr.expr.range);
        if (s) add(s, build.sourcesAttr.expr.range);
      }
    }
    for (const sb of build.sourceBlocks) {
      const s = find(sb.labels[0]!, sb.labelRanges[0] ?? sb.typeRange);
      if (s) add(s, sb.range, sb.body);
    }
    if (!build.sourcesAttr && build.sourceBlocks.length === 0) {
      diags.push(
        diag(
          'Missing sources',
          'A build needs at least one source: set "sources" or add a "source" block.',
          build.block.typeRange,
        ),
      );
    }
  }
  const seen = new Map<string, Range>();
  for (const u of out) {
    if (seen.has(u.fullName)) {
      diags.push(
        diag(
          'Duplicate build',
          `A build named "${u.fullName}" already exists; rename one of the sources (name = "…" in a source block).`,
          u.range,
        ),
      );
    }
    seen.set(u.fullName, u.range);
  }
  return out;
}

interface PrepareEnv {
  real: Scope;
  fixed: Scope;
  opts: LoadOptions;
  env: NodeJS.ProcessEnv;
  initTime: Date;
  dir: string;
  abs: string;
  diags: Diagnostic[];
  warnings: string[];
  sources: Map<string, string>;
}

interface PluginLike {
  schema: { safeParse(v: unknown): unknown };
  lateKeys?: readonly string[];
  prepare?(
    config: unknown,
    ctx: PrepareContext,
  ): Promise<{ warnings: string[]; errors: Array<{ key?: string; message: string }> }>;
}

/** The strings of `real` where the fixed-clock evaluation differs are volatile: mark them. */
function markVolatile(real: unknown, fixed: unknown): unknown {
  if (typeof real === 'string') {
    return typeof fixed === 'string' && fixed !== real ? `${VOLATILE_MARK}${fixed}` : real;
  }
  if (Array.isArray(real))
    return real.map((v, i) => markVolatile(v, Array.isArray(fixed) ? fixed[i] : undefined));
  if (real && typeof real === 'object') {
    const f = fixed && typeof fixed === 'object' ? (fixed as Record<string, unknown>) : {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(real)) out[k] = markVolatile(v, f[k]);
    return out;
  }
  return real;
}

/** How one plugin block of a build is evaluated: its body, skipped keys and extra variables. */
interface BlockSpec {
  kind: 'builder' | 'provisioner' | 'post-processor';
  body: Body;
  /** Overrides evaluated in the same scope (a build's `source` block), applied on top. */
  overrideBody?: Body;
  /** Plain overrides (a provisioner's `override` for this source) and where they were written. */
  override?: { value: Record<string, unknown>; range: Range };
  skip: ReadonlySet<string>;
  range: Range;
}

async function preparePluginBlock(
  plugin: PluginLike,
  spec: BlockSpec,
  u: BuildUse,
  pe: PrepareEnv,
  prepCtx: PrepareContext,
  goCtx: InterpolationContext,
): Promise<{
  config: unknown;
  asWritten: unknown;
  resolve: (g: Record<string, unknown>) => unknown;
}> {
  const sourceVal = object({ type: str(u.type), name: str(u.name) });
  const placeholders: Record<string, Value> = {};
  for (const k of BUILD_KEYS) placeholders[k] = str(`{{ build \`${k}\` }}`);
  placeholders.name = str(u.buildName);
  const withBuild = spec.kind !== 'builder';

  const decode = (scope: Scope, build: Value | undefined, diags: Diagnostic[]) => {
    const extra: Record<string, Value> = { source: sourceVal };
    if (build) extra.build = build;
    const places = new PlaceMap(spec.range);
    const ctx = scope.ctx(extra);
    const value = decodeBody(spec.body, plugin.schema, places, {
      ctx,
      skip: spec.skip,
      diagnostics: diags,
    });
    if (spec.overrideBody)
      decodeBody(
        spec.overrideBody,
        plugin.schema,
        places,
        { ctx, skip: new Set(['name']), diagnostics: diags },
        [],
        value,
      );
    if (spec.override) {
      for (const [k, v] of Object.entries(spec.override.value)) {
        value[k] = v;
        places.set([k], spec.override.range, spec.override.range);
      }
    }
    return { value, places };
  };
  const filtered = (v: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('packer_')));

  const late = new Set(plugin.lateKeys ?? []);
  const check = (
    value: Record<string, unknown>,
    places: PlaceMap,
    ctx: InterpolationContext,
    diags: Diagnostic[],
  ): unknown => {
    const rendered = renderDeep(
      filtered(value),
      ctx,
      (p, err) =>
        diags.push(
          diag('Invalid template interpolation', err.message, places.find(p as BlockPath)),
        ),
      late,
    ) as Record<string, unknown>;
    const checked = checkSchema(plugin.schema as never, rendered);
    if (!checked.ok) {
      for (const sp of checked.problems)
        diags.push(
          diag(`Invalid ${spec.kind} configuration`, sp.message, places.find(sp.path, sp.atKey)),
        );
      return undefined;
    }
    return checked.config;
  };

  const start = pe.diags.length;
  const realDecoded = decode(pe.real, withBuild ? object(placeholders) : undefined, pe.diags);
  const fixedDecoded = decode(pe.fixed, withBuild ? object(placeholders) : undefined, []);
  const asWritten = markVolatile(filtered(realDecoded.value), filtered(fixedDecoded.value));
  let config: unknown;
  if (!hasErrors(pe.diags.slice(start))) {
    config = check(realDecoded.value, realDecoded.places, goCtx, pe.diags);
    if (!hasErrors(pe.diags.slice(start)) && plugin.prepare) {
      const res = await plugin.prepare(config, prepCtx);
      pe.warnings.push(...res.warnings);
      for (const e of res.errors)
        pe.diags.push(
          diag(
            `Invalid ${spec.kind} configuration`,
            e.message,
            realDecoded.places.find(e.key ? e.key.split('.') : []),
          ),
        );
    }
  }
  return {
    config,
    asWritten,
    resolve(generated: Record<string, unknown>): unknown {
      const diags: Diagnostic[] = [];
      const build = withBuild ? fromPlain({ name: u.buildName, ...generated }) : undefined;
      const d = decode(pe.real, build, diags);
      const c = hasErrors(diags)
        ? undefined
        : check(
            d.value,
            d.places,
            {
              ...goCtx,
              build: (k) => {
                if (!Object.hasOwn(generated, k)) {
                  throw new FuncError(
                    `the build did not provide "${k}" (available: ${Object.keys(generated).join(', ') || 'none'})`,
                  );
                }
                return String(generated[k]);
              },
            },
            diags,
          );
      if (hasErrors(diags)) {
        const err = diagnosticsError(diags, pe.sources, pe.abs);
        throw new UserError(
          'TemplateInvalid',
          `build "${u.fullName}": cannot resolve values the build generated`,
          {
            details: err.details,
          },
        );
      }
      return c;
    },
  };
}

/** Reads a provisioner's or post-processor's meta attributes (only, except, override…). */
function metaAttrs(block: Block, names: ReadonlySet<string>): Map<string, Attribute> {
  const m = new Map<string, Attribute>();
  for (const a of block.body.attributes) if (names.has(a.name)) m.set(a.name, a);
  return m;
}

/** -only/-except values as gobwas globs (`*`, `?`, `[…]`, `{a,b}`); a bad one is a UserError. */
function filterPatterns(texts: readonly string[], option: string): { text: string; re: RegExp }[] {
  return texts.map((text) => {
    try {
      return { text, re: globToRegExp(text) };
    } catch (err) {
      throw new UserError(
        'InvalidFilter',
        `invalid -${option} pattern ${text}: ${(err as Error).message}`,
        {
          hint: `-${option} takes build names or glob patterns such as 'qemu.*'`,
        },
      );
    }
  });
}

function skipFor(only: string[], except: string[], name: string): boolean {
  if (only.length > 0) return !only.includes(name);
  if (except.length > 0) return except.includes(name);
  return false;
}

function durationMs(
  a: Attribute | undefined,
  ctx: EvalContext,
  diags: Diagnostic[],
  what: string,
): number {
  const s = stringAttr(a, ctx, diags);
  if (s === undefined || s === '') return 0;
  try {
    return Math.trunc(parseGoDurationNs(s) / 1e6);
  } catch (err) {
    diags.push(diag(`Failed to parse ${what} duration`, (err as Error).message, a!.expr.range));
    return 0;
  }
}

async function prepareBuild(u: BuildUse, pe: PrepareEnv): Promise<PreparedBuild | undefined> {
  const { registry } = pe.opts;
  const name = u.fullName;
  const start = pe.diags.length;
  const srcBlock = u.sourceBlock;
  // Packer 1.6.6 gives plugins the source's name as packer_build_name
  const prepCtx: PrepareContext = {
    buildName: u.name,
    buildType: u.type,
    templateDir: pe.dir,
    kilnHome: pe.opts.catalog.home,
    catalog: pe.opts.catalog,
  };
  const goBase: InterpolationContext = {
    userVariables: {},
    templatePath: pe.abs,
    initTime: pe.initTime,
    env: pe.env,
    buildName: u.name,
    buildType: u.type,
  };
  const unknown = (kind: string, type: string, names: string[], range: Range) => {
    const near = nearest(type, names);
    pe.diags.push(
      diag(
        `Unknown ${kind} type`,
        `kiln has no ${kind} "${type}"${near ? `; did you mean "${near}"?` : `; known types: ${names.join(', ') || '(none)'}.`}`,
        range,
      ),
    );
  };

  const builderPlugin = registry.builders[u.type];
  let builder: PreparedPlugin<NonNullable<typeof builderPlugin>> | undefined;
  if (!builderPlugin)
    unknown(
      'builder',
      u.type,
      Object.keys(registry.builders),
      srcBlock.labelRanges[0] ?? srcBlock.typeRange,
    );
  else {
    const r = await preparePluginBlock(
      builderPlugin,
      {
        kind: 'builder',
        body: srcBlock.body,
        overrideBody: u.override,
        skip: new Set(),
        range: srcBlock.range,
      },
      u,
      pe,
      prepCtx,
      goBase,
    );
    builder = {
      type: u.type,
      plugin: builderPlugin,
      config: r.config,
      asWritten: r.asWritten,
      loc: locOf(srcBlock.range),
      resolve: r.resolve,
    };
  }

  const provGo: InterpolationContext = { ...goBase, build: (k) => `{{ build \`${k}\` }}` };
  const sourceVars = {
    source: object({ type: str(u.type), name: str(u.name) }),
    build: object({ name: str(u.buildName) }),
  };
  const sourceCtx = pe.real.ctx(sourceVars);
  const prepareProv = async (
    ref: BoundRef,
    index: number,
  ): Promise<PreparedProvisioner | 'skip' | undefined> => {
    const bpe = ref.bindings
      ? { ...pe, real: pe.real.bind(ref.bindings), fixed: pe.fixed.bind(ref.bindings) }
      : pe;
    // a dynamic block's iterator is in scope for its meta-arguments too
    const metaCtx = ref.bindings ? bpe.real.ctx(sourceVars) : sourceCtx;
    const meta = metaAttrs(ref.block, PROVISIONER_META);
    const only = stringList(meta.get('only'), metaCtx, pe.diags);
    const except = stringList(meta.get('except'), metaCtx, pe.diags);
    if (only.length > 0 && except.length > 0)
      pe.diags.push(
        diag("only one of 'only' or 'except' may be specified", '', ref.block.typeRange),
      );
    if (skipFor(only, except, u.sourceName)) return 'skip';
    const pauseBeforeMs = durationMs(meta.get('pause_before'), metaCtx, pe.diags, 'pause_before');
    const timeoutMs = durationMs(meta.get('timeout'), metaCtx, pe.diags, 'timeout');
    let maxRetries = 0;
    const mr = meta.get('max_retries');
    if (mr) {
      const r = evaluate(mr.expr, metaCtx);
      pe.diags.push(...r.diagnostics);
      try {
        const v = convert(r.value, T.number);
        if (!isNull(v) && isKnown(v)) {
          if (!Number.isInteger(v.raw)) throw new ConversionError('', 'a whole number is required');
          maxRetries = v.raw as number;
        }
      } catch (err) {
        if (!(err instanceof ConversionError)) throw err;
        pe.diags.push(
          diag(
            'Incorrect attribute value type',
            `Inappropriate value for attribute "max_retries": ${err.message}.`,
            mr.expr.range,
          ),
        );
      }
    }
    let override: BlockSpec['override'];
    const ov = meta.get('override');
    if (ov) {
      const r = evaluate(ov.expr, metaCtx);
      pe.diags.push(...r.diagnostics);
      if (!hasErrors(r.diagnostics)) {
        const plain = toPlain(r.value);
        if (!plain || typeof plain !== 'object' || Array.isArray(plain)) {
          pe.diags.push(
            diag("provisioner's override block must be an HCL object", '', ov.expr.range),
          );
        } else {
          const mine = (plain as Record<string, unknown>)[u.name];
          if (mine !== undefined) {
            if (!mine || typeof mine !== 'object' || Array.isArray(mine))
              pe.diags.push(
                diag(
                  `provisioner's override.'${u.name}' block must be an HCL object`,
                  '',
                  ov.expr.range,
                ),
              );
            else override = { value: mine as Record<string, unknown>, range: ov.expr.range };
          }
        }
      }
    }
    const plugin = registry.provisioners[ref.type];
    if (!plugin) {
      unknown(
        'provisioner',
        ref.type,
        Object.keys(registry.provisioners),
        ref.block.labelRanges[0] ?? ref.block.typeRange,
      );
      return undefined;
    }
    const r = await preparePluginBlock(
      plugin,
      {
        kind: 'provisioner',
        body: ref.block.body,
        override,
        skip: PROVISIONER_META,
        range: ref.block.range,
      },
      u,
      bpe,
      prepCtx,
      provGo,
    );
    return {
      type: ref.type,
      plugin,
      config: r.config,
      asWritten: r.asWritten,
      loc: locOf(ref.block.range),
      resolve: r.resolve,
      index,
      pauseBeforeMs,
      maxRetries,
      timeoutMs,
    };
  };

  const provisioners: PreparedProvisioner[] = [];
  for (const [i, ref] of expandDynamicRefs(u.build.provisioners, sourceCtx, pe.diags).entries()) {
    const p = await prepareProv(ref, i);
    if (p && p !== 'skip') provisioners.push(p);
  }
  let errorCleanupProvisioner: PreparedProvisioner | undefined;
  if (u.build.errorCleanup) {
    const p = await prepareProv(u.build.errorCleanup, 0);
    if (p && p !== 'skip') errorCleanupProvisioner = p;
  }

  const postProcessors: PreparedPostProcessor[][] = [];
  const chains: BoundRef[][] = expandChains(u.build.postProcessors, sourceCtx, pe.diags);
  for (const chain of chains) {
    const current: PreparedPostProcessor[] = [];
    for (const ref of chain) {
      const bpe = ref.bindings
        ? { ...pe, real: pe.real.bind(ref.bindings), fixed: pe.fixed.bind(ref.bindings) }
        : pe;
      const metaCtx = ref.bindings ? bpe.real.ctx(sourceVars) : sourceCtx;
      const meta = metaAttrs(ref.block, POST_PROCESSOR_META);
      const only = stringList(meta.get('only'), metaCtx, pe.diags);
      const except = stringList(meta.get('except'), metaCtx, pe.diags);
      if (skipFor(only, except, u.sourceName)) continue;
      const ppName = stringAttr(meta.get('name'), metaCtx, pe.diags);
      // -except also names post-processors (by name, else type): the chain stops there
      if (filterPatterns(pe.opts.except ?? [], 'except').some((p) => p.re.test(ppName || ref.type)))
        break;
      let keep: boolean | undefined;
      const k = meta.get('keep_input_artifact');
      if (k) {
        const r = evaluate(k.expr, metaCtx);
        pe.diags.push(...r.diagnostics);
        try {
          const v = convert(r.value, T.bool);
          if (!isNull(v) && isKnown(v)) keep = v.raw === true;
        } catch (err) {
          if (!(err instanceof ConversionError)) throw err;
          pe.diags.push(
            diag(
              'Incorrect attribute value type',
              `Inappropriate value for attribute "keep_input_artifact": ${err.message}.`,
              k.expr.range,
            ),
          );
        }
      }
      const plugin = registry.postProcessors[ref.type];
      if (!plugin) {
        unknown(
          'post-processor',
          ref.type,
          Object.keys(registry.postProcessors),
          ref.block.labelRanges[0] ?? ref.block.typeRange,
        );
        continue;
      }
      const r = await preparePluginBlock(
        plugin,
        {
          kind: 'post-processor',
          body: ref.block.body,
          skip: POST_PROCESSOR_META,
          range: ref.block.range,
        },
        u,
        bpe,
        prepCtx,
        provGo,
      );
      current.push({
        type: ref.type,
        plugin,
        config: r.config,
        asWritten: r.asWritten,
        loc: locOf(ref.block.range),
        resolve: r.resolve,
        // Packer 1.6.6's HCL2 post-processor has no name unless given: "Running post-processor:  (type x)"
        name: ppName ?? '',
        keepInputArtifact: keep,
      });
    }
    if (current.length > 0) postProcessors.push(current);
  }

  if (hasErrors(pe.diags.slice(start)) || !builder) return undefined;
  return {
    name,
    pluginBuildName: u.name,
    type: u.type,
    builder,
    provisioners,
    errorCleanupProvisioner,
    postProcessors,
    interpolate: lateInterpolator(name, goBase),
  };
}
