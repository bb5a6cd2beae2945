/**
 * The cache key of a build: a sha256 over everything that decides what the image holds, so
 * that a build whose inputs are unchanged can reuse the catalog image it made before.
 *
 * What goes in (each as a named part, so a test or a curious user can see what changed):
 * - kiln's image format version and the builder's type and id;
 * - the builder block and every provisioner and post-processor block after interpolation,
 *   as canonical JSON (keys sorted);
 * - the content (and mode) of every local file and directory a provisioner uploads or runs,
 *   or the builder's config names, as the plugin declares them (`inputs`);
 * - the user variables (a sensitive value only as its own sha256: never stored anywhere);
 * - the source image, as the builder resolves it (`BuilderPlugin.sourceImage`): its id, disk
 *   sha256 and own input hash (a rebuilt parent changes every child's hash); or as the
 *   builder found it outside kiln before hashing (`resolveSource`, e.g. an AMI id); for a large
 *   local file the builder starts from (a disk image), its size and mtime. A pulled image
 *   counts with the disk sha256 it had where it was built (`metadata.originSha256`): its
 *   copy differs only in the header's backing path, so every machine hashes the same.
 *   The reference that names it (`BuilderPlugin.sourceImageKey`, and a variable holding the
 *   same text) is hashed as the resolved id: a name, a tag and the id of one image share a
 *   cache entry.
 *
 * What stays out, because it changes on every run without changing the image:
 * - `{{timestamp}}`, `{{uuid}}`, `{{isotime}}`, `{{strftime}}`: a string whose template text
 *   calls one of them (directly or through a user variable whose default does) is hashed as
 *   its template text, not its rendered value (the template layer tells which:
 *   `LoadedTemplate.isVolatile`). So `"vm_name": "web-{{timestamp}}"` reuses, while a change
 *   to that text does not.
 * - where the template lives: the template's directory in a rendered string is hashed as
 *   `{{template_dir}}`, files by content and, inside the checkout, by their place relative to
 *   the template's folder (`placeOf`), so a checkout elsewhere reuses too.
 * - pause_before, timeouts, retries and the error-cleanup provisioner (they do not change
 *   a successful image).
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  statSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isInside } from '../catalog/fs-util.js';
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import type { LoadedTemplate, PreparedBuild } from './loaded-template.js';
import type { PluginInputs, ResolvedSource } from './plugin.js';

/** Bumped when the layout of the images kiln makes changes: old images are then never reused. */
export const IMAGE_FORMAT_VERSION = 1;

/** Whether a build's builder makes catalog images: only such builds are hashed and can be skipped. */
export function makesCatalogImages(build: PreparedBuild): boolean {
  return build.builder.plugin.artifactFor !== undefined;
}

/** One named contribution to the hash. */
export interface InputPart {
  what: string;
  sha256: string;
}

export interface InputHash {
  /** `sha256:` + 64 hex digits. */
  hash: string;
  parts: InputPart[];
  /** The resolved source image, when the build starts from a catalog image. */
  source?: ImageRecord;
}

export interface InputHashOptions {
  template: LoadedTemplate;
  catalog: CatalogApi;
  /** Resolves relative provisioner paths (default: the process's cwd, as the plugins do). */
  cwd?: string;
  /** The source the builder found before hashing (`BuilderPlugin.resolveSource`). */
  resolvedSource?: ResolvedSource;
}

/** Why a build cannot be hashed (its inputs cannot be known before it runs). */
export class NotCacheable extends Error {}

/** The disk sha256 an image had where it was built (pulled images carry it in their metadata). */
function originSha256(image: ImageRecord): string | null {
  const origin = (image.metadata as Record<string, unknown>).originSha256;
  return typeof origin === 'string' ? origin : image.sha256;
}

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** sha256 of a file's content, read in 1 MiB chunks (an ISO in http_directory never sits in memory). */
function shaFile(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * The folder a checkout's paths are relative to: the git work tree that holds the template,
 * else the working directory when it holds the template, else the template's folder.
 */
function projectRoot(templateDir: string, cwd: string): string {
  for (let d = templateDir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) break;
  }
  return within(cwd, templateDir) ? cwd : templateDir;
}

const within = (dir: string, path: string) => resolve(path) === resolve(dir) || isInside(dir, path);

/**
 * Where an input file is, as hashed: inside the checkout (`projectRoot`), relative to the
 * template's folder (`{{template_dir}}/…`, with `..` for a file beside that folder, as the
 * sample's `../dist/*.deb`), so a checkout elsewhere hashes the same; outside it, absolute
 * (a file elsewhere on the machine does not move with the checkout).
 */
function placeOf(abs: string, templateDir: string, root: string): string {
  if (!within(root, abs)) return abs;
  return ['{{template_dir}}', ...relative(templateDir, abs).split(sep)].filter(Boolean).join('/');
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === undefined || value === null || typeof value !== 'object')
    return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * Computes the input hash of one build of a loaded template. Throws `NotCacheable` when an
 * input cannot be known before the build runs (e.g. an AMI chosen by a filter).
 */
export function computeInputHash(build: PreparedBuild, opts: InputHashOptions): InputHash {
  const { template, catalog } = opts;
  const cwd = opts.cwd ?? process.cwd();
  const mask = masker(template);
  const parts: InputPart[] = [];
  const add = (what: string, data: string) => parts.push({ what, sha256: sha(data) });
  const builder = build.builder.plugin;
  const builderInputs = builder.inputs?.(build.builder.config);
  const root = projectRoot(template.dir, cwd);
  const addFiles = (label: string, inputs: PluginInputs | undefined) => {
    for (const path of [...new Set([...(inputs?.files ?? []), ...(inputs?.dirs ?? [])])]) {
      const abs = resolve(cwd, path);
      add(`${label} file ${placeOf(abs, template.dir, root)}`, hashPath(abs));
    }
  };

  const source = builder.sourceImage?.(build.builder.config, catalog);
  const sourceRef = sourceReference(build, source);
  const asId = (value: unknown) =>
    sourceRef !== undefined && value === sourceRef ? source!.id : value;

  add('format', `kiln-image-format-${IMAGE_FORMAT_VERSION}`);

  const config = mask(build.builder.config, build.builder.asWritten) as Record<string, unknown>;
  if (sourceRef !== undefined) config[builder.sourceImageKey!] = source!.id;
  add(
    `builder ${build.type}`,
    canonicalJson({ type: build.type, builderId: builder.builderId, config }),
  );
  addFiles(`builder ${build.type}`, builderInputs);

  for (const p of build.provisioners) {
    const label = `provisioner ${p.index} (${p.type})`;
    add(label, canonicalJson({ type: p.type, config: mask(p.config, p.asWritten) }));
    addFiles(label, p.plugin.inputs?.(p.config));
  }

  for (const [c, chain] of build.postProcessors.entries()) {
    for (const [i, pp] of chain.entries()) {
      add(
        `post-processor ${c}.${i} (${pp.type})`,
        canonicalJson({
          type: pp.type,
          // an HCL2 post-processor without a name is named by its type, as in JSON
          name: pp.name || pp.type,
          keep: pp.keepInputArtifact,
          config: mask(pp.config, pp.asWritten),
        }),
      );
    }
  }

  const sensitive = new Set(template.sensitiveVariables);
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(template.variables)) {
    if (sensitive.has(k)) vars[k] = `sha256:${sha(`kiln-sensitive:${v}`)}`;
    else if (Object.hasOwn(template.volatileVariables, k))
      vars[k] = `template:${template.volatileVariables[k]}`;
    else vars[k] = asId(v) as string;
  }
  add('variables', canonicalJson(vars));

  if (source) {
    add(
      `source image ${source.id}`,
      canonicalJson({ id: source.id, sha256: originSha256(source), inputHash: source.inputHash }),
    );
  }

  if (opts.resolvedSource) add(`source ${opts.resolvedSource.key}`, opts.resolvedSource.key);

  for (const file of builderInputs?.stamped ?? []) {
    const path = resolve(cwd, file);
    const st = statSync(path, { throwIfNoEntry: false });
    add(`source file ${path}`, st ? `${st.size} ${st.mtimeMs}` : 'missing');
  }

  const total = createHash('sha256');
  for (const p of parts) total.update(`${p.what}\0${p.sha256}\n`);
  return { hash: `sha256:${total.digest('hex')}`, parts, ...(source ? { source } : {}) };
}

/** The text the build's config names its source image by, when it resolved to one. */
function sourceReference(
  build: PreparedBuild,
  source: ImageRecord | undefined,
): string | undefined {
  const key = build.builder.plugin.sourceImageKey;
  if (!source || key === undefined) return undefined;
  const ref = (build.builder.config as Record<string, unknown>)[key];
  return typeof ref === 'string' ? ref : undefined;
}

/**
 * Returns a function that, given an interpolated config and the same block as written,
 * replaces a string rendered from volatile template text by that text, and the template's
 * directory in rendered strings by `{{template_dir}}`.
 */
function masker(template: Pick<LoadedTemplate, 'dir' | 'isVolatile'>) {
  const templateDir = template.dir;
  const walk = (value: unknown, rawValue: unknown): unknown => {
    if (typeof value === 'string') {
      if (typeof rawValue === 'string' && template.isVolatile(rawValue))
        return `{{raw}}${rawValue}`;
      return templateDir ? value.split(templateDir).join('{{template_dir}}') : value;
    }
    if (Array.isArray(value)) {
      return value.map((v, i) => walk(v, Array.isArray(rawValue) ? rawValue[i] : undefined));
    }
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      const r =
        rawValue && typeof rawValue === 'object' ? (rawValue as Record<string, unknown>) : {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = walk(v, r[k]);
      return out;
    }
    return value;
  };
  return (config: unknown, asWritten: unknown) => walk(config, asWritten);
}

/**
 * sha256 of what is at `path`: a file's mode and content, a directory's every entry (sorted
 * relative path, mode, content; symlinks by target), or `missing`.
 */
export function hashPath(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return sha('missing');
  if (!st.isDirectory()) return sha(`file ${st.mode & 0o111 ? 'x' : '-'}\0${shaFile(path)}`);
  const h = createHash('sha256');
  const visit = (dir: string): void => {
    const names = readdirSync(dir).sort();
    for (const name of names) {
      const full = join(dir, name);
      const rel = relative(path, full).split(sep).join('/');
      const l = lstatSync(full);
      if (l.isSymbolicLink()) h.update(`link ${rel} ${readlinkSync(full)}\n`);
      else if (l.isDirectory()) {
        h.update(`dir ${rel}\n`);
        visit(full);
      } else if (l.isFile()) {
        h.update(`file ${rel} ${l.mode & 0o111 ? 'x' : '-'} ${shaFile(full)}\n`);
      }
    }
  };
  visit(path);
  return h.digest('hex');
}

/** True when the image's files all exist (an image whose disk is gone cannot be reused). */
export function imageFilesExist(image: ImageRecord): boolean {
  return image.files.every((f) => statSync(f, { throwIfNoEntry: false }) !== undefined);
}
