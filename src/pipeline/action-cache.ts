/**
 * The pipeline's action cache, as build tools with one have it (Bazel, Turborepo, Nx): a
 * command step (unit_tests, integration_tests, package) declares the files it reads and the
 * environment variables it uses; their contents, with the command itself, hash to a key.
 * A key is recorded in the catalog (`action_cache`) only after the step passed, so a
 * failure is never cached; a later run whose key is recorded skips the step. The package
 * step's artifact is recorded with its sha256 and kept in `<kiln home>/pipeline/outputs/`
 * (by digest), so a skipped package step still leaves the file the build step uploads:
 * verified when it is there, restored when it is gone, and the step runs again when the file
 * on disk differs from the one recorded.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { glob } from 'tinyglobby';
import { sha256File } from '../catalog/digest.js';
import type { ActionOutput, ActionRecord, CatalogApi } from '../catalog/types.js';
import { canonicalJson } from '../core/input-hash.js';
import type { CommandSpec } from './pipeline-file.js';

/** Bumped when what goes into a key changes: older keys then never match. */
export const ACTION_KEY_VERSION = 1;

/** Keys kept per step of a pipeline file (the most recently used): enough to go back and forth between branches. */
export const KEYS_KEPT = 10;

/** A step's key and what went into it. */
export interface ActionKey {
  key: string;
  /** Input files hashed. */
  files: number;
  /** Patterns that matched no file (a likely typo: said as a warning). */
  unmatched: string[];
}

/**
 * Hashes a step's declared inputs (file contents and executable bits, by path relative to
 * `dir`), its commands and the values of the environment variables it names. The package's
 * artifact is never its own input.
 */
export async function actionKey(
  spec: CommandSpec & { inputs: string[] },
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<ActionKey> {
  const excluded = spec.inputs.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  const ignore = [...excluded, ...(spec.artifact ? [spec.artifact] : [])];
  const files = new Set<string>();
  const unmatched: string[] = [];
  for (const pattern of spec.inputs.filter((p) => !p.startsWith('!'))) {
    const found = await glob([pattern], { cwd: dir, dot: true, onlyFiles: true, ignore });
    if (found.length === 0) unmatched.push(pattern);
    for (const f of found) files.add(f);
  }
  const sorted = [...files].sort();
  const hashed = await Promise.all(
    sorted.map(async (f) => {
      const abs = resolve(dir, f);
      const data = await readFile(abs);
      const exec = (statSync(abs).mode & 0o111) !== 0;
      return [f, exec ? 'x' : '-', createHash('sha256').update(data).digest('hex')];
    }),
  );
  const key = createHash('sha256')
    .update(
      canonicalJson({
        version: ACTION_KEY_VERSION,
        step: spec.name,
        commands: spec.commands,
        env: Object.fromEntries(spec.env.map((n) => [n, env[n] ?? null])),
        artifact: spec.artifact ?? null,
        files: hashed,
      }),
    )
    .digest('hex');
  return { key, files: sorted.length, unmatched };
}

/** `<home>/pipeline/outputs`: the artifacts of cached runs, by sha256. */
export function outputStore(home: string): string {
  return join(home, 'pipeline', 'outputs');
}

/**
 * Keeps a copy of a step's artifact by its digest (written beside, then renamed: never half
 * a file under a digest's name); returns what the cache records about it.
 */
export async function keepOutput(
  home: string,
  rel: string,
  abs: string,
  signal?: AbortSignal,
): Promise<ActionOutput> {
  const sha256 = await sha256File(abs, signal);
  const size = statSync(abs).size;
  const store = outputStore(home);
  const kept = join(store, sha256);
  if (statSync(kept, { throwIfNoEntry: false })?.size !== size) {
    mkdirSync(store, { recursive: true, mode: 0o700 });
    const tmp = join(store, `.${sha256}.${process.pid}.tmp`);
    try {
      copyFileSync(abs, tmp);
      renameSync(tmp, kept);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return { path: rel, sha256, size };
}

/** What became of a cached run's artifact: there as recorded, put back from the store, or not usable. */
export type OutputCheck =
  | { state: 'verified' | 'restored' }
  | { state: 'changed' | 'lost'; why: string };

/**
 * Checks that the artifact a cached run made is in place: the same bytes (verified), or, when
 * it is gone, copied back from the store once the copy's digest matched (restored). A file
 * that differs is not overwritten: the step runs again.
 */
export async function checkOutput(
  home: string,
  dir: string,
  out: ActionOutput,
  signal?: AbortSignal,
): Promise<OutputCheck> {
  const abs = resolve(dir, out.path);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (st) {
    if (st.size === out.size && (await sha256File(abs, signal)) === out.sha256)
      return { state: 'verified' };
    return { state: 'changed', why: `${out.path} differs from the file that run made` };
  }
  const kept = join(outputStore(home), out.sha256);
  if (
    statSync(kept, { throwIfNoEntry: false })?.size !== out.size ||
    (await sha256File(kept, signal)) !== out.sha256
  )
    return { state: 'lost', why: `${out.path} is gone and kiln kept no intact copy of it` };
  mkdirSync(resolve(abs, '..'), { recursive: true });
  const tmp = `${abs}.kiln-restore-${process.pid}`;
  try {
    copyFileSync(kept, tmp);
    renameSync(tmp, abs);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { state: 'restored' };
}

/**
 * Records a pass under its key, forgets the step's least recently used keys beyond
 * KEYS_KEPT and removes kept artifacts no record names any more.
 */
export function recordPass(
  catalog: CatalogApi,
  pass: {
    key: string;
    step: string;
    pipeline: string;
    outputs: ActionOutput[];
    durationMs: number;
  },
): ActionRecord {
  const rec = catalog.actions.record(pass);
  if (catalog.actions.prune(pass.pipeline, pass.step, KEYS_KEPT).length > 0) {
    const named = catalog.actions.outputDigests();
    const store = outputStore(catalog.home);
    let entries: string[] = [];
    try {
      entries = readdirSync(store);
    } catch {}
    for (const e of entries)
      if (/^[0-9a-f]{64}$/.test(e) && !named.has(e)) rmSync(join(store, e), { force: true });
  }
  return rec;
}
