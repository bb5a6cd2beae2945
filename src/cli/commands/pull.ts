/**
 * `kiln pull REF`: fetches an image that `kiln push` sent, with its chain, into the catalog.
 * The image id goes to stdout (`--output json`: one object describing the pull); progress
 * to stderr.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { outputOption } from './output-flags.js';
import { addRegistryFlags } from './registry-flags.js';

/** Registers `kiln pull`. */
export function registerPull(program: Command): void {
  const cmd = program
    .command('pull')
    .description(
      'fetch an image and its parents from an OCI registry into the catalog, with the ids they were built with',
    )
    .argument('<ref>', 'host[:port]/repository[:tag|@sha256:digest] (default tag: latest)')
    .option(
      '--with-state',
      "also fetch the image's saved VM state (pushed with --with-state), so builds from it here continue where its build stopped instead of booting",
    )
    .addOption(outputOption('one JSON object describing the pull on stdout'));
  addRegistryFlags(cmd).action(lazyAction(() => import('../actions/pull.js'), 'pull'));
}
