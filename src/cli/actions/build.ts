/** The body of `kiln build` (declared in `commands/build.ts`). */
import type { Command } from 'commander';
import { collectGarbage } from '../../catalog/gc.js';
import { Catalog } from '../../catalog/index.js';
import { runBuilds } from '../../core/build.js';
import { formatError, UserError } from '../../lib/errors.js';
import { defaultKilnHome } from '../../lib/paths.js';
import { registry } from '../../plugins.js';
import { CACHE_ENV, parseCacheRepository, registryCache } from '../../share/index.js';
import { loadTemplate } from '../../template/index.js';
import { HumanUi } from '../../ui/index.js';
import { type CacheRegistryFlags, cacheRegistryOptions } from '../commands/registry-flags.js';
import { parseVarFlags, splitNames, type TemplateFlags } from '../commands/template-flags.js';
import { withContext } from '../context.js';
import { sourcePuller } from './source-puller.js';

interface BuildFlags extends TemplateFlags, CacheRegistryFlags {
  machineReadable?: boolean;
  output?: string;
  onError?: string;
  force?: boolean;
  parallelBuilds?: string;
  timestampUi?: boolean;
  color?: string | boolean;
  cache?: boolean;
}

function parseColor(v: string | boolean | undefined): boolean {
  if (v === undefined || v === true) return true;
  if (v === false) return false;
  if (/^(false|0|f|no)$/i.test(v)) return false;
  if (/^(true|1|t|yes)$/i.test(v)) return true;
  throw new UserError('BadFlag', `invalid value "${v}" for flag -color`, {
    hint: 'use -color=false',
  });
}

function parseParallel(v: string | undefined): number {
  if (v === undefined) return 0;
  if (!/^-?\d+$/.test(v)) {
    throw new UserError('BadFlag', `invalid value "${v}" for flag -parallel-builds: not a number`, {
      hint: 'give a whole number; 0 (the default) runs all builds at once, 1 one after another',
    });
  }
  return Math.max(0, Number(v));
}

/**
 * A kiln killed with SIGKILL (a CI runner's kill) left its QEMU, overlay and key dirs in
 * the run journal: remove them before this run starts, as `kiln gc` would (strays under
 * the images directory are left to `kiln gc`: an import in progress elsewhere has none in
 * the journal). Costs one query when nothing is orphaned.
 */
async function removeWhatDeadRunsLeft(
  catalog: Catalog,
  say: (text: string) => void,
): Promise<void> {
  if (catalog.journal.orphaned().length === 0) return;
  const report = await collectGarbage(catalog, {
    strays: false,
    onAction: (a) =>
      say(
        `Cleaning up after a kiln run that died: ${a.outcome} ${a.kind} ${a.ref}${a.detail ? ` (${a.detail})` : ''}`,
      ),
  });
  for (const run of report.runs)
    if (!run.cleared)
      say(`Warning: run ${run.runId} left something kiln could not remove: see \`kiln gc\``);
}

/**
 * Loads the template, then runs its builds (a build whose inputs did not change is skipped).
 * Like Packer, a closed stdout (`| head`) must not stop the build or its cleanups.
 */
export const build = withContext(
  { name: 'kiln build', survivesClosedStdout: true },
  async (ctx, template: string, _opts: BuildFlags, command: Command) => {
    const opts = command.optsWithGlobals<BuildFlags>();
    if (opts.onError !== 'cleanup' && opts.onError !== 'abort') {
      throw new UserError('BadFlag', `invalid value "${opts.onError}" for flag -on-error`, {
        hint: 'use -on-error=cleanup or -on-error=abort',
      });
    }
    const mode = ctx.mode;
    const color = parseColor(opts.color);
    const parallelBuilds = parseParallel(opts.parallelBuilds);
    const cacheSetting = ctx.host.env[CACHE_ENV];
    const cacheRepo = cacheSetting ? parseCacheRepository(cacheSetting, CACHE_ENV) : undefined;
    const clientOptions = cacheRegistryOptions(opts, ctx.host.env);
    // One catalog for the whole command: the template's checks, the cache and every build.
    using catalog = Catalog.open(defaultKilnHome());
    const ui = ctx.ui({ color, timestampUi: opts.timestampUi === true });

    let loaded: Awaited<ReturnType<typeof loadTemplate>>;
    try {
      loaded = await loadTemplate(template, {
        registry,
        vars: parseVarFlags(opts.var),
        varFiles: opts.varFile ?? [],
        only: splitNames(opts.only),
        except: splitNames(opts.except),
        catalog,
        fetchSource: sourcePuller(ctx, catalog, clientOptions, ui),
      });
    } catch (err) {
      // A script reading -machine-readable stdout sees the failure there too, as with Packer;
      // nothing has started, so there is no summary.
      if (mode === 'machine-readable')
        ui.emit({ type: 'ui', level: 'error', text: formatError(err) });
      throw err;
    }

    for (const name of loaded.sensitiveVariables) ctx.secrets.add(loaded.variables[name]);
    for (const v of loaded.sensitiveValues ?? []) ctx.secrets.add(v);
    for (const w of loaded.warnings) ui.emit({ type: 'ui', level: 'say', text: `Warning: ${w}` });
    await removeWhatDeadRunsLeft(catalog, (text) => ui.emit({ type: 'ui', level: 'say', text }));
    if (ui instanceof HumanUi) ui.announceBuilds(loaded.builds.map((b) => b.name));

    ctx.onInterrupt((sig) =>
      ui.emit({
        type: 'ui',
        level: 'error',
        text: `Cancelling build after receiving ${sig === 'SIGINT' ? 'interrupt' : 'terminated'}`,
      }),
    );
    const result = await runBuilds(loaded, {
      ui,
      parallelBuilds,
      onError: opts.onError,
      force: opts.force === true,
      noCache: opts.cache === false,
      signal: ctx.signal,
      cleanupSignal: ctx.cleanupSignal,
      catalog,
      tracker: ctx.tracker,
      ...(cacheRepo ? { remoteCache: registryCache(catalog, cacheRepo, clientOptions) } : {}),
    });
    ctx.exitCode = result.exitCode;
  },
);
