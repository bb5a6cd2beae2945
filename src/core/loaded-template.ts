/**
 * What a template front end (`template/`) hands to the build runner: every build of a
 * template with its builder, provisioners and post-processors, interpolated and validated,
 * and what the input hash needs to know about how each string was written. Everything here
 * is decided before any side effect; a template that would fail later fails while loading.
 */
import type { BuilderPlugin, PostProcessorPlugin, ProvisionerPlugin } from './plugin.js';

export interface SourceLoc {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, counted in characters. */
  column: number;
}

export interface PreparedPlugin<P> {
  type: string;
  plugin: P;
  /** Interpolated and validated config (late keys still hold their raw `{{ }}` text). */
  config: unknown;
  /**
   * The block as written in the template, before interpolation (a provisioner's override for
   * this build merged in): the input hash keeps a string's written text where its rendered
   * value changes from run to run (`LoadedTemplate.isVolatile`).
   */
  asWritten: unknown;
  /** Where the block starts in the template. */
  loc: SourceLoc;
  /**
   * Interpolates the block again with the build's generated data (`{{ build `Host` }}`)
   * and validates it; called by the runner just before the plugin runs.
   */
  resolve(generated: Record<string, unknown>): unknown;
}

export interface PreparedProvisioner extends PreparedPlugin<ProvisionerPlugin> {
  /** 0-based position in `provisioners`. */
  index: number;
  pauseBeforeMs: number;
  maxRetries: number;
  /** 0 = none. */
  timeoutMs: number;
}

export interface PreparedPostProcessor extends PreparedPlugin<PostProcessorPlugin> {
  name?: string;
  keepInputArtifact?: boolean;
}

export interface PreparedBuild {
  /** The builder's `name`, or its type (HCL2: `type.name` or `build.type.name`). */
  name: string;
  /**
   * The name plugins see as `packer_build_name` (PACKER_BUILD_NAME, a manifest's `name`) when
   * it differs from `name`: in HCL2 it is the source's name alone.
   */
  pluginBuildName?: string;
  type: string;
  builder: PreparedPlugin<BuilderPlugin>;
  provisioners: PreparedProvisioner[];
  errorCleanupProvisioner?: PreparedProvisioner;
  /** Chains: each inner list runs in order on the builder's artifact. */
  postProcessors: PreparedPostProcessor[][];
  /** Interpolates a late key (e.g. `execute_command`) in this build's context with extra data (`.Path`, `.Vars`). */
  interpolate(text: string, data?: Record<string, unknown>): string;
}

export interface LoadedTemplate {
  path: string;
  dir: string;
  description?: string;
  minPackerVersion?: string;
  /** Final user variable values (sensitive ones included: redact before showing). */
  variables: Record<string, string>;
  /** Names of the sensitive variables. */
  sensitiveVariables: string[];
  /** The final values of the sensitive variables (non-empty ones): register them as secrets. */
  sensitiveValues: string[];
  /**
   * Variables whose value is their default and whose default renders differently on every
   * run (it calls `timestamp`, `uuid`…, directly or through another such variable): name →
   * the default as written.
   */
  volatileVariables: Record<string, string>;
  /** Whether a string as written renders differently on every run (as `volatileVariables`). */
  isVolatile(asWritten: string): boolean;
  /** The run's start time: `timestamp`, `isotime` and `strftime` all read it (one value per run). */
  initTime: Date;
  /** Builds left after -only/-except, in template order. */
  builds: PreparedBuild[];
  warnings: string[];
}
