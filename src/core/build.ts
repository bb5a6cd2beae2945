/**
 * Runs the builds of a loaded template the way `packer build` 1.6.6 does: each build
 * (up to `parallelBuilds` at once; 0 = all) runs its builder, which calls the provision
 * hook, then every post-processor chain with Packer's keep_input_artifact rules; then the
 * summary (`error-count`, per-build `error`, `artifact-count`, `artifact,N,…`) and the
 * exit code. One AbortSignal reaches every build; a second one stops cleanups.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { CatalogApi } from '../catalog/types.js';
import { humanDuration } from '../lib/duration.js';
import { CancelledError, KilnError, UserError } from '../lib/errors.js';
import { BuildTracker } from './build-tracker.js';
import { BuildUi, type Ui } from './events.js';
import {
  computeInputHash,
  imageFilesExist,
  makesCatalogImages,
  NotCacheable,
} from './input-hash.js';
import type { LoadedTemplate, PreparedBuild, PreparedPostProcessor } from './loaded-template.js';
import { runParallel } from './parallel.js';
import type { Artifact, BuildContext, PostProcessContext } from './plugin.js';
import { createProvisionHook, errorText } from './provision-hook.js';
import type { Secrets } from './secrets.js';

export interface RunBuildsOptions {
  ui: Ui;
  /** Builds run at once; 0 (the default) runs them all at once, as Packer does. */
  parallelBuilds?: number;
  onError?: 'cleanup' | 'abort';
  force?: boolean;
  /** The first interrupt: stops every build; cleanups then run. */
  signal?: AbortSignal;
  /** The second interrupt: cleanups give up at once. */
  cleanupSignal?: AbortSignal;
  /** The command's open catalog: builders record into it and the cache looks up in it. */
  catalog: CatalogApi;
  /** `run-` + hex; generated when absent. */
  runId?: string;
  /** Told what each build is doing and still owes, for a forced exit's report. */
  tracker?: BuildTracker;
  /** Monotonic milliseconds (tests pin it). */
  clock?: () => number;
  /** `--no-cache`: build even when an image with the same input hash is in the catalog. */
  noCache?: boolean;
  /** A cache shared between machines (a registry), asked when the catalog has no match. */
  remoteCache?: RemoteImageCache;
  /**
   * The caller knows that nothing will be built from the images of this run (a pipeline's
   * releases): builders then keep nothing that only speeds up builds from them
   * (`BuildContext.lastInChain`).
   */
  lastInChain?: boolean;
}

/**
 * Images by input hash kept outside this catalog (an OCI registry): looked up when the
 * catalog has no image with a build's hash, and given each image a build makes. Neither may
 * fail a build: a problem is reported and the build goes on without the cache.
 */
export interface RemoteImageCache {
  /** What the messages call it (`registry 127.0.0.1:5000/team/cache`). */
  readonly name: string;
  /** Brings the image built from `inputHash` into the catalog; its id, or undefined when absent. */
  fetch(inputHash: string, ui: BuildUi, signal: AbortSignal): Promise<string | undefined>;
  /** Stores the catalog image `imageId`, built from `inputHash`. */
  store(imageId: string, inputHash: string, ui: BuildUi, signal: AbortSignal): Promise<void>;
}

export interface BuildOutcome {
  name: string;
  /** Set when the build succeeded (empty when the builder made nothing). */
  artifacts?: Artifact[];
  error?: unknown;
  cancelled?: boolean;
  durationMs: number;
  /** The input hash (`sha256:…`) when the builder's images are cached in the catalog. */
  inputHash?: string;
  /** Set when the build was skipped: the catalog image reused because its inputs are unchanged. */
  reusedImageId?: string;
}

export interface RunBuildsResult {
  runId: string;
  /** Packer's PACKER_RUN_UUID for this run (also in the manifest). */
  runUuid: string;
  builds: BuildOutcome[];
  cancelled: boolean;
  /** 0 when every build succeeded, 1 otherwise (Packer's codes). */
  exitCode: number;
}

/** A fresh run id and the matching Packer-style run UUID (8-4-4-4-12 hex). */
export function newRunIds(): { runId: string; runUuid: string } {
  const hex = randomBytes(16).toString('hex');
  const runUuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { runId: `run-${hex}`, runUuid };
}

/** Runs every build of `template` and prints Packer's summary; never throws for a build's failure. */
export async function runBuilds(
  template: LoadedTemplate,
  opts: RunBuildsOptions,
): Promise<RunBuildsResult> {
  const clock = opts.clock ?? (() => performance.now());
  const signal = opts.signal ?? new AbortController().signal;
  const tracker = opts.tracker ?? new BuildTracker();
  const ids = newRunIds();
  const runId = opts.runId ?? ids.runId;
  const runUuid = opts.runId ? uuidFromRunId(opts.runId) : ids.runUuid;
  const root = opts.ui;
  for (const name of template.sensitiveVariables) root.secrets.add(template.variables[name]);
  for (const value of template.sensitiveValues ?? []) root.secrets.add(value);

  const started = clock();
  const limit =
    opts.parallelBuilds && opts.parallelBuilds > 0 ? opts.parallelBuilds : Number.POSITIVE_INFINITY;
  const outcomes: Array<BuildOutcome | undefined> = template.builds.map(() => undefined);
  // A build's failure is its outcome, never a throw: one build failing stops no other (as
  // in Packer). An interrupt stops them all, and the builds not started yet never start.
  const branches = template.builds.map((build, i) => ({
    name: build.name,
    state: undefined,
    steps: [
      {
        name: 'build',
        run: async () => {
          outcomes[i] = await runOne(build, template, {
            ...opts,
            signal,
            tracker,
            runId,
            runUuid,
            clock,
          });
        },
      },
    ],
  }));
  await runParallel(branches, { signal, ui: new BuildUi(root, '') }, { limit }).catch(
    (err: unknown) => {
      if (!signal.aborted) throw err;
    },
  );

  root.emit({
    type: 'ui',
    level: 'say',
    text: `\n==> Wait completed after ${humanDuration(clock() - started)}`,
  });
  const done = outcomes.filter((o): o is BuildOutcome => o !== undefined);
  if (signal.aborted) {
    root.emit({
      type: 'ui',
      level: 'say',
      text: 'Cleanly cancelled builds after being interrupted.',
    });
    return { runId, runUuid, builds: done, cancelled: true, exitCode: 1 };
  }

  const failed = done.filter((o) => o.error !== undefined);
  if (failed.length > 0) {
    root.emit({ type: 'error-count', count: failed.length });
    root.emit({
      type: 'ui',
      level: 'error',
      text: "\n==> Some builds didn't complete successfully and had errors:",
    });
    for (const o of failed)
      root.emit({
        type: 'build-error',
        build: o.name,
        message: errorText(o.error),
        ...(o.error instanceof KilnError && o.error.where ? { where: o.error.where } : {}),
      });
  }
  const withArtifacts = done.filter(
    (o) => o.error === undefined && o.artifacts && o.artifacts.length > 0,
  );
  if (withArtifacts.length > 0) {
    root.emit({
      type: 'ui',
      level: 'say',
      text: '\n==> Builds finished. The artifacts of successful builds are:',
    });
    for (const o of withArtifacts) {
      const list = o.artifacts!;
      root.emit({ type: 'artifact-count', build: o.name, count: list.length });
      for (const [index, a] of list.entries()) {
        root.emit({
          type: 'artifact',
          build: o.name,
          index,
          artifact: { builderId: a.builderId, id: a.id, string: a.string, files: [...a.files] },
        });
      }
    }
  } else {
    root.emit({
      type: 'ui',
      level: 'say',
      text: '\n==> Builds finished but no artifacts were created.',
    });
  }
  return { runId, runUuid, builds: done, cancelled: false, exitCode: failed.length > 0 ? 1 : 0 };
}

/** The template's file and variables as the catalog keeps them: a sensitive value never. */
function recipeOf(template: LoadedTemplate, secrets: Secrets): NonNullable<BuildContext['recipe']> {
  const sensitive = new Set(template.sensitiveVariables);
  const variables: Record<string, string> = {};
  for (const [k, v] of Object.entries(template.variables))
    variables[k] = sensitive.has(k) ? '<sensitive>' : secrets.redact(v);
  return { templatePath: resolve(template.path), variables };
}

interface RunOneOptions extends RunBuildsOptions {
  signal: AbortSignal;
  tracker: BuildTracker;
  runId: string;
  runUuid: string;
  clock: () => number;
}

async function runOne(
  build: PreparedBuild,
  template: LoadedTemplate,
  opts: RunOneOptions,
): Promise<BuildOutcome> {
  const start = opts.clock();
  const root = opts.ui;
  const name = build.name;
  opts.tracker.start(name);
  const ctx: BuildContext = {
    buildName: build.pluginBuildName ?? name,
    buildType: build.type,
    templateDir: template.dir,
    kilnHome: opts.catalog.home,
    catalog: opts.catalog,
    signal: opts.signal,
    ui: new BuildUi(root, name),
    rootUi: root,
    secrets: root.secrets,
    force: opts.force ?? false,
    onError: opts.onError ?? 'cleanup',
    runId: opts.runId,
    interpolate: (text, data) => build.interpolate(text, data),
    recipe: recipeOf(template, root.secrets),
    generated: {
      ID: 'ERR_ID_NOT_IMPLEMENTED_BY_BUILDER',
      PackerRunUUID: opts.runUuid,
      PackerHTTPIP: 'ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER',
      PackerHTTPPort: 'ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER',
      PackerHTTPAddr: 'ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER',
    },
    cleanupSignal: opts.cleanupSignal,
    onCleanupPending: (pending) => opts.tracker.pending(name, pending),
    ...(opts.lastInChain ? { lastInChain: true } : {}),
  };
  const took = (): string => humanDuration(opts.clock() - start);
  let outcome: BuildOutcome;
  let reused: Artifact | undefined;
  try {
    reused = await lookUpCache(build, template, ctx, opts.noCache === true);
    const remote = opts.noCache ? undefined : opts.remoteCache;
    if (!reused && remote && ctx.inputHash && (await fetchRemote(remote, ctx.inputHash, ctx)))
      reused = await lookUpCache(build, template, ctx, false);
    const artifacts = await buildAndPostProcess(build, ctx, opts.tracker, reused);
    if (!reused && remote && ctx.inputHash && !opts.signal.aborted)
      await storeRemote(remote, ctx.inputHash, ctx);
    if (opts.signal.aborted) throw new CancelledError();
    root.emit({ type: 'ui', level: 'say', text: `Build '${name}' finished after ${took()}.` });
    outcome = {
      name,
      artifacts,
      durationMs: opts.clock() - start,
      ...(ctx.inputHash ? { inputHash: ctx.inputHash } : {}),
      ...(reused ? { reusedImageId: String(reused.state?.image ?? reused.id) } : {}),
    };
  } catch (err) {
    if (opts.signal.aborted) {
      root.emit({ type: 'ui', level: 'say', text: `Build '${name}' cancelled after ${took()}.` });
      outcome = { name, cancelled: true, error: err, durationMs: opts.clock() - start };
    } else {
      root.emit({
        type: 'ui',
        level: 'error',
        text: `Build '${name}' errored after ${took()}: ${errorText(err)}`,
      });
      outcome = { name, error: err, durationMs: opts.clock() - start };
    }
  }
  opts.tracker.finish(name);
  return outcome;
}

/**
 * For a builder whose images the catalog keeps: finds the source image when the builder
 * resolves it before hashing (a failure there fails the build: the run would fail the same
 * way), computes the build's input hash (into `ctx.inputHash`, which the builder records
 * with its image) and, unless `noCache`, returns the artifact of an image with that hash
 * that still exists — the build is then skipped. A problem computing the hash or looking
 * for the image never fails the build: it only builds without the cache.
 */
async function lookUpCache(
  build: PreparedBuild,
  template: LoadedTemplate,
  ctx: BuildContext,
  noCache: boolean,
): Promise<Artifact | undefined> {
  if (!makesCatalogImages(build)) return undefined;
  const { catalog } = ctx;
  const plugin = build.builder.plugin;
  // Found once per build: a second look (after a remote cache fetch) hashes the same source.
  const source = ctx.source ?? (await plugin.resolveSource?.(build.builder.config, ctx));
  if (source) ctx.source = source;
  let hashed = false;
  try {
    const { hash } = computeInputHash(build, {
      template,
      catalog,
      ...(source ? { resolvedSource: source } : {}),
    });
    ctx.inputHash = hash;
    hashed = true;
    if (noCache) return undefined;
    const cached = catalog.images.findByInputHash(hash);
    const config = build.builder.resolve(ctx.generated);
    let artifact: Artifact | undefined;
    if (plugin.reuse) {
      artifact = await plugin.reuse(hash, cached, config, ctx);
    } else {
      if (!cached || !imageFilesExist(cached)) return undefined;
      artifact = plugin.artifactFor?.(cached, config, ctx);
    }
    if (!artifact) return undefined;
    const id = cached && !plugin.reuse ? cached.id : String(artifact.state?.image ?? artifact.id);
    ctx.ui.say(`Reusing ${id} (inputs unchanged: sha256 ${hash.slice(7, 19)})`);
    // A reused image is shared with the run that made it: no post-processor may delete it.
    const { destroy: _kept, ...rest } = artifact;
    return rest;
  } catch (err) {
    if (err instanceof UserError || ctx.signal.aborted) throw err;
    ctx.ui.message(
      err instanceof NotCacheable
        ? `Not looking for a reusable image: ${err.message}`
        : hashed
          ? `Could not look for a reusable image (building): ${errorText(err)}`
          : `Not looking for a reusable image: cannot hash the inputs: ${errorText(err)}`,
    );
    return undefined;
  }
}

/** Asks the remote cache for the build's image; true when it is now in the catalog. */
async function fetchRemote(
  remote: RemoteImageCache,
  hash: string,
  ctx: BuildContext,
): Promise<boolean> {
  try {
    const id = await remote.fetch(hash, ctx.ui, ctx.signal);
    if (!id) ctx.ui.message(`Not in the ${remote.name} (sha256 ${hash.slice(7, 19)}): building`);
    return id !== undefined;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.ui.error(`Not using the ${remote.name}: ${errorText(err)}`);
    return false;
  }
}

/** Gives the remote cache the image this build made (the newest with its input hash). */
async function storeRemote(
  remote: RemoteImageCache,
  hash: string,
  ctx: BuildContext,
): Promise<void> {
  const image = ctx.catalog.images.findByInputHash(hash);
  if (!image) return;
  try {
    await remote.store(image.id, hash, ctx.ui, ctx.signal);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.ui.error(`Could not store ${image.id} in the ${remote.name}: ${errorText(err)}`);
  }
}

async function buildAndPostProcess(
  build: PreparedBuild,
  ctx: BuildContext,
  tracker: BuildTracker,
  reused?: Artifact,
): Promise<Artifact[]> {
  let builderArtifact = reused;
  if (!builderArtifact) {
    tracker.phase(build.name, `builder ${build.type}`);
    const hook = createProvisionHook(build, ctx, tracker);
    const builderConfig = build.builder.resolve(ctx.generated);
    builderArtifact = await build.builder.plugin.run(builderConfig, ctx, hook);
  }
  if (!builderArtifact) return [];
  if (ctx.signal.aborted) throw new CancelledError('build cancelled; post-processors skipped');

  // Packer 1.6.6, packer/build.go: each chain starts from the builder's artifact; the
  // builder's artifact is kept when there are no post-processors or when the first
  // post-processor of any chain keeps its input; a later one's input is kept or destroyed
  // at once.
  const artifacts: Artifact[] = [];
  const errors: string[] = [];
  let keepOriginal = build.postProcessors.length === 0;
  chains: for (const chain of build.postProcessors) {
    let prior = builderArtifact;
    for (const [i, pp] of chain.entries()) {
      const ppName = pp.name ?? pp.type;
      ctx.ui.say(
        ppName === pp.type
          ? `Running post-processor: ${pp.type}`
          : `Running post-processor: ${ppName} (type ${pp.type})`,
      );
      tracker.phase(build.name, `post-processor ${ppName}`);
      let result: Awaited<ReturnType<typeof runPostProcessor>>;
      try {
        result = await runPostProcessor(pp, prior, ctx);
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        errors.push(`Post-processor failed: ${errorText(err)}`);
        continue chains;
      }
      let keep = result.keep;
      if (
        pp.keepInputArtifact !== undefined &&
        !(result.keep && !pp.keepInputArtifact && result.forceOverride)
      ) {
        keep = pp.keepInputArtifact;
      }
      if (i === 0) {
        if (keep) keepOriginal = true;
      } else if (keep) {
        artifacts.push(prior);
      } else {
        try {
          await prior.destroy?.();
        } catch (err) {
          errors.push(`Failed cleaning up prior artifact: ${errorText(err)}; pp is ${pp.type}`);
        }
      }
      prior = result.artifact;
    }
    artifacts.push(prior);
  }
  if (keepOriginal) {
    artifacts.unshift(builderArtifact);
  } else {
    try {
      await builderArtifact.destroy?.();
    } catch (err) {
      errors.push(
        `Error destroying builder artifact: ${errorText(err)}; bad artifact: ${JSON.stringify(builderArtifact.files)}`,
      );
    }
  }
  if (errors.length > 0) {
    throw new KilnError(
      'PostProcessorFailed',
      `${errors.length} error(s) occurred:\n\n${errors.map((e) => `* ${e}`).join('\n')}`,
    );
  }
  return artifacts;
}

async function runPostProcessor(pp: PreparedPostProcessor, input: Artifact, ctx: BuildContext) {
  const ppName = pp.name ?? pp.type;
  const ppCtx: PostProcessContext = {
    ...ctx,
    ui: new BuildUi(ctx.rootUi, `${ctx.ui.build} (${pp.type})`),
    label:
      ppName === pp.type ? `post-processor ${pp.type}` : `post-processor ${ppName} (${pp.type})`,
  };
  const config = pp.resolve(ctx.generated);
  return pp.plugin.postProcess(config, input, ppCtx);
}

function uuidFromRunId(runId: string): string {
  const hex = runId
    .replace(/^run-/, '')
    .replace(/[^0-9a-f]/gi, '')
    .padEnd(32, '0')
    .slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
