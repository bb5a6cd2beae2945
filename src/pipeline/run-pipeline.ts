/**
 * The six-step CI workflow of a pipeline file: unit tests → integration tests → package →
 * build image → one release image per environment (concurrently, within the machine's
 * limits) → smoke test of each release → deploy of one environment's release. Builds and
 * releases whose inputs are unchanged are reused (core/input-hash.ts). The first failure
 * stops the pipeline and says which step and why. Progress goes to the Ui; the result is
 * one row per step (and environment) for the caller to present.
 */
import { resolve } from 'node:path';
import { BuildUi } from '../core/events.js';
import { runSteps } from '../core/steps.js';
import { loadTemplate } from '../template/index.js';
import { defaultParallelism } from './defaults.js';
import { PIPELINE_STEPS, portOf } from './stages.js';
import {
  type PipelineResult,
  type PipelineState,
  type RunPipelineOptions,
  StepFailed,
} from './state.js';

export { defaultParallelism } from './defaults.js';
export type {
  PipelineResult,
  PipelineRow,
  RunPipelineOptions,
  StepName,
  StepOutcome,
} from './state.js';

/** Runs the pipeline's steps in order; never throws for a step's failure (see `failure`). */
export async function runPipeline(opts: RunPipelineOptions): Promise<PipelineResult> {
  const p = opts.pipeline;
  const c = p.config;
  const envs = opts.environments ?? p.environments;
  const signal = opts.signal ?? new AbortController().signal;
  // Every environment's ports are checked before anything runs (RELIABILITY row 16): a port
  // of 70000 in an environment file must not cost a build and a boot to be found.
  for (const env of envs) {
    const { variables } = await loadTemplate(
      env.releaseTemplate ?? resolve(p.dir, c.release.template),
      {
        registry: opts.registry,
        catalog: opts.catalog,
        syntaxOnly: true,
        vars: [...Object.entries(c.release.vars ?? {}), ...Object.entries(env.vars)],
        varFiles: [...(c.release.var_files ?? []).map((f) => resolve(p.dir, f)), ...env.varFiles],
      },
    );
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

  const state: PipelineState = {
    opts,
    pipeline: p,
    envs,
    parallel: Math.max(1, opts.parallel ?? defaultParallelism()),
    signal,
    rows: [],
    releases: envs.map((env) => ({ env })),
  };
  try {
    await runSteps(PIPELINE_STEPS, state, { signal, ui: new BuildUi(opts.ui, 'pipeline') }, opts);
    return { rows: state.rows, ok: true };
  } catch (err) {
    if (!(err instanceof StepFailed)) throw err;
    return {
      rows: state.rows,
      ok: false,
      failure: {
        step: err.step,
        ...(err.environment ? { environment: err.environment } : {}),
        message: err.message,
      },
    };
  }
}
