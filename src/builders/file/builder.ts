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
import type { CatalogApi } from '../../catalog/types.js';
import type {
  BuildContext,
  BuilderPlugin,
  PrepareContext,
  PrepareResult,
  ProvisionHook,
} from '../../core/plugin.js';
import { runSteps, type Step } from '../../core/steps.js';
import { UserError } from '../../lib/errors.js';
import { FILE_BUILDER_ID, fileArtifact } from './artifact.js';
import { type FileConfig, fileConfigSchema } from './config.js';

interface FileState {
  imageId?: string;
  /** This build's id in the catalog's run journal (what `kiln gc` reads after a crash). */
  journalRun?: string;
}

/** Removes catalog images of this builder that own `absTarget`, so a rebuild replaces them. */
function forgetPrevious(catalog: CatalogApi, absTarget: string): void {
  for (const img of catalog.images.list()) {
    if (img.builder === 'file' && img.files.includes(absTarget)) catalog.images.remove(img.id);
  }
}

function steps(config: FileConfig, ctx: BuildContext, hook: ProvisionHook): Step<FileState>[] {
  const target = config.target!;
  const absTarget = resolve(target);
  const journal: Step<FileState> = {
    name: 'open-journal',
    async run(state) {
      // Same convention as the qemu builder: one journal run per build of this process.
      const id = `${ctx.runId}-${ctx.buildName}`.replace(/[^A-Za-z0-9._-]/g, '_');
      ctx.catalog.journal.begin(id, process.pid, `kiln build ${ctx.buildName} (file)`);
      state.journalRun = id;
    },
    async cleanup(state) {
      const id = state.journalRun;
      if (id) ctx.catalog.journal.end(id);
      state.journalRun = undefined;
    },
  };
  const write: Step<FileState> = {
    name: `write-file (${absTarget})`,
    async run(state, sctx) {
      forgetPrevious(ctx.catalog, absTarget);
      ctx.catalog.journal.record({ runId: state.journalRun!, kind: 'file', ref: absTarget });
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
      const rec = ctx.catalog.images.register({
        name: ctx.buildName,
        builder: 'file',
        files: [absTarget],
        format: 'file',
        metadata: { runId: ctx.runId, target },
      });
      state.imageId = rec.id;
      // The file now belongs to the image: a crash from here on must not delete it.
      ctx.catalog.journal.forget(state.journalRun!, absTarget);
    },
  };
  return [journal, write, provision, register];
}

export const fileBuilder: BuilderPlugin<FileConfig> = {
  type: 'file',
  builderId: FILE_BUILDER_ID,
  schema: fileConfigSchema,

  async prepare(config: FileConfig, _ctx: PrepareContext): Promise<PrepareResult> {
    const warnings: string[] = [];
    const errors: PrepareResult['errors'] = [];
    if (!config.content && !config.source)
      warnings.push('Both source file and contents are blank; target will have no content');
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
      {
        onError: ctx.onError,
        cleanupSignal: ctx.cleanupSignal,
        onCleanupPending: ctx.onCleanupPending,
      },
    );
    const target = config.target!;
    const imageId = state.imageId;
    return fileArtifact(target, imageId, async () => {
      if (!imageId) return;
      const { images } = ctx.catalog;
      try {
        if (images.get(imageId)) images.remove(imageId);
      } catch (err) {
        throw new UserError(
          'FileImageInUse',
          `cannot remove image ${imageId}: ${(err as Error).message}`,
        );
      }
    });
  },
};
