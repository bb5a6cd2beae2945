/** `kiln stop ID… | --all`: stops local instances and deletes their overlays; their ids go to stdout. */
import type { Command } from 'commander';
import { Catalog } from '../../catalog/index.js';
import { SystemError, UserError } from '../../lib/errors.js';
import { listInstanceStatuses, resolveInstance, stopInstance } from '../../runtime/index.js';
import { withContext } from '../context.js';
import { durationOption } from '../options.js';
import { addOutputFlag } from './output-flags.js';

/** Registers `kiln stop`. */
export function registerStop(program: Command): void {
  const cmd = program
    .command('stop')
    .description('stop instances (ACPI/Ctrl-Alt-Del, then by force) and delete their overlays')
    .argument('[ids...]', 'instance ids, unique prefixes or names')
    .option('--all', 'stop every local instance')
    .option('--timeout <duration>', 'how long the guest gets to shut down cleanly', '20s');
  addOutputFlag(
    cmd,
    '{"stopped": [ids]} (when one did not stop: the error object, its details saying which)',
  ).action(
    withContext(
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
    ),
  );
}
