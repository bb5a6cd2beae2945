/** The bodies of `kiln deploy local` (declared in `commands/deploy-local.ts`). */
import { Catalog } from '../../catalog/index.js';
import { BuildUi } from '../../core/events.js';
import { UserError } from '../../lib/errors.js';
import { deployLocal as deployGroup } from '../../runtime/index.js';
import { parsePortSpec } from '../../runtime/port-spec.js';
import { withContext } from '../context.js';
import { cpusOption, durationOption, intOption, memoryOption } from '../options.js';

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

/** `kiln deploy local`: rolls the group onto the image, one healthy member at a time. */
export const deployLocal = withContext(
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
    const ui = new BuildUi(ctx.ui({ progressOnly: true, quiet: opts.quiet === true }), 'deploy');
    using catalog = Catalog.open();
    const r = await deployGroup({
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
);
