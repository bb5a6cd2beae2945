/**
 * What the pipeline's steps share, and what it gives back: its rows, its result, the
 * failure that stops it.
 */
import type { CatalogApi } from '../catalog/types.js';
import type { RemoteImageCache } from '../core/build.js';
import type { Ui } from '../core/events.js';
import type { RunStepsOptions } from '../core/steps.js';
import type { Registry } from '../template/types.js';
import type { Environment, Pipeline } from './pipeline-file.js';

export type StepName =
  | 'unit_tests'
  | 'integration_tests'
  | 'package'
  | 'build'
  | 'release'
  | 'smoke_test'
  | 'deploy';

/**
 * What happened in a step: `built`/`reused` for images, `tested`, `deployed`, `passed` for
 * commands; `skipped` for a command whose inputs hash to a run that passed (or a deploy of
 * an environment not released); `cancelled` when another step running beside it failed first.
 */
export type StepOutcome =
  | 'passed'
  | 'built'
  | 'reused'
  | 'tested'
  | 'deployed'
  | 'failed'
  | 'cancelled'
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

export interface RunPipelineOptions extends RunStepsOptions {
  pipeline: Pipeline;
  /** The environments to release (default: all). */
  environments?: Environment[];
  ui: Ui;
  registry: Registry;
  /** The command's open catalog: every build, test and deploy of the run records into it. */
  catalog: CatalogApi;
  /**
   * Run every command step, build every image even when its inputs are unchanged, smoke-test
   * every release again (passes are still recorded for the next run).
   */
  noCache?: boolean;
  /** The build cache shared between machines (the pipeline file's `registry_cache`). */
  remoteCache?: RemoteImageCache;
  /** Brings a source image named by a registry reference into the catalog (loadTemplate's `fetchSource`). */
  fetchSource?: (text: string) => Promise<string | undefined>;
  /** Releases (and smoke tests) at once; default `defaultParallelism()`. */
  parallel?: number;
  signal?: AbortSignal;
  /** Told each row as soon as it is known (for streaming output). */
  onRow?: (row: PipelineRow) => void;
  /** Environment of the test/package commands, and where their `env` keys are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/** A step's failure, already reported in its row: what stops the pipeline. */
export class StepFailed extends Error {
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

/** What the pipeline's steps share: a typed object in place of Packer's state bag. */
export interface PipelineState {
  opts: RunPipelineOptions;
  pipeline: Pipeline;
  envs: Environment[];
  parallel: number;
  /** Aborted on the caller's signal (the one every build, boot and command is given). */
  signal: AbortSignal;
  rows: PipelineRow[];
  /** The build image, once built or reused. */
  buildImage?: string;
  /** One per environment, in order; each filled by its release. */
  releases: Release[];
}

/** One environment's release, filled in as the pipeline goes. */
export interface Release {
  env: Environment;
  image?: string;
  variables?: Record<string, string>;
}
