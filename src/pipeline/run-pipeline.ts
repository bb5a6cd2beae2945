/**
 * The six-step CI workflow of a pipeline file: unit tests → integration tests → package →
 * build image → one release image per environment (concurrently, within the machine's
 * limits) → smoke test of each release → deploy of one environment's release. Builds and
 * releases whose inputs are unchanged are reused (core/input-hash.ts). The first failure
 * stops the pipeline and says which step and why. Progress goes to the Ui; the result is
 * one row per step (and environment) for the caller to present.
 */
import { existsSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { CatalogApi } from '../catalog/types.js';
import { runBuilds } from '../core/build.js';
import type { Ui } from '../core/events.js';
import { CancelledError, formatError, KilnError, UserError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { loadTemplate, render } from '../template/index.js';
import type { LoadedTemplate, Registry } from '../template/types.js';
import { deployRelease } from './deploy-step.js';
import type { Environment, Pipeline } from './pipeline-file.js';
import { smokeTest } from './smoke-test.js';
import { StepUi } from './step-ui.js';

export type StepName =
  | 'unit_tests'
  | 'integration_tests'
  | 'package'
  | 'build'
  | 'release'
  | 'smoke_test'
  | 'deploy';

/** What happened in a step: `built`/`reused` for images, `tested`, `deployed`, `passed` for commands. */
export type StepOutcome =
  | 'passed'
  | 'built'
  | 'reused'
  | 'tested'
  | 'deployed'
  | 'failed'
  | 'skipped';

/** One line of the pipeline's summary. */
export interface PipelineRow {
  step: StepName;
  environment?: string;
  /** An image id, or the package's file. */
  image?: string;
  outcome: StepOutcome;
  durationMs: number;
  /** Why it failed or was skipped. */
  message?: string;
}

export interface PipelineResult {
  rows: PipelineRow[];
  ok: boolean;
  /** The first failure: which step (and environment) and why. */
  failure?: { step: StepName; environment?: string; message: string };
}

export interface RunPipelineOptions {
  pipeline: Pipeline;
  /** The environments to release (default: all). */
  environments?: Environment[];
  ui: Ui;
  registry: Registry;
  /** The command's open catalog: every build, test and deploy of the run records into it. */
  catalog: CatalogApi;
  /** Build every image even when its inputs are unchanged; smoke-test every release again. */
  noCache?: boolean;
  /** Releases (and smoke tests) at once; default `defaultParallelism()`. */
  parallel?: number;
  signal?: AbortSignal;
  /** Told each row as soon as it is known (for streaming output). */
  onRow?: (row: PipelineRow) => void;
  /** Environment of the test/package commands (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Memory one release VM needs, with QEMU's own overhead (the sample's templates ask 1 GiB). */
const VM_BYTES = 1.25 * 1024 ** 3;

/** How many VMs this machine runs at once: one per core, as many as fit in 3/4 of its memory. */
export function defaultParallelism(): number {
  const byMemory = Math.floor((totalmem() * 0.75) / VM_BYTES);
  return Math.max(1, Math.min(availableParallelism(), byMemory));
}

/** A step's failure, already reported in its row: what stops the pipeline. */
class StepFailed extends Error {
  constructor(
    readonly step: StepName,
    readonly environment: string | undefined,
    message: string,
    /** The image the step failed on, for its row. */
    readonly image?: string,
  ) {
    super(message);
  }
}

/** Runs the pipeline's steps in order; never throws for a step's failure (see `failure`). */
export async function runPipeline(opts: RunPipelineOptions): Promise<PipelineResult> {
  const p = opts.pipeline;
  const c = p.config;
  const envs = opts.environments ?? p.environments;
  const signal = opts.signal ?? new AbortController().signal;
  const parallel = Math.max(1, opts.parallel ?? defaultParallelism());
  const rows: PipelineRow[] = [];
  const push = (row: PipelineRow) => {
    rows.push(row);
    opts.onRow?.(row);
  };
  const say = (text: string) => opts.ui.emit({ type: 'ui', level: 'say', build: 'pipeline', text });

  /** Times one step, records its row, and turns any error into a StepFailed. */
  const step = async <T>(
    name: StepName,
    environment: string | undefined,
    body: () => Promise<{
      row: Omit<PipelineRow, 'step' | 'environment' | 'durationMs'>;
      value: T;
    }>,
  ): Promise<T> => {
    const start = performance.now();
    try {
      if (signal.aborted) throw new CancelledError('pipeline cancelled');
      const { row, value } = await body();
      push({
        step: name,
        ...(environment ? { environment } : {}),
        ...row,
        durationMs: performance.now() - start,
      });
      return value;
    } catch (err) {
      const message = err instanceof StepFailed ? err.message : errorMessage(err);
      push({
        step: name,
        ...(environment ? { environment } : {}),
        outcome: 'failed',
        durationMs: performance.now() - start,
        message,
        ...(err instanceof StepFailed && err.image ? { image: err.image } : {}),
      });
      throw new StepFailed(name, environment, message);
    }
  };

  const commandStep = async (name: StepName, cmds: string | string[] | undefined) => {
    if (cmds === undefined) return;
    const ui = new StepUi(opts.ui, name);
    await step(name, undefined, async () => {
      for (const cmd of typeof cmds === 'string' ? [cmds] : cmds) {
        ui.build.say(`$ ${cmd}`);
        const r = await run('sh', ['-c', cmd], {
          cwd: p.dir,
          signal,
          processGroup: true,
          reject: false,
          ...(opts.env ? { env: opts.env, extendEnv: false } : {}),
          onStdout: (l) => ui.build.message(l),
          onStderr: (l) => ui.build.message(l),
        });
        if (r.exitCode !== 0)
          throw new StepFailed(
            name,
            undefined,
            `\`${cmd}\` ${r.signal ? `was killed by ${r.signal}` : `exited with status ${r.exitCode}`}`,
          );
      }
      return { row: { outcome: 'passed' }, value: undefined };
    });
  };

  // Every environment's ports are checked before anything runs (RELIABILITY row 16): a port
  // of 70000 in an environment file must not cost a build and a boot to be found.
  for (const env of envs) {
    const { variables } = await loadTemplate(resolve(p.dir, c.release.template), {
      registry: opts.registry,
      catalog: opts.catalog,
      syntaxOnly: true,
      vars: [...Object.entries(c.release.vars ?? {}), ...Object.entries(env.vars)],
      varFiles: [...(c.release.var_files ?? []).map((f) => resolve(p.dir, f)), ...env.varFiles],
    });
    if (c.smoke_test)
      portOf(c.smoke_test.port, variables, `smoke_test.port for environment ${env.name}`, p.file);
    if (c.deploy?.local?.guest_port !== undefined && env.name === p.deployEnvironment)
      portOf(
        c.deploy.local.guest_port,
        variables,
        `deploy.local.guest_port for environment ${env.name}`,
        p.file,
      );
  }

  try {
    await commandStep('unit_tests', c.unit_tests);
    await commandStep('integration_tests', c.integration_tests);
    if (c.package) {
      const artifact = resolve(p.dir, c.package.artifact);
      await commandStep('package', c.package.command);
      const last = rows.at(-1)!;
      if (!existsSync(artifact)) {
        last.outcome = 'failed';
        last.message = `the package command did not produce ${artifact}`;
        throw new StepFailed('package', undefined, last.message);
      }
      last.image = artifact;
    }

    const buildUi = new StepUi(opts.ui, 'build');
    const buildImage = await step('build', undefined, async () => {
      const loaded = await loadTemplate(resolve(p.dir, c.build.template), {
        registry: opts.registry,
        catalog: opts.catalog,
        vars: Object.entries(c.build.vars ?? {}),
        varFiles: (c.build.var_files ?? []).map((f) => resolve(p.dir, f)),
      });
      const image = await buildOne(loaded, buildUi, opts, signal);
      return {
        row: { outcome: image.reused ? 'reused' : 'built', image: image.id },
        value: image.id,
      };
    });

    say(
      `Releasing ${envs.map((e) => e.name).join(', ')} from ${buildImage} (${Math.min(parallel, envs.length)} at once)`,
    );
    const releases = await mapLimit(envs, parallel, (env) =>
      step('release', env.name, async () => {
        const ui = new StepUi(opts.ui, `release ${env.name}`);
        const loaded = await loadTemplate(resolve(p.dir, c.release.template), {
          registry: opts.registry,
          catalog: opts.catalog,
          vars: [
            ...Object.entries(c.release.vars ?? {}),
            ...Object.entries(env.vars),
            [c.release.image_var, buildImage],
          ],
          varFiles: [...(c.release.var_files ?? []).map((f) => resolve(p.dir, f)), ...env.varFiles],
        });
        const image = await buildOne(loaded, ui, opts, signal);
        return {
          row: { outcome: image.reused ? 'reused' : 'built', image: image.id },
          value: { env, image: image.id, variables: loaded.variables },
        };
      }),
    );

    if (c.smoke_test) {
      const smoke = c.smoke_test;
      await mapLimit(releases, parallel, (r) =>
        step('smoke_test', r.env.name, async () => {
          const ui = new StepUi(opts.ui, `smoke_test ${r.env.name}`);
          const ctx = { userVariables: r.variables, initTime: new Date() };
          const port = portOf(
            smoke.port,
            r.variables,
            `smoke_test.port for environment ${r.env.name}`,
            p.file,
          );
          try {
            const outcome = await smokeTest({
              catalog: opts.catalog,
              imageId: r.image,
              guestPort: port,
              path: smoke.path,
              expectStatus: smoke.expect_status,
              ...(smoke.expect_body !== undefined
                ? { expectBody: render(smoke.expect_body, ctx) }
                : {}),
              timeout: smoke.timeout,
              ui: ui.build,
              signal,
              force: opts.noCache === true,
              name: `smoke-${r.env.name}`,
            });
            return {
              row: {
                outcome: 'tested',
                image: r.image,
                ...(outcome.cached ? { message: 'passed before' } : {}),
              },
              value: undefined,
            };
          } catch (err) {
            if (signal.aborted) throw err;
            // A release that fails its test is never deployed, nor reused by a later run.
            opts.catalog.images.setStatus(r.image, 'failed');
            throw new StepFailed(
              'smoke_test',
              r.env.name,
              `${r.image} failed its smoke test (marked failed in the catalog): ${errorMessage(err)}`,
              r.image,
            );
          }
        }),
      );
    }

    if (c.deploy && p.deployEnvironment) {
      const target = releases.find((r) => r.env.name === p.deployEnvironment);
      if (!target) {
        push({
          step: 'deploy',
          environment: p.deployEnvironment,
          outcome: 'skipped',
          durationMs: 0,
          message: `environment ${p.deployEnvironment} was not released in this run (--env)`,
        });
      } else {
        await step('deploy', target.env.name, async () => {
          const ui = new StepUi(opts.ui, `deploy ${target.env.name}`);
          const guestPort = c.deploy!.local
            ? portOf(
                c.deploy!.local.guest_port ?? c.smoke_test!.port,
                target.variables,
                `deploy.local.guest_port for environment ${target.env.name}`,
                p.file,
              )
            : 0;
          const done = await deployRelease({
            force: opts.noCache === true,
            deploy: c.deploy!,
            imageId: target.image,
            guestPort,
            catalog: opts.catalog,
            ui: ui.build,
            signal,
          });
          return {
            row: {
              outcome: 'deployed',
              image: target.image,
              ...(done.alreadyServing ? { message: 'already serving' } : {}),
            },
            value: undefined,
          };
        });
      }
    }
    return { rows, ok: true };
  } catch (err) {
    if (err instanceof StepFailed) {
      return {
        rows,
        ok: false,
        failure: {
          step: err.step,
          ...(err.environment ? { environment: err.environment } : {}),
          message: err.message,
        },
      };
    }
    throw err;
  }
}

/** Runs a template's first build (a pipeline template has one) and returns its catalog image. */
async function buildOne(
  loaded: LoadedTemplate,
  ui: StepUi,
  opts: RunPipelineOptions,
  signal: AbortSignal,
): Promise<{ id: string; reused: boolean }> {
  if (loaded.builds.length !== 1)
    throw new UserError(
      'PipelineTemplate',
      `${loaded.path} has ${loaded.builds.length} builds; a pipeline step needs exactly one`,
      { hint: 'use -only in a separate template, or split the builders' },
    );
  for (const w of loaded.warnings) ui.build.say(`Warning: ${w}`);
  const result = await runBuilds(loaded, {
    ui,
    catalog: opts.catalog,
    signal,
    ...(opts.noCache ? { noCache: true } : {}),
  });
  if (result.cancelled) throw new CancelledError('pipeline cancelled');
  const outcome = result.builds[0];
  if (!outcome || outcome.error !== undefined)
    throw new KilnError('BuildFailed', errorMessage(outcome?.error ?? 'the build did not run'));
  const artifact = outcome.artifacts?.[0];
  const id =
    outcome.reusedImageId ?? (artifact?.state?.image as string | undefined) ?? artifact?.id;
  if (!id) throw new KilnError('BuildFailed', 'the build made no image');
  return { id, reused: outcome.reusedImageId !== undefined };
}

/** A port setting rendered with an environment's variables (`{{user \`http_port\`}}`); a UserError when it is not a port. */
function portOf(
  value: number | string,
  variables: Record<string, string>,
  what: string,
  file: string,
): number {
  const text = render(String(value), { userVariables: variables, initTime: new Date() });
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535)
    throw new UserError('InvalidPort', `${what} is "${text}": not a port number`, {
      where: file,
      hint: 'give a number, or {{user `name`}} naming a variable of the release that holds the port',
    });
  return port;
}

/** Maps with at most `limit` calls running; the first rejection is rethrown after all settle. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let firstError: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !firstError) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (err) {
        firstError ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError) throw firstError.err;
  return results;
}

/** A failure as one block for the summary; a plain Error by its message (no "internal error"). */
function errorMessage(err: unknown): string {
  if (err instanceof KilnError) return formatError(err);
  return err instanceof Error ? err.message : String(err);
}
