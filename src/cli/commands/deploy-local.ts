/**
 * `kiln deploy local --group web --count 2 [-p BASEPORT:GUEST] IMAGE`: rolling
 * replacement of a group of local instances, each new one healthy before an old one
 * stops. The ids of the members now serving go to stdout; progress to stderr.
 */
import type { Command } from 'commander';
import { Catalog } from '../../catalog/index.js';
import { BuildUi } from '../../core/events.js';
import { UserError } from '../../lib/errors.js';
import { deployLocal } from '../../runtime/index.js';
import { parsePortSpec } from '../../runtime/port-spec.js';
import { withContext } from '../context.js';
import { cpusOption, durationOption, intOption, memoryOption } from '../options.js';
import { addOutputFlag } from './output-flags.js';

interface DeployLocalCliOpts {
  group: string;
  count: string;
  publish?: string;
  healthPath?: string;
  expectBody?: string;
  expectStatus?: string;
  timeout: string;
  rollback: boolean;
  memory?: string;
  cpus?: string;
  quiet?: boolean;
}

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
    withContext(
      { name: 'kiln deploy local' },
      async (ctx, image: string, opts: DeployLocalCliOpts) => {
        const count = intOption('--count', opts.count)!;
        const timeoutMs = durationOption('--timeout', opts.timeout);
        let port: { basePort: number; guestPort: number } | undefined;
        if (opts.publish !== undefined) {
          const p = parsePortSpec(opts.publish);
          if (p.host === 0)
            throw new UserError('InvalidPort', `-p ${opts.publish}: a group needs a base port`, {
              hint: 'write -p BASEPORT:GUEST, e.g. -p 8080:8080',
            });
          port = { basePort: p.host, guestPort: p.guest };
        }
        const memoryMb = memoryOption(opts.memory);
        const cpus = cpusOption(opts.cpus);
        const expectStatus = intOption('--expect-status', opts.expectStatus);
        const ui = new BuildUi(
          ctx.ui({ progressOnly: true, quiet: opts.quiet === true }),
          'deploy',
        );
        using catalog = Catalog.open();
        const r = await deployLocal({
          catalog,
          image,
          group: opts.group,
          count,
          ...(port ? { port } : {}),
          ...(opts.healthPath !== undefined ? { healthPath: opts.healthPath } : {}),
          ...(opts.expectBody !== undefined ? { expectBody: opts.expectBody } : {}),
          ...(expectStatus !== undefined ? { expectStatus } : {}),
          ...(memoryMb !== undefined ? { memoryMb } : {}),
          ...(cpus !== undefined ? { cpus } : {}),
          timeoutMs,
          rollback: opts.rollback,
          signal: ctx.signal,
          cleanupSignal: ctx.cleanupSignal,
          onCleanupPending: ctx.pendingCleanups(`deploy of group ${opts.group}`),
          ui,
        });
        if (opts.quiet !== true) {
          ctx.err(
            `group ${r.group} runs ${r.imageId}: ${r.started.map((m) => `${m.id} on 127.0.0.1:${m.port}`).join(', ')} (${(r.elapsedMs / 1000).toFixed(1)} s)\n`,
          );
        }
        if (ctx.mode === 'json') {
          const members = r.started.map((m) => ({ id: m.id, port: m.port }));
          const json = { group: r.group, image: r.imageId, members, elapsedMs: r.elapsedMs };
          return ctx.out(`${JSON.stringify(json)}\n`);
        }
        for (const m of r.started) ctx.out(`${m.id}\n`);
      },
    ),
  );
}
