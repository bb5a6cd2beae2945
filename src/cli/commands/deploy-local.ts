/**
 * `kiln deploy local --group web --count 2 [-p BASEPORT:GUEST] IMAGE`: rolling
 * replacement of a group of local instances, each new one healthy before an old one
 * stops. The ids of the members now serving go to stdout; progress to stderr.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { addOutputFlag } from './output-flags.js';

/** Adds `local` under `kiln deploy` (called from deploy.ts). */
export function registerDeployLocal(deploy: Command): void {
  const cmd = deploy
    .command('local')
    .description(
      'rolling replacement of a group of local instances, one at a time, each healthy before an old one stops',
    )
    .argument('<image>', 'image id, prefix, tag or name')
    .requiredOption('--group <name>', 'the group of instances to roll')
    .option('--count <n>', 'members the group has afterwards', '2')
    .option(
      '-p, --publish <baseport:guest>',
      'members forward 127.0.0.1:BASEPORT, BASEPORT+1, … to GUEST (default: the group’s current plan)',
    )
    .option('--health-path <path>', 'HTTP path that must answer 2xx (default: the group’s, else /)')
    .option('--expect-status <code>', 'exact status the health path must answer')
    .option('--expect-body <text>', 'text the health answer must contain')
    .option('--timeout <duration>', 'how long each new member has to become healthy', '2m')
    .option(
      '--no-rollback',
      'leave already replaced members on the new image when a later one fails',
    )
    .option(
      '--memory <mb>',
      "guest memory in MB (default 1024); the host's memory or more is refused",
    )
    .option(
      '--cpus <n>',
      "virtual CPUs (default: what the image was built with, else 2); more than the host's is refused",
    )
    .option('-q, --quiet', 'print only the member ids');
  addOutputFlag(cmd, '{"group", "image", "members": [{id, port}], "elapsedMs"}').action(
    lazyAction(() => import('../actions/deploy-local.js'), 'deployLocal'),
  );
}
