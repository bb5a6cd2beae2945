/** The body of `kiln pipeline` (declared in `commands/pipeline.ts`). */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Catalog } from '../../catalog/index.js';
import { UserError } from '../../lib/errors.js';
import { defaultKilnHome } from '../../lib/paths.js';
import { loadPipeline, selectEnvironments } from '../../pipeline/pipeline-file.js';
import { type PipelineRow, runPipeline } from '../../pipeline/run-pipeline.js';
import { registry } from '../../plugins.js';
import { CACHE_ENV, parseCacheRepository, registryCache } from '../../share/index.js';
import { formatTable } from '../../ui/format.js';
import { escapeField } from '../../ui/machine-readable.js';
import { type CacheRegistryFlags, cacheRegistryOptions } from '../commands/registry-flags.js';
import { withContext } from '../context.js';
import { onErrorOption } from '../options.js';
import { sourcePuller } from './source-puller.js';

interface PipelineFlags extends CacheRegistryFlags {
  env?: string;
  onError?: string;
  cache?: boolean;
  output?: string;
  parallel?: string;
}

/** Runs the pipeline file's steps and prints their rows (table, JSON lines or machine-readable). */
export const pipeline = withContext(
  { name: 'the pipeline' },
  async (ctx, file: string, _o: PipelineFlags, command: Command) => {
    const opts = command.optsWithGlobals<PipelineFlags>();
    // --output json and -machine-readable are for the rows: progress stays human lines on stderr.
    const json = ctx.mode === 'json';
    const machine = ctx.mode === 'machine-readable';
    const onError = onErrorOption(opts.onError);
    let parallel: number | undefined;
    if (opts.parallel !== undefined) {
      if (!/^\d+$/.test(opts.parallel) || Number(opts.parallel) < 1)
        throw new UserError('BadFlag', `invalid value "${opts.parallel}" for --parallel`, {
          hint: 'give a whole number of releases at once, 1 or more',
        });
      parallel = Number(opts.parallel);
    }
    // Everything checked before anything runs.
    const pipeline = loadPipeline(file);
    const environments = selectEnvironments(
      pipeline,
      (opts.env ?? '').split(',').filter((s) => s !== ''),
    );

    const cacheSetting = ctx.host.env[CACHE_ENV] ?? pipeline.config.registry_cache;
    const cacheRepo = cacheSetting
      ? parseCacheRepository(
          cacheSetting,
          ctx.host.env[CACHE_ENV] ? CACHE_ENV : `${file}: registry_cache`,
        )
      : undefined;
    const cfg = pipeline.config;
    const clientOptions = cacheRegistryOptions(opts, ctx.host.env, {
      ...(cfg.registry_ca_file !== undefined
        ? {
            caFile: {
              value: resolve(pipeline.dir, cfg.registry_ca_file),
              where: `${file}: registry_ca_file`,
            },
          }
        : {}),
      ...(cfg.registry_insecure !== undefined
        ? { insecure: { value: cfg.registry_insecure, where: `${file}: registry_insecure` } }
        : {}),
    });

    using catalog = Catalog.open(defaultKilnHome());
    const ui = ctx.ui({ progressOnly: true });
    const result = await runPipeline({
      pipeline,
      environments,
      ui,
      registry,
      fetchSource: sourcePuller(ctx, catalog, clientOptions, ui),
      catalog,
      noCache: opts.cache === false,
      ...(cacheRepo ? { remoteCache: registryCache(catalog, cacheRepo, clientOptions) } : {}),
      ...(parallel ? { parallel } : {}),
      signal: ctx.signal,
      cleanupSignal: ctx.cleanupSignal,
      onCleanupPending: ctx.pendingCleanups('pipeline'),
      ...(onError ? { onError } : {}),
      ...(json ? { onRow: (row) => ctx.out(`${JSON.stringify(jsonRow(row))}\n`) } : {}),
      ...(machine ? { onRow: (row) => ctx.out(machineRow(row)) } : {}),
    });
    if (machine) {
      ctx.out(
        `${Math.floor(Date.now() / 1000)},,pipeline-summary,${result.ok ? 'ok' : 'failed'}\n`,
      );
    } else if (json) {
      ctx.out(
        `${JSON.stringify({ type: 'summary', ok: result.ok, ...(result.failure ? { failure: result.failure } : {}) })}\n`,
      );
    } else {
      ctx.out(summaryTable(result.rows));
    }
    if (result.failure) {
      const f = result.failure;
      ctx.err(
        `kiln: pipeline failed at step ${f.step}${f.environment ? ` (${f.environment})` : ''}: ${f.message}\n`,
      );
      ctx.exitCode = 1;
    }
  },
);

/**
 * One row as a machine-readable record, in Packer's shape (`time,target,type,data…`):
 * `time,<step>,pipeline-step,<environment>,<result>,<image or file>,<ms>,<message>`.
 */
export function machineRow(row: PipelineRow, now = Date.now()): string {
  const fields = [
    row.environment ?? '',
    row.outcome,
    row.image ?? '',
    String(Math.round(row.durationMs)),
    row.message ?? '',
  ].map(escapeField);
  return `${Math.floor(now / 1000)},${row.step},pipeline-step,${fields.join(',')}\n`;
}

function jsonRow(row: PipelineRow) {
  return { type: 'step', ...row, durationMs: Math.round(row.durationMs) };
}

/** The summary as an aligned text table. */
export function summaryTable(rows: readonly PipelineRow[]): string {
  return formatTable([
    ['STEP', 'ENVIRONMENT', 'IMAGE', 'RESULT', 'TIME'],
    ...rows.map((r) => [
      r.step,
      r.environment ?? '-',
      r.image ?? '-',
      r.outcome + (r.message && r.outcome !== 'failed' ? ` (${r.message})` : ''),
      `${(r.durationMs / 1000).toFixed(1)} s`,
    ]),
  ]);
}
