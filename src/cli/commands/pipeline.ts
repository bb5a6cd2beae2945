/**
 * `kiln pipeline [FILE]`: runs a pipeline file's six steps. Progress goes to stderr, named
 * after each step; stdout gets the summary table (step, environment, image, result, time),
 * or with `--output json` one JSON object per row and a last `summary` object. Exit 1 when
 * a step fails, naming it and why.
 */
import type { Command } from 'commander';
import { CancelledError, UserError } from '../../core/errors.js';
import { defaultKilnHome } from '../../core/paths.js';
import { Secrets } from '../../core/secrets.js';
import { loadPipeline, PIPELINE_FILE, selectEnvironments } from '../../pipeline/pipeline-file.js';
import { defaultParallelism, type PipelineRow, runPipeline } from '../../pipeline/run-pipeline.js';
import { registry } from '../../plugins.js';
import { HumanUi, shouldColor } from '../../ui/index.js';

interface PipelineFlags {
  env?: string;
  cache?: boolean;
  output?: string;
  parallel?: string;
}

const HELP_AFTER = `
Steps, in order (each optional but build and release):
  unit_tests, integration_tests, package, build, release (one per environment, at once),
  smoke_test (boots each release and checks it over HTTP), deploy (one environment).
  An image whose inputs did not change is reused, not rebuilt; --no-cache rebuilds.

Examples:
  kiln pipeline                                  # ./${PIPELINE_FILE}
  kiln pipeline --env dev,prod --output json examples/hello-web/${PIPELINE_FILE}

Exit status: 0 when every step passed, 1 when one failed (it is named on stderr).`;

/** Registers `kiln pipeline`. */
export function registerPipeline(program: Command): void {
  program
    .command('pipeline')
    .description('run a pipeline file: tests, package, build, releases, smoke tests, deploy')
    .argument('[file]', 'pipeline file', PIPELINE_FILE)
    .option('--env <names>', 'release only these environments (comma-separated)')
    .option('--no-cache', 'build every image even when its inputs are unchanged')
    .option('--output <format>', 'json: one JSON object per row on stdout')
    .option('--parallel <n>', `releases at once (default here: ${defaultParallelism()})`)
    .addHelpText('after', HELP_AFTER)
    .action(async (file: string, _o: PipelineFlags, command: Command) => {
      const opts = command.optsWithGlobals<PipelineFlags>();
      if (opts.output !== undefined && opts.output !== 'json')
        throw new UserError('BadFlag', `unknown output format "${opts.output}"`, {
          hint: 'use --output json',
        });
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

      const json = opts.output === 'json';
      const err = (c: string) => void process.stderr.write(c);
      const ui = new HumanUi({
        out: err,
        err,
        secrets: new Secrets(),
        color: shouldColor(process.stderr, process.env, true),
        progress: process.stderr.isTTY === true,
        columns: process.stderr.columns,
      });
      const controller = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (controller.signal.aborted) process.exit(130);
        err(`kiln: ${sig}: stopping the pipeline and cleaning up (again to exit now)\n`);
        controller.abort(new CancelledError(`cancelled by ${sig}`));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const result = await runPipeline({
          pipeline,
          environments,
          ui,
          registry,
          kilnHome: defaultKilnHome(),
          noCache: opts.cache === false,
          ...(parallel ? { parallel } : {}),
          signal: controller.signal,
          ...(json
            ? { onRow: (row) => void process.stdout.write(`${JSON.stringify(jsonRow(row))}\n`) }
            : {}),
        });
        if (json) {
          process.stdout.write(
            `${JSON.stringify({ type: 'summary', ok: result.ok, ...(result.failure ? { failure: result.failure } : {}) })}\n`,
          );
        } else {
          process.stdout.write(summaryTable(result.rows));
        }
        if (result.failure) {
          const f = result.failure;
          err(
            `kiln: pipeline failed at step ${f.step}${f.environment ? ` (${f.environment})` : ''}: ${f.message}\n`,
          );
          process.exitCode = 1;
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

function jsonRow(row: PipelineRow) {
  return { type: 'step', ...row, durationMs: Math.round(row.durationMs) };
}

/** The summary as an aligned text table. */
export function summaryTable(rows: readonly PipelineRow[]): string {
  const head = ['STEP', 'ENVIRONMENT', 'IMAGE', 'RESULT', 'TIME'];
  const body = rows.map((r) => [
    r.step,
    r.environment ?? '-',
    r.image ?? '-',
    r.outcome + (r.message && r.outcome !== 'failed' ? ` (${r.message})` : ''),
    `${(r.durationMs / 1000).toFixed(1)} s`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...body.map(line)].join('\n')}\n`;
}
