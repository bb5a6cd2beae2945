/**
 * `kiln push IMAGE REF`: sends an image and its chain to an OCI registry. The manifest's
 * digest goes to stdout (`--output json`: one object describing the push); progress to
 * stderr.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { outputOption } from './output-flags.js';
import { addRegistryFlags } from './registry-flags.js';

/** Registers `kiln push`. */
export function registerPush(program: Command): void {
  const cmd = program
    .command('push')
    .description(
      'send a local image and its parents (base → build → release) to an OCI registry, one layer per image',
    )
    .argument('<image>', 'image id, prefix, tag or name')
    .argument('<ref>', 'where to: host[:port]/repository[:tag] (default tag: latest)')
    .option(
      '--with-state',
      "also send the image's saved VM state. Off by default: the state is the build VM's memory and can hold whatever the build handled (keys, tokens, downloaded secrets); a state never saved (templates with sensitive variables) cannot be sent",
    )
    .addOption(outputOption('one JSON object describing the push on stdout'));
  addRegistryFlags(cmd).action(lazyAction(() => import('../actions/push.js'), 'push'));
}
