/**
 * Turns a checked template into builds, as Packer's Core.Build + Build.Prepare do: per
 * builder left after -only/-except, interpolate each plugin block in that build's context
 * (late keys only syntax-checked), validate it with the plugin's schema, run the plugin's
 * own `prepare()`, and gather every problem with its place in the template.
 */

import type { PrepareContext, PrepareResult } from '../core/plugin.js';
import { UserError } from '../lib/errors.js';
import { nearest } from '../lib/suggest.js';
import {
  cleanAmazonResourceName,
  FuncError,
  type InterpolationContext,
  InterpolationError,
  render,
  renderDeep,
  renderOnce,
  type TemplateFunc,
} from './interpolate.js';
import type { JsonPath, JsonSource } from './json-source.js';
import {
  problemsError,
  type RawBuilder,
  type RawPostProcessor,
  type RawProvisioner,
  type RawTemplate,
  type TemplateProblem,
} from './raw-template.js';
import { checkSchema } from './schema-check.js';
import type {
  PreparedBuild,
  PreparedPlugin,
  PreparedPostProcessor,
  PreparedProvisioner,
  Registry,
} from './types.js';

export interface PrepareInputs {
  tpl: RawTemplate;
  registry: Registry;
  variables: Record<string, string>;
  initTime: Date;
  env: NodeJS.ProcessEnv;
  catalog: PrepareContext['catalog'];
  only: string[];
  except: string[];
  /** See `LoadOptions.fetchSource`. */
  fetchSource?: (text: string) => Promise<string | undefined>;
}

interface PluginLike {
  schema: { safeParse(v: unknown): unknown };
  lateKeys?: readonly string[];
  prepare?(config: unknown, ctx: PrepareContext): Promise<PrepareResult>;
}

// Packer 1.6.6 defines clean_resource_name only inside these builders' configs.
const CLEAN_NAME_FUNCS: Record<string, TemplateFunc> = {
  clean_resource_name: {
    params: ['string'],
    call: (_ctx, [s]) => cleanAmazonResourceName(String(s)),
  },
};

function builderFuncs(type: string): Record<string, TemplateFunc> | undefined {
  return type.startsWith('amazon-') ? CLEAN_NAME_FUNCS : undefined;
}

/** Resolves the build names and prepares every build left after -only/-except. */
export async function prepareBuilds(
  inp: PrepareInputs,
): Promise<{ builds: PreparedBuild[]; problems: TemplateProblem[]; warnings: string[] }> {
  const { tpl } = inp;
  const coreCtx: InterpolationContext = {
    userVariables: inp.variables,
    templatePath: tpl.path,
    initTime: inp.initTime,
    env: inp.env,
  };
  // Build names may hold {{ user }}; -only/-except match the rendered names (Packer's Core.Initialize).
  const named: Array<{ name: string; b: RawBuilder }> = [];
  for (const b of tpl.builders) {
    try {
      named.push({ name: render(b.rawName, coreCtx), b });
    } catch (err) {
      if (!(err instanceof InterpolationError)) throw err;
      throw problemsError(tpl.src, [
        { path: [...b.path, 'name'], message: `cannot interpolate the build name: ${err.message}` },
      ]);
    }
  }
  const selected = named.filter(({ name }) => {
    if (inp.only.length > 0 && !inp.only.includes(name)) return false;
    return !inp.except.includes(name);
  });

  await fetchSources(inp, selected);

  const problems: TemplateProblem[] = [];
  const warnings: string[] = [];
  const builds: PreparedBuild[] = [];
  for (const { name, b } of selected) {
    const build = await prepareOne(inp, name, b, problems, warnings);
    if (build) builds.push(build);
  }
  return { builds, problems, warnings };
}

/**
 * Before any build is prepared: a source image named by something the catalog cannot
 * resolve (a registry reference) is fetched through `inp.fetchSource`, and every variable
 * set to that text is set to the fetched image's id instead — so the builds, their input
 * hash and their recipe name the image, whichever way it was given. A value that does not
 * render is left to the build's own checks, which report it with its place.
 */
async function fetchSources(
  inp: PrepareInputs,
  selected: Array<{ name: string; b: RawBuilder }>,
): Promise<void> {
  if (!inp.fetchSource) return;
  const done = new Map<string, string | undefined>();
  for (const { name, b } of selected) {
    const key = inp.registry.builders[b.type]?.sourceImageKey;
    const raw = key === undefined ? undefined : b.config[key];
    if (typeof raw !== 'string') continue;
    let text: string;
    try {
      text = render(raw, {
        userVariables: inp.variables,
        templatePath: inp.tpl.path,
        initTime: inp.initTime,
        env: inp.env,
        buildName: name,
        buildType: b.type,
      });
    } catch {
      continue;
    }
    // An id a fetch gave (a later build rendering the replaced variable) is local already.
    if ([...done.values()].includes(text)) continue;
    if (!done.has(text)) done.set(text, await inp.fetchSource(text));
    const id = done.get(text);
    if (id === undefined) continue;
    for (const [k, v] of Object.entries(inp.variables)) if (v === text) inp.variables[k] = id;
  }
}

async function prepareOne(
  inp: PrepareInputs,
  name: string,
  b: RawBuilder,
  problems: TemplateProblem[],
  warnings: string[],
): Promise<PreparedBuild | undefined> {
  const { tpl, registry } = inp;
  const prepCtx: PrepareContext = {
    buildName: name,
    buildType: b.type,
    templateDir: tpl.dir,
    kilnHome: inp.catalog.home,
    catalog: inp.catalog,
  };
  const base: InterpolationContext = {
    userVariables: inp.variables,
    templatePath: tpl.path,
    initTime: inp.initTime,
    env: inp.env,
    buildName: name,
    buildType: b.type,
  };
  const start = problems.length;

  const unknown = (kind: string, type: string, names: string[], path: JsonPath) => {
    const near = nearest(type, names);
    problems.push({
      path,
      message: `unknown ${kind} type "${type}"${near ? `; did you mean "${near}"?` : `; known types: ${names.join(', ') || '(none)'}`}`,
    });
  };

  // Builder
  const builderPlugin = registry.builders[b.type];
  let builder: PreparedPlugin<NonNullable<typeof builderPlugin>> | undefined;
  if (!builderPlugin)
    unknown('builder', b.type, Object.keys(registry.builders), [...b.path, 'type']);
  else {
    const ctx = { ...base, funcs: builderFuncs(b.type) };
    const r = await preparePlugin(
      builderPlugin,
      b.config,
      b.path,
      undefined,
      ctx,
      prepCtx,
      problems,
      warnings,
      tpl.src,
    );
    builder = {
      type: b.type,
      plugin: builderPlugin,
      config: r.config,
      asWritten: b.config,
      loc: tpl.src.locOf(b.path),
      resolve: r.resolve,
    };
  }

  // Provisioners: only/except and override use the raw (uninterpolated) builder name, as Packer does.
  const provCtx: InterpolationContext = { ...base, build: (k) => `{{ build \`${k}\` }}` };
  const prepareProv = async (p: RawProvisioner): Promise<PreparedProvisioner | undefined> => {
    const plugin = registry.provisioners[p.type];
    let maxRetries = 0;
    if (p.maxRetries !== '') {
      try {
        const s = renderOnce(p.maxRetries, {
          userVariables: inp.variables,
          templatePath: tpl.path,
          initTime: inp.initTime,
        });
        if (!/^[+-]?[0-9]+$/.test(s)) throw new FuncError(`"${s}" is not an integer`);
        maxRetries = Number.parseInt(s, 10);
      } catch (err) {
        problems.push({
          path: [...p.path, 'max_retries'],
          message: `max_retries must be a valid integer: ${(err as Error).message}`,
        });
      }
    }
    if (!plugin) {
      unknown('provisioner', p.type, Object.keys(registry.provisioners), [...p.path, 'type']);
      return undefined;
    }
    const override = p.override[b.rawName];
    const config = override ? { ...p.config, ...override } : p.config;
    const r = await preparePlugin(
      plugin,
      config,
      p.path,
      override ? { value: override, path: [...p.path, 'override', b.rawName] } : undefined,
      provCtx,
      prepCtx,
      problems,
      warnings,
      tpl.src,
    );
    return {
      type: p.type,
      plugin,
      config: r.config,
      asWritten: config,
      loc: tpl.src.locOf(p.path),
      resolve: r.resolve,
      index: p.index,
      pauseBeforeMs: p.pauseBeforeMs,
      maxRetries,
      timeoutMs: p.timeoutMs,
    };
  };
  const provisioners: PreparedProvisioner[] = [];
  for (const p of tpl.provisioners) {
    if (skip(p, b.rawName)) continue;
    const prepared = await prepareProv(p);
    if (prepared) provisioners.push(prepared);
  }
  const errorCleanupProvisioner = tpl.cleanupProvisioner
    ? await prepareProv(tpl.cleanupProvisioner)
    : undefined;

  // Post-processors: a chain stops at a post-processor named in -except (Packer 1.6.6).
  const postProcessors: PreparedPostProcessor[][] = [];
  for (const chain of tpl.postProcessors) {
    const current: PreparedPostProcessor[] = [];
    for (const pp of chain) {
      if (skip(pp, b.rawName)) continue;
      if (inp.except.some((e) => e !== '' && e === pp.name)) break;
      const prepared = await preparePostProcessor(pp);
      if (prepared) current.push(prepared);
    }
    if (current.length > 0) postProcessors.push(current);
  }

  async function preparePostProcessor(
    pp: RawPostProcessor,
  ): Promise<PreparedPostProcessor | undefined> {
    const plugin = registry.postProcessors[pp.type];
    if (!plugin) {
      const written = tpl.src.nodeAt(pp.path)?.type === 'string' ? pp.path : [...pp.path, 'type'];
      unknown('post-processor', pp.type, Object.keys(registry.postProcessors), written);
      return undefined;
    }
    const r = await preparePlugin(
      plugin,
      pp.config,
      pp.path,
      undefined,
      provCtx,
      prepCtx,
      problems,
      warnings,
      tpl.src,
    );
    return {
      type: pp.type,
      plugin,
      config: r.config,
      asWritten: pp.config,
      loc: tpl.src.locOf(pp.path),
      resolve: r.resolve,
      name: pp.name,
      keepInputArtifact: pp.keepInputArtifact,
    };
  }

  if (problems.length > start || !builder) return undefined;
  return {
    name,
    type: b.type,
    builder,
    provisioners,
    errorCleanupProvisioner,
    postProcessors,
    interpolate: lateInterpolator(name, base),
  };
}

function skip(o: { only: string[]; except: string[] }, name: string): boolean {
  if (o.only.length > 0) return !o.only.includes(name);
  if (o.except.length > 0) return o.except.includes(name);
  return false;
}

/** Interpolates, validates and prepares one plugin block; records problems at template paths. */
async function preparePlugin(
  plugin: PluginLike,
  rawConfig: Record<string, unknown>,
  path: JsonPath,
  override: { value: Record<string, unknown>; path: JsonPath } | undefined,
  ctx: InterpolationContext,
  prepCtx: PrepareContext,
  problems: TemplateProblem[],
  warnings: string[],
  src: JsonSource,
): Promise<{ config: unknown; resolve: (generated: Record<string, unknown>) => unknown }> {
  // Packer ignores unused `packer_*` keys in a plugin block.
  const raw = Object.fromEntries(
    Object.entries(rawConfig).filter(([k]) => !k.startsWith('packer_')),
  );
  const late = new Set(plugin.lateKeys ?? []);
  const where = (p: JsonPath): JsonPath => {
    if (override && p.length > 0 && Object.hasOwn(override.value, String(p[0])))
      return [...override.path, ...p];
    return [...path, ...p];
  };

  const interpolateAndCheck = (c: InterpolationContext, out: TemplateProblem[]): unknown => {
    const rendered = renderDeep(
      raw,
      c,
      (p, err) => out.push({ path: where(p), message: err.message, offset: err.offset }),
      late,
    ) as Record<string, unknown>;
    const checked = checkSchema(plugin.schema as never, rendered);
    if (!checked.ok) {
      for (const sp of checked.problems)
        out.push({ path: where(sp.path), message: sp.message, atKey: sp.atKey });
      return undefined;
    }
    return checked.config;
  };

  const start = problems.length;
  const config = interpolateAndCheck(ctx, problems);
  if (problems.length === start && plugin.prepare) {
    const res = await plugin.prepare(config, prepCtx);
    warnings.push(...res.warnings);
    for (const e of res.errors)
      problems.push({
        path: where(e.key ? e.key.split('.') : []),
        message: e.message,
        atKey: false,
      });
  }

  return {
    config,
    resolve(generated: Record<string, unknown>): unknown {
      const out: TemplateProblem[] = [];
      const c = interpolateAndCheck(
        {
          ...ctx,
          build: (k) => {
            if (!Object.hasOwn(generated, k)) {
              throw new FuncError(
                `the build did not provide "${k}" (available: ${Object.keys(generated).join(', ') || 'none'})`,
              );
            }
            return String(generated[k]);
          },
        },
        out,
      );
      if (out.length > 0) {
        throw problemsError(
          src,
          out,
          `build "${prepCtx.buildName}": cannot resolve values the build generated`,
        );
      }
      return c;
    },
  };
}

/**
 * A build's `interpolate`: renders a late-bound field (e.g. `execute_command` with `.Path`)
 * with the build's context; `{{build `K`}}` reads the same data. Errors name the build.
 */
export function lateInterpolator(
  name: string,
  base: InterpolationContext,
): (text: string, data?: Record<string, unknown>) => string {
  return (text, data) => {
    try {
      return renderOnce(text, {
        ...base,
        data,
        // Packer's `build` reads the same data a late key is rendered with.
        build: (k) => {
          const v = data?.[k];
          if (v === undefined) throw new FuncError(`loaded data, but couldnt find ${k} in it.`);
          return String(v);
        },
      });
    } catch (err) {
      if (err instanceof InterpolationError) {
        throw new UserError('TemplateInterpolation', `build "${name}": ${err.message}`, {
          hint: `in: ${text}`,
        });
      }
      throw err;
    }
  };
}
