/**
 * The catalog's public shape, fixed here so that builders, the runtime, core and the CLI can
 * be written against it: one handle (`CatalogApi`) exposing each concern — images (with tags
 * and lineage), instances, the run journal and the deploy history — over one database.
 * `src/catalog/index.ts` exports `Catalog` implementing it.
 */

/** What a builder knows when it registers an image. */
export interface NewImage {
  /** Given for AMIs (`ami-…`); generated (`img-` + 17 hex) when absent. */
  id?: string;
  name: string;
  /** Builder type: `qemu`, `amazon-ebs`, `file`, `base`, `import`. */
  builder: string;
  /** The image this one was built from (its backing file / source AMI), if in the catalog. */
  parentId?: string;
  /** Absolute paths of the image's files (the first is the disk). */
  files: string[];
  /** `qcow2`, `raw`, `ami`… */
  format?: string;
  /** sha256 of every input (template after interpolation, files, variables, source image, settings). */
  inputHash?: string;
  templatePath?: string;
  /** User variables, secrets already redacted. */
  variables?: Record<string, string>;
  tags?: string[];
  sizeBytes?: number;
  /** sha256 of the disk file, checked before the image is used as a source. */
  sha256?: string;
  /** Backend-specific facts: kernel, initrd, cmdline (qemu); region, snapshots (AWS); environment. */
  metadata?: Record<string, unknown>;
}

export interface ImageRecord
  extends Required<
    Omit<NewImage, 'parentId' | 'inputHash' | 'templatePath' | 'sha256' | 'format'>
  > {
  id: string;
  parentId: string | null;
  inputHash: string | null;
  templatePath: string | null;
  sha256: string | null;
  format: string | null;
  /** `ready`, or `failed` (a smoke test failed; never deployed). */
  status: string;
  /** ISO 8601. */
  createdAt: string;
}

export interface NewInstance {
  id?: string;
  imageId: string;
  name?: string;
  /** `local` (QEMU) or `aws`. */
  backend: string;
  pid?: number;
  /** Host → guest port forwards, e.g. [{host: 8080, guest: 8080}]. */
  ports?: Array<{ host: number; guest: number }>;
  /** Files that belong to the instance (overlay disk, serial log, QMP socket). */
  files?: string[];
  group?: string;
  metadata?: Record<string, unknown>;
}

export interface InstanceRecord extends Required<Omit<NewInstance, 'pid' | 'name' | 'group'>> {
  id: string;
  pid: number | null;
  name: string | null;
  group: string | null;
  /** `running`, `stopped`, `failed`. */
  state: string;
  createdAt: string;
}

/** One thing a run created and must remove if it dies (journal for crash-safe cleanup). */
export interface RunResource {
  runId: string;
  /** `process` (ref = pid), `file`, `dir`, and AWS kinds (`instance`, `key-pair`, …). */
  kind: string;
  ref: string;
  metadata?: Record<string, unknown>;
}

/** One deploy as the history records it (`kiln deploy aws|local` and their rollbacks). */
export interface NewDeployment {
  /** `aws` (an Auto Scaling group) — or `local` for a local rolling deploy. */
  backend: string;
  /** The Auto Scaling group (or local group). */
  group: string;
  region?: string;
  imageId: string;
  /** `deploy` or `rollback`. */
  kind: 'deploy' | 'rollback';
  /** `succeeded`, `failed` (rolled back), `rollback-failed`, `cancelled`. */
  status: string;
  launchTemplateId?: string;
  /** The launch template version this deploy made default. */
  version?: number;
  /** The default version it replaced (what a rollback returns to). */
  previousVersion?: number;
  refreshId?: string;
  reason?: string;
}

export interface DeploymentRecord extends NewDeployment {
  id: number;
  /** ISO 8601. */
  createdAt: string;
}

/** An orphaned run as `journal.orphaned()` reports it. */
export interface OrphanedRun {
  runId: string;
  pid: number;
  description: string;
  resources: RunResource[];
}

/** Images, their tags and lineage. */
export interface ImagesApi {
  /** A fresh `img-`/`ami-` + 17 hex id (not yet recorded). */
  newId(prefix?: 'img' | 'ami'): string;
  /** Records an image in one transaction; throws if `parentId` is unknown or a file is missing. */
  register(image: NewImage): ImageRecord;
  /** Records images made elsewhere (a pull), parents first, with their own ids and creation times: all or none. */
  importChain(images: ReadonlyArray<NewImage & { id: string; createdAt: string }>): ImageRecord[];
  get(id: string): ImageRecord | undefined;
  /** By id, unique id prefix, name (newest) or tag; throws a UserError naming close matches when none. */
  resolve(ref: string): ImageRecord;
  findByInputHash(hash: string): ImageRecord | undefined;
  list(): ImageRecord[];
  children(id: string): ImageRecord[];
  /** Ancestors from the image up to its root (image first). */
  lineage(id: string): ImageRecord[];
  /** Every image below `id`, deepest first. */
  descendants(id: string): string[];
  /** Ids of images and instances with a file at `path` or under it. */
  usersOf(path: string): string[];
  /** Deletes the row and its files; refuses (UserError) when it has children or running instances. */
  remove(id: string): void;
  setStatus(id: string, status: string): void;
  /** Replaces the image's `metadata` (backend facts). */
  setMetadata(id: string, metadata: Record<string, unknown>): void;
  addTag(id: string, tag: string): void;
  removeTag(id: string, tag: string): void;
}

/** Instances (local QEMU or AWS) of catalogued images. */
export interface InstancesApi {
  add(instance: NewInstance): InstanceRecord;
  get(id: string): InstanceRecord | undefined;
  list(): InstanceRecord[];
  update(id: string, patch: Partial<Pick<InstanceRecord, 'state' | 'pid' | 'metadata'>>): void;
  remove(id: string): void;
}

/** The run journal: a run announces itself, then each resource *before* creating it. */
export interface JournalApi {
  begin(runId: string, pid: number, description: string): void;
  record(resource: RunResource): void;
  forget(runId: string, ref: string): void;
  end(runId: string): void;
  /** Runs whose process is gone, with what they left. */
  orphaned(): OrphanedRun[];
}

/** The deploy history: what each deploy set and replaced, so a rollback knows where to return. */
export interface DeploymentsApi {
  record(deployment: NewDeployment): DeploymentRecord;
  /** Newest first; of one backend and/or group, or all. */
  list(filter?: { backend?: string; group?: string }): DeploymentRecord[];
}

/** A file a cached run made (the package step's artifact). */
export interface ActionOutput {
  /** As the pipeline file names it (relative to its directory). */
  path: string;
  sha256: string;
  size: number;
}

/** A pipeline command step that passed, under the hash of its inputs. */
export interface NewAction {
  /** sha256 of the step's declared input files, its command(s) and the environment variables it names. */
  key: string;
  /** `unit_tests`, `integration_tests`, `package`. */
  step: string;
  /** The pipeline file (absolute). */
  pipeline: string;
  outputs?: ActionOutput[];
  /** How long the run that passed took. */
  durationMs: number;
}

export interface ActionRecord extends Required<NewAction> {
  /** ISO 8601: when it passed. */
  createdAt: string;
  /** ISO 8601: when a run last skipped thanks to it (or `createdAt`). */
  usedAt: string;
}

/** The action cache: command steps of the pipeline that passed, by the hash of their inputs. */
export interface ActionsApi {
  get(key: string): ActionRecord | undefined;
  /** Records a passed run (only ever after a pass: a failure is never cached). */
  record(action: NewAction): ActionRecord;
  touch(key: string): void;
  /** Forgets all but the `keep` most recently used keys of a step; returns the forgotten ones. */
  prune(pipeline: string, step: string, keep: number): ActionRecord[];
  /** Output digests that some record still names. */
  outputDigests(): Set<string>;
  list(): ActionRecord[];
}

/** An open catalog: one database handle and its concerns; dispose it (or `close()`) when done. */
export interface CatalogApi extends Disposable {
  readonly home: string;
  /** `<home>/images`: where image files live (0700). */
  readonly imagesDir: string;
  /** Opened read-only: every write is refused, and nothing was created or reconciled on disk. */
  readonly readonly: boolean;
  readonly images: ImagesApi;
  readonly instances: InstancesApi;
  readonly journal: JournalApi;
  readonly deployments: DeploymentsApi;
  readonly actions: ActionsApi;
  close(): void;
}
