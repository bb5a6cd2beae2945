/**
 * `kiln build`: Packer's `build` command. Loads the template (every problem reported
 * before anything starts), runs its builds and prints Packer's output — human lines, the
 * -machine-readable stream, or JSON lines. The first SIGINT/SIGTERM cancels every build
 * and lets the cleanups run; a second one exits at once (130), naming what it left.
 */
import type { Command } from 'commander';
import { CACHE_ENV } from '../../share/cache-env.js';
import { lazyAction } from '../lazy-action.js';
import { outputOption } from './output-flags.js';
import { addCacheRegistryFlags } from './registry-flags.js';
import { addTemplateFlags } from './template-flags.js';

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
  cmd.action(lazyAction(() => import('../actions/build.js'), 'build'));
}
