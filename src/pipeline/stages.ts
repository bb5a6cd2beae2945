/**
 * The pipeline's steps, one per stage of its file: commands (unit_tests, integration_tests,
 * package), the build image, one release per environment and one smoke test per release
 * (each through core's parallel step), and the deploy. Each pushes its summary row as soon
 * as it is known; a failure becomes a StepFailed whose row already says why.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { runBuilds } from '../core/build.js';
import { parallelStep } from '../core/parallel.js';
import type { Step, StepContext } from '../core/steps.js';
import { CancelledError, formatError, KilnError, UserError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { loadTemplate, render } from '../template/index.js';
import type { LoadedTemplate } from '../template/types.js';
import { actionKey, checkOutput, keepOutput, recordPass } from './action-cache.js';
import { deployRelease } from './deploy-step.js';
import { type CommandStepName, commandSpecs } from './pipeline-file.js';
import { smokeTest } from './smoke-test.js';
import {
  type PipelineRow,
  type PipelineState,
  type Release,
  type RunPipelineOptions,
  StepFailed,
  type StepName,
} from './state.js';
import { StepUi } from './step-ui.js';

/** The pipeline's steps, in order; the first failure stops it (its row says why). */
export const PIPELINE_STEPS: readonly Step<PipelineState>[] = [
  commandStep('unit_tests'),
  commandStep('integration_tests'),
  commandStep('package'),
  rowStep('build', undefined, async (state, ctx) => {
    const { pipeline: p, opts } = state;
    const c = p.config;
    const loaded = await loadTemplate(resolve(p.dir, c.build.template), {
      registry: opts.registry,
      catalog: opts.catalog,
      ...(opts.fetchSource ? { fetchSource: opts.fetchSource } : {}),
      vars: Object.entries(c.build.vars ?? {}),
      varFiles: (c.build.var_files ?? []).map((f) => resolve(p.dir, f)),
    });
    const image = await buildOne(loaded, new StepUi(opts.ui, 'build'), opts, ctx);
    state.buildImage = image.id;
    return { outcome: image.reused ? 'reused' : 'built', image: image.id };
  }),
  {
    name: 'announce-releases',
    async run(state) {
      state.opts.ui.emit({
        type: 'ui',
        level: 'say',
        build: 'pipeline',
        text: `Releasing ${state.envs.map((e) => e.name).join(', ')} from ${state.buildImage} (${Math.min(state.parallel, state.envs.length)} at once)`,
      });
    },
  },
  parallelStep<PipelineState, PipelineState>(
    'release',
    (state) =>
      state.releases.map((r) => ({
        name: `release ${r.env.name}`,
        state,
        steps: [releaseStep(r)],
      })),
    (state) => state.parallel,
  ),
  parallelStep<PipelineState, PipelineState>(
    'smoke_test',
    (state) =>
      state.pipeline.config.smoke_test
        ? state.releases.map((r) => ({
            name: `smoke_test ${r.env.name}`,
            state,
            steps: [smokeStep(r)],
          }))
        : [],
    (state) => state.parallel,
  ),
  {
    name: 'deploy',
    async run(state, ctx) {
      const p = state.pipeline;
      if (!p.config.deploy || !p.deployEnvironment) return;
      const target = state.releases.find((r) => r.env.name === p.deployEnvironment);
      if (!target) {
        push(state, {
          step: 'deploy',
          environment: p.deployEnvironment,
          outcome: 'skipped',
          durationMs: 0,
          message: `environment ${p.deployEnvironment} was not released in this run (--env)`,
        });
        return;
      }
      await deployStep(target).run(state, ctx);
    },
  },
];

function push(state: PipelineState, row: PipelineRow): void {
  state.rows.push(row);
  state.opts.onRow?.(row);
}

type RowBody = (
  state: PipelineState,
  ctx: StepContext,
) => Promise<Omit<PipelineRow, 'step' | 'environment' | 'durationMs'>>;

/**
 * A pipeline step with a summary row: timed, its row pushed as soon as it is known, and
 * any error turned into a StepFailed (its row already says why). A step stopped because a
 * sibling failed is `cancelled`, not failed.
 */
function rowStep(
  name: StepName,
  environment: string | undefined,
  body: RowBody,
): Step<PipelineState> {
  const env = environment ? { environment } : {};
  return {
    name: environment ? `${name} ${environment}` : name,
    async run(state, ctx) {
      const start = performance.now();
      try {
        if (state.signal.aborted) throw new CancelledError('pipeline cancelled');
        const row = await body(state, ctx);
        push(state, { step: name, ...env, ...row, durationMs: performance.now() - start });
      } catch (err) {
        const bySibling = ctx.signal.aborted && !state.signal.aborted;
        const message = bySibling
          ? `stopped: ${errorMessage(ctx.signal.reason)}`
          : err instanceof StepFailed
            ? err.message
            : errorMessage(err);
        push(state, {
          step: name,
          ...env,
          outcome: bySibling ? 'cancelled' : 'failed',
          durationMs: performance.now() - start,
          message,
          ...(err instanceof StepFailed && err.image ? { image: err.image } : {}),
        });
        throw new StepFailed(name, environment, message);
      }
    },
  };
}

/**
 * unit_tests, integration_tests, package: the pipeline file's commands, in its directory.
 * A step that declares its inputs is skipped when they hash to a run that passed
 * (action-cache.ts); the package step's artifact must then be in place (verified, or
 * restored from kiln's copy), else the step runs. A pass is recorded after it passed, also
 * under `--no-cache` (which only stops the skipping).
 */
function commandStep(name: CommandStepName): Step<PipelineState> {
  const step = rowStep(name, undefined, async (state, { signal }) => {
    const { pipeline: p, opts } = state;
    const spec = commandSpecs(p.config).find((s) => s.name === name)!;
    const ui = new StepUi(opts.ui, name);
    const env = opts.env ?? process.env;
    const artifact = spec.artifact ? resolve(p.dir, spec.artifact) : undefined;
    const { catalog } = opts;

    let key: string | undefined;
    if (spec.inputs) {
      const k = await actionKey({ ...spec, inputs: spec.inputs }, p.dir, env);
      key = k.key;
      for (const u of k.unmatched) ui.build.say(`Warning: input "${u}" matches no file`);
      const hit = opts.noCache ? undefined : catalog.actions.get(key);
      if (opts.noCache) ui.build.message('--no-cache: running it whatever its inputs');
      else if (!hit)
        ui.build.message(
          `${k.files} input file(s) hash to ${key.slice(0, 12)}: no run passed with them`,
        );
      if (hit) {
        const checks = [];
        for (const out of hit.outputs)
          checks.push(await checkOutput(catalog.home, p.dir, out, signal));
        const bad = checks.find((c) => c.state === 'changed' || c.state === 'lost');
        if (bad && 'why' in bad) ui.build.say(`${bad.why}: running the step again`);
        else {
          catalog.actions.touch(key);
          const restored = checks.some((c) => c.state === 'restored');
          const message = `inputs unchanged (${k.files} files, key ${key.slice(0, 12)}) since the run that passed at ${hit.createdAt}${
            artifact
              ? `; ${spec.artifact} ${restored ? 'restored from kiln’s copy' : 'verified'}`
              : ''
          }`;
          ui.build.say(`skipped: ${message}`);
          return { outcome: 'skipped', message, ...(artifact ? { image: artifact } : {}) };
        }
      }
    } else ui.build.message('no inputs declared: it runs every time');

    const start = performance.now();
    for (const cmd of spec.commands) {
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
    if (artifact && !existsSync(artifact))
      throw new StepFailed(name, undefined, `the package command did not produce ${artifact}`);
    if (key) {
      const outputs = artifact
        ? [await keepOutput(catalog.home, spec.artifact!, artifact, signal)]
        : [];
      recordPass(catalog, {
        key,
        step: name,
        pipeline: p.file,
        outputs,
        durationMs: performance.now() - start,
      });
    }
    return { outcome: 'passed', ...(artifact ? { image: artifact } : {}) };
  });
  return {
    name,
    async run(state, ctx) {
      if (commandSpecs(state.pipeline.config).some((s) => s.name === name))
        await step.run(state, ctx);
    },
  };
}

/** One environment's release image from the build image. */
function releaseStep(r: Release): Step<PipelineState> {
  return rowStep('release', r.env.name, async (state, ctx) => {
    const { pipeline: p, opts } = state;
    const c = p.config;
    const ui = new StepUi(opts.ui, `release ${r.env.name}`);
    const loaded = await loadTemplate(r.env.releaseTemplate ?? resolve(p.dir, c.release.template), {
      registry: opts.registry,
      catalog: opts.catalog,
      ...(opts.fetchSource ? { fetchSource: opts.fetchSource } : {}),
      vars: [
        ...Object.entries(c.release.vars ?? {}),
        ...Object.entries(r.env.vars),
        [c.release.image_var, state.buildImage!],
      ],
      varFiles: [...(c.release.var_files ?? []).map((f) => resolve(p.dir, f)), ...r.env.varFiles],
    });
    // Nothing in the pipeline builds from a release: its builder keeps no VM state for that.
    const image = await buildOne(loaded, ui, opts, ctx, { lastInChain: true });
    r.image = image.id;
    r.variables = loaded.variables;
    return { outcome: image.reused ? 'reused' : 'built', image: image.id };
  });
}

/** One release booted and asked over HTTP; a release that fails is marked failed in the catalog. */
function smokeStep(r: Release): Step<PipelineState> {
  return rowStep('smoke_test', r.env.name, async (state, { signal, nested }) => {
    const { pipeline: p, opts } = state;
    const smoke = p.config.smoke_test!;
    const ui = new StepUi(opts.ui, `smoke_test ${r.env.name}`);
    const ctx = { userVariables: r.variables!, initTime: new Date() };
    const port = portOf(
      smoke.port,
      r.variables!,
      `smoke_test.port for environment ${r.env.name}`,
      p.file,
    );
    try {
      const outcome = await smokeTest({
        ...nested,
        catalog: opts.catalog,
        imageId: r.image!,
        guestPort: port,
        path: smoke.path,
        expectStatus: smoke.expect_status,
        ...(smoke.expect_body !== undefined ? { expectBody: render(smoke.expect_body, ctx) } : {}),
        timeout: smoke.timeout,
        ui: ui.build,
        signal,
        force: opts.noCache === true,
        name: `smoke-${r.env.name}`,
      });
      return {
        outcome: 'tested',
        image: r.image,
        ...(outcome.cached ? { message: 'passed before' } : {}),
      };
    } catch (err) {
      if (signal.aborted) throw err;
      // A release that fails its test is never deployed, nor reused by a later run.
      opts.catalog.images.setStatus(r.image!, 'failed');
      throw new StepFailed(
        'smoke_test',
        r.env.name,
        `${r.image} failed its smoke test (marked failed in the catalog): ${errorMessage(err)}`,
        r.image,
      );
    }
  });
}

/** The deploy environment's release handed to its target (local group or AWS). */
function deployStep(target: Release): Step<PipelineState> {
  return rowStep('deploy', target.env.name, async (state, { signal, nested }) => {
    const { pipeline: p, opts } = state;
    const c = p.config;
    const ui = new StepUi(opts.ui, `deploy ${target.env.name}`);
    const guestPort = c.deploy!.local
      ? portOf(
          c.deploy!.local.guest_port ?? c.smoke_test!.port,
          target.variables!,
          `deploy.local.guest_port for environment ${target.env.name}`,
          p.file,
        )
      : 0;
    const done = await deployRelease({
      ...nested,
      force: opts.noCache === true,
      deploy: c.deploy!,
      imageId: target.image!,
      guestPort,
      catalog: opts.catalog,
      ui: ui.build,
      signal,
    });
    return {
      outcome: 'deployed',
      image: target.image,
      ...(done.alreadyServing ? { message: 'already serving' } : {}),
    };
  });
}

/** Runs a template's first build (a pipeline template has one) and returns its catalog image. */
async function buildOne(
  loaded: LoadedTemplate,
  ui: StepUi,
  opts: RunPipelineOptions,
  { signal, nested }: StepContext,
  extra: { lastInChain?: boolean } = {},
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
    ...(nested?.onError ? { onError: nested.onError } : {}),
    ...(nested?.cleanupSignal ? { cleanupSignal: nested.cleanupSignal } : {}),
    ...(opts.noCache ? { noCache: true } : {}),
    ...(opts.remoteCache ? { remoteCache: opts.remoteCache } : {}),
    ...(extra.lastInChain ? { lastInChain: true } : {}),
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
export function portOf(
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

/** A failure as one block for the summary; a plain Error by its message (no "internal error"). */
function errorMessage(err: unknown): string {
  if (err instanceof KilnError) return formatError(err);
  return err instanceof Error ? err.message : String(err);
}
