/**
 * `kiln pipeline [FILE]`: runs a pipeline file's six steps. Progress goes to stderr, named
 * after each step; stdout gets the summary table (step, environment, image, result, time),
 * or with `--output json` one JSON object per row and a last `summary` object, or with
 * `-machine-readable` one `pipeline-step` record per row and a `pipeline-summary`. Exit 1 when
 * a step fails, naming it and why.
 */
import type { Command } from 'commander';
import { defaultParallelism, PIPELINE_FILE } from '../../pipeline/defaults.js';
import { lazyAction } from '../lazy-action.js';
import { outputOption } from './output-flags.js';
import { addCacheRegistryFlags } from './registry-flags.js';

const HELP_AFTER = `
Steps, in order (each optional but build and release):
  unit_tests, integration_tests, package, build, release (one per environment, at once),
  smoke_test (boots each release and checks it over HTTP), deploy (one environment).
  An image whose inputs did not change is reused, not rebuilt. A command step that declares
  its inputs ({"command": …, "inputs": [globs], "env": [names]}) is skipped when they hash
  to a run that passed (the package's artifact is verified, or restored). --no-cache runs
  and rebuilds everything.

Examples:
  kiln pipeline                                  # ./${PIPELINE_FILE}
  kiln pipeline --env dev,prod --output json examples/hello-web/${PIPELINE_FILE}

Exit status: 0 when every step passed, 1 when one failed (it is named on stderr).`;

/** Registers `kiln pipeline`. */
export function registerPipeline(program: Command): void {
  const cmd = program
    .command('pipeline')
    .description('run a pipeline file: tests, package, build, releases, smoke tests, deploy')
    .argument('[file]', 'pipeline file', PIPELINE_FILE)
    .option('--env <names>', 'release only these environments (comma-separated)')
    .option(
      '--no-cache',
      'run every step even when its inputs are unchanged (commands, builds, smoke tests)',
    )
    .addOption(outputOption('one JSON object per row on stdout'))
    .option('--parallel <n>', `releases at once (default here: ${defaultParallelism()})`)
    .option(
      '--on-error <action>',
      'on failure: cleanup (default) removes what the failed step made; abort leaves it for debugging',
    )
    .addHelpText('after', HELP_AFTER);
  addCacheRegistryFlags(cmd).action(lazyAction(() => import('../actions/pipeline.js'), 'pipeline'));
}
