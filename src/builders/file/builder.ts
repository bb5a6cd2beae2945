/**
 * Packer's `file` builder: writes `content` (or copies `source`) to `target`, runs the
 * provisioners without a machine, and returns Packer's `File` artifact. kiln also records
 * the file in its catalog as an image (builder `file`); the machine-readable artifact lines
 * stay exactly Packer's. On failure or interrupt the half-made target is removed.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Catalog } from '../../catalog/index.js';
import { UserError } from '../../core/errors.js';
import type { BuildContext, BuilderPlugin, PrepareContext, PrepareResult, ProvisionHook } from '../../core/plugin.js';
import { runSteps, type Step } from '../../core/steps.js';
import { FILE_BUILDER_ID, fileArtifact } from './artifact.js';
import { type FileConfig, fileConfigSchema } from './config.js';

interface FileState {
  imageId?: string;
}

/** Removes catalog images of this builder that own `absTarget`, so a rebuild replaces them. */
function forgetPrevious(catalog: Catalog, absTarget: string): void {
  for (const img of catalog.listImages()) {
    if (img.builder === 'file' && img.files.includes(absTarget)) catalog.removeImage(img.id);
  }
}

function steps(config: FileConfig, ctx: BuildContext, hook: ProvisionHook): Step<FileState>[] {
  const target = config.target!;
  const absTarget = resolve(target);
  const write: Step<FileState> = {
    name: `write-file (${absTarget})`,
    async run(_state, sctx) {
      const catalog = Catalog.open(ctx.kilnHome);
      try {
        forgetPrevious(catalog, absTarget);
      } finally {
        catalog.close();
      }
      const dir = dirname(target);
      if (dir !== '.') await mkdir(dir, { recursive: true, mode: 0o755 });
      // A previous build's file is read-only once registered: replace it, do not write into it.
      await rm(target, { force: true });
      if (config.source) {
        sctx.ui.say(`Copying ${config.source} to ${target}`);
        const out = createWriteStream(target, { mode: 0o644 });
        let bytes = 0;
        const src = createReadStream(config.source);
        src.on('data', (c) => {
          bytes += (c as Buffer).length;
        });
        await pipeline(src, out, { signal: sctx.signal });
        sctx.ui.say(`Copied ${bytes} bytes`);
      } else {
        await writeFile(target, config.content ?? '', { mode: 0o600 });
      }
      // Until runSteps' cleanup starts, this is what a forced exit would leave on disk.
      ctx.onCleanupPending?.([`write-file (${absTarget})`]);
    },
    async cleanup(_state, cctx) {
      // On success the file is the artifact; on failure nothing half-made stays behind.
      if (cctx.failed) await rm(target, { force: true });
    },
  };
  const provision: Step<FileState> = {
    name: 'provision',
    async run() {
      await hook.run(undefined);
    },
  };
  const register: Step<FileState> = {
    name: 'register-image',
    async run(state) {
      const catalog = Catalog.open(ctx.kilnHome);
      try {
        const rec = catalog.registerImage({
          name: ctx.buildName,
          builder: 'file',
          files: [absTarget],
          format: 'file',
          metadata: { runId: ctx.runId, target },
        });
        state.imageId = rec.id;
      } finally {
        catalog.close();
      }
    },
  };
  return [write, provision, register];
}

export const fileBuilder: BuilderPlugin<FileConfig> = {
  type: 'file',
  builderId: FILE_BUILDER_ID,
  schema: fileConfigSchema,

  async prepare(config: FileConfig, _ctx: PrepareContext): Promise<PrepareResult> {
    const warnings: string[] = [];
    const errors: PrepareResult['errors'] = [];
    if (!config.content && !config.source) warnings.push('Both source file and contents are blank; target will have no content');
    if (config.source && !existsSync(config.source)) {
      errors.push({ key: 'source', message: `source file ${config.source} does not exist` });
    }
    return { warnings, errors };
  },

  async run(config: FileConfig, ctx: BuildContext, hook: ProvisionHook) {
    const state: FileState = {};
    await runSteps(
      steps(config, ctx, hook),
      state,
      { signal: ctx.signal, ui: ctx.ui },
      { onError: ctx.onError, cleanupSignal: ctx.cleanupSignal, onCleanupPending: ctx.onCleanupPending },
    );
    const target = config.target!;
    const imageId = state.imageId;
    return fileArtifact(target, imageId, async () => {
      if (!imageId) return;
      const catalog = Catalog.open(ctx.kilnHome);
      try {
        if (catalog.getImage(imageId)) catalog.removeImage(imageId);
      } catch (err) {
        throw new UserError('FileImageInUse', `cannot remove image ${imageId}: ${(err as Error).message}`);
      } finally {
        catalog.close();
      }
    });
  },
};
