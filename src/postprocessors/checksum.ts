/**
 * Packer's `checksum` post-processor (1.6.6): for each checksum type and each file of
 * the artifact, appends `<hex>\t<basename>` to the file named by `output` (default
 * `packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum`), and returns an
 * artifact listing the input files plus each checksum file it created.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { z } from 'zod';
import type {
  Artifact,
  PostProcessContext,
  PostProcessorPlugin,
  PostProcessResult,
} from '../core/plugin.js';
import { KilnError } from '../lib/errors.js';

const TYPES = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const;

export const checksumSchema = z.strictObject({
  /** Hashes to compute: md5 (default), sha1, sha224, sha256, sha384, sha512. */
  checksum_types: z
    .array(
      z.string().refine((t) => (TYPES as readonly string[]).includes(t), {
        error: (i) => `Unrecognized checksum type: ${String(i.input)}`,
      }),
    )
    .optional(),
  /** Checksum file path; `{{.BuildName}}`, `{{.BuilderType}}`, `{{.ChecksumType}}` (late-interpolated). */
  output: z.string().optional(),
});

export type ChecksumConfig = z.infer<typeof checksumSchema>;

export const CHECKSUM_BUILDER_ID = 'packer.post-processor.checksum';

async function hashFile(path: string, type: string, signal: AbortSignal): Promise<string> {
  const h = createHash(type);
  const stream = createReadStream(path, { signal });
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Packer's checksum artifact: the input files and the checksum files, destroyed together. */
export function checksumArtifact(files: string[]): Artifact {
  return {
    builderId: CHECKSUM_BUILDER_ID,
    id: '',
    string: `Created artifact from files: ${files.join(', ')}`,
    files,
    async destroy() {
      for (const f of files) await rm(f, { recursive: true, force: true });
    },
  };
}

export const checksum: PostProcessorPlugin<ChecksumConfig> = {
  type: 'checksum',
  schema: checksumSchema,
  lateKeys: ['output'],

  async postProcess(
    config: ChecksumConfig,
    artifact: Artifact,
    ctx: PostProcessContext,
  ): Promise<PostProcessResult> {
    const types = config.checksum_types ?? ['md5'];
    const output =
      config.output || 'packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum';
    const files = [...artifact.files];
    for (const type of types) {
      for (const art of artifact.files) {
        const path = ctx.interpolate(output, {
          ...ctx.generated,
          BuildName: ctx.buildName,
          BuilderType: ctx.buildType,
          ChecksumType: type,
        });
        if (!existsSync(path)) files.push(path);
        try {
          await mkdir(dirname(path), { recursive: true, mode: 0o755 });
        } catch (err) {
          throw new KilnError('ChecksumDir', `unable to create dir: ${(err as Error).message}`, {
            source: 'system',
          });
        }
        let hex: string;
        try {
          hex = await hashFile(art, type, ctx.signal);
        } catch (err) {
          throw new KilnError(
            'ChecksumRead',
            `unable to open file ${art}: ${(err as Error).message}`,
            {
              source: 'system',
            },
          );
        }
        await appendFile(path, `${hex}\t${basename(art)}\n`, { mode: 0o644 });
      }
    }
    return { artifact: checksumArtifact(files), keep: true, forceOverride: true };
  },
};
