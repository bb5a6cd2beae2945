/**
 * `kiln run IMAGE`: boots an instance of a catalogued image from a fresh overlay. The
 * instance id goes to stdout; progress and the "answered 200 in 9.8 s" line go to stderr.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { collect } from '../options.js';
import { addOutputFlag } from './output-flags.js';
import { addRegistryFlags } from './registry-flags.js';

/** Registers `kiln run`. */
export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description(
      'boot an instance of an image from a fresh overlay; it keeps running after kiln exits',
    )
    .argument(
      '<image>',
      'image id, prefix, tag or name; or host[:port]/repository[:tag]: pulled first when missing',
    )
    .option(
      '-p, --publish <host:guest>',
      'forward 127.0.0.1:HOST to the guest port (GUEST alone: a free host port); repeatable',
      collect,
      [],
    )
    .option('--name <name>', 'a name for the instance (unique)')
    .option(
      '--memory <mb>',
      "guest memory in MB (default: the image's build VM, else 1024); the host's memory or more is refused",
    )
    .option(
      '--cpus <n>',
      "virtual CPUs (default: the image's build VM, else 2); more than the host's CPUs is refused",
    )
    .option('--wait-http <path>', 'wait until this path answers 2xx on the forwarded port')
    .option('--wait-port <guest>', 'which forwarded guest port to check (default: the first -p)')
    .option('--timeout <duration>', 'how long to wait for health (Go duration)', '2m')
    .option('-q, --quiet', 'print only the instance id');
  addOutputFlag(
    cmd,
    '{"id", "image", "name", "ports": [{host, guest}], "health": {url, status} or null}',
  );
  addRegistryFlags(cmd).action(lazyAction(() => import('../actions/run.js'), 'run'));
}
