/**
 * What the template layer hands to the build runner: every build of a template with its
 * builder, provisioners and post-processors, interpolated and validated. Everything here
 * is decided before any side effect; a template that would fail later fails here.
 */
import type { BuilderPlugin, PostProcessorPlugin, ProvisionerPlugin } from '../core/plugin.js';

export interface SourceLoc {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, counted in characters. */
  column: number;
}

/** The plugins a template may name, by type. */
export interface Registry {
  builders: Record<string, BuilderPlugin<unknown>>;
  provisioners: Record<string, ProvisionerPlugin<unknown>>;
  postProcessors: Record<string, PostProcessorPlugin<unknown>>;
}

export interface PreparedPlugin<P> {
  type: string;
  plugin: P;
  /** Interpolated and validated config (late keys still hold their raw `{{ }}` text). */
  config: unknown;
  /** Where the block starts in the template. */
  loc: SourceLoc;
  /**
   * Interpolates the block again with the build's generated data (`{{ build `Host` }}`)
   * and validates it; called by the runner just before the plugin runs.
   */
  resolve(generated: Record<string, unknown>): unknown;
}

export interface PreparedProvisioner extends PreparedPlugin<ProvisionerPlugin<unknown>> {
  /** 0-based position in `provisioners`. */
  index: number;
  pauseBeforeMs: number;
  maxRetries: number;
  /** 0 = none. */
  timeoutMs: number;
}

export interface PreparedPostProcessor extends PreparedPlugin<PostProcessorPlugin<unknown>> {
  name?: string;
  keepInputArtifact?: boolean;
}

export interface PreparedBuild {
  /** The builder's `name`, or its type. */
  name: string;
  type: string;
  builder: PreparedPlugin<BuilderPlugin<unknown>>;
  provisioners: PreparedProvisioner[];
  errorCleanupProvisioner?: PreparedProvisioner;
  /** Chains: each inner list runs in order on the builder's artifact. */
  postProcessors: PreparedPostProcessor[][];
  /** Interpolates a late key (e.g. `execute_command`) in this build's context with extra data (`.Path`, `.Vars`). */
  interpolate(text: string, data?: Record<string, unknown>): string;
}

export interface LoadOptions {
  registry: Registry;
  /** `-var k=v`, in command-line order (later wins). */
  vars?: Array<[string, string]>;
  /** `-var-file`, in command-line order (later wins; `-var` beats files given before it as in Packer). */
  varFiles?: string[];
  only?: string[];
  except?: string[];
  /** Defaults to process.env; `{{env}}` is only allowed in variable defaults. */
  env?: NodeJS.ProcessEnv;
  /** Check JSON syntax and structure only (`validate -syntax-only`). */
  syntaxOnly?: boolean;
  kilnHome: string;
  /** The run's start (`timestamp`, `isotime`, `strftime`); defaults to now. */
  initTime?: Date;
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
  /** The run's start time: `timestamp`, `isotime` and `strftime` all read it (one value per run). */
  initTime: Date;
  /** Builds left after -only/-except, in template order. */
  builds: PreparedBuild[];
  warnings: string[];
}
