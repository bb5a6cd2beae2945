/**
 * Packer's `manifest` post-processor (1.6.6): appends one entry per build to a JSON file
 * (default `packer-manifest.json`) in Packer's exact shape and byte layout, and records
 * the run's UUID in `last_run_uuid`. With `-force`, a manifest written by an earlier run
 * is started afresh; builds of the same run keep appending.
 */
import { constants } from 'node:fs';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import type {
  Artifact,
  PostProcessContext,
  PostProcessorPlugin,
  PostProcessResult,
} from '../core/plugin.js';
import { KilnError } from '../lib/errors.js';
import { sleep } from '../lib/sleep.js';

export const manifestSchema = z.strictObject({
  /** The manifest file (default `packer-manifest.json`). */
  output: z.string().optional(),
  /** Record file names without their directories. */
  strip_path: z.boolean().optional(),
  /** Leave `build_time` out. */
  strip_time: z.boolean().optional(),
  /** Free-form string values copied into the entry. */
  custom_data: z.record(z.string(), z.string()).optional(),
});

export type ManifestConfig = z.infer<typeof manifestSchema>;

/** One build's entry, keys in Packer's order. */
export interface ManifestEntry {
  name: string;
  builder_type: string;
  build_time?: number;
  files: Array<{ name: string; size: number }> | null;
  artifact_id: string;
  packer_run_uuid: string;
  custom_data: Record<string, string> | null;
}

export interface ManifestFile {
  builds: ManifestEntry[];
  last_run_uuid: string;
}

/** Serialises like Go's json.MarshalIndent(v, "", "  "): HTML characters escaped, no final newline. */
export function goJson(value: unknown): string {
  return JSON.stringify(value, null, 2)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Re-shapes a parsed entry the way Go's struct decoding would (unknown keys dropped, map keys sorted). */
function normalizeEntry(raw: Record<string, unknown>): ManifestEntry {
  const files = Array.isArray(raw.files)
    ? raw.files.map((f: { name?: unknown; size?: unknown }) => ({
        name: typeof f?.name === 'string' ? f.name : '',
        size: typeof f?.size === 'number' ? f.size : 0,
      }))
    : null;
  const entry: ManifestEntry = {
    name: typeof raw.name === 'string' ? raw.name : '',
    builder_type: typeof raw.builder_type === 'string' ? raw.builder_type : '',
    build_time:
      typeof raw.build_time === 'number' && raw.build_time !== 0 ? raw.build_time : undefined,
    files,
    artifact_id: typeof raw.artifact_id === 'string' ? raw.artifact_id : '',
    packer_run_uuid: typeof raw.packer_run_uuid === 'string' ? raw.packer_run_uuid : '',
    custom_data: sortedMap(raw.custom_data),
  };
  return entry;
}

function sortedMap(v: unknown): Record<string, string> | null {
  if (!v || typeof v !== 'object') return null;
  const out: Record<string, string> = {};
  for (const k of Object.keys(v).sort()) out[k] = String((v as Record<string, unknown>)[k]);
  return out;
}

async function lock(path: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    await sleep(i * 200);
    try {
      const fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
      await fh.close();
      return true;
    } catch {
      // Another build of this run holds it; Packer tries three times and then goes on.
    }
  }
  return false;
}

// One queue per process: builds of the same run append one after the other.
let queue: Promise<unknown> = Promise.resolve();

export const manifest: PostProcessorPlugin<ManifestConfig> = {
  type: 'manifest',
  schema: manifestSchema,

  async postProcess(
    config: ManifestConfig,
    artifact: Artifact,
    ctx: PostProcessContext,
  ): Promise<PostProcessResult> {
    const output = config.output || 'packer-manifest.json';
    const runUuid = String(ctx.generated.PackerRunUUID ?? '');
    const files: Array<{ name: string; size: number }> = [];
    for (const name of artifact.files) {
      let size = 0;
      try {
        size = (await stat(name)).size;
      } catch {
        // Packer records 0 for a file it cannot stat.
      }
      files.push({ name: config.strip_path ? basename(name) : name, size });
    }
    const entry: ManifestEntry = {
      name: ctx.buildName,
      builder_type: ctx.buildType,
      build_time: config.strip_time ? undefined : Math.floor(Date.now() / 1000),
      files: files.length > 0 ? files : null,
      artifact_id: artifact.id,
      packer_run_uuid: runUuid,
      custom_data: config.custom_data ? sortedMap(config.custom_data) : null,
    };
    const write = async (): Promise<void> => {
      const lockFile = `${output}.lock`;
      const locked = await lock(lockFile);
      try {
        let text = '';
        try {
          text = await readFile(output, 'utf8');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
            throw new KilnError(
              'ManifestUnreadable',
              `Unable to open ${output} for reading: ${(err as Error).message}`,
              {
                source: 'system',
              },
            );
          }
        }
        let file: ManifestFile = { builds: [], last_run_uuid: '' };
        if (text.length > 0) {
          try {
            const parsed = JSON.parse(text) as { builds?: unknown; last_run_uuid?: unknown };
            file = {
              builds: Array.isArray(parsed.builds)
                ? parsed.builds.map((b) => normalizeEntry(b ?? {}))
                : [],
              last_run_uuid: typeof parsed.last_run_uuid === 'string' ? parsed.last_run_uuid : '',
            };
          } catch (err) {
            throw new KilnError(
              'ManifestUnparsable',
              `Unable to parse content from ${output}: ${(err as Error).message}`,
              {
                source: 'user',
                hint: `fix or remove ${output}, or run with -force`,
              },
            );
          }
        }
        if (ctx.force && runUuid !== file.last_run_uuid) file = { builds: [], last_run_uuid: '' };
        file.builds.push(entry);
        file.last_run_uuid = runUuid;
        const shaped = {
          builds: file.builds.map((b) => ({ ...b, build_time: b.build_time })),
          last_run_uuid: file.last_run_uuid,
        };
        try {
          await writeFile(output, ctx.secrets.redact(goJson(shaped)), { mode: 0o664 });
        } catch (err) {
          throw new KilnError(
            'ManifestUnwritable',
            `Unable to write ${output}: ${(err as Error).message}`,
            {
              source: 'system',
            },
          );
        }
      } finally {
        if (locked) await rm(lockFile, { force: true });
      }
    };
    const done = queue.then(write, write);
    queue = done.catch(() => undefined);
    await done;
    return { artifact, keep: true, forceOverride: true };
  },
};
