/**
 * The cache key of a build: a sha256 over everything that decides what the image holds, so
 * that a build whose inputs are unchanged can reuse the catalog image it made before.
 *
 * What goes in (each as a named part, so a test or a curious user can see what changed):
 * - kiln's image format version and the builder's type and id;
 * - the builder block and every provisioner and post-processor block after interpolation,
 *   as canonical JSON (keys sorted);
 * - the content (and mode) of every local file and directory a provisioner uploads or runs,
 *   as the provisioner declares them (`ProvisionerPlugin.inputs`);
 * - the user variables (a sensitive value only as its own sha256: never stored anywhere);
 * - the resolved source image: its id, disk sha256 and own input hash (a rebuilt parent
 *   changes every child's hash); for a disk file (`iso_url`), its size and mtime.
 *
 * What stays out, because it changes on every run without changing the image:
 * - `{{timestamp}}`, `{{uuid}}`, `{{isotime}}`, `{{strftime}}`: a string whose template text
 *   calls one of them (directly or through a user variable whose default does) is hashed as
 *   its template text, not its rendered value. So `"vm_name": "web-{{timestamp}}"` reuses,
 *   while a change to that text does not.
 * - where the template lives: the template's directory in a rendered string is hashed as
 *   `{{template_dir}}`; files are hashed by content, so a checkout elsewhere reuses too.
 * - pause_before, timeouts, retries and the error-cleanup provisioner (they do not change
 *   a successful image).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import { readRawTemplate, render } from '../template/index.js';
import type { RawTemplate } from '../template/raw-template.js';
import type { LoadedTemplate, PreparedBuild, SourceLoc } from '../template/types.js';
import type { PluginInputs } from './plugin.js';

/** Bumped when the layout of the images kiln makes changes: old images are then never reused. */
export const IMAGE_FORMAT_VERSION = 1;

/** Builders whose images are recorded in the catalog: only their builds can be skipped. */
export const CATALOG_BUILDERS: ReadonlySet<string> = new Set(['qemu', 'amazon-ebs']);

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
  /** The template as written (read from `template.path` when absent). */
  raw?: RawTemplate;
  /** Resolves relative provisioner paths (default: the process's cwd, as the plugins do). */
  cwd?: string;
}

/** Why a build cannot be hashed (its inputs cannot be known before it runs). */
export class NotCacheable extends Error {}

const VOLATILE_FUNC = /\{\{[^}]*\b(timestamp|uuid|isotime|strftime)\b/;

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
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
  const raw = opts.raw ?? readRawTemplate(template.path);
  const cwd = opts.cwd ?? process.cwd();
  const volatileVars = volatileVariables(raw, template);
  const mask = masker(template.dir, volatileVars);
  const parts: InputPart[] = [];
  const add = (what: string, data: string) => parts.push({ what, sha256: sha(data) });

  add('format', `kiln-image-format-${IMAGE_FORMAT_VERSION}`);

  const rawBuilder = raw.builders.find((b) => sameLoc(raw, b.path, build.builder.loc));
  add(
    `builder ${build.type}`,
    canonicalJson({
      type: build.type,
      builderId: build.builder.plugin.builderId,
      config: mask(build.builder.config, rawBuilder?.config),
    }),
  );

  for (const p of build.provisioners) {
    const rp = raw.provisioners[p.index];
    const rawConfig =
      rp && rawBuilder && rp.override[rawBuilder.rawName]
        ? { ...rp.config, ...rp.override[rawBuilder.rawName] }
        : rp?.config;
    const label = `provisioner ${p.index} (${p.type})`;
    add(label, canonicalJson({ type: p.type, config: mask(p.config, rawConfig) }));
    const inputs: PluginInputs | undefined = p.plugin.inputs?.(p.config);
    if (inputs) {
      for (const path of [...new Set([...inputs.files, ...inputs.dirs])]) {
        const abs = resolve(cwd, path);
        add(`${label} file ${abs.split(template.dir).join('{{template_dir}}')}`, hashPath(abs));
      }
    }
  }

  const rawPps = raw.postProcessors.flat();
  for (const [c, chain] of build.postProcessors.entries()) {
    for (const [i, pp] of chain.entries()) {
      const rpp = rawPps.find((r) => sameLoc(raw, r.path, pp.loc));
      add(
        `post-processor ${c}.${i} (${pp.type})`,
        canonicalJson({
          type: pp.type,
          name: pp.name,
          keep: pp.keepInputArtifact,
          config: mask(pp.config, rpp?.config),
        }),
      );
    }
  }

  const sensitive = new Set(template.sensitiveVariables);
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(template.variables)) {
    if (sensitive.has(k)) vars[k] = `sha256:${sha(`kiln-sensitive:${v}`)}`;
    else if (volatileVars.has(k)) vars[k] = `template:${volatileVars.get(k)}`;
    else vars[k] = v;
  }
  add('variables', canonicalJson(vars));

  const source = sourceOf(build, catalog);
  if (source) {
    add(
      `source image ${source.id}`,
      canonicalJson({ id: source.id, sha256: source.sha256, inputHash: source.inputHash }),
    );
  }

  // A disk file as the source (`iso_url`): hashing gigabytes on every build would cost more
  // than it saves, so its size and modification time stand for its content.
  const config = build.builder.config as Record<string, unknown>;
  const isos = [config.iso_url, ...(Array.isArray(config.iso_urls) ? config.iso_urls : [])];
  for (const url of isos) {
    if (typeof url !== 'string' || /^(?!file:)[a-z][a-z0-9+.-]*:\/\//i.test(url)) continue;
    const path = resolve(cwd, url.replace(/^file:\/\//, ''));
    const st = statSync(path, { throwIfNoEntry: false });
    add(`source file ${path}`, st ? `${st.size} ${st.mtimeMs}` : 'missing');
  }

  const total = createHash('sha256');
  for (const p of parts) total.update(`${p.what}\0${p.sha256}\n`);
  return { hash: `sha256:${total.digest('hex')}`, parts, ...(source ? { source } : {}) };
}

/** The catalog image a build starts from, when its builder names one. */
function sourceOf(build: PreparedBuild, catalog: CatalogApi): ImageRecord | undefined {
  const config = build.builder.config as Record<string, unknown>;
  if (build.type === 'amazon-ebs') {
    if (config.source_ami_filter !== undefined && !config.source_ami)
      throw new NotCacheable('source_ami_filter picks the source AMI when the build runs');
    const ami = typeof config.source_ami === 'string' ? config.source_ami : undefined;
    return ami ? catalog.getImage(ami) : undefined;
  }
  const ref = typeof config.source_image === 'string' ? config.source_image : undefined;
  if (ref) return catalog.resolveImage(ref);
  return undefined;
}

/**
 * Variables whose value came from a default that calls a volatile function, directly or
 * through another such variable: name → the default's template text. A value given with
 * -var/-var-file is told apart by rendering the default again at the run's time: only a
 * default renders to the same value. (A default calling `uuid` never does, so it is hashed
 * by value: such a build is never reused.)
 */
function volatileVariables(raw: RawTemplate, template: LoadedTemplate): Map<string, string> {
  const out = new Map<string, string>();
  const ctx = {
    userVariables: template.variables,
    templatePath: template.path,
    initTime: template.initTime,
    env: process.env,
    enableEnv: true,
  };
  let grew = true;
  while (grew) {
    grew = false;
    for (const v of raw.variables) {
      if (out.has(v.name) || v.default === undefined) continue;
      if (!VOLATILE_FUNC.test(v.default) && !refersTo(v.default, out)) continue;
      let rendered: string | undefined;
      try {
        rendered = render(v.default, ctx);
      } catch {
        rendered = undefined;
      }
      if (rendered !== undefined && rendered === template.variables[v.name]) {
        out.set(v.name, v.default);
        grew = true;
      }
    }
  }
  return out;
}

function refersTo(text: string, vars: Map<string, string>): boolean {
  for (const name of vars.keys()) {
    const re = new RegExp(`\\buser\\s+[\`"]${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\`"]`);
    if (re.test(text)) return true;
  }
  return false;
}

/**
 * Returns a function that, given an interpolated config and its raw counterpart, replaces a
 * string rendered from volatile template text by that text, and the template's directory in
 * rendered strings by `{{template_dir}}`.
 */
function masker(templateDir: string, volatileVars: Map<string, string>) {
  const walk = (value: unknown, rawValue: unknown): unknown => {
    if (typeof value === 'string') {
      if (
        typeof rawValue === 'string' &&
        (VOLATILE_FUNC.test(rawValue) || refersTo(rawValue, volatileVars))
      )
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
  return (config: unknown, raw: unknown) => walk(config, raw);
}

function sameLoc(raw: RawTemplate, path: Array<string | number>, loc: SourceLoc): boolean {
  const l = raw.src.locOf(path);
  return l.line === loc.line && l.column === loc.column;
}

/**
 * sha256 of what is at `path`: a file's mode and content, a directory's every entry (sorted
 * relative path, mode, content; symlinks by target), or `missing`.
 */
export function hashPath(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return sha('missing');
  if (!st.isDirectory())
    return sha(`file ${st.mode & 0o111 ? 'x' : '-'}\0${sha(readFileSync(path))}`);
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
        h.update(`file ${rel} ${l.mode & 0o111 ? 'x' : '-'} ${sha(readFileSync(full))}\n`);
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
