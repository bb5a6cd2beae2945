/**
 * The contracts between the template layer, the build runner and the backends. A
 * builder, provisioner or post-processor declares its config schema once (zod): it gives
 * both the TypeScript type and the validation, with errors mapped back to
 * file:line:column by `template/`.
 */
import type { z } from 'zod';
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import type { Communicator } from '../communicator/communicator.js';
import type { BuildUi, Ui } from './events.js';
import type { Secrets } from './secrets.js';

/** Everything a plugin may need at prepare time, before any side effect. */
export interface PrepareContext {
  buildName: string;
  buildType: string;
  /** Directory of the template file (relative paths in configs resolve against the cwd, as in Packer). */
  templateDir: string;
  /** Where kiln keeps its catalog and images. */
  kilnHome: string;
  /** The command's open catalog (read-only for `kiln validate`): plugins never open their own. */
  catalog: CatalogApi;
}

/** The result of a plugin's own checks beyond the schema: all problems at once. */
export interface PrepareResult {
  warnings: string[];
  /** Each error as `key: message`; the template layer adds the location of `key`. */
  errors: Array<{ key?: string; message: string }>;
}

/** What a running build hands to plugins. */
export interface BuildContext extends PrepareContext {
  signal: AbortSignal;
  ui: BuildUi;
  rootUi: Ui;
  secrets: Secrets;
  /** `-force`: overwrite existing output. */
  force: boolean;
  onError: 'cleanup' | 'abort';
  /** A fresh id per `kiln build` process (`run-` + hex): tags temporary resources for gc. */
  runId: string;
  /** Interpolates a late-bound field (e.g. `execute_command` with `.Path`, `.Vars`). */
  interpolate(text: string, data?: Record<string, unknown>): string;
  /**
   * sha256 of every input of this build (`core/input-hash.ts`), when the runner computed one:
   * a builder that registers a catalog image records it (`NewImage.inputHash`), so a later
   * build with the same inputs can reuse the image.
   */
  inputHash?: string;
  /**
   * How the template made this build, for a builder to record with its catalog image
   * (`NewImage.templatePath`, `variables`): the template file and its user variables, the
   * sensitive ones as `<sensitive>`.
   */
  recipe?: { templatePath: string; variables: Record<string, string> };
  /** Values shared across the build's plugins (Packer's "generated data": Host, Port, SSHPrivateKey, SourceImage...). */
  generated: Record<string, unknown>;
  /** The image the build starts from, when the builder found it before hashing (`resolveSource`). */
  source?: ResolvedSource;
  /** Aborted by a second interrupt: pass to runSteps so cleanup gives up at once. */
  cleanupSignal?: AbortSignal;
  /** Pass to runSteps: lets a forced exit name the cleanups that did not run. */
  onCleanupPending?: (pending: string[]) => void;
  /**
   * Nothing will be built from this build's image (the caller knows: a pipeline's release):
   * keep nothing that only serves builds from it, such as the qemu builder's own VM state.
   */
  lastInChain?: boolean;
}

/** The image a build starts from, found before its inputs are hashed (`BuilderPlugin.resolveSource`). */
export interface ResolvedSource {
  /** Names it for good (e.g. `us-east-1:ami-…`: an AMI id is never reused): hashed as an input. */
  key: string;
  /** What the builder learnt finding it, handed back to its run (e.g. the DescribeImages answer). */
  detail?: unknown;
}

/** What a builder returns on success. */
export interface Artifact {
  builderId: string;
  /** `img-…` for local images, `us-east-1:ami-…` for AMIs, `VM`/`Null` where Packer says so. */
  id: string;
  /** One human line describing the artifact. */
  string: string;
  files: string[];
  /** Extra state post-processors may read (e.g. `image` with catalog id, `atlas.artifact.*`). */
  state?: Record<string, unknown>;
  /** Removes the artifact (used when a post-processor does not keep its input). */
  destroy?(): Promise<void>;
}

/** Called by the builder once the machine is reachable (Packer's provision hook). */
export interface ProvisionHook {
  run(comm: Communicator | undefined): Promise<void>;
}

export interface BuilderPlugin<C = unknown> {
  readonly type: string;
  readonly builderId: string;
  /** Validates the builder block after interpolation; unknown keys are errors. */
  readonly schema: z.ZodType<C>;
  /** Keys whose `{{ }}` are interpolated later by the plugin itself. */
  readonly lateKeys?: readonly string[];
  /** Checks that need more than the schema (files exist, tools present); no side effects. */
  prepare?(config: C, ctx: PrepareContext): Promise<PrepareResult>;
  /** Runs the build; calls `hook.run(comm)` when the machine is reachable. */
  run(config: C, ctx: BuildContext, hook: ProvisionHook): Promise<Artifact | undefined>;
  /**
   * The artifact of a catalog image this builder registered earlier, exactly as `run` would
   * have returned it: used when a build is skipped because its inputs are unchanged. A
   * builder without it makes no catalog image: its builds are never hashed nor skipped.
   * Returns undefined when the image cannot be reused as this config's artifact (e.g. an
   * `output_directory` must be written).
   */
  artifactFor?(image: ImageRecord, config: C, ctx: BuildContext): Artifact | undefined;
  /**
   * The catalog image this config starts from, if any: its own hash is an input of the
   * build's. Throws `NotCacheable` (core/input-hash.ts) when only the run can tell (e.g. an
   * image chosen by a filter).
   */
  sourceImage?(config: C, catalog: CatalogApi): ImageRecord | undefined;
  /**
   * The config key that names `sourceImage` (by id, id prefix, name or tag): its value, and a
   * variable set to the same text, are hashed as the resolved id, so every way of naming one
   * image hits the same cache entry.
   */
  readonly sourceImageKey?: string;
  /**
   * Finds the image this config starts from in the outside system before the inputs are
   * hashed (e.g. a filter or an id becomes one AMI), so the hash names exactly that image: an
   * unchanged upstream image reuses, a newer match rebuilds. Handed to `run` as `ctx.source`.
   * Throws a UserError when there is no such image (the build then fails before it creates
   * anything).
   */
  resolveSource?(config: C, ctx: BuildContext): Promise<ResolvedSource | undefined>;
  /**
   * For a builder whose images live outside kiln (AMIs): the artifact of an image built from
   * inputs hashed `hash` that still exists everywhere this config needs it — found in the
   * outside system (the catalog's `cached` row is only a hint, never the authority), made
   * whole when only part of it is gone (a missing region copy) — or undefined to build.
   * Without it, the catalog row is reused through `artifactFor` when its files exist.
   */
  reuse?(
    hash: string,
    cached: ImageRecord | undefined,
    config: C,
    ctx: BuildContext,
  ): Promise<Artifact | undefined>;
  /** Local files this config names whose content goes into the image (e.g. user data, a disk file). */
  inputs?(config: C): PluginInputs;
  /** How the images this builder made carry a saved VM state to another kiln home, if they have one. */
  readonly savedState?: SavedStateTransfer;
}

/** One file of a saved VM state on its way between kiln homes. */
export interface SavedStateFile {
  /** Its name in the state (a plain file name). */
  name: string;
  path: string;
}

/**
 * A builder's saved VM states as files that travel (`kiln push --with-state`, `kiln pull
 * --with-state`): what is in them and where it lives stays the builder's business; what
 * names a path of one kiln home is made portable on the way out and local on the way in.
 */
export interface SavedStateTransfer {
  /** Whether `image` has a saved state to send (cheap: checked before anything is sent). */
  has(image: ImageRecord): boolean;
  /**
   * The saved state of `image` as self-contained files, made under `scratch` where they
   * must differ from the stored ones (the caller removes `scratch`); undefined without one.
   */
  export(
    image: ImageRecord,
    scratch: string,
    signal: AbortSignal,
  ): Promise<SavedStateFile[] | undefined>;
  /**
   * Makes the files (as `export` made them, verified) the saved state of `image`, an image of
   * this catalog; a state it already has that is usable is kept. Returns what was done, in
   * words; a UserError when the files are not a state this builder can use. Never leaves a
   * half-written state: it is complete or absent.
   */
  import(image: ImageRecord, files: SavedStateFile[], signal: AbortSignal): Promise<string>;
}

/** The local files and directories a provisioner uploads or runs: their content is an input of the image. */
export interface PluginInputs {
  /** Paths of files (a directory given here is hashed whole too). */
  files: string[];
  /** Paths of directories, hashed whole (every file's path, mode and content). */
  dirs: string[];
  /**
   * Paths of large files (disk images) whose size and modification time stand for their
   * content: hashing gigabytes on every build would cost more than it saves.
   */
  stamped?: string[];
}

export interface ProvisionContext extends BuildContext {
  comm: Communicator | undefined;
  /** `provisioner N (type)` for messages. */
  label: string;
}

export interface ProvisionerPlugin<C = unknown> {
  readonly type: string;
  readonly schema: z.ZodType<C>;
  readonly lateKeys?: readonly string[];
  prepare?(config: C, ctx: PrepareContext): Promise<PrepareResult>;
  provision(config: C, ctx: ProvisionContext): Promise<void>;
  /**
   * Local files and directories this config uploads or runs (relative paths resolve against
   * the cwd, as the plugin itself resolves them). Missing ones are hashed as missing.
   */
  inputs?(config: C): PluginInputs;
}

export interface PostProcessContext extends BuildContext {
  label: string;
}

export interface PostProcessResult {
  artifact: Artifact;
  /** Keep the input artifact (Packer's `keep`). */
  keep: boolean;
  /** When true, the plugin's choice overrides the user's keep_input_artifact. */
  forceOverride: boolean;
}

export interface PostProcessorPlugin<C = unknown> {
  readonly type: string;
  readonly schema: z.ZodType<C>;
  readonly lateKeys?: readonly string[];
  prepare?(config: C, ctx: PrepareContext): Promise<PrepareResult>;
  postProcess(config: C, artifact: Artifact, ctx: PostProcessContext): Promise<PostProcessResult>;
}

/**
 * An HCL2 `data` source: read-only facts fetched while the template loads (Packer's
 * datasource plugins), e.g. the newest AMI matching a filter.
 */
export interface DataSourcePlugin<C = unknown> {
  readonly type: string;
  readonly schema: z.ZodType<C>;
  /** Fetches the outputs (`data.<type>.<name>.<attribute>`); throws a UserError when it cannot. */
  fetch(config: C, ctx: { signal?: AbortSignal }): Promise<Record<string, unknown>>;
}

/** The plugins a template may name, by type. */
export interface Registry {
  builders: Record<string, BuilderPlugin>;
  provisioners: Record<string, ProvisionerPlugin>;
  postProcessors: Record<string, PostProcessorPlugin>;
  /** HCL2 data sources beyond the built-in `null`. */
  dataSources?: Record<string, DataSourcePlugin>;
}
