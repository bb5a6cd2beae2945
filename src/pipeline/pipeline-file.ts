/**
 * `kiln.pipeline.json`: the six steps of a CI workflow in one strict JSON file, declared
 * once with zod and checked with the template layer's reader, so every problem is reported
 * together as `file:line:column: path: message`, before anything runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { goDuration } from '../lib/duration-schema.js';
import { UserError } from '../lib/errors.js';
import { editorSchema, type JsonSchema, SCHEMA_DRAFT, weaken } from '../template/json-schema.js';
import { type JsonPath, parseJsonSource } from '../template/json-source.js';
import { problemsError, type TemplateProblem } from '../template/raw-template.js';
import { checkSchema } from '../template/schema-check.js';
import { PIPELINE_FILE } from './defaults.js';

export { PIPELINE_FILE };

const commands = z.union([z.string(), z.array(z.string())]);
const vars = z.record(z.string(), z.string());

/**
 * What a command step reads, for the action cache: a step whose inputs hash to a run that
 * passed is skipped (`--no-cache` runs it anyway). A step that declares no `inputs` always runs.
 */
const cacheKeys = {
  /**
   * Files and globs (`src/**`; `!` excludes), relative to the pipeline file; a directory
   * means everything under it. Their contents, with the command(s), make the step's key.
   */
  inputs: z.array(z.string().min(1)).optional(),
  /** Environment variables the commands read: their values are part of the key. */
  env: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name'))
    .optional(),
};

/** A command step: its command(s), or an object with the command(s) and what it reads. */
const commandStep = z.union([commands, z.strictObject({ command: commands, ...cacheKeys })]);

const templateStep = {
  /** Packer JSON template, relative to the pipeline file. */
  template: z.string(),
  /** `-var` values. */
  vars: vars.optional(),
  /** `-var-file`s, relative to the pipeline file. */
  var_files: z.array(z.string()).optional(),
};

export const pipelineSchema = z.strictObject({
  /** The JSON Schema an editor checks this file with (schemas/kiln-pipeline.schema.json); ignored. */
  $schema: z.string().optional(),
  /** Commands run with `sh -c` in the pipeline file's directory, in order. */
  unit_tests: commandStep.optional(),
  integration_tests: commandStep.optional(),
  /**
   * The package step: its command and the file it must produce (kept by the action cache
   * with its sha256, so a skipped package step still leaves it in place).
   */
  package: z.strictObject({ command: commands, artifact: z.string(), ...cacheKeys }).optional(),
  /** The build image's template. */
  build: z.strictObject(templateStep),
  /** The release template, and the variable that receives the build image's id. */
  release: z.strictObject({ ...templateStep, image_var: z.string().default('source_image') }),
  /**
   * A registry repository (`host[:port]/repository`) shared as the build cache: a build whose
   * inputs are there is pulled instead of built, and what is built is pushed
   * (KILN_REGISTRY_CACHE overrides it).
   */
  registry_cache: z.string().optional(),
  /** A PEM file of CA certificates trusted for the registry cache, relative to the pipeline file (KILN_REGISTRY_CA_FILE overrides it). */
  registry_ca_file: z.string().optional(),
  /** Allow plain HTTP and unverified TLS to a registry cache that is not on this machine (KILN_REGISTRY_INSECURE overrides it). */
  registry_insecure: z.boolean().optional(),
  /** One release per environment: its var-file(s) and variables. */
  environments: z.record(
    z.string(),
    z.strictObject({
      var_file: z.string().optional(),
      var_files: z.array(z.string()).optional(),
      vars: vars.optional(),
      /** This environment's release template instead of `release.template` (e.g. a chroot build). */
      release_template: z.string().optional(),
    }),
  ),
  /**
   * Boots each release image and checks it over HTTP. `port` (the guest port) and
   * `expect_body` may use `{{user \`name\`}}` with the environment's variables.
   */
  smoke_test: z
    .strictObject({
      port: z.union([z.number().int().min(1).max(65535), z.string()]),
      path: z.string().default('/'),
      expect_status: z.number().int().min(100).max(599).default(200),
      expect_body: z.string().optional(),
      timeout: goDuration.default('5m'),
    })
    .optional(),
  /** Where the chosen environment's release goes (default: the first environment). */
  deploy: z
    .strictObject({
      environment: z.string().optional(),
      local: z
        .strictObject({
          group: z.string(),
          count: z.number().int().min(1).default(1),
          /** The first host port of the group. */
          port: z.number().int().min(1).max(65535),
          health_path: z.string().default('/healthz'),
          /** The service's port in the guest; default the smoke test's port (both may use `{{user \`x\`}}`). */
          guest_port: z.union([z.number().int().min(1).max(65535), z.string()]).optional(),
          /** How long each new member has to pass its health check. */
          timeout: goDuration.default('3m'),
        })
        .optional(),
      aws: z.strictObject({ asg: z.string(), region: z.string() }).optional(),
    })
    .optional(),
});

export type PipelineConfig = z.infer<typeof pipelineSchema>;

/** The steps that run commands (and may be skipped by the action cache). */
export type CommandStepName = 'unit_tests' | 'integration_tests' | 'package';

/** A command step, normalised: what runs, what it reads, what it makes. */
export interface CommandSpec {
  name: CommandStepName;
  commands: string[];
  /** Declared inputs (patterns as written); undefined: not cacheable, it always runs. */
  inputs?: string[];
  /** Environment variable names whose values are part of the key. */
  env: string[];
  /** The package's artifact, relative to the pipeline file. */
  artifact?: string;
}

/** The command steps of a pipeline file, in order (absent ones left out). */
export function commandSpecs(c: PipelineConfig): CommandSpec[] {
  const specs: CommandSpec[] = [];
  const list = (x: string | string[]) => (typeof x === 'string' ? [x] : x);
  for (const name of ['unit_tests', 'integration_tests'] as const) {
    const v = c[name];
    if (v === undefined) continue;
    if (typeof v === 'string' || Array.isArray(v)) specs.push({ name, commands: list(v), env: [] });
    else
      specs.push({
        name,
        commands: list(v.command),
        ...(v.inputs ? { inputs: v.inputs } : {}),
        env: v.env ?? [],
      });
  }
  if (c.package)
    specs.push({
      name: 'package',
      commands: list(c.package.command),
      ...(c.package.inputs ? { inputs: c.package.inputs } : {}),
      env: c.package.env ?? [],
      artifact: c.package.artifact,
    });
  return specs;
}

/** The pipeline file's JSON Schema for editors (`npm run schemas` writes it to schemas/). */
export function pipelineJsonSchema(): JsonSchema {
  return {
    $schema: SCHEMA_DRAFT,
    title: 'kiln pipeline file',
    description: `${PIPELINE_FILE}: the six steps of a CI workflow (generated from kiln's schema: npm run schemas).`,
    ...weaken(editorSchema(pipelineSchema)),
  };
}

export interface Environment {
  name: string;
  /** Absolute var-file paths. */
  varFiles: string[];
  vars: Record<string, string>;
  /** Its release template (absolute), when it has its own. */
  releaseTemplate?: string;
}

/** A checked pipeline: paths resolved against its directory. */
export interface Pipeline {
  file: string;
  dir: string;
  config: PipelineConfig;
  /** In file order. */
  environments: Environment[];
  /** The environment `deploy` targets (the first by default), when there is a deploy step. */
  deployEnvironment?: string;
}

const ENV_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Reads and checks a pipeline file; throws one UserError listing every problem with its place. */
export function loadPipeline(path: string): Pipeline {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      'PipelineUnreadable',
      `cannot read pipeline file ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      {
        hint: `write a ${PIPELINE_FILE} (see examples/hello-web/${PIPELINE_FILE}) or pass its path`,
      },
    );
  }
  const src = parseJsonSource(path, text, 'pipeline JSON');
  const value = src.value();
  const fail = (problems: TemplateProblem[]) =>
    problemsError(
      src,
      problems,
      `pipeline ${path} has ${problems.length} error${problems.length === 1 ? '' : 's'}`,
    );
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw fail([{ path: [], message: 'a pipeline file must be a JSON object' }]);
  const checked = checkSchema(pipelineSchema, value as Record<string, unknown>);
  if (!checked.ok)
    throw fail(
      checked.problems.map((pr) =>
        pr.message === 'Invalid input' && pr.path.join('.') === 'smoke_test.port'
          ? { ...pr, message: 'expected a port number, or a string such as "{{user `http_port`}}"' }
          : pr,
      ),
    );
  const config = checked.config as PipelineConfig;
  const dir = dirname(file);

  const problems: TemplateProblem[] = [];
  const mustExist = (rel: string, at: JsonPath, what: string) => {
    if (!existsSync(resolve(dir, rel)))
      problems.push({ path: at, message: `${what} ${resolve(dir, rel)} does not exist` });
  };
  mustExist(config.build.template, ['build', 'template'], 'template');
  mustExist(config.release.template, ['release', 'template'], 'template');
  for (const [i, f] of (config.build.var_files ?? []).entries())
    mustExist(f, ['build', 'var_files', i], 'var-file');
  for (const [i, f] of (config.release.var_files ?? []).entries())
    mustExist(f, ['release', 'var_files', i], 'var-file');

  const names = Object.keys(config.environments);
  if (names.length === 0)
    problems.push({ path: ['environments'], message: 'at least one environment is required' });
  const environments: Environment[] = [];
  for (const name of names) {
    const env = config.environments[name]!;
    if (!ENV_NAME.test(name))
      problems.push({
        path: ['environments', name],
        atKey: true,
        message: `environment name "${name}" must be letters, digits, '.', '_' or '-'`,
      });
    const files = [...(env.var_file ? [env.var_file] : []), ...(env.var_files ?? [])];
    if (env.var_file) mustExist(env.var_file, ['environments', name, 'var_file'], 'var-file');
    for (const [i, f] of (env.var_files ?? []).entries())
      mustExist(f, ['environments', name, 'var_files', i], 'var-file');
    if (env.release_template)
      mustExist(env.release_template, ['environments', name, 'release_template'], 'template');
    environments.push({
      name,
      varFiles: files.map((f) => resolve(dir, f)),
      vars: env.vars ?? {},
      ...(env.release_template ? { releaseTemplate: resolve(dir, env.release_template) } : {}),
    });
  }

  let deployEnvironment: string | undefined;
  if (config.deploy) {
    const d = config.deploy;
    if ((d.local ? 1 : 0) + (d.aws ? 1 : 0) !== 1)
      problems.push({
        path: ['deploy'],
        message:
          'give exactly one deploy target: "local" ({group, count, port}) or "aws" ({asg, region})',
      });
    deployEnvironment = d.environment ?? names[0];
    if (d.local && d.local.guest_port === undefined && !config.smoke_test)
      problems.push({
        path: ['deploy', 'local'],
        message:
          'guest_port is required without a smoke_test (the port the service listens on in the guest)',
      });
    if (d.environment !== undefined && !names.includes(d.environment))
      problems.push({
        path: ['deploy', 'environment'],
        message: `unknown environment "${d.environment}"; environments: ${names.join(', ')}`,
      });
  }
  if (problems.length > 0) throw fail(problems);
  return {
    file,
    dir,
    config,
    environments,
    ...(deployEnvironment ? { deployEnvironment } : {}),
  };
}

/** The pipeline's environments selected by `--env a,b` (all when empty); a UserError naming unknown ones. */
export function selectEnvironments(p: Pipeline, names: readonly string[]): Environment[] {
  if (names.length === 0) return p.environments;
  const known = new Set(p.environments.map((e) => e.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0)
    throw new UserError(
      'UnknownEnvironment',
      `unknown environment${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')}`,
      {
        where: p.file,
        hint: `the pipeline's environments are: ${[...known].join(', ')}`,
      },
    );
  return p.environments.filter((e) => names.includes(e.name));
}
