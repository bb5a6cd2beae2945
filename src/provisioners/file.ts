/**
 * Packer's `file` provisioner (1.6.6 fields, messages and path rules): uploads local
 * files or directories (a trailing slash on a directory uploads its contents), or
 * `content` written to `destination`, or downloads from the machine. A missing local
 * source is rejected in `prepare`, before any machine starts (unless `generated`).
 */
import { statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type {
  PrepareContext,
  PrepareResult,
  ProvisionContext,
  ProvisionerPlugin,
} from '../core/plugin.js';
import { KilnError, UserError } from '../lib/errors.js';
import { fileInputs } from './inputs.js';
import { requireComm } from './remote.js';

export const fileSchema = z
  .strictObject({
    /** A local file or directory to upload (relative to the working directory). */
    source: z.string().optional(),
    /** Several sources, uploaded in order to `destination`. */
    sources: z.array(z.string()).optional(),
    /** Where the file goes (a trailing `/` means "into this directory"). */
    destination: z.string().optional(),
    /** `upload` (default) or `download`. */
    direction: z.string().optional(),
    /** Text written to `destination` instead of a source file. */
    content: z.string().optional(),
    /** The source is made by an earlier step: do not check that it exists in prepare. */
    generated: z.boolean().optional(),
  })
  .superRefine((c, issue) => {
    const direction = c.direction || 'upload';
    if (direction !== 'upload' && direction !== 'download') {
      issue.addIssue({
        code: 'custom',
        message: 'Direction must be one of: download, upload.',
        path: ['direction'],
      });
    }
    const sources = allSources(c);
    if (sources.length > 0 && c.content) {
      issue.addIssue({
        code: 'custom',
        message: 'source(s) conflicts with content.',
        path: ['content'],
      });
    }
    if (sources.length === 0 && !c.content) {
      issue.addIssue({ code: 'custom', message: 'source, sources or content must be specified.' });
    }
    if (!c.destination)
      issue.addIssue({ code: 'custom', message: 'Destination must be specified.' });
  });

export type FileConfig = z.infer<typeof fileSchema>;

function allSources(c: FileConfig): string[] {
  return [...(c.sources ?? []), ...(c.source ? [c.source] : [])];
}

export const fileProvisioner: ProvisionerPlugin<FileConfig> = {
  type: 'file',
  schema: fileSchema,
  inputs: fileInputs,

  async prepare(config: FileConfig, _ctx: PrepareContext): Promise<PrepareResult> {
    const errors: PrepareResult['errors'] = [];
    if ((config.direction || 'upload') === 'upload' && !config.generated) {
      for (const src of allSources(config)) {
        try {
          statSync(src);
        } catch (err) {
          const key = config.source === src ? 'source' : 'sources';
          errors.push({
            key,
            message: `Bad source '${src}': ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
          });
        }
      }
    }
    return { warnings: [], errors };
  },

  async provision(config: FileConfig, ctx: ProvisionContext): Promise<void> {
    const comm = requireComm(ctx);
    const destination = config.destination!;
    try {
      if ((config.direction || 'upload') === 'download') {
        for (const src of allSources(config)) await download(src, destination, ctx);
        return;
      }
      if (config.content !== undefined && config.content !== '') {
        const dst = destination.endsWith('/') ? `${destination}pkr-file-content` : destination;
        ctx.ui.say(`Uploading content => ${destination}`);
        await comm.upload(Buffer.from(config.content), dst, { mode: 0o644, signal: ctx.signal });
      }
      for (const src of allSources(config)) {
        ctx.ui.say(`Uploading ${src} => ${destination}`);
        const info = await stat(src).catch(() => {
          throw new UserError(
            'FileSourceMissing',
            `Bad source '${src}': no such file or directory`,
            {
              where: ctx.label,
              hint: config.generated ? 'an earlier step was expected to create it' : undefined,
            },
          );
        });
        if (info.isDirectory()) {
          await comm.uploadDir(src, destination, { signal: ctx.signal });
          continue;
        }
        const dst = destination.endsWith('/') ? destination + basename(src) : destination;
        await comm.upload(src, dst, { signal: ctx.signal });
      }
    } catch (err) {
      throw named(err, ctx);
    }
  },
};

async function download(src: string, destination: string, ctx: ProvisionContext): Promise<void> {
  const comm = requireComm(ctx);
  ctx.ui.say(`Downloading ${src} => ${destination}`);
  let dst = destination;
  let dir = destination;
  // Packer: a destination without a trailing slash is a file, so its parent must exist;
  // with one, a file source lands inside it under its own name.
  if (!destination.endsWith('/')) dir = dirname(destination);
  else if (!src.endsWith('/') && !src.endsWith('*')) dst = join(destination, basename(src));
  if (dir) await mkdir(dir, { recursive: true, mode: 0o755 });
  if (src.endsWith('/')) {
    await comm.downloadDir(src, dst, { signal: ctx.signal });
    return;
  }
  await comm.download(src, dst, { signal: ctx.signal });
}

function named(err: unknown, ctx: ProvisionContext): unknown {
  if (err instanceof KilnError && !err.where) {
    return new KilnError(err.code, err.message, {
      where: ctx.label,
      hint: err.hint,
      details: err.details,
      source: err.source,
      cause: err,
    });
  }
  return err;
}
