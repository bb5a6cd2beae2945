/**
 * The catalog's public shape, fixed here so that builders, the runtime and the CLI can
 * be written against it. `src/catalog/index.ts` exports `Catalog` implementing
 * `CatalogApi` with `static open(home?: string): Catalog`.
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

export interface CatalogApi {
  readonly home: string;
  /** `<home>/images`: where image files live (0700). */
  readonly imagesDir: string;
  newImageId(prefix?: 'img' | 'ami'): string;
  /** Records an image in one transaction; throws if `parentId` is unknown or a file is missing. */
  registerImage(image: NewImage): ImageRecord;
  getImage(id: string): ImageRecord | undefined;
  /** By id, unique id prefix, name (newest) or tag; throws a UserError naming close matches when none. */
  resolveImage(ref: string): ImageRecord;
  findByInputHash(hash: string): ImageRecord | undefined;
  listImages(): ImageRecord[];
  children(id: string): ImageRecord[];
  /** Ancestors from the image up to its root (image first). */
  lineage(id: string): ImageRecord[];
  /** Deletes the row and its files; refuses (UserError) when it has children or running instances. */
  removeImage(id: string): void;
  setStatus(id: string, status: string): void;
  addTag(id: string, tag: string): void;
  removeTag(id: string, tag: string): void;

  addInstance(instance: NewInstance): InstanceRecord;
  getInstance(id: string): InstanceRecord | undefined;
  listInstances(): InstanceRecord[];
  updateInstance(
    id: string,
    patch: Partial<Pick<InstanceRecord, 'state' | 'pid' | 'metadata'>>,
  ): void;
  removeInstance(id: string): void;

  /** Journal: a run announces itself, then each resource *before* creating it. */
  beginRun(runId: string, pid: number, description: string): void;
  recordResource(resource: RunResource): void;
  forgetResource(runId: string, ref: string): void;
  endRun(runId: string): void;
  /** Runs whose process is gone, with what they left. */
  orphanedRuns(): Array<{
    runId: string;
    pid: number;
    description: string;
    resources: RunResource[];
  }>;

  close(): void;
}
