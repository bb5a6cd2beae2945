/** The body of `kiln stop` (declared in `commands/stop.ts`). */
import { Catalog } from '../../catalog/index.js';
import { SystemError, UserError } from '../../lib/errors.js';
import { listInstanceStatuses, resolveInstance, stopInstance } from '../../runtime/index.js';
import { withContext } from '../context.js';
import { durationOption } from '../options.js';

/** `kiln stop`: stops the instances named (or all); their ids on stdout. */
export const stop = withContext(
  { name: 'kiln stop' },
  async (ctx, ids: string[], opts: { all?: boolean; timeout: string }) => {
    const timeoutMs = durationOption('--timeout', opts.timeout);
    if (!opts.all && ids.length === 0)
      throw new UserError('InvalidOption', 'name the instances to stop, or pass --all', {
        hint: 'kiln ps lists them',
      });
    if (opts.all && ids.length > 0)
      throw new UserError('InvalidOption', '--all takes no instance ids');
    using catalog = Catalog.open();
    const refs = opts.all
      ? listInstanceStatuses(catalog, { all: true }).map((s) => s.instance.id)
      : ids;
    const json = ctx.mode === 'json';
    const stopped: string[] = [];
    const failed: string[] = [];
    // One unknown or stubborn instance does not keep the others running.
    for (const ref of refs) {
      try {
        const inst = resolveInstance(catalog, ref);
        await stopInstance(catalog, inst.id, { timeoutMs });
        stopped.push(inst.id);
        if (!json) ctx.out(`${inst.id}\n`);
      } catch (err) {
        failed.push(`${ref}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (failed.length > 0)
      throw new SystemError('StopFailed', `${failed.length} instance(s) did not stop`, {
        // stdout has the ids that stopped; a JSON reader only has this object.
        details: [
          ...failed,
          ...(json && stopped.length > 0 ? [`stopped: ${stopped.join(', ')}`] : []),
        ],
      });
    if (json) ctx.out(`${JSON.stringify({ stopped })}\n`);
  },
);
