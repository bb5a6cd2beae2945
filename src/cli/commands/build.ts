/**
 * `kiln build`: Packer's `build` command. Loads the template (every problem reported
 * before anything starts), runs its builds and prints Packer's output — human lines, the
 * -machine-readable stream, or JSON lines. The first SIGINT/SIGTERM cancels every build
 * and lets the cleanups run; a second one exits at once (130), naming what it left.
 */
import type { Command } from 'commander';
import { collectGarbage } from '../../catalog/gc.js';
import { Catalog } from '../../catalog/index.js';
import { runBuilds } from '../../core/build.js';
import { BuildUi } from '../../core/events.js';
import { formatError, UserError } from '../../lib/errors.js';
import { defaultKilnHome } from '../../lib/paths.js';
import { registry } from '../../plugins.js';
import {
  CACHE_ENV,
  parseCacheRepository,
  registryCache,
  sourceFetcher,
} from '../../share/index.js';
import { loadTemplate } from '../../template/index.js';
import { HumanUi } from '../../ui/index.js';
import { withContext } from '../context.js';
import { outputOption } from './output-flags.js';
import {
  addCacheRegistryFlags,
  type CacheRegistryFlags,
  cacheRegistryOptions,
} from './registry-flags.js';
import {
  addTemplateFlags,
  parseVarFlags,
  splitNames,
  type TemplateFlags,
} from './template-flags.js';

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

const HELP_AFTER = `
Examples:
  kiln build template.json
  kiln build -var 'version=1.2.3' -var-file=prod.json -only=qemu template.json
  kiln build -machine-readable template.json | grep ',artifact,0,id,' | cut -d, -f6

Output:
  Progress goes to stderr; the artifacts of successful builds go to stdout.
  -machine-readable prints Packer 1.6.6's stream (timestamp,target,type,data…);
  --output json prints one JSON object per event. Sensitive variables are redacted
  everywhere.

Interrupts:
  The first Ctrl-C (SIGINT) or SIGTERM stops every build and runs its cleanups (exit 1).
  A second one exits at once with status 130 and names what was left; \`kiln gc\` removes it.

Exit status: 0 when every build succeeded, 1 otherwise.`;

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

/** Registers `kiln build`. */
export function registerBuild(program: Command): void {
  const cmd = program
    .command('build')
    .description('build image(s) from a Packer JSON template')
    .argument('<template>', 'Packer JSON template, .pkr.hcl file or folder')
    .addOption(outputOption('one JSON object per event on stdout'))
    .option(
      '--on-error <action>',
      'if a build fails: cleanup, or abort (leave everything in place for debugging)',
      'cleanup',
    )
    .option('--force', 'overwrite existing artifacts and start a fresh manifest')
    .option(
      '--parallel-builds <n>',
      'builds run at once; 0 means no limit, 1 one after another',
      '0',
    )
    .option(
      '--no-cache',
      `build even when an image with the same inputs is in the catalog (or the registry ${CACHE_ENV} names)`,
    )
    .option('--timestamp-ui', 'prefix each build line with an RFC 3339 timestamp')
    .option('--color [bool]', 'colour output on a terminal (-color=false turns it off)');
  addTemplateFlags(cmd);
  addCacheRegistryFlags(cmd);
  cmd.addHelpText('after', HELP_AFTER);
  cmd.action(
    // Like Packer, a closed stdout (`| head`) must not stop the build or its cleanups.
    withContext(
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
            fetchSource: sourceFetcher({
              catalog,
              clientOptions,
              ui: new BuildUi(ui, 'pull'),
              signal: ctx.signal,
              cleanupSignal: ctx.cleanupSignal,
              onCleanupPending: ctx.pendingCleanups('pull'),
            }),
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
        for (const w of loaded.warnings)
          ui.emit({ type: 'ui', level: 'say', text: `Warning: ${w}` });
        await removeWhatDeadRunsLeft(catalog, (text) =>
          ui.emit({ type: 'ui', level: 'say', text }),
        );
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
    ),
  );
}
